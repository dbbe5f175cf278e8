/* test_gradcheck.c: finite-difference check of the whole network's gradient on models/tiny.cfg
 * (and a deeper small model), with guards against trivial passes: the gradient must be far from
 * zero, most checked entries must be non-zero, and a deliberately wrong gradient must fail. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "check.h"
#include "data.h"
#include "layers.h"
#include "model.h"
#include "net.h"

#define B 8

static double loss_at(const model_t *m, const float *p, net_ws_t *ws) {
    const float *logits = net_forward(m, p, ws, B);
    double loss = 0;
    long correct = 0;
    softmax_xent(logits, ws->y, NULL, B, m->layer[m->nlayers - 1].out, 1.0f / B, &loss, &correct);
    return loss / B;
}

/* Compare grad with central differences on a subset of parameters (all biases, every
 * `stride`-th weight). Returns the number of entries outside tolerance; reports counts. */
static int fd_check(const model_t *m, float *p, const float *grad, net_ws_t *ws, int stride,
                    int *checked, int *nonzero, double *worst) {
    /* 3e-3: small enough to cross few ReLU kinks, large enough for float32 forward noise */
    const double eps = 3e-3;
    int bad = 0;
    *checked = *nonzero = 0;
    *worst = 0;
    for (int l = 0; l < m->nlayers; l++) {
        const layer_t *ly = &m->layer[l];
        size_t end = ly->b_off + (size_t)ly->out;
        for (size_t i = ly->w_off; i < end; i += (i >= ly->b_off ? 1 : (size_t)stride)) {
            float keep = p[i];
            p[i] = keep + (float)eps;
            double lp = loss_at(m, p, ws);
            p[i] = keep - (float)eps;
            double lm = loss_at(m, p, ws);
            p[i] = keep;
            double fd = (lp - lm) / (2 * eps), an = grad[i];
            double err = fabs(fd - an) / (fabs(fd) + fabs(an) + 1e-4);
            (*checked)++;
            *nonzero += fabs(an) > 1e-7;
            if (err > *worst)
                *worst = err;
            if (err > 2e-2 && getenv("GRADCHECK_VERBOSE"))
                printf("  param %zu: analytic %.6g finite-difference %.6g\n", i, an, fd);
            bad += err > 2e-2;
        }
    }
    return bad;
}

static void run_model(const char *what, const model_t *m, int stride) {
    float *p, *g;
    tdp_err_t err;
    net_ws_t ws;
    dataset_t tr, te;
    CHECK(model_alloc_arena(m, &p, &err) == TDP_OK);
    CHECK(model_alloc_arena(m, &g, &err) == TDP_OK);
    CHECK(net_ws_alloc(m, B, &ws, &err) == TDP_OK);
    CHECK(dataset_synthetic(3, 64, 16, m->cfg.input, m->cfg.output, &tr, &te, &err) == TDP_OK);
    model_init_weights(m, 11, p);
    /* non-zero biases, so their gradients are exercised away from the symmetric start */
    for (int l = 0; l < m->nlayers; l++)
        for (int j = 0; j < m->layer[l].out; j++)
            p[m->layer[l].b_off + (size_t)j] = 0.05f * (float)((j % 5) - 2);
    uint32_t idx[B];
    for (int i = 0; i < B; i++)
        idx[i] = (uint32_t)(i * 7);
    batch_gather(&tr, idx, B, ws.x, ws.y);
    double loss = 0;
    long correct = 0;
    net_grad(m, p, g, &ws, B, 1.0f / B, &loss, &correct, NULL);
    CHECK(fabs(loss / B - loss_at(m, p, &ws)) < 1e-6);
    double norm = 0;
    for (size_t i = 0; i < m->nparams; i++)
        norm += (double)g[i] * g[i];
    norm = sqrt(norm);
    CHECK_MSG(norm > 1e-3, "%s: gradient norm %g is trivially small", what, norm);

    int checked, nonzero;
    double worst;
    int bad = fd_check(m, p, g, &ws, stride, &checked, &nonzero, &worst);
    printf("%s: %zu params, checked %d (%d non-zero), %d outside 2e-2, worst rel err %.3g, "
           "|g| %.4g\n",
           what, m->nparams, checked, nonzero, bad, worst, norm);
    CHECK_MSG(checked >= 500 && nonzero > checked / 4, "%s: checked %d, non-zero %d", what, checked,
              nonzero);
    /* a ReLU kink crossed by +-eps can spoil an entry or two; more is a bug */
    CHECK_MSG(bad <= checked / 200, "%s: %d of %d entries disagree", what, bad, checked);

    /* guard: the same check on a wrong gradient (scaled by 1.2) must fail */
    for (size_t i = 0; i < m->nparams; i++)
        g[i] *= 1.2f;
    int bad_wrong = fd_check(m, p, g, &ws, stride, &checked, &nonzero, &worst);
    CHECK_MSG(bad_wrong > nonzero / 2, "%s: a 20%% wrong gradient passed (%d bad of %d)", what,
              bad_wrong, checked);

    dataset_free(&tr);
    dataset_free(&te);
    net_ws_free(&ws);
    free(p);
    free(g);
}

int main(void) {
    const char *src = getenv("TDP_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/models/tiny.cfg", src ? src : ".");
    model_cfg_t cfg;
    model_t m;
    tdp_err_t err;
    CHECK_MSG(cfg_load(path, &cfg, &err) == TDP_OK, "%s", err.msg);
    CHECK(model_build(&cfg, &m, &err) == TDP_OK);
    run_model("tiny.cfg", &m, 17);

    const char *deep = "[net]\ninput=20\noutput=4\n[dense]\nunits=16\n[dense]\nunits=12\n"
                       "[dense]\nunits=8\n[dense]\nunits=4\nactivation=none\n";
    CHECK_MSG(cfg_parse(deep, strlen(deep), "deep", &cfg, &err) == TDP_OK, "%s", err.msg);
    CHECK(model_build(&cfg, &m, &err) == TDP_OK);
    run_model("20-16-12-8-4", &m, 1);
    return check_summary();
}
