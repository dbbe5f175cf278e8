/* ddp.h: DistributedDataParallel over MPI. The model is replicated once (rank 0's weights are
 * broadcast at start); every step each rank computes the gradient of its slice of the global
 * batch and the ranks sum the gradient arena with allreduce, in buckets started from the end of
 * the arena as backward finishes them, so that communication overlaps the rest of backward.
 *
 * Every MPI call is checked: MPI_ERRORS_RETURN is set on the communicator and a failure becomes
 * a tdp_err_t naming the rank, the call and MPI's error string. */
#ifndef TDP_DDP_H
#define TDP_DDP_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "dp.h"
#include "train.h"
#include "util.h"

/* Check an MPI call in a function that returns a TDP status through `err`. */
#define TDP_MPI(call, rank, err)                                                                   \
    do {                                                                                           \
        int tdp_mpi_rc_ = (call);                                                                  \
        if (tdp_mpi_rc_ != MPI_SUCCESS)                                                            \
            return ddp_mpi_fail((err), __FILE__, __LINE__, (rank), #call, tdp_mpi_rc_);            \
    } while (0)

int ddp_mpi_fail(tdp_err_t *err, const char *file, int line, int rank, const char *call, int rc);

typedef struct {
    MPI_Comm comm;
    int rank, size;
    int hosts; /* distinct processor names among the ranks */
    /* options */
    int overlap;          /* 1: bucketed nonblocking allreduce during backward */
    int deterministic;    /* 1: allgather and sum in rank order (bitwise reproducible) */
    size_t bucket_floats; /* bucket size */
    /* buckets over the gradient arena's n + 1 floats (the loss slot last); bucket 0 is the
     * arena's tail, the first that backward finishes */
    size_t n; /* nparams */
    int nbuckets;
    size_t *b_off, *b_len;
    MPI_Request *req;
    double *b_start; /* when each bucket's allreduce started (trace) */
    int next;        /* first bucket not started */
    int done;        /* first bucket not known complete */
    float *gather;   /* deterministic: [size][n + 1] */
    /* the watchdog: every wait for communication gives up after comm_timeout seconds (0: never),
     * naming the ranks whose arrival note for the step has not come */
    double comm_timeout;
    long step_no;         /* steps communicated so far */
    long *arrived;        /* [size] arrival notes received (their step numbers) */
    MPI_Request *arr_req; /* [2 x size] receives, then sends, of arrival notes */
    /* --check-sync: compare a hash of the weights across ranks every this many steps */
    long check_sync;
    /* test switches (environment): stall this rank before communicating at a step */
    int stall_rank;
    long stall_step;
    double stall_seconds;
    /* hybrid: threads per rank combining their gradients before the allreduce */
    int threads;
    dp_team_t team;
    /* the step in flight */
    trainer_t *t;
    double local_loss;
    int mpi_rc; /* first MPI error inside the progress callback */
    /* metrics */
    double comm_seconds; /* communication not hidden behind backward */
    double bucket_tests; /* MPI_Test calls made during backward */
} ddp_t;

/* Set up on comm (MPI already initialised): errors returned, rank, size, hosts. */
int ddp_init(ddp_t *d, MPI_Comm comm, tdp_err_t *err);
/* Buckets and buffers for a model of n parameters. bucket_kb = 0: one bucket. */
/* threads > 1: hybrid (each rank runs that many worker threads on batch-sized slices; no
 * overlap). */
int ddp_setup(ddp_t *d, const model_t *m, size_t bucket_kb, int overlap, int deterministic,
              int threads, int batch, tdp_err_t *err);
void ddp_free(ddp_t *d);

/* Every rank learns whether all ranks run the same configuration: `text` is this rank's
 * canonical configuration (runconfig.h, len bytes). First the ranks agree on rc (this rank's
 * set-up status so far); if every rank is fine, rank 0's text travels to every rank (its length
 * first, then its bytes) and each rank compares it with its own; then the ranks agree on the
 * outcome. Returns the worst status of all ranks, with in *who the rank that is to print
 * err->msg: the lowest rank that failed set-up, or, when the texts differ, every rank (*who is
 * the caller's rank, err->msg the same on all: the first setting that differs on the lowest
 * rank that differs from rank 0, with both values, "ranks disagree on --check-sync: rank 0 has
 * 5, rank 1 has 0"). Every rank returns the same status: none crashes or waits for another. */
int ddp_agree_config(ddp_t *d, int rc, const char *text, size_t len, int *who, tdp_err_t *err);

/* The smallest and the largest of every rank's v. */
int ddp_agree_range(ddp_t *d, int v, int *lo, int *hi);

/* Every rank learns the worst set-up status: returns the maximum of all ranks' rc, and the
 * lowest rank that had it in *who. */
int ddp_agree_status(ddp_t *d, int rc, int *who);

/* Rank 0's n floats to every rank (the one replication of the model). */
int ddp_broadcast(ddp_t *d, float *params, size_t n, tdp_err_t *err);

/* The watchdog and the weight-sync check (call after ddp_setup). comm_timeout in seconds (0:
 * none), check_sync in steps (0: none). Also reads the test switches TDP_TEST_STALL_RANK,
 * TDP_TEST_STALL_STEP and TDP_TEST_STALL_SECONDS. */
int ddp_set_watchdog(ddp_t *d, double comm_timeout, long check_sync, tdp_err_t *err);

/* Sum doubles over ranks in place. */
int ddp_allsum(void *self, double *v, int n, tdp_err_t *err);

/* Gather every rank's formatted trace to rank 0, which writes it to path. */
int ddp_write_trace(ddp_t *d, const trace_t *t, const char *path, tdp_err_t *err);

extern const grad_engine_t ddp_engine;

#endif
