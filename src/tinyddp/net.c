/* net.c: the passes over the layer table. */
#include "net.h"

#include <stdlib.h>
#include <string.h>

#include "layers.h"

static int alloc_floats(size_t n, float **out, tdp_err_t *err) {
    size_t bytes = tdp_floats_bytes(n);
    if (bytes == SIZE_MAX)
        return tdp_fail(err, TDP_EINPUT, "workspace size overflows");
    *out = tdp_floats_new(n);
    if (*out == NULL)
        return tdp_fail_sys(err, __FILE__, __LINE__, 0, "out of memory allocating %zu bytes",
                            bytes);
    memset(*out, 0, bytes);
    return TDP_OK;
}

int net_ws_alloc(const model_t *m, int max_batch, net_ws_t *ws, tdp_err_t *err) {
    memset(ws, 0, sizeof *ws);
    ws->max_batch = max_batch;
    size_t b = (size_t)max_batch;
    int rc = alloc_floats(b * (size_t)m->cfg.input, &ws->x, err);
    for (int l = 0; rc == TDP_OK && l < m->nlayers; l++)
        rc = alloc_floats(b * (size_t)m->layer[l].out, &ws->act[l], err);
    for (int i = 0; rc == TDP_OK && i < 2; i++)
        rc = alloc_floats(b * (size_t)m->max_width, &ws->dbuf[i], err);
    if (rc == TDP_OK) {
        ws->y = calloc(b ? b : 1, sizeof(int));
        if (ws->y == NULL)
            rc = tdp_fail_sys(err, __FILE__, __LINE__, 0, "out of memory allocating labels");
    }
    if (rc != TDP_OK)
        net_ws_free(ws);
    return rc;
}

void net_ws_free(net_ws_t *ws) {
    free(ws->x);
    free(ws->y);
    for (int l = 0; l < CFG_MAX_LAYERS; l++)
        free(ws->act[l]);
    free(ws->dbuf[0]);
    free(ws->dbuf[1]);
    memset(ws, 0, sizeof *ws);
}

static const float *forward(const model_t *m, const float *params, net_ws_t *ws, int batch,
                            void (*dispatch)(void *), void *ctx) {
    const float *in = ws->x;
    for (int l = 0; l < m->nlayers; l++) {
        if (dispatch)
            dispatch(ctx);
        const layer_t *ly = &m->layer[l];
        dense_forward(in, params + ly->w_off, params + ly->b_off, ws->act[l], batch, ly->in,
                      ly->out, ly->act == ACT_RELU);
        in = ws->act[l];
    }
    return in;
}

const float *net_forward(const model_t *m, const float *params, net_ws_t *ws, int batch) {
    return forward(m, params, ws, batch, NULL, NULL);
}

void net_grad(const model_t *m, const float *params, float *grads, net_ws_t *ws, int batch,
              float scale, double *loss_sum, long *correct, const net_grad_opts_t *opts) {
    static const net_grad_opts_t none = {0};
    if (opts == NULL)
        opts = &none;
    const int acc = opts->accumulate;
    double t0 = opts->trace ? tdp_now() : 0.0;
    const float *logits = forward(m, params, ws, batch, opts->dispatch, opts->dispatch_ctx);
    int last = m->nlayers - 1;
    float *dy = ws->dbuf[0];
    softmax_xent(logits, ws->y, dy, batch, m->layer[last].out, scale, loss_sum, correct);
    if (opts->trace) {
        double t1 = tdp_now();
        trace_add(opts->trace, "forward", -1, opts->tid, t0, t1);
        t0 = t1;
    }
    for (int l = last; l >= 0; l--) {
        const layer_t *ly = &m->layer[l];
        const float *x = l > 0 ? ws->act[l - 1] : ws->x;
        float *dw = grads + ly->w_off;
        if (opts->dispatch)
            opts->dispatch(opts->dispatch_ctx);
        dense_backward_bias(dy, grads + ly->b_off, batch, ly->out, acc);
        if (opts->progress)
            opts->progress(opts->ctx, ly->b_off);
        int rows = ly->out;
        if (opts->chunk_floats > 0) {
            size_t r = opts->chunk_floats / (size_t)ly->in;
            rows = r < 1 ? 1 : r > (size_t)ly->out ? ly->out : (int)r;
        }
        for (int r1 = ly->out; r1 > 0; r1 -= rows) {
            int r0 = r1 - rows > 0 ? r1 - rows : 0;
            dense_backward_weights(x, dy, dw, batch, ly->in, ly->out, r0, r1, acc);
            if (opts->progress)
                opts->progress(opts->ctx, ly->w_off + (size_t)r0 * (size_t)ly->in);
        }
        if (l > 0) {
            float *dx = ws->dbuf[(last - l + 1) & 1];
            dense_backward_input(params + ly->w_off, dy, dx, batch, ly->in, ly->out);
            if (m->layer[l - 1].act == ACT_RELU)
                relu_backward(x, dx, (size_t)batch * (size_t)ly->in);
            if (opts->progress)
                opts->progress(opts->ctx, ly->w_off);
            dy = dx;
        }
        if (opts->trace) {
            double t1 = tdp_now();
            trace_add(opts->trace, "backward L", l, opts->tid, t0, t1);
            t0 = t1;
        }
    }
}
