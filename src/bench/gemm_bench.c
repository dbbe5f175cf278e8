/* gemm_bench.c: the GEMM-only limit of one training step. Times exactly the cblas_sgemm calls
 * that ddp_train makes for one step of a model at a batch size (forward y = x W^T per layer,
 * backward dW = dy^T x per layer and dx = dy W for every layer but the first), and nothing else,
 * on the same kind of buffers. Prints the samples/s those calls alone allow. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "cfg.h"
#include "cmdline.h"
#include "model.h"
#include "util.h"

#ifndef TDP_MODELS_DIR
#define TDP_MODELS_DIR "models"
#endif

static float *buf(size_t n) {
    float *p = tdp_floats_new(n);
    TDP_DIE_IF(p == NULL, "tdp_floats_new");
    for (size_t i = 0; i < n; i++)
        p[i] = (float)((i * 2654435761u) % 1000) * 1e-3f - 0.5f;
    return p;
}

typedef struct {
    char model[4096];
    int batch;
    double seconds;
    int help, version;
} opts_t;

#define OFF(f) offsetof(opts_t, f)
static const cmdline_opt_t SPECS[] = {
    CMDLINE_OPT("model", CMDLINE_STRING, OFF(model), 0, 0, "FILE", "model description (.cfg)",
                .size = sizeof(((opts_t *)0)->model)),
    CMDLINE_OPT("batch", CMDLINE_INT, OFF(batch), 1, 65536, "B", "samples per step"),
    CMDLINE_OPT("seconds", CMDLINE_REAL, OFF(seconds), 0.001, 3600, "S",
                "time measured, after a fifth of it as warm-up"),
    CMDLINE_INFO(opts_t),
};
static const opts_t DEFAULTS = {
    .model = TDP_MODELS_DIR "/fashion-mlp.cfg", .batch = 64, .seconds = 2.0};
static const cmdline_prog_t PROG = {
    "gemm_bench",
    "Usage: gemm_bench [options]\n"
    "Times only the sgemm calls of one training step; prints samples/s.\n",
    CMDLINE_TABLE(SPECS), &DEFAULTS};

int main(int argc, char **argv) {
    opts_t o = DEFAULTS;
    int st = cmdline_program(&PROG, argc, argv, &o, 1);
    if (st != TDP_OK)
        return cmdline_exit_code(st);
    const char *model_path = o.model;
    const int batch = o.batch;
    const double seconds = o.seconds;
    tdp_err_t err;
    model_cfg_t cfg;
    model_t m;
    int rc = cfg_load(model_path, &cfg, &err);
    if (rc == TDP_OK)
        rc = model_build(&cfg, &m, &err);
    if (rc != TDP_OK) {
        fprintf(stderr, "gemm_bench: %s\n", err.msg);
        return cmdline_exit_code(rc);
    }
    if (getenv("OPENBLAS_NUM_THREADS") == NULL)
        blas_set_threads(1);
    float *w = buf(m.nparams), *g = buf(m.nparams);
    float *x = buf((size_t)batch * (size_t)m.max_width);
    float *act[CFG_MAX_LAYERS], *d0 = buf((size_t)batch * (size_t)m.max_width),
                                *d1 = buf((size_t)batch * (size_t)m.max_width);
    for (int l = 0; l < m.nlayers; l++)
        act[l] = buf((size_t)batch * (size_t)m.layer[l].out);
    double flops = 0;
    for (int l = 0; l < m.nlayers; l++)
        flops += 2.0 * batch * m.layer[l].in * m.layer[l].out * (l > 0 ? 3 : 2);

    long steps = 0;
    double t0 = tdp_now(), t = t0, warm_until = t0 + 0.2 * seconds;
    int warm = 1;
    for (;;) {
        for (int l = 0; l < m.nlayers; l++) {
            const layer_t *ly = &m.layer[l];
            blas_sgemm(0, 1, batch, ly->out, ly->in, 1.0f, l ? act[l - 1] : x, ly->in,
                       w + ly->w_off, ly->in, 0.0f, act[l], ly->out);
        }
        for (int l = m.nlayers - 1; l >= 0; l--) {
            const layer_t *ly = &m.layer[l];
            float *dy = ((m.nlayers - 1 - l) & 1) ? d1 : d0;
            float *dx = ((m.nlayers - 1 - l) & 1) ? d0 : d1;
            blas_sgemm(1, 0, ly->out, ly->in, batch, 1.0f, dy, ly->out, l ? act[l - 1] : x, ly->in,
                       0.0f, g + ly->w_off, ly->in);
            if (l > 0)
                blas_sgemm(0, 0, batch, ly->in, ly->out, 1.0f, dy, ly->out, w + ly->w_off, ly->in,
                           0.0f, dx, ly->in);
        }
        steps++;
        if ((steps & 15) == 0) {
            t = tdp_now();
            if (warm && t >= warm_until) {
                warm = 0;
                steps = 0;
                t0 = t;
            } else if (!warm && t - t0 >= seconds) {
                break;
            }
        }
    }
    double el = t - t0;
    printf("gemm_bench: model %s batch %d blas_threads %d steps %ld seconds %.3f\n", m.shape, batch,
           blas_get_threads(), steps, el);
    printf("gemm_only_samples_per_s %.1f\n", (double)steps * batch / el);
    printf("gemm_gflops %.2f\n", flops * (double)steps / el * 1e-9);
    return 0;
}
