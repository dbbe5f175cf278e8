/* tasks.h: the kernels as tasks of a job (modes.h), with the notebook's printing.
 *
 *   primes: task i counts the primes of chunk i of [0, limit) (primes.h); prints nothing,
 *           as count_primes_in_range does not.
 *   sum:    every task is count(n) (sum.h), printing "Process: PID Thread: TID start" and
 *           "... end" around it, as the notebook's count does.
 *   io:     task i GETs URL i (io.h) and prints "fetched URL, status code: S", as fetch_url
 *           does; its result is the status. */
#ifndef TDP_KERN_TASKS_H
#define TDP_KERN_TASKS_H

#include <stddef.h>
#include <stdint.h>

#include "lock.h"
#include "util.h"

typedef struct {
    uint64_t limit;
    uint64_t chunks;
} kern_primes_job_t;

typedef struct {
    uint64_t n;
} kern_sum_job_t;

typedef struct {
    const char *const *urls; /* --url addresses, used in turn; NULL: the local server */
    size_t nurls;
    int port;        /* the local server's port */
    long timeout_ms; /* bound on one transfer */
} kern_io_job_t;

int kern_primes_task(const void *arg, size_t i, const kern_lock_t *lock, int64_t *result,
                     tdp_err_t *err);
int kern_sum_task(const void *arg, size_t i, const kern_lock_t *lock, int64_t *result,
                  tdp_err_t *err);
int kern_io_task(const void *arg, size_t i, const kern_lock_t *lock, int64_t *result,
                 tdp_err_t *err);

/* URL of request i into buf. */
void kern_io_url(const kern_io_job_t *job, size_t i, char *buf, size_t len);

#endif
