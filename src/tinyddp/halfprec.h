/* halfprec.h: 16-bit floating point, the formats of --grad-compress: bfloat16 (fp32's sign and
 * 8-bit exponent, 7 mantissa bits) and IEEE 754 binary16 (5-bit exponent, 10 mantissa bits,
 * subnormals below 2^-14). Conversions from fp32 round to nearest, ties to even; values past the
 * largest finite 16-bit value round to infinity (fp16: |x| >= 65520); NaN stays NaN (quiet, sign
 * kept); infinities and signed zeros are kept. Conversions to fp32 are exact, except that fp16's
 * signalling NaNs come back quiet (as F16C's instruction does). */
#ifndef TDP_HALFPREC_H
#define TDP_HALFPREC_H

#include <stddef.h>
#include <stdint.h>

typedef enum { HALF_NONE = 0, HALF_BF16 = 1, HALF_FP16 = 2 } half_kind_t;

uint16_t bf16_from_float(float f);
float bf16_to_float(uint16_t h);
uint16_t fp16_from_float(float f);
float fp16_to_float(uint16_t h);

/* n floats to 16 bits. resid (NULL: none) is error feedback: src[i] + resid[i] is converted and
 * resid[i] becomes what the rounding lost (0 where the result is not finite). */
void half_pack(half_kind_t k, uint16_t *dst, const float *src, float *resid, size_t n);
/* n 16-bit values to floats. */
void half_unpack(half_kind_t k, float *dst, const uint16_t *src, size_t n);
/* inout[i] = round(in[i] + inout[i]), the sum in fp32, rounded once (the MPI reduction). A sum
 * that is NaN becomes the one quiet NaN HALF_SUM_NAN (bf16 0x7fc0, fp16 0x7e00): which of two NaN
 * operands an addition passes on depends on the compiler's operand order. */
#define HALF_SUM_NAN 0x7fc00000u

void half_sum(half_kind_t k, const uint16_t *in, uint16_t *inout, size_t n);

/* The three above run 8 values at a time with F16C and AVX2 where the processor has them
 * (halfsimd.h), bitwise the same as these scalar loops, which are the reference and the
 * fallback (and the only path with TDP_TEST_HALF_SCALAR=1). half_fast: 1 when the fast path is
 * in use. */
int half_fast(void);
void half_pack_scalar(half_kind_t k, uint16_t *dst, const float *src, float *resid, size_t n);
void half_unpack_scalar(half_kind_t k, float *dst, const uint16_t *src, size_t n);
void half_sum_scalar(half_kind_t k, const uint16_t *in, uint16_t *inout, size_t n);

#endif
