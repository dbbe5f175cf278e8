/* layers.h: the pure kernels of a dense MLP. Pointers and sizes in, no globals, no allocation.
 * Matrices are row-major: a batch is x[B][in], a weight matrix W[out][in], a bias b[out]. */
#ifndef TDP_LAYERS_H
#define TDP_LAYERS_H

#include <stddef.h>

/* y[B][out] = x[B][in] W^T + b, then ReLU when relu != 0. */
void dense_forward(const float *x, const float *w, const float *bias, float *y, int batch, int in,
                   int out, int relu);

/* Bias gradient of one dense layer for the upstream gradient dy[B][out] (already masked by the
 * activation's derivative): db[out] = sum over the batch of dy (+= when accumulate). */
void dense_backward_bias(const float *dy, float *db, int batch, int out, int accumulate);

/* Weight gradient rows [row0, row1) of one dense layer: dw[o][in] = sum_i dy[i][o] x[i][in] for
 * row0 <= o < row1 (+= when accumulate). `dw` points at row 0 of the layer's whole dW. Computing
 * dW in row blocks lets a caller ship finished blocks while the rest is computed. */
void dense_backward_weights(const float *x, const float *dy, float *dw, int batch, int in, int out,
                            int row0, int row1, int accumulate);

/* Input gradient of one dense layer: dx[B][in] = dy W. */
void dense_backward_input(const float *w, const float *dy, float *dx, int batch, int in, int out);

/* d[i] = 0 where y[i] <= 0 (ReLU's derivative, from its output y), for n values. */
void relu_backward(const float *y, float *d, size_t n);

/* Numerically stable softmax cross-entropy over logits[B][C] with labels y[B].
 * Writes dlogits[B][C] = (softmax - onehot) * scale (scale = 1 / the global batch, so that the
 * gradient is that of the mean loss over the global batch), adds the batch's summed loss to
 * *loss_sum and its count of correct argmax predictions to *correct. dlogits may be NULL
 * (evaluation). */
void softmax_xent(const float *logits, const int *y, float *dlogits, int batch, int classes,
                  float scale, double *loss_sum, long *correct);

/* The one ordered sum of gradients (workers' or ranks'): dst[j] = src[0][j] + src[1][j] + ... +
 * src[count - 1][j] for j < n, added in that order (dst[j] += ... when accumulate), so that the
 * result is bitwise the same whoever computes it. */
void sum_in_order(float *dst, const float *const *src, int count, size_t n, int accumulate);

/* Count of rows of logits[B][C] whose argmax equals the label (first maximum wins). */
long argmax_correct(const float *logits, const int *y, int batch, int classes);

#endif
