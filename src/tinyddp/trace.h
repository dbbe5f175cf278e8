/* trace.h: Chrome trace events (chrome://tracing, Perfetto): complete events ("ph": "X") with
 * a name, an index, a process row (pid = rank) and a thread row (tid). Recording is a bounded
 * append into a preallocated buffer; events past its capacity are counted, not recorded. */
#ifndef TDP_TRACE_H
#define TDP_TRACE_H

#include <stddef.h>

#include "util.h"

typedef struct {
    const char *name; /* a string literal */
    int index;        /* layer, bucket or step; -1 for none */
    int tid;
    double start, end; /* tdp_now() seconds */
} trace_event_t;

typedef struct {
    trace_event_t *ev;
    size_t n, cap;
    size_t dropped;
    double t0; /* time origin (the same instant on every rank, after a barrier) */
} trace_t;

int trace_init(trace_t *t, size_t cap, double t0, tdp_err_t *err);
void trace_free(trace_t *t);
/* Record one event; t may be NULL (tracing off). */
void trace_add(trace_t *t, const char *name, int index, int tid, double start, double end);
/* This rank's events as JSON objects separated by ",\n" (no brackets), malloc'ed. */
int trace_format(const trace_t *t, int pid, char **out, size_t *len, tdp_err_t *err);
/* Write a whole trace file from already formatted parts (one per rank), atomically. */
int trace_write(const char *path, char *const *parts, const size_t *lens, int nparts,
                tdp_err_t *err);

#endif
