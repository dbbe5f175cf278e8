/* trace.c: recording and formatting Chrome trace events. */
#include "trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

int trace_init(trace_t *t, size_t cap, double t0, tdp_err_t *err) {
    memset(t, 0, sizeof *t);
    t->t0 = t0;
    size_t bytes;
    if (tdp_mul_size(cap, sizeof *t->ev, &bytes) != 0)
        return tdp_fail(err, TDP_EINPUT, "trace buffer too large");
    TDP_MALLOC(t->ev, bytes, err);
    t->cap = cap;
    return TDP_OK;
}

void trace_free(trace_t *t) {
    free(t->ev);
    memset(t, 0, sizeof *t);
}

void trace_add(trace_t *t, const char *name, int index, int tid, double start, double end) {
    if (t == NULL || t->ev == NULL)
        return;
    /* worker threads record too: claim a slot atomically */
    size_t i = __atomic_fetch_add(&t->n, 1, __ATOMIC_RELAXED);
    if (i >= t->cap) {
        __atomic_fetch_add(&t->dropped, 1, __ATOMIC_RELAXED);
        return;
    }
    t->ev[i] = (trace_event_t){name, index, tid, start, end};
}

int trace_format(const trace_t *t, int pid, char **out, size_t *len, tdp_err_t *err) {
    size_t nev = t->n < t->cap ? t->n : t->cap;
    size_t cap = 256 + nev * 160, n = 0;
    char *buf;
    TDP_MALLOC(buf, cap, err);
    n += (size_t)snprintf(buf + n, cap - n,
                          "{\"name\": \"process_name\", \"ph\": \"M\", \"pid\": %d, "
                          "\"args\": {\"name\": \"rank %d\"}}",
                          pid, pid);
    for (size_t i = 0; i < nev; i++) {
        const trace_event_t *e = &t->ev[i];
        char name[64];
        if (e->index >= 0)
            snprintf(name, sizeof name, "%s %d", e->name, e->index);
        else
            snprintf(name, sizeof name, "%s", e->name);
        n += (size_t)snprintf(buf + n, cap - n,
                              ",\n{\"name\": \"%s\", \"ph\": \"X\", \"pid\": %d, \"tid\": %d, "
                              "\"ts\": %.3f, \"dur\": %.3f}",
                              name, pid, e->tid, (e->start - t->t0) * 1e6,
                              (e->end - e->start) * 1e6);
    }
    if (t->dropped)
        n += (size_t)snprintf(buf + n, cap - n,
                              ",\n{\"name\": \"%zu events not recorded (buffer full)\", "
                              "\"ph\": \"i\", \"s\": \"p\", \"pid\": %d, \"tid\": 0, \"ts\": 0}",
                              t->dropped, pid);
    *out = buf;
    *len = n;
    return TDP_OK;
}

int trace_write(const char *path, char *const *parts, const size_t *lens, int nparts,
                tdp_err_t *err) {
    size_t total = 64;
    for (int i = 0; i < nparts; i++)
        total += lens[i] + 2;
    char *buf;
    TDP_MALLOC(buf, total, err);
    size_t n = 0;
    memcpy(buf + n, "{\"traceEvents\": [\n", 18);
    n += 18;
    for (int i = 0; i < nparts; i++) {
        if (i > 0)
            buf[n++] = ',', buf[n++] = '\n';
        memcpy(buf + n, parts[i], lens[i]);
        n += lens[i];
    }
    memcpy(buf + n, "\n]}\n", 4);
    n += 4;
    int rc = write_file_atomic(path, buf, n, err);
    free(buf);
    return rc;
}
