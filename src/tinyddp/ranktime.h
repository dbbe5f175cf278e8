/* ranktime.h: where each rank's time goes, and the stragglers (ddp). Every step each rank notes
 * its compute (its gradient: data, forward, backward, the threads' combination) and its exposed
 * communication (from the end of its backward to the gradient sum's completion). Every
 * RANKTIME_WINDOW steps the ranks exchange their notes (one small allgather); each rank then
 * splits every step's communication into its wait for the slowest rank and the transfer:
 *     transfer = the least exposed communication of any rank in that step (the last rank to
 *                arrive waits for nobody: what it sees is the sum itself),
 *     wait     = this rank's exposed communication - transfer.
 * No clock is compared across ranks (hosts need not agree on the time). A rank whose compute
 * over the window exceeds the median rank's by more than the straggler threshold is named in a
 * warning by rank 0. At the end the totals of every rank travel to every rank (the per-rank
 * table and the JSON's arrays). */
#ifndef TDP_RANKTIME_H
#define TDP_RANKTIME_H

#include <stdio.h>

#include "comm.h"
#include "util.h"

#define RANKTIME_WINDOW 100 /* steps between two exchanges */

typedef struct {
    int size, rank;
    double straggler_pct; /* warn above median x (1 + pct / 100); 0: never */
    /* the window in progress, this rank */
    int n;           /* steps noted */
    long first;      /* its first step (1-based) */
    double *notes;   /* [RANKTIME_WINDOW + 1]: each step's exposed comm, then the compute sum */
    double *all;     /* [size][RANKTIME_WINDOW + 1]: every rank's notes, exchanged */
    double *scratch; /* [2 x size] */
    /* the run so far, this rank */
    double compute, comm, wait;
    /* at the end, every rank's totals ([size] each) and the slowest rank */
    double *r_compute, *r_comm, *r_wait;
    int gathered;
    long warnings; /* straggler warnings printed (rank 0) */
} ranktime_t;

int ranktime_init(ranktime_t *rt, int rank, int size, double straggler_pct, tdp_err_t *err);
void ranktime_free(ranktime_t *rt);
/* Note step `step`'s compute and exposed communication (seconds). Returns 1 when the window is
 * full: then every rank calls ranktime_exchange. */
int ranktime_note(ranktime_t *rt, long step, double compute, double comm);
/* Collective: every rank's notes of the window to every rank; adds the waits; rank 0 warns of
 * stragglers on stderr, prefixed with c->name. */
int ranktime_exchange(ranktime_t *rt, comm_t *c, tdp_err_t *err);
/* Collective, once at the end: the last partial window, then every rank's totals. */
int ranktime_gather(ranktime_t *rt, comm_t *c, tdp_err_t *err);
/* The per-rank table (after ranktime_gather): min, median, max and its rank of each figure. */
void ranktime_print(const ranktime_t *rt, FILE *f);

#endif
