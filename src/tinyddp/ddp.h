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
#include "dp.h"
#include "train.h"
#include "util.h"
#include "zero.h"

typedef struct {
    comm_t *c; /* the session: rank, size, hosts, watchdog */
    /* options */
    int overlap;          /* 1: bucketed nonblocking allreduce during backward */
    int deterministic;    /* 1: allgather and sum in rank order (bitwise reproducible) */
    size_t bucket_floats; /* bucket size */
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
    int mpi_rc; /* first MPI error inside the progress callback */
    /* metrics */
    double comm_seconds; /* communication not hidden behind backward */
    double bucket_tests; /* MPI_Test calls made during backward */
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

extern const grad_engine_t ddp_engine;

#endif
