/* argnum.c: the one number rule of the command lines and the model file (see argnum.h). */
#include "argnum.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define IS_DIGIT(c) ((c) >= '0' && (c) <= '9')

const char *argnum_show(const char *v, char *buf, size_t n) {
    size_t i = 0, j = 0;
    while (v[i] != '\0' && i < 40 && j + 1 < n) {
        unsigned char c = (unsigned char)v[i++];
        buf[j++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (v[i] != '\0' && j + 4 < n) {
        memcpy(buf + j, "...", 3);
        j += 3;
    }
    buf[j] = '\0';
    return buf;
}

/* [0-9]+ from s; returns the end, or NULL when there is no digit. */
static const char *digits(const char *s) {
    if (!IS_DIGIT(*s))
        return NULL;
    while (IS_DIGIT(*s))
        s++;
    return s;
}

static int is_decimal_integer(const char *s, int sign_ok) {
    if (sign_ok && *s == '-')
        s++;
    s = digits(s);
    return s != NULL && *s == '\0';
}

static int is_decimal_real(const char *s) {
    if (*s == '-')
        s++;
    int any = 0;
    while (IS_DIGIT(*s)) {
        s++;
        any = 1;
    }
    if (*s == '.') {
        s++;
        while (IS_DIGIT(*s)) {
            s++;
            any = 1;
        }
    }
    if (!any)
        return 0;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        s = digits(s);
        if (s == NULL)
            return 0;
    }
    return *s == '\0';
}

int argnum_int(const char *label, const char *v, double lo, double hi, long long *out,
               tdp_err_t *err) {
    char sv[64];
    if (!is_decimal_integer(v, 1))
        return tdp_fail(err, TDP_EINPUT, "%s: '%s' is not an integer (decimal digits only)", label,
                        argnum_show(v, sv, sizeof sv));
    errno = 0;
    long long x = strtoll(v, NULL, 10);
    if (errno == ERANGE || (double)x < lo || (double)x > hi)
        return tdp_fail(err, TDP_EINPUT, "%s: %s is out of range [%.0f, %.0f]", label,
                        argnum_show(v, sv, sizeof sv), lo, hi);
    *out = x;
    return TDP_OK;
}

int argnum_u64(const char *label, const char *v, uint64_t lo, uint64_t hi, uint64_t *out,
               tdp_err_t *err) {
    char sv[64];
    if (!is_decimal_integer(v, 0))
        return tdp_fail(err, TDP_EINPUT,
                        "%s: '%s' is not a non-negative integer (decimal digits only)", label,
                        argnum_show(v, sv, sizeof sv));
    errno = 0;
    unsigned long long x = strtoull(v, NULL, 10);
    if (errno == ERANGE || x < lo || x > hi)
        return tdp_fail(err, TDP_EINPUT, "%s: %s is out of range [%llu, %llu]", label,
                        argnum_show(v, sv, sizeof sv), (unsigned long long)lo,
                        (unsigned long long)hi);
    *out = (uint64_t)x;
    return TDP_OK;
}

int argnum_real(const char *label, const char *v, double lo, double hi, double *out,
                tdp_err_t *err) {
    char sv[64];
    if (!is_decimal_real(v))
        return tdp_fail(err, TDP_EINPUT,
                        "%s: '%s' is not a finite number (decimal, like 0.05 or 5e-2)", label,
                        argnum_show(v, sv, sizeof sv));
    errno = 0;
    double x = strtod(v, NULL);
    /* ERANGE: too large (x is +-HUGE_VAL), or not zero but below the smallest normal double */
    if (errno == ERANGE && fabs(x) < 1.0)
        return tdp_fail(err, TDP_EINPUT,
                        "%s: %s is too small: it underflows a double (range [%g, %g])", label,
                        argnum_show(v, sv, sizeof sv), lo, hi);
    if (errno == ERANGE || !isfinite(x) || x < lo || x > hi)
        return tdp_fail(err, TDP_EINPUT, "%s: %s is out of range [%g, %g]", label,
                        argnum_show(v, sv, sizeof sv), lo, hi);
    *out = x;
    return TDP_OK;
}
