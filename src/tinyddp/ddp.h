/* ddp.h: DistributedDataParallel over MPI, the gradient engine. The model is replicated once
 * (rank 0's weights are broadcast at start, comm.h); every step each rank computes the gradient
 * of its slice of the global batch and the ranks sum the gradient arena: with allreduce, in
 * buckets started from the end of the arena as backward finishes them, so that communication
 * overlaps the rest of backward; with one blocking allreduce; or gathered and summed in rank
 * order (deterministic). The MPI session (agreements, watchdog, check-sync) is comm.h's. */
#ifndef TDP_DDP_H
#define TDP_DDP_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "comm.h"
#include "compress.h"
#include "tune.h"
#include "dp.h"
#include "ranktime.h"
#include "train.h"
#include "util.h"
#include "zero.h"

typedef struct {
    comm_t *c; /* the session: rank, size, hosts, watchdog */
    /* options */
    int overlap;          /* 1: bucketed nonblocking allreduce during backward */
    int deterministic;    /* 1: allgather and sum in rank order (bitwise reproducible) */
    size_t bucket_floats; /* bucket size */
    size_t bucket_kb;     /* bucket size as asked (0: one bucket) */
    int autotune;         /* --bucket-kb auto: tune picks overlap and bucket_kb */
    tune_t tune;
    /* buckets over the gradient arena's n + TRAIN_EXTRA floats (the slots last); bucket 0 is
     * the arena's tail, the first that backward finishes */
    size_t n; /* nparams */
    int nbuckets;
    size_t *b_off, *b_len;
    MPI_Request *req;
    double *b_start;    /* when each bucket's allreduce started (trace) */
    int next;           /* first bucket not started */
    int done;           /* first bucket not known complete */
    float *gather;      /* deterministic: [size][n + TRAIN_EXTRA] */
    const float **rows; /* deterministic: [size] each rank's row of gather */
    /* --check-sync: compare a hash of the weights across ranks every this many steps */
    long check_sync;
    /* hybrid: threads per rank combining their gradients before the allreduce */
    int threads;
    dp_team_t team;
    /* --zero: the sharded optimizer (zero.h; set up by zero_setup after ddp_setup, on = 0
     * otherwise): a reduce-scatter instead of the allreduce, the weights allgathered after the
     * step */
    zero_t zero;
    /* the step in flight */
    trainer_t *t;
    double local_loss;
    int mpi_rc;   /* first MPI error inside the progress callback */
    compress_t z; /* --grad-compress: 16-bit buckets (z.kind HALF_NONE: fp32) */
    /* metrics */
    double comm_seconds; /* communication not hidden behind backward */
    double bucket_tests; /* MPI_Test calls made during backward */
    ranktime_t rt;       /* per-rank compute, communication and wait; stragglers */
    int timing_due;      /* the window is full: exchange after this step */
} ddp_t;

/* Buckets and buffers on session c for a model of n parameters. bucket_kb = 0: one bucket.
 * threads > 1: hybrid (each rank runs that many worker threads on batch-sized slices; no
 * overlap). */
int ddp_setup(ddp_t *d, comm_t *c, const model_t *m, size_t bucket_kb, int overlap,
              int deterministic, int threads, int batch, tdp_err_t *err);
void ddp_free(ddp_t *d);

/* The watchdog and the weight-sync check (call after ddp_setup). comm_timeout in seconds (0:
 * none), check_sync in steps (0: none). */
int ddp_set_watchdog(ddp_t *d, double comm_timeout, long check_sync, tdp_err_t *err);

/* --grad-compress (call after ddp_setup): the gradient travels in 16 bits, summed in fp32 by a
 * reduction that rounds once per addition (compress.h); error_feedback carries each step's
 * rounding residual into the next. A world of one compresses nothing. */
int ddp_set_compress(ddp_t *d, half_kind_t kind, int error_feedback, tdp_err_t *err);
/* --bucket-kb auto (call after ddp_setup): the first TUNE_STEPS steps time the settings of
 * tune.h, then every rank keeps the fastest (the slowest rank's times decide). Deterministic,
 * hybrid and single-rank runs have no buckets to tune: the setting stays. */
void ddp_set_autotune(ddp_t *d);
/* "overlap, 256 KB" or "no-overlap": the setting in use. */
const char *ddp_setting(const ddp_t *d, char *buf, size_t len);
/* The bytes of gradient and slots each rank contributes to the sum per step. */
double ddp_bytes_per_step(const ddp_t *d);
/* Per-rank timing and the straggler warning (ranktime.h; call after ddp_set_watchdog). */
int ddp_set_timing(ddp_t *d, double straggler_pct, tdp_err_t *err);
/* Collective, once after a run that ended on every rank: the stall census's last notes, then
 * every rank's timing (d->rt). */
int ddp_finish(ddp_t *d, tdp_err_t *err);

extern const grad_engine_t ddp_engine;

#endif
