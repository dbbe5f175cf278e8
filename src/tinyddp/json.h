/* json.h: the one JSON writer, of ddp_train's summary (summary.c), the trace files (trace.c) and
 * the kernels program's --json. Values are appended to a growing buffer; the first failure (out
 * of memory, a member without a key, an element with one, too deep) is kept and reported by
 * json_finish, and later calls do nothing.
 *
 * A value is a member of the open object (key given) or an element of the open array (key
 * NULL); at the top level, values are separated by ",\n" (a trace's events of one rank).
 * Containers are laid out
 *     JSON_INLINE  {"a": 1, "b": [2, 3]}
 *     JSON_LINES   one member per line, indented two spaces per level, the closer on a line of
 *                  its own (the summaries)
 *     JSON_ROWS    one element per line, not indented (a trace's events). */
#ifndef TDP_JSON_H
#define TDP_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

typedef enum { JSON_INLINE, JSON_LINES, JSON_ROWS } json_layout_t;

#define JSON_DEPTH 8

typedef struct {
    char *buf;
    size_t len, cap;
    const char *failed; /* the first failure, NULL while none */
    int depth;          /* open containers */
    struct {
        json_layout_t layout;
        char closer;         /* '}' or ']' */
        long n;              /* values written inside */
    } level[JSON_DEPTH + 1]; /* level[0]: the top level */
} json_t;

void json_init(json_t *j);
void json_free(json_t *j);

void json_object(json_t *j, const char *key, json_layout_t layout);
void json_array(json_t *j, const char *key, json_layout_t layout);
void json_end(json_t *j); /* closes the innermost open object or array */

/* Values. key: the member's name inside an object, NULL elsewhere. */
void json_string(json_t *j, const char *key,
                 const char *value); /* '"', '\\' and controls escaped */
void json_int(json_t *j, const char *key, int64_t value);
/* Finite reals as printf's "%.{decimals}f" (json_fixed) or "%.{digits}g" (json_real); NaN and
 * infinities as null. */
void json_fixed(json_t *j, const char *key, double value, int decimals);
void json_real(json_t *j, const char *key, double value, int digits);
void json_null(json_t *j, const char *key);
/* Values already written by another writer's top level (another rank's trace events), added
 * as elements of the open array. */
void json_raw(json_t *j, const char *values, size_t len);

/* End the document with a newline: TDP_OK, or the first failure (TDP_ERUNTIME naming `what`);
 * an open container is a failure. */
int json_finish(json_t *j, const char *what, tdp_err_t *err);
/* json_finish, then write the document to path atomically (outfile.h); frees the buffer. */
int json_write(json_t *j, const char *path, tdp_err_t *err);

#endif
