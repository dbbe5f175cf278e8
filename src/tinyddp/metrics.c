/* metrics.c: the curves' records, as JSON Lines (metrics.h). */
#include "metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "outfile.h"

void metrics_init(metrics_t *m) {
    memset(m, 0, sizeof *m);
}

void metrics_free(metrics_t *m) {
    free(m->buf);
    memset(m, 0, sizeof *m);
}

static void append(metrics_t *m, const char *s, size_t n) {
    if (m->failed != NULL)
        return;
    if (m->len + n >= m->cap) {
        size_t cap = m->cap ? m->cap : 4096;
        while (cap <= m->len + n)
            cap *= 2;
        char *b = realloc(m->buf, cap);
        if (b == NULL) {
            m->failed = "out of memory";
            return;
        }
        m->buf = b;
        m->cap = cap;
    }
    memcpy(m->buf + m->len, s, n);
    m->len += n;
}

void metrics_add(metrics_t *m, const metrics_record_t *r) {
    json_t j;
    json_init(&j);
    json_object(&j, NULL, JSON_INLINE);
    json_string(&j, "kind", r->kind);
    json_int(&j, "step", r->step);
    json_int(&j, "epoch", r->epoch);
    json_real(&j, "loss", r->loss, 7);
    if (!isnan(r->train_accuracy))
        json_fixed(&j, "train_accuracy", r->train_accuracy, 4);
    if (!isnan(r->test_accuracy))
        json_fixed(&j, "test_accuracy", r->test_accuracy, 4);
    json_real(&j, "lr", r->lr, 7);
    json_fixed(&j, "samples_per_s", r->samples_per_s, 0);
    json_fixed(&j, "comm_seconds", r->comm_seconds, 6);
    json_fixed(&j, "seconds", r->seconds, 6);
    json_end(&j);
    tdp_err_t err;
    if (json_finish(&j, "metrics", &err) == TDP_OK) /* ends the line */
        append(m, j.buf, j.len);
    else if (m->failed == NULL)
        m->failed = j.failed;
    json_free(&j);
}

int metrics_write(metrics_t *m, const char *path, tdp_err_t *err) {
    if (m->failed != NULL)
        return tdp_fail(err, TDP_ERUNTIME, "cannot write %s: %s", path, m->failed);
    return write_file_atomic(path, m->buf ? m->buf : "", m->len, err);
}
