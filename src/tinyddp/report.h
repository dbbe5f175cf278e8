/* report.h: what a run tells its user while it trains: a progress bar (terminal) or nothing
 * (pipe) during an epoch, and one line per epoch. Only the reporting rank (rank 0) prints; the
 * others pass enabled = 0. (The resolved configuration: ddp_train's outputs.c; the JSON
 * summary: summary.h.) */
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

#endif
