/* layers.c: dense, ReLU and softmax cross-entropy kernels, and the ordered sum of gradients. The
 * matrix products go through blas.c; the rest are single passes the compiler vectorizes. */
#include "layers.h"

#include <math.h>
#include <string.h>

#include "blas.h"

void dense_forward(const float *x, const float *w, const float *bias, float *y, int batch, int in,
                   int out, int relu) {
    /* y = x (B x in) * W^T (in x out) */
    blas_sgemm(0, 1, batch, out, in, 1.0f, x, in, w, in, 0.0f, y, out);
    for (int i = 0; i < batch; i++) {
        float *row = y + (size_t)i * (size_t)out;
        if (relu) {
            for (int j = 0; j < out; j++) {
                float v = row[j] + bias[j];
                row[j] = v > 0.0f ? v : 0.0f;
            }
        } else {
            for (int j = 0; j < out; j++)
                row[j] += bias[j];
        }
    }
}

void dense_backward_bias(const float *dy, float *db, int batch, int out, int accumulate) {
    if (!accumulate)
        for (int j = 0; j < out; j++)
            db[j] = 0.0f;
    for (int i = 0; i < batch; i++) {
        const float *row = dy + (size_t)i * (size_t)out;
        for (int j = 0; j < out; j++)
            db[j] += row[j];
    }
}

void dense_backward_weights(const float *x, const float *dy, float *dw, int batch, int in, int out,
                            int row0, int row1, int accumulate) {
    /* dW[row0:row1] ((row1 - row0) x in) = dy[:, row0:row1]^T ((row1 - row0) x B) * x (B x in) */
    blas_sgemm(1, 0, row1 - row0, in, batch, 1.0f, dy + row0, out, x, in, accumulate ? 1.0f : 0.0f,
               dw + (size_t)row0 * (size_t)in, in);
}

void dense_backward_input(const float *w, const float *dy, float *dx, int batch, int in, int out) {
    /* dx (B x in) = dy (B x out) * W (out x in) */
    blas_sgemm(0, 0, batch, in, out, 1.0f, dy, out, w, in, 0.0f, dx, in);
}

void relu_backward(const float *y, float *d, size_t n) {
    for (size_t i = 0; i < n; i++)
        d[i] = y[i] > 0.0f ? d[i] : 0.0f;
}

void softmax_xent(const float *logits, const int *y, float *dlogits, int batch, int classes,
                  float scale, double *loss_sum, long *correct) {
    double loss = 0.0;
    long ok = 0;
    for (int i = 0; i < batch; i++) {
        const float *z = logits + (size_t)i * (size_t)classes;
        int best = 0;
        float mx = z[0];
        for (int c = 1; c < classes; c++) {
            if (z[c] > mx) {
                mx = z[c];
                best = c;
            }
        }
        ok += best == y[i];
        double sum = 0.0;
        for (int c = 0; c < classes; c++)
            sum += exp((double)(z[c] - mx));
        double lse = (double)mx + log(sum);
        loss += lse - (double)z[y[i]];
        if (dlogits != NULL) {
            float *d = dlogits + (size_t)i * (size_t)classes;
            for (int c = 0; c < classes; c++)
                d[c] = (float)exp((double)z[c] - lse) * scale;
            d[y[i]] -= scale;
        }
    }
    *loss_sum += loss;
    *correct += ok;
}

long argmax_correct(const float *logits, const int *y, int batch, int classes) {
    long ok = 0;
    for (int i = 0; i < batch; i++) {
        const float *z = logits + (size_t)i * (size_t)classes;
        int best = 0;
        for (int c = 1; c < classes; c++)
            if (z[c] > z[best])
                best = c;
        ok += best == y[i];
    }
    return ok;
}

void sum_in_order(float *dst, const float *const *src, int count, size_t n, int accumulate) {
    for (int i = 0; i < count; i++) {
        const float *s = src[i];
        if (i == 0 && !accumulate)
            memcpy(dst, s, n * sizeof *dst);
        else
            for (size_t j = 0; j < n; j++)
                dst[j] += s[j];
    }
}
