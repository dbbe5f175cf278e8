/* net.h: forward and backward passes of a model over a workspace sized for a maximum batch. */
#ifndef TDP_NET_H
#define TDP_NET_H

#include "model.h"
#include "trace.h"
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

/* How a backward pass reports and splits its work. */
typedef struct {
    /* Called whenever the gradient arena's tail grads[ready_from .. nparams) is final (it moves
     * from nparams down to 0: the last layer's bias, its weights, then the layer before), and
     * again between GEMMs (same value) so a caller can progress communication. NULL: none. */
    void (*progress)(void *ctx, size_t ready_from);
    void *ctx;
    /* Split each weight-gradient GEMM into row blocks of at most this many floats, reporting
     * after each (0: one GEMM per layer). */
    size_t chunk_floats;
    /* Add into the gradient arena instead of overwriting it (gradient accumulation). */
    int accumulate;
    /* Called before each layer's forward and before each layer's backward: where an interpreter
     * would dispatch the layer (the emulated interpreter lock's check point). NULL: none. */
    void (*dispatch)(void *ctx);
    void *dispatch_ctx;
    /* Record "forward" and "backward L" events (NULL: no tracing) on thread row tid. */
    trace_t *trace;
    int tid;
} net_grad_opts_t;

/* Forward, softmax cross-entropy and backward for ws->x/ws->y[0..batch). Writes (or adds, see
 * opts) the gradient of sum(loss) * scale into the arena `grads`, adds the batch's summed loss to
 * *loss_sum (before backward starts) and its correct predictions to *correct. opts may be NULL. */
void net_grad(const model_t *m, const float *params, float *grads, net_ws_t *ws, int batch,
              float scale, double *loss_sum, long *correct, const net_grad_opts_t *opts);

#endif
