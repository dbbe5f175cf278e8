/* metrics.h: the curves of a run (--metrics FILE): one JSON object per line (JSON Lines), a
 * record every --log-every steps and one per epoch, kept in memory (about 200 bytes a record)
 * and written at the end with the run's other outputs, atomically (outfile.h): a failed run
 * leaves no file. The keys are listed in docs/usage.md. */
#ifndef TDP_METRICS_H
#define TDP_METRICS_H

#include <stddef.h>

#include "util.h"

typedef struct {
    const char *kind;      /* "step" or "epoch" */
    long step;             /* optimizer steps so far, all epochs */
    int epoch;             /* 1-based, the epoch in progress */
    double loss;           /* mean training loss per sample: since the previous step record
                            * (step), over the epoch (epoch) */
    double train_accuracy; /* over the epoch's training samples; NaN: unknown (left out) */
    double test_accuracy;  /* NaN: unknown (left out) */
    double lr;             /* the learning rate of the last step */
    double samples_per_s;  /* training samples (all workers) per second */
    double comm_seconds;   /* exposed communication so far (0 when the mode has none) */
    double seconds;        /* wall time since training started */
} metrics_record_t;

typedef struct {
    char *buf;
    size_t len, cap;
    const char *failed; /* the first failure (out of memory), reported by metrics_write */
} metrics_t;

void metrics_init(metrics_t *m);
void metrics_free(metrics_t *m);
/* Append one record as a line (json.h, inline layout). */
void metrics_add(metrics_t *m, const metrics_record_t *r);
/* Write every record to path atomically (staged with the other outputs inside a stage). */
int metrics_write(metrics_t *m, const char *path, tdp_err_t *err);

#endif
