/* fuzz_cfg.c: libFuzzer harness for the model-file parser. */
#include <stddef.h>
#include <stdint.h>

#include "cfg.h"
#include "model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    model_cfg_t cfg;
    tdp_err_t err;
    if (cfg_parse((const char *)data, size, "fuzz", &cfg, &err) == TDP_OK) {
        model_t m;
        /* an accepted file must describe a consistent model */
        if (cfg.nlayers < 1 || cfg.nlayers > CFG_MAX_LAYERS ||
            cfg.layers[cfg.nlayers - 1].units != cfg.output)
            __builtin_trap();
        (void)model_build(&cfg, &m, &err);
    }
    return 0;
}
