/* testhooks.c: the TDP_TEST_* switches, read once (see testhooks.h). */
#include "testhooks.h"

#include <pthread.h>
#include <stdlib.h>

static testhooks_t hooks;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void read_env(void) {
    const char *v;
    hooks.mem_set = (v = getenv("TDP_TEST_MEM_AVAILABLE")) != NULL;
    hooks.mem_available = v ? strtod(v, NULL) : 0.0;
    hooks.ckpt_pause = getenv("TDP_TEST_CKPT_PAUSE");
    hooks.stall_rank = (v = getenv("TDP_TEST_STALL_RANK")) ? atoi(v) : -1;
    hooks.stall_step = (v = getenv("TDP_TEST_STALL_STEP")) ? atol(v) : 1;
    hooks.stall_seconds = (v = getenv("TDP_TEST_STALL_SECONDS")) ? atof(v) : 3600.0;
    hooks.stall_warn_seconds = (v = getenv("TDP_TEST_STALL_WARN_SECONDS")) ? atof(v) : 60.0;
    hooks.slow_rank = (v = getenv("TDP_TEST_SLOW_RANK")) ? atoi(v) : -1;
    hooks.slow_ms = (v = getenv("TDP_TEST_SLOW_MS")) ? atof(v) : 0.0;
    hooks.perturb_rank = (v = getenv("TDP_TEST_PERTURB_RANK")) ? atoi(v) : -1;
    hooks.perturb_step = (v = getenv("TDP_TEST_PERTURB_STEP")) ? atol(v) : 1;
    hooks.stop_at_set = (v = getenv("TDP_TEST_STOP_AT")) != NULL;
    hooks.stop_at = v ? atol(v) : 0;
    hooks.stop_rank_set = (v = getenv("TDP_TEST_STOP_RANK")) != NULL;
    hooks.stop_rank = v ? atoi(v) : 0;
    hooks.stop_after_set = (v = getenv("TDP_TEST_STOP_AFTER")) != NULL;
    hooks.stop_after = v ? atol(v) : 0;
    hooks.setup_wait = getenv("TDP_TEST_SETUP_WAIT");
    hooks.setup_wait_rank_set = (v = getenv("TDP_TEST_SETUP_WAIT_RANK")) != NULL;
    hooks.setup_wait_rank = v ? atoi(v) : 0;
    hooks.half_scalar = (v = getenv("TDP_TEST_HALF_SCALAR")) ? atoi(v) != 0 : 0;
}

const testhooks_t *testhooks(void) {
    pthread_once(&once, read_env);
    return &hooks;
}
