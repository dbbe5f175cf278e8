/* optim.h: SGD with momentum and weight decay, PyTorch's torch.optim.SGD semantics
 * (dampening 0, not Nesterov, weight decay on every parameter, biases included):
 *     g = grad + weight_decay * w;  v = momentum * v + g;  w = w - lr * v
 * (v starts at 0, so the first step's v is g, as in PyTorch). */
#ifndef TDP_OPTIM_H
#define TDP_OPTIM_H

#include <stddef.h>

typedef struct {
    float lr, momentum, weight_decay;
} sgd_params_t;

/* One step over n parameters: w[n], grad[n] and velocity v[n] (same arena layout). */
void sgd_step(const sgd_params_t *p, float *w, const float *grad, float *v, size_t n);

#endif
