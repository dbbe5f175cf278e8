/* gil.h: an emulated interpreter lock, modelled on CPython's (Python/ceval_gil.h, 3.2+):
 *
 *   - one lock, held by at most one thread;
 *   - a thread that wants it waits on a condition variable for at most the switch interval;
 *     if it timed out and no switch happened meanwhile, it sets a drop request;
 *   - the holder polls the request at its check points (gil_check: CPython's eval breaker,
 *     between bytecodes) and, when asked, drops the lock, waits until another thread has taken
 *     it (forced switching), then queues to take it back;
 *   - code that does not need the lock (I/O, native kernels) releases it around the call
 *     (Py_BEGIN_ALLOW_THREADS / Py_END_ALLOW_THREADS).
 *
 * The time threads spend waiting to take the lock is summed (gil_wait_seconds), and the lock counts
 * what it did (gil_get_stats), so that tests can check its behaviour, not only its results. */
#ifndef TDP_GIL_H
#define TDP_GIL_H

#include <pthread.h>

#include "gilcal.h"
#include "util.h"

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cond;        /* signalled when the lock is released */
    pthread_cond_t switch_cond; /* signalled when a thread takes the lock */
    int locked;
    unsigned long switch_number; /* counts takes */
    const void *holder;          /* identity of the current holder (a per-thread token) */
    const void *last_holder;
    int drop_request;              /* accessed atomically only */
    double interval;               /* seconds */
    double wait_seconds;           /* summed over all threads */
    unsigned long forced_switches; /* drop requests honoured by the holder */
    unsigned long drop_requests;   /* requests set by a waiter that timed out */
    unsigned long handoffs;        /* takes by another thread than the last holder */
    int waiting;                   /* threads waiting to take it (written under mu, atomically:
                                      gil_loop_check reads it without mu) */
    double held_seconds;           /* summed time spent in gil_hold (the calibrated holds) */
    const gilcal_t *cal;           /* NULL: no calibrated holds (gil_hold does nothing) */
} gil_t;

/* What the lock did so far (each figure counts since gil_init). */
typedef struct {
    unsigned long takes;         /* every acquisition */
    unsigned long handoffs;      /* acquisitions by another thread than the one that last held it */
    unsigned long drop_requests; /* a waiter timed out and asked the holder to drop the lock */
    unsigned long forced_switches; /* the holder dropped the lock because it was asked */
    double wait_seconds;           /* summed time threads waited to take it */
} gil_stats_t;

int gil_init(gil_t *g, double switch_interval_seconds, tdp_err_t *err);
void gil_destroy(gil_t *g);

/* Take the lock; `self` identifies the calling thread (any unique address). */
void gil_acquire(gil_t *g, const void *self);
/* Release the lock (the caller holds it). */
void gil_release(gil_t *g, const void *self);
/* A check point for the holder: if another thread asked for the lock, hand it over and queue to
 * take it back. Cheap when nobody asked (one load). */
void gil_check(gil_t *g, const void *self);

/* The calibrated costs the holds use (NULL: none); set before any thread uses the lock. */
void gil_set_calibration(gil_t *g, const gilcal_t *cal);
/* The holder runs interpreter work for `us` microseconds (gilcal_spin), longer by the
 * calibration's contended_factor when another thread is waiting for the lock, passing a check
 * point every 50 us (so a forced switch can happen in the middle, as between bytecodes). */
void gil_hold(gil_t *g, const void *self, double us);

/* A CPU-bound loop's check points (the notebook's kernels, pure-Python loops there). With a
 * calibration, the loop runs loop_contended_factor times slower while another thread waits for
 * the lock, as CPython's did: a stretch of contended work, from the check point where a waiter
 * was first seen to the one where the holder is asked to drop the lock (or the waiter is gone, or
 * the loop ends), is followed by busy work under the lock for (loop_contended_factor - 1) times
 * its length before the check. The clock is read only where a stretch begins or ends: a check
 * point costs two loads otherwise. Each thread has its own gil_loop_t, zeroed to begin with. */
typedef struct {
    double since; /* the stretch's start (tdp_now); 0: none open */
    double held;  /* seconds of busy work not yet added to the lock's sum */
} gil_loop_t;

void gil_loop_check(gil_t *g, const void *self, gil_loop_t *l);
/* Before the thread releases the lock (the loop's end, blocking I/O): the open stretch charged,
 * the busy work added to gil_held_seconds; l is zeroed. */
void gil_loop_end(gil_t *g, gil_loop_t *l);

double gil_wait_seconds(gil_t *g);
double gil_held_seconds(gil_t *g);
unsigned long gil_forced_switches(gil_t *g);
void gil_get_stats(gil_t *g, gil_stats_t *out);

#endif
