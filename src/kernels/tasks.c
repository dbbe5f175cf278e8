/* tasks.c: the kernels as tasks, printing what the notebook's functions print. */
#include "tasks.h"

#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#include "io.h"
#include "primes.h"
#include "sum.h"

int kern_primes_task(const void *arg, size_t i, const kern_lock_t *lock, int64_t *result,
                     tdp_err_t *err) {
    (void)err;
    const kern_primes_job_t *j = arg;
    uint64_t start, end;
    kern_primes_chunk(j->limit, j->chunks, i, &start, &end);
    *result = (int64_t)kern_count_primes_range(start, end, lock);
    return TDP_OK;
}

int kern_sum_task(const void *arg, size_t i, const kern_lock_t *lock, int64_t *result,
                  tdp_err_t *err) {
    (void)i;
    (void)err;
    const kern_sum_job_t *j = arg;
    long pid = (long)getpid();
    unsigned long tid = (unsigned long)pthread_self();
    printf("Process: %ld Thread: %lu start\n", pid, tid);
    *result = (int64_t)kern_sum_count(j->n, lock);
    printf("Process: %ld Thread: %lu end\n", pid, tid);
    return TDP_OK;
}

void kern_io_url(const kern_io_job_t *job, size_t i, char *buf, size_t len) {
    if (job->urls != NULL)
        snprintf(buf, len, "%s", job->urls[i % job->nurls]);
    else
        snprintf(buf, len, "http://127.0.0.1:%d/%zu", job->port, i);
}

int kern_io_task(const void *arg, size_t i, const kern_lock_t *lock, int64_t *result,
                 tdp_err_t *err) {
    const kern_io_job_t *j = arg;
    char url[2100];
    kern_io_url(j, i, url, sizeof url);
    long status = 0;
    int rc = kern_http_get(url, j->timeout_ms, lock, &status, err);
    if (rc != TDP_OK)
        return rc;
    printf("fetched %s, status code: %ld\n", url, status);
    *result = status;
    return TDP_OK;
}
