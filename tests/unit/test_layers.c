/* test_layers.c: the MLP layers' math against naive double-precision loops, the optimizer against
 * its formula, and the RNG against known values. */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "layers.h"
#include "optim.h"
#include "rng.h"

static float *randv(tdp_rng_t *r, size_t n) {
    float *p = malloc(n * sizeof *p);
    if (p == NULL)
        exit(1);
    for (size_t i = 0; i < n; i++)
        p[i] = rng_uniform(r) * 2.0f - 1.0f;
    return p;
}

static double maxdiff(const float *a, const double *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

/* sum_in_order adds in source order, so that rounding is the same whoever sums: 1e8 + 1 is 1e8
 * in float, so (1e8 + 1) - 1e8 is 0 where 1e8 - 1e8 + 1 would be 1. */
static void check_sum_in_order(void) {
    const float a[2] = {1e8f, 2.0f}, b[2] = {1.0f, 3.0f}, c[2] = {-1e8f, 4.0f};
    const float *const src[3] = {a, b, c};
    float dst[2] = {7.0f, 7.0f};
    sum_in_order(dst, src, 3, 2, 0);
    CHECK(dst[0] == 0.0f && dst[1] == 9.0f);
    dst[0] = 1.0f;
    sum_in_order(dst, src, 3, 2, 1); /* ((1 + 1e8) + 1) - 1e8 */
    CHECK(dst[0] == 0.0f && dst[1] == 18.0f);
    sum_in_order(dst, src, 1, 2, 0);
    CHECK(dst[0] == 1e8f && dst[1] == 2.0f);
}

int main(void) {
    tdp_rng_t r;
    rng_seed(&r, 0);
    /* splitmix64 reference outputs for seed 0 */
    CHECK(rng_next(&r) == 0xe220a8397b1dcdafULL);
    CHECK(rng_next(&r) == 0x6e789e6aa1b965f4ULL);
    rng_seed(&r, 7);
    uint32_t counts[5] = {0}, out_of_range = 0;
    for (int i = 0; i < 50000; i++) {
        uint32_t v = rng_below(&r, 5);
        if (v < 5)
            counts[v]++;
        else
            out_of_range++;
    }
    CHECK(out_of_range == 0);
    for (int i = 0; i < 5; i++)
        CHECK_MSG(counts[i] > 9500 && counts[i] < 10500, "bucket %d has %u", i, counts[i]);
    double s = 0, s2 = 0;
    for (int i = 0; i < 100000; i++) {
        double z = rng_normal(&r);
        s += z;
        s2 += z * z;
    }
    CHECK_MSG(fabs(s / 1e5) < 0.02 && fabs(s2 / 1e5 - 1) < 0.03, "mean %g var %g", s / 1e5,
              s2 / 1e5);

    const int B = 5, IN = 7, OUT = 4;
    float *x = randv(&r, B * IN), *w = randv(&r, OUT * IN), *b = randv(&r, OUT);
    float y[5 * 4], yr[5 * 4];
    double ref[5 * 7];
    for (int relu = 0; relu < 2; relu++) {
        dense_forward(x, w, b, y, B, IN, OUT, relu);
        for (int i = 0; i < B; i++)
            for (int o = 0; o < OUT; o++) {
                double a = b[o];
                for (int k = 0; k < IN; k++)
                    a += (double)x[i * IN + k] * w[o * IN + k];
                ref[i * OUT + o] = relu && a < 0 ? 0 : a;
            }
        CHECK_MSG(maxdiff(y, ref, B * OUT) < 1e-5, "forward relu=%d", relu);
    }
    for (int i = 0; i < B * OUT; i++)
        yr[i] = y[i];

    float *dy = randv(&r, B * OUT), dw[4 * 7], db[4], dx[5 * 7];
    dense_backward_bias(dy, db, B, OUT, 0);
    dense_backward_weights(x, dy, dw, B, IN, OUT, 2, OUT, 0); /* rows in two blocks */
    dense_backward_weights(x, dy, dw, B, IN, OUT, 0, 2, 0);
    dense_backward_input(w, dy, dx, B, IN, OUT);
    double rdw[4 * 7], rdb[4], rdx[5 * 7];
    for (int o = 0; o < OUT; o++) {
        rdb[o] = 0;
        for (int i = 0; i < B; i++)
            rdb[o] += dy[i * OUT + o];
        for (int k = 0; k < IN; k++) {
            rdw[o * IN + k] = 0;
            for (int i = 0; i < B; i++)
                rdw[o * IN + k] += (double)dy[i * OUT + o] * x[i * IN + k];
        }
    }
    for (int i = 0; i < B; i++)
        for (int k = 0; k < IN; k++) {
            rdx[i * IN + k] = 0;
            for (int o = 0; o < OUT; o++)
                rdx[i * IN + k] += (double)dy[i * OUT + o] * w[o * IN + k];
        }
    CHECK(maxdiff(dw, rdw, OUT * IN) < 1e-5);
    CHECK(maxdiff(db, rdb, OUT) < 1e-5);
    CHECK(maxdiff(dx, rdx, B * IN) < 1e-5);
    /* accumulate: a second pass doubles the gradients */
    dense_backward_bias(dy, db, B, OUT, 1);
    dense_backward_weights(x, dy, dw, B, IN, OUT, 0, OUT, 1);
    for (int i = 0; i < OUT * IN; i++)
        rdw[i] *= 2;
    for (int i = 0; i < OUT; i++)
        rdb[i] *= 2;
    CHECK(maxdiff(dw, rdw, OUT * IN) < 2e-5);
    CHECK(maxdiff(db, rdb, OUT) < 2e-5);

    float d[5 * 4];
    for (int i = 0; i < B * OUT; i++)
        d[i] = 1.0f;
    relu_backward(yr, d, (size_t)(B * OUT));
    for (int i = 0; i < B * OUT; i++)
        CHECK(d[i] == (yr[i] > 0 ? 1.0f : 0.0f));

    /* softmax cross-entropy, including huge logits (stability) */
    float logits[2 * 3] = {1000.0f, 999.0f, -1000.0f, 0.5f, 0.25f, 2.0f};
    int labels[2] = {1, 2};
    float dl[6];
    double loss = 0;
    long correct = 0;
    softmax_xent(logits, labels, dl, 2, 3, 0.5f, &loss, &correct);
    double l0 = log(exp(1.0) + 1.0); /* lse(1000, 999, -1000) - 999 */
    double m1 = log(exp(0.5) + exp(0.25) + exp(2.0)) - 2.0;
    CHECK_MSG(fabs(loss - (l0 + m1)) < 1e-6, "loss %g expected %g", loss, l0 + m1);
    CHECK(correct == 1);
    CHECK(isfinite(dl[0]) && fabs(dl[0] - 0.5 * exp(1.0) / (exp(1.0) + 1)) < 1e-6);
    CHECK(fabs(dl[1] - 0.5 * (1 / (exp(1.0) + 1) - 1)) < 1e-6);
    CHECK(fabs(dl[0] + dl[1] + dl[2]) < 1e-6 && fabs(dl[3] + dl[4] + dl[5]) < 1e-6);
    CHECK(argmax_correct(logits, labels, 2, 3) == 1);

    /* SGD with momentum and weight decay: two steps by hand */
    float pw[3] = {1.0f, -2.0f, 0.5f}, pg[3] = {0.1f, 0.2f, -0.3f}, pv[3] = {0};
    sgd_params_t sp = {.lr = 0.1f, .momentum = 0.9f, .weight_decay = 0.01f};
    sgd_step(&sp, pw, pg, pv, 3);
    sgd_step(&sp, pw, pg, pv, 3);
    double ew[3] = {1.0, -2.0, 0.5}, ev[3] = {0};
    for (int st = 0; st < 2; st++)
        for (int i = 0; i < 3; i++) {
            double g = (double)pg[i] + 0.01 * ew[i];
            ev[i] = 0.9 * ev[i] + g;
            ew[i] -= 0.1 * ev[i];
        }
    CHECK(maxdiff(pw, ew, 3) < 1e-6);
    CHECK(maxdiff(pv, ev, 3) < 1e-6);

    check_sum_in_order();
    free(x);
    free(w);
    free(b);
    free(dy);
    return check_summary();
}
