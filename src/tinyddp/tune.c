/* tune.c: --bucket-kb auto's bookkeeping (tune.h). */
#include "tune.h"

#include <stdio.h>

void tune_init(tune_t *t) {
    static const size_t kb[TUNE_SETTINGS] = {0, 64, 256, 1024};
    for (int i = 0; i < TUNE_SETTINGS; i++) {
        t->overlap[i] = i > 0;
        t->kb[i] = kb[i];
        t->score[i] = 1e300;
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

void tune_record(tune_t *t, double seconds) {
    int i = tune_current(t);
    if (t->step % (TUNE_WARMUP + TUNE_TIMED) >= TUNE_WARMUP && seconds < t->score[i])
        t->score[i] = seconds;
    t->step++;
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
