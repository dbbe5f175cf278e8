/* report.h: what a run tells its user while it trains: a progress bar (when its output reaches
 * a terminal, through mpirun too: console.h), a line every --log-every steps, and one line per
 * epoch; and the records of the curves (--metrics, metrics.h). Only the reporting rank (rank 0)
 * prints; the others pass enabled = 0. (The resolved configuration: ddp_train's outputs.c; the
 * JSON summary: summary.h.) */
#ifndef TDP_REPORT_H
#define TDP_REPORT_H

#include <stdio.h>

#include "metrics.h"
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

/* One optimizer step, as the step loop saw it. */
typedef struct {
    int epoch, epochs;                  /* 1-based */
    long step_in_epoch, steps_in_epoch; /* 1-based */
    long steps, planned;                /* steps so far (all epochs), steps the run plans */
    double loss_sum;                    /* the step's summed loss, every worker's */
    double samples;                     /* the step's samples, every worker's (global batch) */
    double epoch_loss;                  /* mean loss per sample of the epoch so far */
    double lr;                          /* the step's learning rate */
    double comm_seconds;                /* exposed communication so far; < 0: the mode has none */
} step_stats_t;

/* --progress */
typedef enum { PROGRESS_AUTO, PROGRESS_BAR, PROGRESS_LINES, PROGRESS_OFF } progress_t;

typedef struct {
    int enabled; /* print at all (rank 0, not --quiet) */
    int tty;     /* draw a progress bar */
    FILE *out;
    double last_draw;
    /* the lines every line_every steps (0: none) and the metrics records every record_every
     * steps (0: none) */
    long line_every, record_every;
    int lines_default;  /* --progress lines without --log-every: every tenth of an epoch */
    metrics_t *metrics; /* NULL: no --metrics */
    double t0;          /* the start of training */
    long ran;           /* steps reported since (the ETA's rate) */
    double last_lr;
    /* the window since the last line or record */
    double win_loss, win_samples, win_t0, win_comm0;
} report_t;

void report_init(report_t *r, int enabled);
/* The choices of --progress and --log-every (0: none) and the metrics' store (NULL: none),
 * after report_init. auto: the bar when stdout reaches a terminal (console.h), lines when
 * --log-every is given; bar and lines force them, off prints neither (the epoch lines stay). */
void report_configure(report_t *r, progress_t mode, long log_every, metrics_t *metrics);
void report_step(report_t *r, const step_stats_t *s);
void report_epoch(report_t *r, const epoch_stats_t *s);

/* The line report_step prints every line_every steps, at most REPORT_COLUMNS characters, in
 * line (len >= REPORT_COLUMNS + 1). eta < 0: unknown. comm_share < 0: the mode has none. */
#define REPORT_COLUMNS 100
void report_format_line(char *line, size_t len, const step_stats_t *s, double loss,
                        double samples_per_s, double comm_share, double eta);

#endif
