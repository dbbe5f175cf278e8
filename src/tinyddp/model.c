/* model.c: layer table, arena allocation and initialisation. */
#include "model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

int model_build(const model_cfg_t *cfg, model_t *m, tdp_err_t *err) {
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    m->nlayers = cfg->nlayers;
    int in = cfg->input;
    size_t off = 0;
    m->max_width = in;
    for (int l = 0; l < cfg->nlayers; l++) {
        layer_t *ly = &m->layer[l];
        ly->in = in;
        ly->out = cfg->layers[l].units;
        ly->act = cfg->layers[l].act;
        size_t wn;
        if (tdp_mul_size((size_t)ly->in, (size_t)ly->out, &wn) != 0 ||
            tdp_add_size(off, wn, &ly->b_off) != 0 ||
            tdp_add_size(ly->b_off, (size_t)ly->out, &off) != 0 ||
            off > SIZE_MAX / 4 / sizeof(float))
            return tdp_fail(err, TDP_EINPUT, "model too large: parameter count overflows");
        ly->w_off = ly->b_off - wn;
        if (ly->out > m->max_width)
            m->max_width = ly->out;
        in = ly->out;
    }
    m->nparams = off;
    cfg_shape_string(cfg, m->shape, sizeof m->shape);
    return TDP_OK;
}

void model_init_weights(const model_t *m, uint64_t seed, float *params) {
    tdp_rng_t r;
    rng_seed(&r, seed);
    for (int l = 0; l < m->nlayers; l++) {
        const layer_t *ly = &m->layer[l];
        float std = sqrtf(2.0f / (float)ly->in);
        size_t wn = (size_t)ly->in * (size_t)ly->out;
        for (size_t i = 0; i < wn; i++)
            params[ly->w_off + i] = std * rng_normal(&r);
        memset(params + ly->b_off, 0, (size_t)ly->out * sizeof(float));
    }
}

int model_alloc_arena(const model_t *m, float **out, tdp_err_t *err) {
    size_t bytes = tdp_floats_bytes(m->nparams);
    float *p = tdp_floats_new(m->nparams);
    if (p == NULL)
        return tdp_fail_sys(err, __FILE__, __LINE__, 0, "out of memory allocating %zu bytes",
                            bytes);
    memset(p, 0, bytes);
    *out = p;
    return TDP_OK;
}

uint64_t model_shape_hash(const model_t *m) {
    uint64_t h = TDP_FNV_INIT;
    h = tdp_fnv1a(h, &m->cfg.input, sizeof m->cfg.input);
    for (int l = 0; l < m->nlayers; l++) {
        int v[2] = {m->layer[l].out, (int)m->layer[l].act};
        h = tdp_fnv1a(h, v, sizeof v);
    }
    return h;
}
