/* share.c: the shared list and the globals (see share.h). */
#include "share.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "sum.h"
#include "tasks.h"

/* ---- the shared list ---- */

typedef struct {
    kern_share_list_t *list;
    gil_t *gil;
    int which; /* 1 or 2 */
    int count;
    int sleep_ms;
    int status; /* 0, or an errno value from nanosleep */
} lister_t;

/* list.append under the lock: only the lock holder touches the list */
static void append(lister_t *t, int i) {
    kern_share_list_t *l = t->list;
    snprintf(l->items[l->n], sizeof l->items[l->n], "Thread%d-%d", t->which, i);
    l->n++;
}

static int sleep_ms(int ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1)
        if (errno != EINTR)
            return errno;
    return 0;
}

static void *lister_main(void *arg) {
    lister_t *t = arg;
    gil_acquire(t->gil, t);
    for (int i = 0; i < t->count; i++) {
        append(t, i);
        if (t->sleep_ms > 0) {
            gil_release(t->gil, t); /* time.sleep releases the lock */
            int e = sleep_ms(t->sleep_ms);
            gil_acquire(t->gil, t);
            if (e != 0) {
                t->status = e;
                break;
            }
        } else {
            gil_check(t->gil, t);
        }
    }
    gil_release(t->gil, t);
    return NULL;
}

int kern_share_list(int n1, int n2, int sleep, double switch_interval, kern_share_list_t *out,
                    tdp_err_t *err) {
    if (n1 < 0 || n2 < 0 || n1 + n2 > KERN_SHARE_MAX_ITEMS)
        return tdp_fail(err, TDP_EINPUT, "shared list: %d + %d items, at most %d", n1, n2,
                        KERN_SHARE_MAX_ITEMS);
    memset(out, 0, sizeof *out);
    gil_t gil;
    int rc = gil_init(&gil, switch_interval, err);
    if (rc != TDP_OK)
        return rc;
    lister_t t[2] = {{.list = out, .gil = &gil, .which = 1, .count = n1, .sleep_ms = sleep},
                     {.list = out, .gil = &gil, .which = 2, .count = n2, .sleep_ms = 0}};
    pthread_t th[2];
    int started = 0;
    double t0 = tdp_now();
    for (int k = 0; k < 2; k++) {
        KERN_PT_GOTO(pthread_create(&th[k], NULL, lister_main, &t[k]), err, rc, done);
        started++;
    }
done:
    for (int k = 0; k < started; k++)
        pthread_join(th[k], NULL);
    out->seconds = tdp_now() - t0;
    gil_destroy(&gil);
    for (int k = 0; k < started && rc == TDP_OK; k++)
        if (t[k].status != 0)
            rc = tdp_fail_sys(err, __FILE__, __LINE__, t[k].status, "nanosleep");
    return rc;
}

/* ---- the globals ---- */

static int64_t globals[KERN_SHARE_NGLOBALS];
static int globals_set[KERN_SHARE_NGLOBALS];

void kern_share_reset_globals(void) {
    memset(globals, 0, sizeof globals);
    memset(globals_set, 0, sizeof globals_set);
}

int kern_share_global(size_t i, int64_t *value) {
    if (i >= KERN_SHARE_NGLOBALS || !globals_set[i])
        return 0;
    *value = globals[i];
    return 1;
}

int kern_share_task(const void *arg, size_t i, const kern_lock_t *lock, int64_t *result,
                    tdp_err_t *err) {
    int rc = kern_sum_task(arg, i, lock, result, err);
    if (rc == TDP_OK && i < KERN_SHARE_NGLOBALS) {
        /* each task writes only its own slot: no two threads write the same memory */
        globals[i] = *result;
        globals_set[i] = 1;
    }
    return rc;
}
