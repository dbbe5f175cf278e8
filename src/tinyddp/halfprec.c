/* halfprec.c: bfloat16 and binary16 conversions (halfprec.h). */
#include "halfprec.h"

#include <pthread.h>
#include <string.h>

#include "halfsimd.h"
#include "testhooks.h"

static uint32_t bits_of(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float float_of(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

uint16_t bf16_from_float(float f) {
    uint32_t u = bits_of(f);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 0x0040u); /* NaN: quiet, payload's top bits kept */
    /* round to nearest even: a carry out of the mantissa steps the exponent, up to infinity */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float bf16_to_float(uint16_t h) {
    return float_of((uint32_t)h << 16);
}

/* Round m >> shift to nearest, ties to even (1 <= shift <= 31). */
static uint32_t shift_rne(uint32_t m, unsigned shift) {
    uint32_t q = m >> shift, rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1);
    return q + (rem > half || (rem == half && (q & 1u)));
}

uint16_t fp16_from_float(float f) {
    uint32_t u = bits_of(f), ax = u & 0x7fffffffu;
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    if (ax > 0x7f800000u) /* NaN: quiet, payload's top bits kept */
        return (uint16_t)(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
    if (ax >= 0x477ff000u) /* >= 65520 (and inf): past 65504's half-way point */
        return (uint16_t)(sign | 0x7c00u);
    if (ax >= 0x38800000u) { /* >= 2^-14: normal; the carry may step the exponent */
        uint32_t h = shift_rne(ax - (112u << 23), 13);
        return (uint16_t)(sign | h);
    }
    /* subnormal (units of 2^-24) or zero: m * 2^(e - 150) = (m >> (126 - e)) units */
    unsigned e = ax >> 23, shift = 126u - e;
    if (shift > 24)
        return sign; /* below half of the smallest subnormal (and zero, and fp32 subnormals) */
    uint32_t m = (ax & 0x7fffffu) | 0x800000u;
    return (uint16_t)(sign | shift_rne(m, shift)); /* 0x400 when it rounds up to a normal */
}

float fp16_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0) {
        float v = (float)m * 0x1p-24f; /* exact */
        return sign ? -v : v;
    }
    if (e == 31) /* infinity, or NaN: quieted, as F16C's conversion does */
        return float_of(sign | 0x7f800000u | (m << 13) | (m ? 0x400000u : 0u));
    return float_of(sign | ((e + 112u) << 23) | (m << 13));
}

static inline uint16_t to16(half_kind_t k, float f) {
    return k == HALF_BF16 ? bf16_from_float(f) : fp16_from_float(f);
}

static inline float from16(half_kind_t k, uint16_t h) {
    return k == HALF_BF16 ? bf16_to_float(h) : fp16_to_float(h);
}

void half_pack_scalar(half_kind_t k, uint16_t *dst, const float *src, float *resid, size_t n) {
    if (resid == NULL) {
        for (size_t i = 0; i < n; i++)
            dst[i] = to16(k, src[i]);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        float v = src[i] + resid[i];
        dst[i] = to16(k, v);
        float r = v - from16(k, dst[i]);
        resid[i] = r == r && r - r == 0.0f ? r : 0.0f; /* not an overflow's inf or NaN */
    }
}

void half_unpack_scalar(half_kind_t k, float *dst, const uint16_t *src, size_t n) {
    for (size_t i = 0; i < n; i++)
        dst[i] = from16(k, src[i]);
}

void half_sum_scalar(half_kind_t k, const uint16_t *in, uint16_t *inout, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float v = from16(k, in[i]) + from16(k, inout[i]);
        inout[i] = to16(k, v == v ? v : float_of(HALF_SUM_NAN));
    }
}

static int simd;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void choose(void) {
    simd = halfsimd_supported() && !testhooks()->half_scalar;
}

int half_fast(void) {
    pthread_once(&once, choose);
    return simd;
}

void half_pack(half_kind_t k, uint16_t *dst, const float *src, float *resid, size_t n) {
    if (half_fast())
        halfsimd_pack(k, dst, src, resid, n);
    else
        half_pack_scalar(k, dst, src, resid, n);
}

void half_unpack(half_kind_t k, float *dst, const uint16_t *src, size_t n) {
    if (half_fast())
        halfsimd_unpack(k, dst, src, n);
    else
        half_unpack_scalar(k, dst, src, n);
}

void half_sum(half_kind_t k, const uint16_t *in, uint16_t *inout, size_t n) {
    if (half_fast())
        halfsimd_sum(k, in, inout, n);
    else
        half_sum_scalar(k, in, inout, n);
}
