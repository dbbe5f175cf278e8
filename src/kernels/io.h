/* io.h: the I/O-bound kernel: HTTP GETs with libcurl, and the little local HTTP server that
 * stands in for remote ones.
 *
 * The server listens on 127.0.0.1, on a port the kernel picks (port 0). Each connection is
 * served by its own thread, which reads the request, waits the latency (a timed wait, cut short
 * when the server closes) and answers "200 OK" with a short body. Opening (socket, bind, listen)
 * and starting (the accepting thread) are separate steps, so that the process modes can fork
 * their children while no thread exists; connections made in between wait in the listen
 * backlog. Closing stops the accepting thread, wakes and joins every connection thread and
 * closes every socket. */
#ifndef TDP_KERN_IO_H
#define TDP_KERN_IO_H

#include "lock.h"
#include "util.h"

typedef struct kern_server kern_server_t;

typedef struct {
    unsigned long served; /* requests answered */
    int max_in_flight;    /* most requests waiting for their answer at one time */
    unsigned long errors; /* connections that could not be served */
} kern_server_stats_t;

int kern_server_open(int latency_ms, kern_server_t **out, tdp_err_t *err);
int kern_server_port(const kern_server_t *s);
int kern_server_start(kern_server_t *s, tdp_err_t *err);
/* Stop, join every thread, close every socket, free; stats may be NULL. An error if a thread
 * could not be started or a connection failed. */
int kern_server_close(kern_server_t *s, kern_server_stats_t *stats, tdp_err_t *err);

/* libcurl must be initialised once, before any thread exists. */
int kern_http_global_init(tdp_err_t *err);
void kern_http_global_cleanup(void);

/* GET url and return the HTTP status in *status. The transfer runs with the lock released (lock
 * may be NULL), as CPython releases the interpreter lock around a blocking socket call.
 * timeout_ms bounds the whole transfer. */
int kern_http_get(const char *url, long timeout_ms, const kern_lock_t *lock, long *status,
                  tdp_err_t *err);

#endif
