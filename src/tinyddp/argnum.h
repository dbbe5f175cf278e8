/* argnum.h: the one rule for numbers in the project's inputs: ddp_train's options, the kernels
 * program's options and the model file's values (cfg.c) all go through these functions.
 *
 * The rule: the whole text is the number, written in decimal; nothing else is accepted.
 *   integer:  -?[0-9]+                      (a non-negative integer: [0-9]+)
 *   real:     -?([0-9]+(.[0-9]*)?|.[0-9]+)([eE][+-]?[0-9]+)?
 * So no white space before or after, no '+' sign, no hexadecimal (0x10, 0x1p4), no octal
 * reading of a leading zero (010 is ten), no inf or nan. Then the value must be within the
 * inclusive range [lo, hi]; a value too large for its type is out of range, and a real that is
 * not zero but too small to be represented (1e-400) is refused as an underflow.
 *
 * Each refusal is TDP_EINPUT with one line: "LABEL: 'TEXT' is not an integer (decimal digits
 * only)", "LABEL: TEXT is out of range [lo, hi]", "LABEL: TEXT is too small (it underflows ...)".
 * LABEL is printed as given: "--lr" for an option, "models/x.cfg:4: lr" for a model file. TEXT
 * is shown with non-printable bytes as '?' and cut at 40 characters. */
#ifndef TDP_ARGNUM_H
#define TDP_ARGNUM_H

#include <stdint.h>

#include "util.h"

/* A decimal integer in [lo, hi]. */
int argnum_int(const char *label, const char *v, double lo, double hi, long long *out,
               tdp_err_t *err);

/* A decimal non-negative integer in [lo, hi] (the whole of uint64_t is reachable). */
int argnum_u64(const char *label, const char *v, uint64_t lo, uint64_t hi, uint64_t *out,
               tdp_err_t *err);

/* A decimal real in [lo, hi]. */
int argnum_real(const char *label, const char *v, double lo, double hi, double *out,
                tdp_err_t *err);

/* v as it may stand in a one-line message: at most 40 bytes, non-printable bytes as '?', "..."
 * when cut; written to buf (n bytes), which is returned. */
const char *argnum_show(const char *v, char *buf, size_t n);

#endif
