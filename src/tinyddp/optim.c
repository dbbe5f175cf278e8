/* optim.c: the fused SGD update, one pass over the three arenas. */
#include "optim.h"

void sgd_step(const sgd_params_t *p, float *restrict w, const float *restrict grad,
              float *restrict v, size_t n) {
    const float lr = p->lr, mu = p->momentum, wd = p->weight_decay;
    for (size_t i = 0; i < n; i++) {
        float g = grad[i] + wd * w[i];
        float vi = mu * v[i] + g;
        v[i] = vi;
        w[i] -= lr * vi;
    }
}
