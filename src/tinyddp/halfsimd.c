/* halfsimd.c: F16C and AVX2 conversions of 16-bit buffers (halfsimd.h). The tail of a buffer
 * (n % 8 values) goes through the scalar loops. */
#include "halfsimd.h"

#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>

#define FAST __attribute__((target("f16c,avx2")))

int halfsimd_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx2");
}

/* bfloat16: the top half of fp32, rounded to nearest even by adding 0x7fff plus the kept
 * part's lowest bit (a carry steps the exponent, up to infinity); NaN keeps its top bits and is
 * quieted (0x40), as bf16_from_float. */
FAST static __m128i bf16_of(__m256 v) {
    const __m256i u = _mm256_castps_si256(v);
    const __m256i top = _mm256_srli_epi32(u, 16);
    const __m256i odd = _mm256_and_si256(top, _mm256_set1_epi32(1));
    const __m256i bias = _mm256_add_epi32(odd, _mm256_set1_epi32(0x7fff));
    const __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(u, bias), 16);
    const __m256i mag = _mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff));
    const __m256i nan = _mm256_cmpgt_epi32(mag, _mm256_set1_epi32(0x7f800000));
    const __m256i quiet = _mm256_or_si256(top, _mm256_set1_epi32(0x40));
    const __m256i h = _mm256_blendv_epi8(rounded, quiet, nan);
    /* eight values <= 0xffff: packing without saturation keeps them, in order */
    return _mm_packus_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

FAST static __m256 bf16_to(__m128i h) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

/* binary16: the instruction rounds to nearest even (overflow to infinity, subnormals) and
 * quiets NaN keeping its sign and top payload bits, as fp16_from_float. */
FAST static __m128i fp16_of(__m256 v) {
    return _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

FAST static __m128i to16(half_kind_t k, __m256 v) {
    return k == HALF_BF16 ? bf16_of(v) : fp16_of(v);
}

FAST static __m256 from16(half_kind_t k, const uint16_t *p) {
    __m128i h = _mm_loadu_si128((const __m128i *)(const void *)p);
    return k == HALF_BF16 ? bf16_to(h) : _mm256_cvtph_ps(h);
}

FAST static void store16(uint16_t *p, __m128i h) {
    _mm_storeu_si128((__m128i *)(void *)p, h);
}

/* v's 16-bit values to dst; the rounding's loss to resid (0 where it is not finite: r - r is
 * 0 exactly for finite r, NaN for infinities and NaN). */
FAST static void pack_fed(half_kind_t k, uint16_t *dst, const float *src, float *resid, size_t n) {
    for (size_t i = 0; i < n; i += 8) {
        __m256 v = _mm256_add_ps(_mm256_loadu_ps(src + i), _mm256_loadu_ps(resid + i));
        store16(dst + i, to16(k, v));
        __m256 r = _mm256_sub_ps(v, from16(k, dst + i));
        __m256 finite = _mm256_cmp_ps(_mm256_sub_ps(r, r), _mm256_setzero_ps(), _CMP_EQ_OQ);
        _mm256_storeu_ps(resid + i, _mm256_and_ps(r, finite));
    }
}

FAST void halfsimd_pack(half_kind_t k, uint16_t *dst, const float *src, float *resid, size_t n) {
    const size_t m = n & ~(size_t)7;
    if (resid != NULL)
        pack_fed(k, dst, src, resid, m);
    else
        for (size_t i = 0; i < m; i += 8)
            store16(dst + i, to16(k, _mm256_loadu_ps(src + i)));
    half_pack_scalar(k, dst + m, src + m, resid ? resid + m : NULL, n - m);
}

FAST void halfsimd_unpack(half_kind_t k, float *dst, const uint16_t *src, size_t n) {
    const size_t m = n & ~(size_t)7;
    size_t i = 0;
    for (; i + 16 <= m; i += 16) { /* two at a time: the loads ahead of the stores */
        __m256 a = from16(k, src + i), b = from16(k, src + i + 8);
        _mm256_storeu_ps(dst + i, a);
        _mm256_storeu_ps(dst + i + 8, b);
    }
    for (; i < m; i += 8)
        _mm256_storeu_ps(dst + i, from16(k, src + i));
    half_unpack_scalar(k, dst + m, src + m, n - m);
}

FAST void halfsimd_sum(half_kind_t k, const uint16_t *in, uint16_t *inout, size_t n) {
    const size_t m = n & ~(size_t)7;
    const __m256 qnan = _mm256_castsi256_ps(_mm256_set1_epi32((int)HALF_SUM_NAN));
    for (size_t i = 0; i < m; i += 8) {
        __m256 v = _mm256_add_ps(from16(k, in + i), from16(k, inout + i));
        v = _mm256_blendv_ps(v, qnan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
        store16(inout + i, to16(k, v));
    }
    half_sum_scalar(k, in + m, inout + m, n - m);
}

#else /* not x86: the scalar loops only */

int halfsimd_supported(void) {
    return 0;
}

void halfsimd_pack(half_kind_t k, uint16_t *dst, const float *src, float *resid, size_t n) {
    half_pack_scalar(k, dst, src, resid, n);
}

void halfsimd_unpack(half_kind_t k, float *dst, const uint16_t *src, size_t n) {
    half_unpack_scalar(k, dst, src, n);
}

void halfsimd_sum(half_kind_t k, const uint16_t *in, uint16_t *inout, size_t n) {
    half_sum_scalar(k, in, inout, n);
}

#endif
