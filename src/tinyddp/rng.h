/* rng.h: the project's own small RNG (splitmix64), so that the same seed gives the same shuffle
 * and the same initial weights on every machine and in the Python reference test. */
#ifndef TDP_RNG_H
#define TDP_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t state;
} tdp_rng_t;

void rng_seed(tdp_rng_t *r, uint64_t seed);
uint64_t rng_next(tdp_rng_t *r);
/* Uniform integer in [0, n), n <= 2^32: (next >> 32) * n >> 32. */
uint32_t rng_below(tdp_rng_t *r, uint32_t n);
/* Uniform float in [0, 1) with 24 bits. */
float rng_uniform(tdp_rng_t *r);
/* Standard normal (Box-Muller, one value per call, no cached state). */
float rng_normal(tdp_rng_t *r);
/* Fisher-Yates: for i = n-1 down to 1, swap(a[i], a[rng_below(i + 1)]). */
void rng_shuffle_u32(tdp_rng_t *r, uint32_t *a, size_t n);

#endif
