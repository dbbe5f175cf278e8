/* tune.h: --bucket-kb auto, the bookkeeping: a few settings of the gradient sum (overlap off, then
 * overlapped buckets of a few sizes), tried in TUNE_ROUNDS interleaved rounds, each round giving
 * every setting TUNE_WARMUP + TUNE_TIMED consecutive steps of the real run, so that a burst of
 * load on a shared machine does not fall on one setting alone; a setting's score is the median
 * of its timed steps (their minimum favoured the setting with the luckiest step). The caller agrees
 * on the scores across ranks (the slowest rank's) and keeps the lowest. No MPI here. */
#ifndef TDP_TUNE_H
#define TDP_TUNE_H

#include <stddef.h>

#define TUNE_SETTINGS 4
#define TUNE_ROUNDS   3
#define TUNE_WARMUP   1
#define TUNE_TIMED    2
#define TUNE_STEPS    (TUNE_ROUNDS * TUNE_SETTINGS * (TUNE_WARMUP + TUNE_TIMED))

typedef struct {
    int overlap[TUNE_SETTINGS];
    size_t kb[TUNE_SETTINGS];
    double score[TUNE_SETTINGS]; /* seconds: the median timed step (set after the last one) */
    double timed[TUNE_SETTINGS][TUNE_ROUNDS * TUNE_TIMED]; /* seconds of each timed step */
    int ntimed[TUNE_SETTINGS];
    int step;   /* steps taken while tuning */
    int chosen; /* -1 until chosen */
} tune_t;

/* The settings tried: --no-overlap, then overlapped buckets of 64, 256 and 1024 KB. */
void tune_init(tune_t *t);
/* The setting the next step uses (while tune_active). */
int tune_current(const tune_t *t);
/* Whether steps remain to be timed. */
int tune_active(const tune_t *t);
/* A step of tune_current took `seconds`. */
void tune_record(tune_t *t, double seconds);
/* After the scores are agreed (score[] replaced by every rank's worst): the lowest, first on a
 * tie; sets chosen. */
int tune_choose(tune_t *t);
/* "off 4.1 ms, 64 KB 3.2 ms, ...": the scores, for the reports. */
void tune_describe(const tune_t *t, char *buf, size_t len);

#endif
