/* options.h: ddp_train's command line, parsed (by the engine of cmdline.h) and validated into one
 * struct. */
#ifndef TDP_OPTIONS_H
#define TDP_OPTIONS_H

#include <stdint.h>
#include <stdio.h>

#include "cmdline.h"
#include "hyper.h"
#include "util.h"

#define OPT_PATH_LEN    4096 /* the paths' buffers */
#define OPT_BUCKET_AUTO (-1) /* --bucket-kb auto */

typedef struct {
    train_mode_t mode;
    char model_path[OPT_PATH_LEN];
    char data[OPT_PATH_LEN]; /* a directory or "synthetic" */
    int data_is_default;     /* --data not given */
    /* training; -1 / NaN until resolved against the model file's [net] defaults */
    int epochs;
    long max_steps; /* -1: no limit */
    int batch;      /* per worker */
    double lr, momentum, weight_decay;
    int lr_cosine; /* 1: cosine decay of the learning rate to 0 over the run */
    uint64_t seed;
    int workers;
    int deterministic;
    int gil;
    char gil_calibration[OPT_PATH_LEN]; /* --gil's costs (gilcal.h) */
    int quiet;
    int help;
    int version;
    char json_path[OPT_PATH_LEN];
    char dump_weights_path[OPT_PATH_LEN];
    char trace_path[OPT_PATH_LEN];
    char checkpoint_path[OPT_PATH_LEN];
    long checkpoint_every;
    char resume_path[OPT_PATH_LEN];
    long synthetic_train, synthetic_test;
    int accum;              /* micro-batches per optimizer step */
    int bucket_kb;          /* ddp: allreduce bucket size; OPT_BUCKET_AUTO: tuned */
    int no_overlap;         /* ddp: one blocking allreduce after backward */
    int grad_compress;      /* ddp: 0 none, 1 bf16, 2 fp16 (half_kind_t) */
    int error_feedback;     /* ddp: --grad-compress's rounding residual into the next step */
    int dp_pool;            /* dp: persistent worker threads */
    int dp_cache;           /* dp: keep freed replica memory mapped */
    double comm_timeout;    /* ddp: seconds, 0 = none */
    long check_sync;        /* ddp: steps, 0 = none */
    double straggler_pct;   /* ddp: warn above the median rank's compute by this %, 0 = never */
    int zero;               /* ddp: ZeRO-1, the sharded optimizer */
    double switch_interval; /* --gil: milliseconds */
    int progress;           /* progress_t (report.h): auto, bar, lines, off */
    long log_every;         /* steps; 0: none */
    char metrics_path[OPT_PATH_LEN];
    uint64_t given; /* bit k: the k-th option of the table was on the command line */
} options_t;

/* Parse argv. Bad values and unknown options: TDP_EINPUT with a one-line message. Numbers follow
 * argnum.h's rule (cmdline.h's rules). An option given twice is refused ("--lr given twice"), and
 * so is an option that does not apply to the chosen mode ("--bucket-kb applies to --mode ddp only";
 * --workers other than 1 in serial mode; --switch-interval without --gil; --synthetic-train and
 * --synthetic-test with a --data directory). --help sets opt->help and returns TDP_OK. */
int options_parse(int argc, char **argv, options_t *opt, tdp_err_t *err);
/* Whether --NAME was on the command line. */
int options_given(const options_t *opt, const char *name);
void options_usage(FILE *f, const char *prog);
const char *mode_name(train_mode_t m);

#endif
