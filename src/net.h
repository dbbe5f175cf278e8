/* net.h: forward and backward passes of a model over a workspace sized for a maximum batch. */
#ifndef TDP_NET_H
#define TDP_NET_H

#include "model.h"
#include "util.h"

typedef struct {
    int max_batch;
    float *x;                   /* [max_batch][input] input batch, scaled to [0, 1] */
    int *y;                     /* [max_batch] labels */
    float *act[CFG_MAX_LAYERS]; /* act[l]: [max_batch][out_l] output of layer l */
    float *dbuf[2];             /* [max_batch][max_width] upstream gradients, ping-pong */
} net_ws_t;

int net_ws_alloc(const model_t *m, int max_batch, net_ws_t *ws, tdp_err_t *err);
void net_ws_free(net_ws_t *ws);

/* Forward pass of ws->x[0..batch); returns the logits (ws->act[last]). */
const float *net_forward(const model_t *m, const float *params, net_ws_t *ws, int batch);

/* Called after layer `layer`'s gradients are complete in the gradient arena (layers finish last
 * first), so that a caller can start communicating them while backward goes on. */
typedef void (*net_layer_done_fn)(void *ctx, int layer);

/* Forward, softmax cross-entropy and backward for ws->x/ws->y[0..batch). Writes (overwrites) the
 * whole gradient arena `grads` with the gradient of sum(loss) * scale, adds the summed loss to
 * *loss_sum and the correct predictions to *correct. done may be NULL. */
void net_grad(const model_t *m, const float *params, float *grads, net_ws_t *ws, int batch,
              float scale, double *loss_sum, long *correct, net_layer_done_fn done, void *ctx);

#endif
