/* test_halfprec.c: the 16-bit conversions of --grad-compress (halfprec.h): round to nearest
 * even at the ties, overflow to infinity, NaN and infinities kept, fp16's subnormals, every
 * 16-bit value round-tripped, fp16 against the compiler's _Float16 on a sweep of floats, the
 * rounded sum of the MPI reduction and error feedback's residual; the F16C/AVX2 path against
 * the scalar reference, bitwise: every 16-bit value, every 257th float (every float with
 * TDP_TEST_HALF_EXHAUSTIVE=1), the ties and neighbours of every 16-bit value, the sums of a
 * million pairs and of the special values, error feedback, odd lengths and offsets. */
#include "halfprec.h"
#include "halfsimd.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static float f_of(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static void test_bf16(void) {
    CHECK(bf16_from_float(1.0f) == 0x3f80);
    CHECK(bf16_from_float(-2.0f) == 0xc000);
    CHECK(bf16_from_float(-0.0f) == 0x8000);
    CHECK(bf16_from_float(f_of(0x3f808000)) == 0x3f80); /* tie: to the even 0x3f80 */
    CHECK(bf16_from_float(f_of(0x3f818000)) == 0x3f82); /* tie: to the even 0x3f82 */
    CHECK(bf16_from_float(f_of(0x3f808001)) == 0x3f81); /* past the tie: up */
    CHECK(bf16_from_float(f_of(0x3f807fff)) == 0x3f80); /* below the tie: down */
    CHECK(bf16_from_float(INFINITY) == 0x7f80);
    CHECK(bf16_from_float(-INFINITY) == 0xff80);
    CHECK(bf16_from_float(f_of(0x7f7fffff)) == 0x7f80); /* FLT_MAX rounds up to infinity */
    CHECK(bf16_from_float(f_of(0x7f7f7fff)) == 0x7f7f); /* the largest that does not */
    uint16_t n = bf16_from_float(NAN);
    CHECK((n & 0x7f80) == 0x7f80 && (n & 0x7f) != 0);
    CHECK(isnan(bf16_to_float(bf16_from_float(f_of(0x7f800001))))); /* a payload in the low bits */
    CHECK(bf16_to_float(0x3f80) == 1.0f && bf16_to_float(0x0001) == f_of(0x00010000));
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = bf16_to_float((uint16_t)h);
        bad += !isnan(f) && bf16_from_float(f) != h;
    }
    CHECK_MSG(bad == 0, "%d bf16 values do not round-trip", bad);
}

static void test_fp16(void) {
    CHECK(fp16_from_float(1.0f) == 0x3c00);
    CHECK(fp16_from_float(-0.0f) == 0x8000);
    CHECK(fp16_from_float(65504.0f) == 0x7bff);
    CHECK(fp16_from_float(65519.0f) == 0x7bff);
    CHECK(fp16_from_float(65520.0f) == 0x7c00); /* the tie past 65504 overflows */
    CHECK(fp16_from_float(-1e6f) == 0xfc00);
    CHECK(fp16_from_float(INFINITY) == 0x7c00 && fp16_from_float(-INFINITY) == 0xfc00);
    uint16_t n = fp16_from_float(NAN);
    CHECK((n & 0x7c00) == 0x7c00 && (n & 0x3ff) != 0);
    CHECK(isnan(fp16_to_float(fp16_from_float(f_of(0x7f800001)))));
    CHECK(fp16_from_float(1.0f + 0x1p-11f) == 0x3c00);     /* tie: even */
    CHECK(fp16_from_float(1.0f + 3 * 0x1p-11f) == 0x3c02); /* tie: even */
    CHECK(fp16_from_float(0x1p-14f) == 0x0400);            /* the smallest normal */
    CHECK(fp16_from_float(0x1p-24f) == 0x0001);            /* the smallest subnormal */
    CHECK(fp16_from_float(0x1p-25f) == 0x0000);            /* tie with zero: even */
    CHECK(fp16_from_float(1.5f * 0x1p-25f) == 0x0001);     /* past the tie */
    CHECK(fp16_from_float(3 * 0x1p-25f) == 0x0002);        /* 1.5 units: even */
    CHECK(fp16_from_float(1023 * 0x1p-24f) == 0x03ff);     /* the largest subnormal */
    CHECK(fp16_from_float(1023.5f * 0x1p-24f) == 0x0400);  /* rounds up into the normals */
    CHECK(fp16_from_float(-5 * 0x1p-24f) == 0x8005);
    CHECK(fp16_from_float(1e-30f) == 0 && fp16_from_float(f_of(1)) == 0);
    CHECK(fp16_to_float(0x0001) == 0x1p-24f && fp16_to_float(0x7bff) == 65504.0f);
    CHECK(fp16_to_float(0x7c00) == INFINITY && fp16_to_float(0xfc00) == -INFINITY);
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = fp16_to_float((uint16_t)h);
        bad += !isnan(f) && fp16_from_float(f) != h;
    }
    CHECK_MSG(bad == 0, "%d fp16 values do not round-trip", bad);
#ifdef __FLT16_MAX__
    /* the compiler's conversion (IEEE round to nearest even) on a sweep of every 4099th float */
    long diff = 0;
    for (uint64_t u = 0; u <= 0xffffffffu; u += 4099) {
        float f = f_of((uint32_t)u);
        if (isnan(f))
            continue;
        _Float16 r = (_Float16)f;
        uint16_t want;
        memcpy(&want, &r, sizeof want);
        diff += fp16_from_float(f) != want;
    }
    CHECK_MSG(diff == 0, "%ld floats convert differently from _Float16", diff);
#endif
}

static void test_sum_and_feedback(void) {
    uint16_t a[2] = {bf16_from_float(1.0f), fp16_from_float(1.0f)};
    uint16_t b[2] = {bf16_from_float(0x1p-8f), fp16_from_float(0x1p-11f)};
    half_sum(HALF_BF16, &b[0], &a[0], 1); /* 1 + 2^-8: a tie, to the even 1 */
    CHECK(a[0] == 0x3f80);
    half_sum(HALF_FP16, &b[1], &a[1], 1);
    CHECK(a[1] == 0x3c00);
    uint16_t x = bf16_from_float(3.0f), y = bf16_from_float(5.0f);
    half_sum(HALF_BF16, &x, &y, 1);
    CHECK(bf16_to_float(y) == 8.0f);
    /* 1 + 2^-10 is 1 in bf16: without feedback 256 steps lose 0.25; with it, under one ulp */
    float g = 1.0f + 0x1p-10f, r = 0.0f, plain = 0.0f, fed = 0.0f;
    for (int i = 0; i < 256; i++) {
        uint16_t h, k;
        half_pack(HALF_BF16, &h, &g, NULL, 1);
        half_pack(HALF_BF16, &k, &g, &r, 1);
        plain += bf16_to_float(h);
        fed += bf16_to_float(k);
    }
    CHECK(plain == 256.0f);
    CHECK_MSG(fabsf(fed - 256.25f) <= 1.0f / 128, "fed %g", fed);
    float big = 1e6f, rr = 0.0f; /* fp16 overflow: inf sent, no inf residual kept */
    uint16_t hb;
    half_pack(HALF_FP16, &hb, &big, &rr, 1);
    CHECK(hb == 0x7c00 && rr == 0.0f);
    float back[3];
    uint16_t in[3] = {0x3c00, 0x0001, 0xfc00};
    half_unpack(HALF_FP16, back, in, 3);
    CHECK(back[0] == 1.0f && back[1] == 0x1p-24f && back[2] == -INFINITY);
}

#define CHUNK 4096 /* floats per comparison */

static const half_kind_t kinds[2] = {HALF_BF16, HALF_FP16};

/* x[n] through both paths (and with error feedback from resid0[n]): bitwise the same? */
static long differ_pack(const float *x, const float *resid0, size_t n) {
    static uint16_t a[CHUNK], b[CHUNK];
    static float ra[CHUNK], rb[CHUNK];
    long bad = 0;
    for (int k = 0; k < 2; k++) {
        half_pack_scalar(kinds[k], a, x, NULL, n);
        halfsimd_pack(kinds[k], b, x, NULL, n);
        bad += memcmp(a, b, n * sizeof *a) != 0;
        memcpy(ra, resid0, n * sizeof *ra);
        memcpy(rb, resid0, n * sizeof *rb);
        half_pack_scalar(kinds[k], a, x, ra, n);
        halfsimd_pack(kinds[k], b, x, rb, n);
        bad += memcmp(a, b, n * sizeof *a) != 0 || memcmp(ra, rb, n * sizeof *ra) != 0;
    }
    return bad;
}

/* Every 16-bit value to fp32, and the sum of each with a million partners and the specials. */
static void test_paths_16(void) {
    static uint16_t h[65536], in[65536], sa[65536], sb[65536];
    static float fa[65536], fb[65536];
    for (uint32_t i = 0; i < 65536; i++)
        h[i] = (uint16_t)i;
    for (int k = 0; k < 2; k++) {
        half_unpack_scalar(kinds[k], fa, h, 65536);
        halfsimd_unpack(kinds[k], fb, h, 65536);
        CHECK_MSG(memcmp(fa, fb, sizeof fa) == 0, "%s: 16-bit to fp32 differs",
                  k ? "fp16" : "bf16");
        long bad = 0;
        for (uint32_t c = 0; c < 16; c++) {
            for (uint32_t i = 0; i < 65536; i++)
                in[i] = (uint16_t)(i * 40503u + c * 7919u);
            memcpy(sa, h, sizeof sa);
            memcpy(sb, h, sizeof sb);
            half_sum_scalar(kinds[k], in, sa, 65536);
            halfsimd_sum(kinds[k], in, sb, 65536);
            bad += memcmp(sa, sb, sizeof sa) != 0;
        }
        static const uint16_t sp[] = {0x0000, 0x8000, 0x0001, 0x8001, 0x03ff, 0x0400, 0x3c00,
                                      0x7bff, 0xfbff, 0x7c00, 0xfc00, 0x7c01, 0x7e00, 0xfe01,
                                      0x7f7f, 0x7f80, 0xff80, 0x7f81, 0x7fc0, 0xffff, 0x0080};
        const size_t ns = sizeof sp / sizeof sp[0];
        for (size_t i = 0; i < ns; i++)
            for (size_t j = 0; j < ns; j++) {
                uint16_t a[9], b[9], x[9];
                for (int q = 0; q < 9; q++) /* 8 on the fast path, 1 in the tail */
                    x[q] = sp[i], a[q] = b[q] = sp[j];
                half_sum_scalar(kinds[k], x, a, 9);
                halfsimd_sum(kinds[k], x, b, 9);
                bad += memcmp(a, b, sizeof a) != 0;
            }
        CHECK_MSG(bad == 0, "%s: %ld sums differ", k ? "fp16" : "bf16", bad);
    }
}

/* Floats: a sweep (stride 257, or 1), then each 16-bit value's neighbours and ties. */
static void test_paths_floats(void) {
    static float x[CHUNK], r0[CHUNK];
    const uint64_t stride = getenv("TDP_TEST_HALF_EXHAUSTIVE") ? 1 : 257;
    uint32_t seed = 12345;
    long bad = 0;
    size_t n = 0;
    for (uint64_t u = 0; u <= 0xffffffffu; u += stride) {
        uint32_t v = (uint32_t)u;
        memcpy(&x[n], &v, sizeof v);
        seed = seed * 1664525u + 1013904223u; /* a residual of up to 2^-8 of x, either sign */
        r0[n] = x[n] * (float)((int32_t)seed >> 8) * 0x1p-31f;
        if (++n == CHUNK)
            bad += differ_pack(x, r0, n), n = 0;
    }
    bad += differ_pack(x, r0, n);
    n = 0;
    for (int k = 0; k < 2; k++)
        for (uint32_t h = 0; h < 65535; h++) {
            float lo = k ? fp16_to_float((uint16_t)h) : bf16_to_float((uint16_t)h);
            float hi = k ? fp16_to_float((uint16_t)(h + 1)) : bf16_to_float((uint16_t)(h + 1));
            float mid = (lo + hi) / 2; /* exact for neighbours of the same sign */
            uint32_t b[2];
            memcpy(&b[0], &lo, sizeof lo);
            memcpy(&b[1], &mid, sizeof mid);
            for (int w = 0; w < 2; w++)
                for (int d = -2; d <= 2; d++) {
                    uint32_t v = b[w] + (uint32_t)d;
                    memcpy(&x[n], &v, sizeof v);
                    r0[n] = 0.0f;
                    if (++n == CHUNK)
                        bad += differ_pack(x, r0, n), n = 0;
                }
        }
    bad += differ_pack(x, r0, n);
    CHECK_MSG(bad == 0, "%ld chunks of floats convert differently on the two paths", bad);
}

/* Lengths 0..40 at offsets 0..3: the tails and unaligned buffers. */
static void test_paths_lengths(void) {
    float x[48], ra[48], rb[48], fa[48], fb[48];
    uint16_t a[48], b[48], c[48];
    long bad = 0;
    for (int i = 0; i < 48; i++)
        x[i] = (float)(i * 37 % 11) * 0.3f - 1.1f;
    for (int k = 0; k < 2; k++)
        for (size_t off = 0; off < 4; off++)
            for (size_t n = 0; n <= 40; n++) {
                memset(a, 0xab, sizeof a), memset(b, 0xab, sizeof b);
                memset(ra, 0, sizeof ra), memset(rb, 0, sizeof rb);
                half_pack_scalar(kinds[k], a + off, x + off, ra + off, n);
                halfsimd_pack(kinds[k], b + off, x + off, rb + off, n);
                half_unpack_scalar(kinds[k], fa, a, 48);
                halfsimd_unpack(kinds[k], fb, b, 48);
                memcpy(c, a, sizeof c);
                half_sum_scalar(kinds[k], c + 1, a + off, n);
                halfsimd_sum(kinds[k], c + 1, b + off, n);
                bad += memcmp(ra, rb, sizeof ra) != 0 || memcmp(fa, fb, sizeof fa) != 0;
                bad += memcmp(a, b, sizeof a) != 0;
            }
    CHECK_MSG(bad == 0, "%ld odd lengths or offsets differ", bad);
}

static void test_paths(void) {
    if (!halfsimd_supported()) {
        printf("no F16C/AVX2 here: the scalar path alone\n");
        return;
    }
    test_paths_16();
    test_paths_floats();
    test_paths_lengths();
}

int main(void) {
    test_bf16();
    test_fp16();
    test_sum_and_feedback();
    test_paths();
    return check_summary();
}
