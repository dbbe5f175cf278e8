/* halfsimd.h: the fast path of halfprec.h's buffer conversions, 8 floats at a time with F16C
 * (fp16) and AVX2 (bf16, the sums, error feedback), compiled for those instructions whatever the
 * build's -march and used only where the processor has them (__builtin_cpu_supports). Every
 * function gives bitwise the results of halfprec.c's scalar loops (round to nearest even, NaN
 * quieted with its sign and top payload bits, infinities, overflow, subnormals), which stay the
 * reference and the fallback; tests/unit/test_halfprec.c compares the two. */
#ifndef TDP_HALFSIMD_H
#define TDP_HALFSIMD_H

#include <stddef.h>
#include <stdint.h>

#include "halfprec.h"

/* 1 when this processor has F16C and AVX2 (and this is an x86 build). */
int halfsimd_supported(void);

/* As half_pack, half_unpack, half_sum; call them only where halfsimd_supported(). */
void halfsimd_pack(half_kind_t k, uint16_t *dst, const float *src, float *resid, size_t n);
void halfsimd_unpack(half_kind_t k, float *dst, const uint16_t *src, size_t n);
void halfsimd_sum(half_kind_t k, const uint16_t *in, uint16_t *inout, size_t n);

#endif
