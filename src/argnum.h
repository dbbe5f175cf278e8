/* argnum.h: the numbers of the project's command lines (ddp_train's options, the kernels
 * program): the whole value must be a number within an inclusive range; each refusal is
 * TDP_EINPUT with a message naming the option. */
#ifndef TDP_ARGNUM_H
#define TDP_ARGNUM_H

#include "util.h"

/* A decimal integer of --opt in [lo, hi]. */
int argnum_integer(const char *opt, const char *v, double lo, double hi, long long *out,
                   tdp_err_t *err);

/* A finite number of --opt in [lo, hi]. */
int argnum_real(const char *opt, const char *v, double lo, double hi, double *out, tdp_err_t *err);

#endif
