/* test_halfprec.c: the 16-bit conversions of --grad-compress (halfprec.h): round to nearest
 * even at the ties, overflow to infinity, NaN and infinities kept, fp16's subnormals, every
 * 16-bit value round-tripped, fp16 against the compiler's _Float16 on a sweep of floats, the
 * rounded sum of the MPI reduction and error feedback's residual. */
#include "halfprec.h"

#include <math.h>
#include <stdint.h>
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

int main(void) {
    test_bf16();
    test_fp16();
    test_sum_and_feedback();
    return check_summary();
}
