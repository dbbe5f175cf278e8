/* trace.c: recording and formatting Chrome trace events. */
#include "trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

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

/* One event: a complete event (ph X) of `name index` on row (pid, tid), times in microseconds
 * since t0. */
static void put_event(json_t *j, const trace_t *t, const trace_event_t *e, int pid) {
    char name[64];
    if (e->index >= 0)
        snprintf(name, sizeof name, "%s %d", e->name, e->index);
    else
        snprintf(name, sizeof name, "%s", e->name);
    json_object(j, NULL, JSON_INLINE);
    json_string(j, "name", name);
    json_string(j, "ph", "X");
    json_int(j, "pid", pid);
    json_int(j, "tid", e->tid);
    json_fixed(j, "ts", (e->start - t->t0) * 1e6, 3);
    json_fixed(j, "dur", (e->end - e->start) * 1e6, 3);
    json_end(j);
}

int trace_format(const trace_t *t, int pid, char **out, size_t *len, tdp_err_t *err) {
    json_t j;
    json_init(&j);
    char row[32];
    snprintf(row, sizeof row, "rank %d", pid);
    json_object(&j, NULL, JSON_INLINE); /* the process row's name */
    json_string(&j, "name", "process_name");
    json_string(&j, "ph", "M");
    json_int(&j, "pid", pid);
    json_object(&j, "args", JSON_INLINE);
    json_string(&j, "name", row);
    json_end(&j);
    json_end(&j);
    size_t nev = t->n < t->cap ? t->n : t->cap;
    for (size_t i = 0; i < nev; i++)
        put_event(&j, t, &t->ev[i], pid);
    if (t->dropped) { /* an instant event (ph i) on the process (s p) */
        char note[64];
        snprintf(note, sizeof note, "%zu events not recorded (buffer full)", t->dropped);
        json_object(&j, NULL, JSON_INLINE);
        json_string(&j, "name", note);
        json_string(&j, "ph", "i");
        json_string(&j, "s", "p");
        json_int(&j, "pid", pid);
        json_int(&j, "tid", 0);
        json_int(&j, "ts", 0);
        json_end(&j);
    }
    if (j.failed != NULL) {
        int rc = tdp_fail(err, TDP_ERUNTIME, "cannot format the trace: %s", j.failed);
        json_free(&j);
        return rc;
    }
    *out = j.buf; /* the caller frees it */
    *len = j.len;
    return TDP_OK;
}

int trace_write(const char *path, char *const *parts, const size_t *lens, int nparts,
                tdp_err_t *err) {
    json_t j;
    json_init(&j);
    json_object(&j, NULL, JSON_INLINE);
    json_array(&j, "traceEvents", JSON_ROWS);
    for (int i = 0; i < nparts; i++)
        json_raw(&j, parts[i], lens[i]);
    json_end(&j);
    json_end(&j);
    return json_write(&j, path, err);
}
