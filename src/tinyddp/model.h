/* model.h: a model description turned into a layer table over one parameter arena.
 *
 * Arena layout (also the --dump-weights file layout), layer by layer in order:
 *     W[out][in] then b[out]
 * The gradient arena, the momentum arena and every replica use the same layout, so the optimizer
 * and a gradient allreduce are one call over one contiguous buffer each. */
#ifndef TDP_MODEL_H
#define TDP_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "cfg.h"
#include "util.h"

typedef struct {
    int in, out; /* W is [out][in] */
    activation_t act;
    size_t w_off; /* offset of W in the arena, in floats */
    size_t b_off; /* offset of b in the arena, in floats */
} layer_t;

typedef struct {
    model_cfg_t cfg;
    int nlayers;
    layer_t layer[CFG_MAX_LAYERS];
    size_t nparams;  /* floats in the arena */
    int max_width;   /* widest layer input or output */
    char shape[128]; /* "784-256-128-10" */
} model_t;

/* Build the layer table of cfg. Refuses a parameter count whose arena would overflow. */
int model_build(const model_cfg_t *cfg, model_t *m, tdp_err_t *err);

/* He initialisation from seed: W ~ N(0, 2 / in), drawn in arena order; b = 0. */
void model_init_weights(const model_t *m, uint64_t seed, float *params);

/* A float arena of m->nparams, zeroed (64-byte aligned). */
int model_alloc_arena(const model_t *m, float **out, tdp_err_t *err);

/* Hash of the model's shape (for ranks and checkpoints to compare). */
uint64_t model_shape_hash(const model_t *m);

#endif
