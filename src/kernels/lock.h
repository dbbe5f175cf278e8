/* lock.h: how a kernel meets the emulated interpreter lock (gil.h).
 *
 * A kernel receives a kern_lock_t. Outside the gil modes its gil is NULL and every call below does
 * nothing. In the gil modes the calling thread holds the lock while it runs the kernel:
 *   - CPU-bound loops call kern_lock_check every so many iterations, as CPython's evaluation loop
 *     polls its eval breaker between bytecodes, so a waiting thread can get the lock; with a
 *     calibration (kernels --gil-calibration), while another thread waits, the loop's work since
 *     the previous check point is held longer by the calibration's loop_contended_factor
 *     (gil_loop_check), as the notebook's pure-Python loops slowed down under contention;
 *   - blocking I/O runs between kern_lock_release and kern_lock_reacquire, as CPython releases
 *     the lock around a blocking call (Py_BEGIN_ALLOW_THREADS / Py_END_ALLOW_THREADS). */
#ifndef TDP_KERN_LOCK_H
#define TDP_KERN_LOCK_H

#include <stddef.h>

#include "gil.h"

typedef struct {
    gil_t *gil;       /* NULL: no lock */
    const void *self; /* the calling thread's identity for the lock */
    gil_loop_t *loop; /* the calling thread's; NULL: plain check points */
} kern_lock_t;

static inline void kern_lock_check(const kern_lock_t *l) {
    if (l == NULL || l->gil == NULL)
        return;
    if (l->loop != NULL)
        gil_loop_check(l->gil, l->self, l->loop);
    else
        gil_check(l->gil, l->self);
}

static inline void kern_lock_release(const kern_lock_t *l) {
    if (l == NULL || l->gil == NULL)
        return;
    if (l->loop != NULL) /* the loop's contention so far is charged and summed */
        gil_loop_end(l->gil, l->loop);
    gil_release(l->gil, l->self);
}

static inline void kern_lock_reacquire(const kern_lock_t *l) {
    if (l != NULL && l->gil != NULL)
        gil_acquire(l->gil, l->self);
}

#endif
