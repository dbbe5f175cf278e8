/* test_gil.c: the emulated interpreter lock's behaviour, not only the results it protects.
 *   - a holder that reaches a check point after a waiter asked hands the lock over (a forced
 *     switch) and gets it back only after the waiter has had it;
 *   - two CPU-bound threads under the lock with a small switch interval interleave: their
 *     progress marks alternate many times, and every alternation is a forced switch;
 *   - a thread alone never gets a drop request or a forced switch, however long it runs;
 *   - a loop's check points (gil_loop_check, the kernels) hold the lock for busy work while
 *     another thread waits, only then, and not at all with loop_contended_factor 1;
 *   - the calibration file is read exactly and refused with FILE:LINE.
 * Clocks only bound the cases (generously): nothing passes or fails on a measured time. */
#include "gil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gilcal.h"

#include "check.h"

#define BOUND_S 20.0 /* no case may take longer than this */

static void pause_ms(long ms) {
    struct timespec ts = {0, ms * 1000 * 1000};
    nanosleep(&ts, NULL);
}

/* CPU work between check points (a few microseconds); the result is kept so that it is done. */
static volatile double sink;
static void work(void) {
    double x = sink;
    for (int i = 0; i < 2000; i++)
        x = x * 0.999 + 1.0;
    sink = x;
}

/* ---- a holder honours a drop request at its next check point ---- */

typedef struct {
    gil_t *g;
    int took; /* written while holding the lock */
} waiter_t;

static void *waiter_main(void *arg) {
    waiter_t *w = arg;
    gil_acquire(w->g, w);
    w->took = 1;
    gil_release(w->g, w);
    return NULL;
}

static void test_honours_request(void) {
    gil_t g;
    tdp_err_t err = {0};
    CHECK(gil_init(&g, 0.005, &err) == TDP_OK);
    int self = 0;
    gil_acquire(&g, &self);
    waiter_t w = {.g = &g, .took = 0};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, waiter_main, &w) == 0);
    /* hold the lock without a check point until the waiter has asked for it, then reach one:
     * a forced switch. (The holder takes the lock back when nobody takes it within the switch
     * interval: a waiter not scheduled in time asks again, and the holder checks again.) */
    gil_stats_t s = {0};
    unsigned long asked = 0, forced = 0;
    double until = tdp_now() + BOUND_S;
    while (!w.took && tdp_now() < until) {
        do {
            pause_ms(1);
            gil_get_stats(&g, &s);
        } while (s.drop_requests == asked && tdp_now() < until);
        if (s.drop_requests == asked)
            break;
        asked = s.drop_requests;
        CHECK(s.forced_switches == forced); /* no check point yet: nothing forced */
        gil_check(&g, &self);
        gil_get_stats(&g, &s);
        if (s.forced_switches != forced + 1)
            break; /* the request was not honoured */
        forced = s.forced_switches;
    }
    gil_get_stats(&g, &s);
    printf("one waiter: %lu drop requests, %lu forced switches, %lu hand-offs\n", s.drop_requests,
           s.forced_switches, s.handoffs);
    CHECK_MSG(s.drop_requests >= 1, "the waiter never asked for the lock");
    /* the check point waited until the waiter had the lock; it released it and we took it back */
    CHECK_MSG(w.took == 1, "the holder kept the lock at its check point although asked to drop it");
    CHECK_MSG(s.forced_switches >= 1, "%lu forced switches", s.forced_switches);
    CHECK_MSG(s.handoffs == 2, "%lu hand-offs (to the waiter and back)", s.handoffs);
    CHECK(s.wait_seconds > 0.0);
    gil_release(&g, &self);
    CHECK(pthread_join(th, NULL) == 0);
    gil_destroy(&g);
}

/* ---- two CPU-bound threads interleave ---- */

#define MAX_MARKS   100000
#define ALTERNATE_K 10

typedef struct {
    gil_t g;
    double deadline;
    /* written only by the lock's holder */
    int marks[MAX_MARKS];
    int nmarks;
    int alternations; /* marks that differ from the one before */
    int done;
} shared_t;

typedef struct {
    shared_t *sh;
    int id;
} runner_t;

static void *runner_main(void *arg) {
    runner_t *r = arg;
    shared_t *sh = r->sh;
    gil_acquire(&sh->g, r);
    while (!sh->done) {
        work();
        gil_check(&sh->g, r);
        if (sh->done)
            break;
        if (sh->nmarks > 0 && sh->marks[sh->nmarks - 1] != r->id)
            sh->alternations++;
        sh->marks[sh->nmarks++] = r->id;
        if (sh->alternations >= ALTERNATE_K || sh->nmarks == MAX_MARKS || tdp_now() > sh->deadline)
            sh->done = 1;
    }
    gil_release(&sh->g, r);
    return NULL;
}

static shared_t sh2;

static void test_two_threads_interleave(void) {
    tdp_err_t err = {0};
    CHECK(gil_init(&sh2.g, 0.001, &err) == TDP_OK);
    sh2.deadline = tdp_now() + BOUND_S;
    runner_t r[2] = {{&sh2, 0}, {&sh2, 1}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        CHECK(pthread_create(&th[i], NULL, runner_main, &r[i]) == 0);
    for (int i = 0; i < 2; i++)
        CHECK(pthread_join(th[i], NULL) == 0);
    gil_stats_t s;
    gil_get_stats(&sh2.g, &s);
    int seen[2] = {0, 0};
    for (int i = 0; i < sh2.nmarks; i++)
        seen[sh2.marks[i]]++;
    printf("two threads: %d marks (%d and %d), %d alternations, %lu takes, %lu hand-offs, %lu "
           "drop requests, %lu forced switches, %.3f s waited\n",
           sh2.nmarks, seen[0], seen[1], sh2.alternations, s.takes, s.handoffs, s.drop_requests,
           s.forced_switches, s.wait_seconds);
    CHECK_MSG(sh2.alternations >= ALTERNATE_K,
              "the threads ran one after another: %d alternations in %d marks", sh2.alternations,
              sh2.nmarks);
    CHECK(seen[0] > 0 && seen[1] > 0);
    /* both threads hold the lock from start to end except inside gil_check: every hand-off
     * between them is a forced switch, and each was asked for */
    CHECK_MSG(s.forced_switches >= (unsigned long)ALTERNATE_K, "%lu forced switches",
              s.forced_switches);
    CHECK_MSG(s.handoffs >= (unsigned long)ALTERNATE_K, "%lu hand-offs", s.handoffs);
    CHECK(s.drop_requests >= s.forced_switches);
    CHECK(s.takes >= s.handoffs);
    CHECK(s.wait_seconds > 0.0);
    gil_destroy(&sh2.g);
}

/* ---- a thread alone is never asked to drop the lock ---- */

static void test_one_thread(void) {
    gil_t g;
    tdp_err_t err = {0};
    CHECK(gil_init(&g, 0.001, &err) == TDP_OK);
    int self = 0;
    /* about 30 switch intervals of work with a check point every few microseconds, then a
     * release and take-back */
    double until = tdp_now() + 0.03;
    gil_acquire(&g, &self);
    long checks = 0;
    while (tdp_now() < until) {
        work();
        gil_check(&g, &self);
        checks++;
    }
    gil_release(&g, &self);
    gil_acquire(&g, &self);
    gil_check(&g, &self);
    gil_release(&g, &self);
    gil_stats_t s;
    gil_get_stats(&g, &s);
    printf("one thread: %ld check points, %lu takes, %lu forced switches\n", checks, s.takes,
           s.forced_switches);
    CHECK_MSG(s.forced_switches == 0 && gil_forced_switches(&g) == 0, "%lu forced switches",
              s.forced_switches);
    CHECK_MSG(s.drop_requests == 0, "%lu drop requests", s.drop_requests);
    CHECK(s.handoffs == 0);
    CHECK(s.takes == 2);
    CHECK(s.wait_seconds == 0.0);
    gil_destroy(&g);
}

/* ---- the calibration file: read exactly, refused with FILE:LINE ---- */

static const char *GOOD = "# a comment\n\nforward_held_us = 60\nbackward_held_us=150 # x\n"
                          "loss_held_us = 10\nfree_per_layer_us = 0\n"
                          "replicate_us_per_tensor = 100\nkept_copy_us_per_tensor = 25.5\n"
                          "gather_us_per_tensor = 45\noptim_us_per_tensor = 80\n"
                          "replicate_us_per_mb = 500\nkept_copy_us_per_mb = 60\n"
                          "gather_us_per_mb = 450.5\noptim_us_per_mb = 0\n"
                          "thread_start_us = 1e2\ncontended_factor = 1.4\n"
                          "loop_contended_factor = 3.5\n";

static int load_text(const char *text, gilcal_t *c, tdp_err_t *err) {
    char path[] = "/tmp/test_gil_calXXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    int rc = gilcal_load(path, c, err);
    unlink(path);
    return rc;
}

/* GOOD with `from` (the first occurrence) replaced by `to`: refused, the message holds `want` */
static void refused(const char *from, const char *to, const char *want) {
    char text[1024];
    const char *at = strstr(GOOD, from);
    CHECK(at != NULL);
    snprintf(text, sizeof text, "%.*s%s%s", (int)(at - GOOD), GOOD, to, at + strlen(from));
    gilcal_t c;
    tdp_err_t err = {0};
    int rc = load_text(text, &c, &err);
    CHECK_MSG(rc == TDP_EINPUT && strstr(err.msg, want) != NULL, "'%s' -> rc %d, '%s'", to, rc,
              err.msg);
}

static void test_calibration_file(void) {
    gilcal_t c;
    tdp_err_t err = {0};
    CHECK_MSG(load_text(GOOD, &c, &err) == TDP_OK, "%s", err.msg);
    CHECK(c.forward_held_us == 60 && c.backward_held_us == 150 &&
          c.kept_copy_us_per_tensor == 25.5);
    CHECK(c.thread_start_us == 100 && c.contended_factor == 1.4 && c.free_per_layer_us == 0);
    CHECK(c.loop_contended_factor == 3.5);
    CHECK(c.replicate_us_per_mb == 500 && c.kept_copy_us_per_mb == 60 &&
          c.gather_us_per_mb == 450.5 && c.optim_us_per_mb == 0);
    char buf[1024];
    gilcal_format(&c, buf, sizeof buf);
    CHECK_MSG(strstr(buf, "forward_held_us=60 ") == buf && strstr(buf, "contended_factor=1.4"),
              "%s", buf);
    refused("forward_held_us = 60", "forward_held_us = 0x10", ":3: forward_held_us");
    refused("forward_held_us = 60", "forward_held_us = -1", "out of range");
    refused("forward_held_us = 60", "forward_held_us = 60 us", ":3: forward_held_us");
    refused("forward_held_us = 60", "forward_held_us 60", ":3: expected KEY = VALUE");
    refused("forward_held_us = 60", "forward_hold_us = 60", ":3: unknown key 'forward_hold_us'");
    refused("loss_held_us = 10", "forward_held_us = 10", ":5: forward_held_us given twice");
    refused("contended_factor = 1.4", "contended_factor = 0.5", "out of range");
    refused("contended_factor = 1.4\n", "", "contended_factor missing");
    refused("loop_contended_factor = 3.5", "loop_contended_factor = 0.9",
            ":17: loop_contended_factor");
    refused("gather_us_per_mb = 450.5\n", "", "gather_us_per_mb missing");
    refused("optim_us_per_mb = 0", "optim_us_per_mb = -5", ":14: optim_us_per_mb");
    refused("loop_contended_factor = 3.5\n", "", "loop_contended_factor missing");
    refused("forward_held_us = 60", "forward_held_us = ", ":3: forward_held_us");
    CHECK(gilcal_load("/nonexistent/x.cal", &c, &err) != TDP_OK);
}

/* ---- a loop's check points under contention (gil_loop_check) ---- */

/* The holder loops with check points until a waiter has had the lock (or, alone, for 20 ms);
 * returns the seconds the lock counted as held for contention. */
static double loop_held(double factor, int with_waiter) {
    gil_t g;
    tdp_err_t err = {0};
    CHECK(gil_init(&g, 0.001, &err) == TDP_OK);
    gilcal_t cal;
    memset(&cal, 0, sizeof cal);
    cal.contended_factor = 1.0;
    cal.loop_contended_factor = factor;
    gil_set_calibration(&g, &cal);
    int self = 0;
    gil_acquire(&g, &self);
    gil_loop_t l = {0};
    waiter_t w = {.g = &g, .took = 0};
    pthread_t th;
    if (with_waiter)
        CHECK(pthread_create(&th, NULL, waiter_main, &w) == 0);
    double t0 = tdp_now();
    while (tdp_now() - t0 < BOUND_S) {
        work();
        gil_loop_check(&g, &self, &l);
        if (with_waiter ? w.took : tdp_now() - t0 > 0.02)
            break;
    }
    CHECK_MSG(!with_waiter || w.took, "the waiter never got the lock");
    gil_loop_end(&g, &l);
    CHECK(l.since == 0.0 && l.held == 0.0);
    gil_release(&g, &self);
    if (with_waiter)
        pthread_join(th, NULL);
    double held = gil_held_seconds(&g);
    gil_destroy(&g);
    return held;
}

static void test_loop_contention(void) {
    double h = loop_held(3.0, 1);
    CHECK_MSG(h > 0.0, "contended loop: held %g s", h);
    h = loop_held(3.0, 0);
    CHECK_MSG(h == 0.0, "a loop alone: held %g s", h);
    h = loop_held(1.0, 1);
    CHECK_MSG(h == 0.0, "factor 1: held %g s", h);
}

int main(void) {
    test_calibration_file();
    test_loop_contention();
    test_honours_request();
    test_two_threads_interleave();
    test_one_thread();
    return check_summary();
}
