/* summary.h: ddp_train's JSON summary (--json), built from the trainer's results and the mode's
 * figures, and written with json.h. */
#ifndef TDP_SUMMARY_H
#define TDP_SUMMARY_H

#include "ddp.h"
#include "dp.h"
#include "train.h"
#include "util.h"

/* The summary's keys, in order: every key is present in every mode, 0 where a mode has none. */
typedef struct {
    const char *mode;
    int world_size, workers, hosts;
    const char *model;
    long params;
    int epochs;
    long steps;
    int batch, global_batch;
    double train_samples_per_s, test_accuracy, final_loss, seconds;
    double train_seconds; /* the time of the training steps this process ran (the throughput's) */
    double replicated_bytes_total, broadcast_bytes, allreduce_bytes_per_step;
    const char *grad_compress; /* ddp: none, bf16 or fp16 */
    long bucket_kb;            /* ddp: the bucket size in use at the end (chosen by auto) */
    int overlap;               /* ddp: 1 when buckets overlapped backward at the end */
    double comm_seconds, gil_wait_seconds;
    double gil_held_seconds;      /* --gil: the calibrated interpreter work done under the lock */
    double optimizer_state_bytes; /* the momentum this process holds (--zero: its slice's) */
    /* the step's time split (seconds over the run; 0 where a mode has no such part) */
    double replicate_seconds, scatter_seconds, compute_seconds, gather_seconds, optimizer_seconds;
    const char *blas; /* what the BLAS library runs (blas_config) */
    /* ddp: every rank's compute, exposed communication and wait for the slowest rank
     * (ranktime.h), ranks entries each; 0 entries in the other modes */
    int ranks;
    const double *rank_compute, *rank_comm, *rank_wait;
} run_summary_t;

/* A finished run, as the summary sees it. */
typedef struct {
    const char *mode;       /* the mode's name */
    const char *model;      /* the model file, as given */
    const trainer_t *t;     /* the results and the configuration */
    const ddp_t *d;         /* NULL unless DDP */
    dp_t *dp;               /* NULL unless DP (its lock counts its waits) */
    double seconds;         /* the training run's, from the start of trainer_run */
    double broadcast_bytes; /* the replication of rank 0's weights */
} summary_source_t;

void summary_build(run_summary_t *s, const summary_source_t *src);
/* Write the summary to path atomically (outfile.h). */
int summary_write(const char *path, const run_summary_t *s, tdp_err_t *err);

#endif
