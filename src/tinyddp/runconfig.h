/* runconfig.h: the canonical text of a run's resolved configuration.
 *
 * One "key=value\n" line per setting, in a fixed order. A key that starts with "--" is a
 * command-line option and its value is the resolved one (command line, else the model file,
 * else the built-in default); other keys describe what the run found (the model, the data, the
 * checkpoint it resumes from). Integers are printed as integers (a 64-bit seed is exact) and
 * reals as the shortest decimal that reads back to the same double, so two texts are equal
 * exactly when the settings are.
 *
 * The ranks of a DDP run compare the whole text before their first collective that depends on
 * any of it; a checkpoint stores the lines its weights depend on and a resume compares them.
 * runconfig_diff names the first setting that differs with both values. */
#ifndef TDP_RUNCONFIG_H
#define TDP_RUNCONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

typedef struct {
    char *text; /* NUL-terminated, len bytes */
    size_t len, cap;
    int failed; /* an allocation failed or a key/value was malformed: the text is unusable */
} runconfig_t;

void runconfig_init(runconfig_t *c);
void runconfig_free(runconfig_t *c);
/* Append "key=value\n", the value printf-formatted. A key holds no '=' and no newline, a value
 * no newline (else c->failed is set). */
void runconfig_add(runconfig_t *c, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The shortest decimal text (%.15g, %.16g or %.17g) that reads back to exactly v. */
const char *runconfig_real(double v, char buf[40]);

/* Compare two texts (a and b, of alen and blen bytes) key by key. Returns 0 when they hold the
 * same keys with the same values. Otherwise returns 1 with the first key of a (in a's order)
 * whose value differs or that b lacks, or else the first key of b that a lacks, in key, and the
 * values in va and vb ("(absent)" for a missing key), each truncated to its buffer. */
int runconfig_diff(const char *a, size_t alen, const char *b, size_t blen, char *key, size_t klen,
                   char *va, size_t valen, char *vb, size_t vblen);

/* Check that text is well-formed: printable ASCII lines, each "key=value" ending in '\n'. */
int runconfig_valid(const char *text, size_t len);

/* A fast 64-bit hash of every byte of p (about 8 bytes per cycle: four independent lanes of
 * multiply-rotate rounds), chainable through h. Not cryptographic: it tells apart data that
 * differ by accident, such as one changed pixel. */
uint64_t runconfig_hash(uint64_t h, const void *p, size_t n);

#endif
