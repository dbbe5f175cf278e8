/* report.h: what a run tells its user: the resolved configuration, a progress bar (terminal) or
 * nothing (pipe) during an epoch, one line per epoch, and the JSON summary. Only the reporting
 * rank (rank 0) prints; the others pass enabled = 0. */
#ifndef TDP_REPORT_H
#define TDP_REPORT_H

#include <stdio.h>

#include "util.h"

typedef struct {
    int epoch; /* 1-based */
    int epochs;
    long steps;       /* optimizer steps so far, all epochs */
    double loss;      /* mean training loss over the epoch's steps */
    double train_acc; /* over the epoch's training samples */
    double test_acc;
    double samples_per_s; /* training samples (all workers) per second of training time */
    double elapsed;       /* seconds since training started */
    double comm_seconds;  /* exposed communication so far (0 when none) */
    char note[160];       /* the mode's own figures, appended to the line */
} epoch_stats_t;

/* The JSON summary: every key is present in every mode, 0 where a mode has none. */
typedef struct {
    const char *mode;
    int world_size, workers, hosts;
    const char *model;
    long params;
    int epochs;
    long steps;
    int batch, global_batch;
    double train_samples_per_s, test_accuracy, final_loss, seconds;
    double replicated_bytes_total, broadcast_bytes, allreduce_bytes_per_step;
    double comm_seconds, gil_wait_seconds;
    /* the step's time split (seconds over the run; 0 where a mode has no such part) */
    double replicate_seconds, scatter_seconds, compute_seconds, gather_seconds, optimizer_seconds;
} run_summary_t;

typedef struct {
    int enabled; /* print at all (rank 0, not --quiet) */
    int tty;     /* stdout is a terminal: draw a progress bar */
    FILE *out;
    double last_draw;
} report_t;

void report_init(report_t *r, int enabled);
void report_progress(report_t *r, int epoch, long step_in_epoch, long steps_in_epoch,
                     double loss_so_far);
void report_epoch(report_t *r, const epoch_stats_t *s);
/* Write the summary to path atomically (temporary file, then rename). */
int report_write_json(const char *path, const run_summary_t *s, tdp_err_t *err);

/* An output path (option --opt) must be usable before any work starts, so that a typo fails in
 * a second: not a directory, in a writable directory. An empty path is no output: TDP_OK. */
int report_check_output(const char *opt, const char *path, tdp_err_t *err);

/* Write `len` bytes to `path` atomically: path.tmp.PID, fsync, rename. Nothing is left behind
 * on failure. */
int write_file_atomic(const char *path, const void *data, size_t len, tdp_err_t *err);

#endif
