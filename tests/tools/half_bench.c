/* half_bench.c: the 16-bit conversions of --grad-compress, scalar against F16C/AVX2 (halfprec.h,
 * halfsimd.h), ns per value on a fashion-mlp-sized gradient (or argv[1] values), interleaved,
 * the best of argv[2] rounds (robust on a loaded machine); beside them the fp32 sum MPI_SUM does
 * on fp32 buffers. A benchmark, not a test: scripts/bench-compress.sh convert runs it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "halfprec.h"
#include "halfsimd.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

enum { PACK, PACK_EF, UNPACK, SUM, NOPS };
static const char *op_name[NOPS] = {"fp32 to 16 bits", "fp32 to 16 bits + error feedback",
                                    "16 bits to fp32", "16-bit sum in fp32 (the MPI op)"};

typedef struct {
    size_t n;
    float *x, *r, *y, *acc;
    uint16_t *h, *h2;
} bufs_t;

/* One call of op on kind through the scalar (fast = 0) or fast path: seconds. */
static double once(const bufs_t *b, int op, half_kind_t k, int fast) {
    double t0 = now();
    switch (op) {
    case PACK:
        (fast ? halfsimd_pack : half_pack_scalar)(k, b->h, b->x, NULL, b->n);
        break;
    case PACK_EF:
        (fast ? halfsimd_pack : half_pack_scalar)(k, b->h, b->x, b->r, b->n);
        break;
    case UNPACK:
        (fast ? halfsimd_unpack : half_unpack_scalar)(k, b->y, b->h, b->n);
        break;
    default:
        (fast ? halfsimd_sum : half_sum_scalar)(k, b->h2, b->h, b->n);
        break;
    }
    return now() - t0;
}

static double fp32_sum(const bufs_t *b) {
    double t0 = now();
    for (size_t i = 0; i < b->n; i++)
        b->acc[i] += b->y[i];
    return now() - t0;
}

int main(int argc, char **argv) {
    bufs_t b = {.n = argc > 1 ? (size_t)atol(argv[1]) : 235146};
    const int rounds = argc > 2 ? atoi(argv[2]) : 200;
    b.x = malloc(b.n * sizeof *b.x), b.r = calloc(b.n, sizeof *b.r);
    b.y = malloc(b.n * sizeof *b.y), b.acc = calloc(b.n, sizeof *b.acc);
    b.h = malloc(b.n * sizeof *b.h), b.h2 = malloc(b.n * sizeof *b.h2);
    if (!b.x || !b.r || !b.y || !b.acc || !b.h || !b.h2 || b.n == 0 || rounds < 1)
        return fprintf(stderr, "half_bench: bad arguments or out of memory\n"), 2;
    for (size_t i = 0; i < b.n; i++) /* gradient-like: small, both signs, some subnormal in fp16 */
        b.x[i] = (float)((int)(i * 2654435761u % 20001) - 10000) * 1e-7f, b.y[i] = b.x[i];
    half_pack_scalar(HALF_FP16, b.h2, b.x, NULL, b.n);
    if (!halfsimd_supported())
        return printf("no F16C/AVX2 on this processor: nothing to compare\n"), 0;
    double f32 = 1e9;
    printf("| kind | operation | scalar ns/value | F16C/AVX2 ns/value | speed-up |\n");
    printf("|---|---|---:|---:|---:|\n");
    for (int kk = 0; kk < 2; kk++)
        for (int op = 0; op < NOPS; op++) {
            const half_kind_t k = kk ? HALF_FP16 : HALF_BF16;
            double best[2] = {1e9, 1e9};
            for (int r = 0; r < rounds; r++)
                for (int fast = 0; fast < 2; fast++) {
                    double t = once(&b, op, k, fast);
                    best[fast] = t < best[fast] ? t : best[fast];
                    double s = fp32_sum(&b);
                    f32 = s < f32 ? s : f32;
                }
            printf("| %s | %s | %.3f | %.3f | %.1fx |\n", kk ? "fp16" : "bf16", op_name[op],
                   1e9 * best[0] / (double)b.n, 1e9 * best[1] / (double)b.n, best[0] / best[1]);
        }
    printf("fp32 sum (acc += x, what MPI_SUM does on fp32): %.3f ns/value\n",
           1e9 * f32 / (double)b.n);
    printf("%zu values, best of %d interleaved rounds\n", b.n, rounds);
    free(b.x), free(b.r), free(b.y), free(b.acc), free(b.h), free(b.h2);
    return 0;
}
