/* fuzz_ckpt.c: libFuzzer harness for the checkpoint parser, expecting a small model's
 * checkpoint (tests/fuzz/ckpt-model.cfg: 2-3-2, 17 parameters). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cfg.h"
#include "checkpoint.h"
#include "model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The option record the seed corpus's checkpoints carry (tests/fuzz/corpus/ckpt/valid.ckpt was
 * written by ckpt_write with it, mode 0, 1 worker, batch 4, accum 1). */
static const char RECORD[] = "--lr=0.5\n--seed=9007199254740993\ntraining set size=8\n";

static const char MODEL[] = "[net]\ninput=2\noutput=2\n[dense]\nunits=3\n[dense]\nunits=2\n"
                            "activation=none\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static model_t m;
    static int ready;
    tdp_err_t err;
    if (!ready) {
        model_cfg_t cfg;
        if (cfg_parse(MODEL, strlen(MODEL), "fuzz-model", &cfg, &err) != TDP_OK ||
            model_build(&cfg, &m, &err) != TDP_OK)
            __builtin_trap();
        ready = 1;
    }
    ckpt_expect_t want = {.nparams = m.nparams,
                          .shape_hash = model_shape_hash(&m),
                          .record = RECORD,
                          .record_len = sizeof RECORD - 1,
                          .mode = 0,
                          .workers = 1,
                          .batch = 4,
                          .accum = 1};
    float params[17], velocity[17];
    ckpt_header_t h;
    if (ckpt_parse(data, size, "fuzz", &want, &h, params, velocity, &err) == TDP_OK &&
        h.nparams != m.nparams)
        __builtin_trap();
    return 0;
}
