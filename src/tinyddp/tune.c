/* tune.c: --bucket-kb auto's bookkeeping (tune.h). */
#include "tune.h"

#include <stdio.h>
#include <stdlib.h>

void tune_init(tune_t *t) {
    static const size_t kb[TUNE_SETTINGS] = {0, 64, 256, 1024};
    for (int i = 0; i < TUNE_SETTINGS; i++) {
        t->overlap[i] = i > 0;
        t->kb[i] = kb[i];
        t->score[i] = 1e300;
        t->ntimed[i] = 0;
    }
    t->step = 0;
    t->chosen = -1;
}

int tune_current(const tune_t *t) {
    int step = t->step < TUNE_STEPS ? t->step : TUNE_STEPS - 1;
    return step / (TUNE_WARMUP + TUNE_TIMED) % TUNE_SETTINGS;
}

int tune_active(const tune_t *t) {
    return t->chosen < 0 && t->step < TUNE_STEPS;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void tune_record(tune_t *t, double seconds) {
    int i = tune_current(t);
    if (t->step % (TUNE_WARMUP + TUNE_TIMED) >= TUNE_WARMUP &&
        t->ntimed[i] < TUNE_ROUNDS * TUNE_TIMED)
        t->timed[i][t->ntimed[i]++] = seconds;
    t->step++;
    if (t->step == TUNE_STEPS) /* every setting timed: each one's median */
        for (int k = 0; k < TUNE_SETTINGS; k++) {
            int n = t->ntimed[k];
            if (n == 0)
                continue;
            double v[TUNE_ROUNDS * TUNE_TIMED];
            for (int j = 0; j < n; j++)
                v[j] = t->timed[k][j];
            qsort(v, (size_t)n, sizeof v[0], by_value);
            t->score[k] = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
        }
}

int tune_choose(tune_t *t) {
    int best = 0;
    for (int i = 1; i < TUNE_SETTINGS; i++)
        if (t->score[i] < t->score[best])
            best = i;
    t->chosen = best;
    return best;
}

void tune_describe(const tune_t *t, char *buf, size_t len) {
    size_t at = 0;
    buf[0] = '\0';
    for (int i = 0; i < TUNE_SETTINGS && at < len; i++) {
        int n = t->overlap[i] ? snprintf(buf + at, len - at, "%s%zu KB %.2f ms", i ? ", " : "",
                                         t->kb[i], t->score[i] * 1e3)
                              : snprintf(buf + at, len - at, "%sno-overlap %.2f ms", i ? ", " : "",
                                         t->score[i] * 1e3);
        if (n < 0)
            break;
        at += (size_t)n;
    }
}
