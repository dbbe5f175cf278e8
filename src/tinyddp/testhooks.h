/* testhooks.h: the test-only switches (TDP_TEST_* environment variables), read once into one
 * struct (docs/testing.md lists them). Values are read as atoi/atol/strtod read them: a value
 * that is not a number counts as 0, as it always has; nothing is reported. */
#ifndef TDP_TESTHOOKS_H
#define TDP_TESTHOOKS_H

typedef struct {
    /* TDP_TEST_MEM_AVAILABLE=BYTES: stands in for MemAvailable (memcheck) */
    int mem_set;
    double mem_available;
    /* TDP_TEST_CKPT_PAUSE=FILE: a checkpoint write waits inside the write until FILE exists */
    const char *ckpt_pause;
    /* TDP_TEST_STALL_RANK=R [_STEP=S (1)] [_SECONDS=X (3600)]: rank R stops arriving at step S
     * for X seconds (ddp; -1: no rank) */
    int stall_rank;
    long stall_step;
    double stall_seconds;
    /* TDP_TEST_STALL_WARN_SECONDS=X (60): a wait for communication longer than this warns,
     * naming the ranks that have not arrived (comm.c) */
    double stall_warn_seconds;
    /* TDP_TEST_SLOW_RANK=R TDP_TEST_SLOW_MS=M: rank R computes M ms longer every step (ddp; -1:
     * no rank) */
    int slow_rank;
    double slow_ms;
    /* TDP_TEST_PERTURB_RANK=R [_STEP=S (1)]: nudge rank R's weights after step S (ddp; -1: no
     * rank) */
    int perturb_rank;
    long perturb_step;
    /* TDP_TEST_STOP_AT=N [TDP_TEST_STOP_RANK=R]: act as a signal during step N (on rank R) */
    int stop_at_set, stop_rank_set;
    long stop_at;
    int stop_rank;
    /* TDP_TEST_STOP_AFTER=N: act as a signal during the N-th step of this run */
    int stop_after_set;
    long stop_after;
    /* TDP_TEST_SETUP_WAIT=FILE [TDP_TEST_SETUP_WAIT_RANK=R]: set-up writes its process id to FILE
     * and waits (on rank R) */
    const char *setup_wait;
    int setup_wait_rank_set;
    int setup_wait_rank;
    /* TDP_TEST_HALF_SCALAR=1: the 16-bit conversions take the scalar path (halfprec.h) */
    int half_scalar;
} testhooks_t;

/* The process's test hooks, read from the environment at the first call (thread-safe; a
 * program calls it at its start). */
const testhooks_t *testhooks(void);

#endif
