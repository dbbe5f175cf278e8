/* procpool.h: a pool of worker processes, like multiprocessing.Pool / ProcessPoolExecutor
 * with the fork start method.
 *
 * kern_procpool_create forks P workers up front (kern_proc_fork: they die with this process); each
 * one inherits the task function and its context (the parent's memory at fork time) and then waits
 * on its own task pipe for a task index. kern_procpool_map hands indexes 0..n-1 to whichever worker
 * is free (one task at a time, as chunksize 1) and returns the records in index order; the pool can
 * map again. kern_procpool_close closes the task pipes (a worker reads end of file and exits) and
 * reaps every worker. */
#ifndef TDP_KERN_PROCPOOL_H
#define TDP_KERN_PROCPOOL_H

#include "proc.h"

typedef struct kern_procpool kern_procpool_t;

int kern_procpool_create(int workers, kern_record_fn fn, void *ctx, kern_procpool_t **out,
                         tdp_err_t *err);

/* Run tasks 0..n-1 on the workers; recs[i] receives task i's record. */
int kern_procpool_map(kern_procpool_t *p, size_t n, kern_record_t *recs, tdp_err_t *err);

/* Stop and reap every worker, free the pool; an error if a worker died abnormally. */
int kern_procpool_close(kern_procpool_t *p, tdp_err_t *err);

#endif
