/* gil.c: the emulated interpreter lock (see gil.h for the model). */
#include "gil.h"

#include <errno.h>
#include <time.h>

int gil_init(gil_t *g, double switch_interval_seconds, tdp_err_t *err) {
    g->locked = 0;
    g->switch_number = 0;
    g->holder = g->last_holder = NULL;
    __atomic_store_n(&g->drop_request, 0, __ATOMIC_RELAXED);
    g->interval = switch_interval_seconds;
    g->wait_seconds = 0.0;
    g->forced_switches = 0;
    g->drop_requests = 0;
    g->handoffs = 0;
    __atomic_store_n(&g->waiting, 0, __ATOMIC_RELAXED);
    g->held_seconds = 0.0;
    g->cal = NULL;
    TDP_PTHREAD(pthread_mutex_init(&g->mu, NULL), err);
    pthread_condattr_t ca;
    TDP_PTHREAD(pthread_condattr_init(&ca), err);
    TDP_PTHREAD(pthread_condattr_setclock(&ca, CLOCK_MONOTONIC), err);
    TDP_PTHREAD(pthread_cond_init(&g->cond, &ca), err);
    TDP_PTHREAD(pthread_cond_init(&g->switch_cond, &ca), err);
    pthread_condattr_destroy(&ca);
    return TDP_OK;
}

void gil_destroy(gil_t *g) {
    pthread_cond_destroy(&g->cond);
    pthread_cond_destroy(&g->switch_cond);
    pthread_mutex_destroy(&g->mu);
}

static struct timespec deadline_after(double seconds) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long ns = ts.tv_nsec + (long)(seconds * 1e9);
    ts.tv_sec += ns / 1000000000L;
    ts.tv_nsec = ns % 1000000000L;
    return ts;
}

/* take_gil; g->mu held */
static void take_locked(gil_t *g, const void *self) {
    if (g->locked) {
        double t0 = tdp_now();
        __atomic_add_fetch(&g->waiting, 1, __ATOMIC_RELAXED);
        while (g->locked) {
            unsigned long seen = g->switch_number;
            struct timespec dl = deadline_after(g->interval);
            int rc = pthread_cond_timedwait(&g->cond, &g->mu, &dl);
            /* timed out and nobody switched meanwhile: ask the holder to drop it */
            if (rc == ETIMEDOUT && g->locked && g->switch_number == seen &&
                !__atomic_load_n(&g->drop_request, __ATOMIC_RELAXED)) {
                __atomic_store_n(&g->drop_request, 1, __ATOMIC_RELAXED);
                g->drop_requests++;
            }
        }
        __atomic_sub_fetch(&g->waiting, 1, __ATOMIC_RELAXED);
        g->wait_seconds += tdp_now() - t0;
    }
    g->locked = 1;
    if (g->last_holder != NULL && g->last_holder != self)
        g->handoffs++;
    g->holder = self;
    g->switch_number++;
    pthread_cond_broadcast(&g->switch_cond);
    /* the request is read without the mutex at check points: every access is atomic */
    if (__atomic_load_n(&g->drop_request, __ATOMIC_RELAXED))
        __atomic_store_n(&g->drop_request, 0, __ATOMIC_RELAXED);
}

/* drop_gil; g->mu held */
static void drop_locked(gil_t *g, const void *self) {
    g->locked = 0;
    g->last_holder = self;
    g->holder = NULL;
    pthread_cond_signal(&g->cond);
}

void gil_acquire(gil_t *g, const void *self) {
    pthread_mutex_lock(&g->mu);
    take_locked(g, self);
    pthread_mutex_unlock(&g->mu);
}

void gil_release(gil_t *g, const void *self) {
    pthread_mutex_lock(&g->mu);
    drop_locked(g, self);
    pthread_mutex_unlock(&g->mu);
}

void gil_check(gil_t *g, const void *self) {
    if (!__atomic_load_n(&g->drop_request, __ATOMIC_RELAXED))
        return;
    pthread_mutex_lock(&g->mu);
    if (__atomic_load_n(&g->drop_request, __ATOMIC_RELAXED) && g->holder == self) {
        drop_locked(g, self);
        g->forced_switches++;
        /* forced switching: wait until another thread has taken the lock */
        unsigned long seen = g->switch_number;
        while (g->switch_number == seen && g->last_holder == self) {
            struct timespec dl = deadline_after(g->interval);
            if (pthread_cond_timedwait(&g->switch_cond, &g->mu, &dl) == ETIMEDOUT && !g->locked)
                break; /* nobody came: take it back */
        }
        take_locked(g, self);
    }
    pthread_mutex_unlock(&g->mu);
}

void gil_set_calibration(gil_t *g, const gilcal_t *cal) {
    g->cal = cal;
}

void gil_hold(gil_t *g, const void *self, double us) {
    if (g->cal == NULL || us <= 0.0)
        return;
    double done = 0.0, held = 0.0;
    while (done < us) {
        pthread_mutex_lock(&g->mu);
        double f =
            __atomic_load_n(&g->waiting, __ATOMIC_RELAXED) > 0 ? g->cal->contended_factor : 1.0;
        pthread_mutex_unlock(&g->mu);
        double slice = us - done < 50.0 ? us - done : 50.0, t0 = tdp_now();
        gilcal_spin(slice * f);
        held += tdp_now() - t0;
        done += slice;
        gil_check(g, self); /* a forced switch's wait is counted as waiting, not held */
    }
    pthread_mutex_lock(&g->mu);
    g->held_seconds += held;
    pthread_mutex_unlock(&g->mu);
}

/* The open stretch of contended work charged: busy work for (factor - 1) times its length. */
static void charge_stretch(gil_t *g, gil_loop_t *l) {
    double now = tdp_now();
    if (now > l->since && g->cal->loop_contended_factor > 1.0) {
        gilcal_spin((now - l->since) * (g->cal->loop_contended_factor - 1.0) * 1e6);
        l->held += tdp_now() - now;
    }
    l->since = 0.0;
}

void gil_loop_check(gil_t *g, const void *self, gil_loop_t *l) {
    if (g->cal != NULL) {
        int waited = __atomic_load_n(&g->waiting, __ATOMIC_RELAXED) > 0;
        if (waited && l->since == 0.0)
            l->since = tdp_now();
        else if (l->since > 0.0 && (!waited || __atomic_load_n(&g->drop_request, __ATOMIC_RELAXED)))
            charge_stretch(g, l); /* a forced switch's wait, next, is not loop work */
    }
    gil_check(g, self);
}

void gil_loop_end(gil_t *g, gil_loop_t *l) {
    if (g->cal != NULL && l->since > 0.0)
        charge_stretch(g, l);
    if (l->held > 0.0) {
        pthread_mutex_lock(&g->mu);
        g->held_seconds += l->held;
        pthread_mutex_unlock(&g->mu);
    }
    l->since = l->held = 0.0;
}

double gil_held_seconds(gil_t *g) {
    pthread_mutex_lock(&g->mu);
    double s = g->held_seconds;
    pthread_mutex_unlock(&g->mu);
    return s;
}

double gil_wait_seconds(gil_t *g) {
    pthread_mutex_lock(&g->mu);
    double s = g->wait_seconds;
    pthread_mutex_unlock(&g->mu);
    return s;
}

unsigned long gil_forced_switches(gil_t *g) {
    pthread_mutex_lock(&g->mu);
    unsigned long n = g->forced_switches;
    pthread_mutex_unlock(&g->mu);
    return n;
}

void gil_get_stats(gil_t *g, gil_stats_t *out) {
    pthread_mutex_lock(&g->mu);
    out->takes = g->switch_number;
    out->handoffs = g->handoffs;
    out->drop_requests = g->drop_requests;
    out->forced_switches = g->forced_switches;
    out->wait_seconds = g->wait_seconds;
    pthread_mutex_unlock(&g->mu);
}
