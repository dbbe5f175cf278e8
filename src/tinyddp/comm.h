/* comm.h: the MPI session shared by the programs: start-up, the one check of an MPI call, the
 * one agreement of the ranks on a status, broadcasts, the watchdog (--comm-timeout), the weight
 * comparison of --check-sync and the gathering of every rank's trace.
 *
 * Every MPI call is checked: MPI_ERRORS_RETURN is set on the communicator and a failure becomes
 * a tdp_err_t naming the rank, the file and line, the call and MPI's error string. */
#ifndef TDP_COMM_H
#define TDP_COMM_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "trace.h"
#include "util.h"

/* Check an MPI call in a function that returns a TDP status through `err`: "rank R: FILE:LINE:
 * CALL failed: MPI's message". The one check of an MPI call. */
#define TDP_MPI(call, rank, err)                                                                   \
    do {                                                                                           \
        int tdp_mpi_rc_ = (call);                                                                  \
        if (tdp_mpi_rc_ != MPI_SUCCESS)                                                            \
            return comm_fail((err), __FILE__, __LINE__, (rank), #call, tdp_mpi_rc_);               \
    } while (0)

int comm_fail(tdp_err_t *err, const char *file, int line, int rank, const char *call, int rc);

typedef struct {
    MPI_Comm comm;
    int started; /* comm_start initialised MPI (a failure after it must abort every rank) */
    int rank, size;
    int hosts; /* distinct processor names among the ranks */
    /* the watchdog: every wait for communication gives up after timeout seconds (0: never),
     * naming the ranks whose arrival note for the step has not come */
    double timeout;
    long step_no;         /* steps communicated so far */
    long *arrived;        /* [size] arrival notes received (their step numbers) */
    MPI_Request *arr_req; /* [2 x size] receives, then sends, of arrival notes */
    /* the stall warning: a wait longer than warn_after seconds (0: never) prints, once, the
     * ranks that have not arrived. With the watchdog, its arrival notes say who; without it,
     * a rank that has waited that long asks (a census): it sends a note naming its wait to
     * every other rank, every rank that waits too answers with its own, and the lowest waiting
     * rank names the ranks that sent none. A wait shorter than 10 ms sends and reads nothing. */
    const char *name; /* prefix of the warnings: the program's name (NULL: "tinyddp") */
    double warn_after;
    long wait_no;          /* waits for communication so far, the same count on every rank */
    long note;             /* the note this rank sent last: the wait it was in */
    long *noted;           /* [size] the last wait each rank said it was in */
    long *sent_to;         /* [size] notes sent to each rank */
    long notes_got;        /* notes received */
    MPI_Request *note_req; /* [size] the last notes sent */
} comm_t;

/* MPI_Init_thread (MPI_THREAD_FUNNELED), then comm_open on MPI_COMM_WORLD. On failure err says
 * why ("MPI_Init_thread failed", or comm_open's message) and c->started tells whether MPI is up
 * (then the caller ends every rank with MPI_Abort). */
int comm_start(comm_t *c, int *argc, char ***argv, tdp_err_t *err);
/* Set up on comm (MPI already initialised): errors returned, rank, size, hosts. */
int comm_open(comm_t *c, MPI_Comm comm, tdp_err_t *err);
/* Free the session's buffers; comm_finish also ends MPI (MPI_Finalize). */
void comm_free(comm_t *c);
void comm_finish(comm_t *c);

/* The one agreement of the ranks on a status: returns the worst (largest) of every rank's rc,
 * with in *who the lowest rank that had it. When the agreement itself fails, returns this
 * rank's rc (TDP_ERUNTIME if it was TDP_OK, with err, which may be NULL, saying why) and *who is
 * this rank. */
int comm_agree(const comm_t *c, int rc, int *who, tdp_err_t *err);

/* Every rank learns whether all ranks run the same configuration: `text` is this rank's
 * canonical configuration (runconfig.h, len bytes). First the ranks agree on rc (this rank's
 * set-up status so far); if every rank is fine, rank 0's text travels to every rank (its length
 * first, then its bytes) and each rank compares it with its own; then the ranks agree on the
 * outcome. Returns the worst status of all ranks, with in *who the rank that is to print
 * err->msg: the lowest rank that failed set-up, or, when the texts differ, every rank (*who is
 * the caller's rank, err->msg the same on all: the first setting that differs on the lowest
 * rank that differs from rank 0, with both values, "ranks disagree on --check-sync: rank 0 has
 * 5, rank 1 has 0"). Every rank returns the same status: none crashes or waits for another. */
int comm_agree_config(const comm_t *c, int rc, const char *text, size_t len, int *who,
                      tdp_err_t *err);

/* The smallest and the largest of every rank's v. */
int comm_agree_range(const comm_t *c, int v, int *lo, int *hi);

/* Rank 0's n floats to every rank (the one replication of the model). */
int comm_broadcast(const comm_t *c, float *params, size_t n, tdp_err_t *err);

/* The watchdog: timeout in seconds (0: none); the stall warning after warn_after seconds (0:
 * none). */
int comm_set_watchdog(comm_t *c, double timeout, double warn_after, tdp_err_t *err);
/* Every rank receives the census notes still addressed to it (collective; call once after the
 * last wait, on every rank, before comm_finish). */
int comm_drain_notes(comm_t *c, tdp_err_t *err);
/* Before a step's communication: tell every other rank we arrived at this step, and listen for
 * theirs (only with the watchdog). */
int comm_arrive(comm_t *c, tdp_err_t *err);
/* Wait for n requests; with the watchdog, give up after the timeout naming the ranks that have
 * not arrived ("WHAT at step STEP did not complete within --comm-timeout ..."); past warn_after
 * seconds, the lowest waiting rank warns on stderr ("PROG: warning: rank R: WHAT at step STEP
 * has waited N s; rank(s) that have not arrived: ...") and the wait goes on. */
int comm_wait(comm_t *c, int n, MPI_Request *req, const char *what, long step, tdp_err_t *err);

/* Sum doubles over ranks in place (step: for the watchdog's message). */
int comm_allsum(comm_t *c, double *v, int n, long step, tdp_err_t *err);

/* --check-sync after step `step`: every rank hashes its n weights and all compare. */
int comm_check_sync(comm_t *c, const float *params, size_t n, long step, tdp_err_t *err);

/* Gather every rank's formatted trace to rank 0, which writes it to path. */
int comm_write_trace(const comm_t *c, const trace_t *t, const char *path, tdp_err_t *err);

#endif
