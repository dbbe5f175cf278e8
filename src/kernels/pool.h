/* pool.h: a reusable thread pool with futures, like concurrent.futures.ThreadPoolExecutor.
 *
 *   kern_pool_create(P)       P worker threads that take submitted calls in FIFO order;
 *   kern_pool_submit(fn, arg) queue fn(arg) and return a future at once;
 *   kern_future_wait(f)       block until that call has run (future.result()): its status;
 *   kern_pool_shutdown(p)     run what is queued, then join the threads (shutdown(wait=True),
 *                             what leaving a `with` block does); futures stay valid after it.
 *
 * With a gil, each worker holds the emulated interpreter lock while it runs a call (a Python
 * worker thread runs bytecode under the GIL), and passes the lock context to the call. */
#ifndef TDP_KERN_POOL_H
#define TDP_KERN_POOL_H

#include "lock.h"
#include "util.h"

typedef struct kern_pool kern_pool_t;
typedef struct kern_future kern_future_t;

/* A call run by a worker: returns TDP_OK or an error status; results go through arg. */
typedef int (*kern_pool_fn)(void *arg, const kern_lock_t *lock);

int kern_pool_create(int workers, gil_t *gil, kern_pool_t **out, tdp_err_t *err);
int kern_pool_submit(kern_pool_t *p, kern_pool_fn fn, void *arg, kern_future_t **out,
                     tdp_err_t *err);
int kern_future_wait(kern_future_t *f);
void kern_future_free(kern_future_t *f);
void kern_pool_shutdown(kern_pool_t *p);

#endif
