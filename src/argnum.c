/* argnum.c: whole-string number parsing with ranges, for the command lines. */
#include "argnum.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

int argnum_integer(const char *opt, const char *v, double lo, double hi, long long *out,
                   tdp_err_t *err) {
    char *end = NULL;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (*v == '\0' || errno != 0 || *end != '\0')
        return tdp_fail(err, TDP_EINPUT, "--%s: '%s' is not an integer", opt, v);
    if ((double)x < lo || (double)x > hi)
        return tdp_fail(err, TDP_EINPUT, "--%s: %lld is out of range [%.0f, %.0f]", opt, x, lo, hi);
    *out = x;
    return TDP_OK;
}

int argnum_real(const char *opt, const char *v, double lo, double hi, double *out, tdp_err_t *err) {
    char *end = NULL;
    errno = 0;
    double x = strtod(v, &end);
    if (*v == '\0' || errno != 0 || *end != '\0' || !isfinite(x))
        return tdp_fail(err, TDP_EINPUT, "--%s: '%s' is not a finite number", opt, v);
    if (x < lo || x > hi)
        return tdp_fail(err, TDP_EINPUT, "--%s: %g is out of range [%g, %g]", opt, x, lo, hi);
    *out = x;
    return TDP_OK;
}
