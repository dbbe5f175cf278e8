/* outputs.h: what ddp_train says about its run (the configuration it prints) and the end-of-run
 * outputs (outputs.c): the trace, the last checkpoint, the weights and the JSON summary. */
#ifndef TDP_TRAIN_OUTPUTS_H
#define TDP_TRAIN_OUTPUTS_H

#include "ddp.h"
#include "dp.h"
#include "setup.h"
#include "trace.h"
#include "train.h"

/* Rank 0's description of the run (d: NULL unless DDP). */
void print_config(const setup_t *s, const trainer_t *t, const ddp_t *d);

/* A finished or stopped run, as the end of it sees it. */
typedef struct {
    const setup_t *s;
    trainer_t *t;
    ddp_t *d;             /* NULL unless DDP */
    dp_t *dp;             /* NULL unless DP */
    const trace_t *trace; /* NULL: no --trace */
    int rank;
    double seconds;         /* the training run's, from the start of trainer_run */
    double broadcast_bytes; /* the replication of rank 0's weights */
    metrics_t *metrics;     /* rank 0's curves; NULL: no --metrics */
} run_end_t;

/* Write the end of the run's outputs (trace, metrics, last checkpoint, weights, summary), all or
 * none, after training ended with rc (negative: a failure already reported), and report how it
 * ended. Returns TDP_OK, RUN_STOPPED (a stop request, its checkpoint written) or the failure's
 * status, reported. */
int outputs_write(const run_end_t *e, int rc, tdp_err_t *err);

#endif
