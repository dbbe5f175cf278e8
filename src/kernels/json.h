/* json.h: a small JSON object writer for kernels --json: one object, one key per line,
 * numbers, strings, null and flat arrays; written atomically (report.h's write_file_atomic). */
#ifndef TDP_KERN_JSON_H
#define TDP_KERN_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

typedef struct {
    char *buf;
    size_t len, cap;
    int oom;      /* an allocation failed: kern_json_write reports it */
    int items;    /* members of the object so far */
    int elements; /* elements of the open array so far; -1 when no array is open */
} kern_json_t;

void kern_json_begin(kern_json_t *j);
void kern_json_str(kern_json_t *j, const char *key, const char *value);
void kern_json_int(kern_json_t *j, const char *key, int64_t value);
void kern_json_num(kern_json_t *j, const char *key, double value);
/* An array member: kern_json_array, then elements, then kern_json_array_end. */
void kern_json_array(kern_json_t *j, const char *key);
void kern_json_elem_int(kern_json_t *j, int64_t value);
void kern_json_elem_num(kern_json_t *j, double value);
void kern_json_elem_str(kern_json_t *j, const char *value);
void kern_json_elem_null(kern_json_t *j);
void kern_json_array_end(kern_json_t *j);
/* Close the object, write it to path atomically, free the buffer. */
int kern_json_write(kern_json_t *j, const char *path, tdp_err_t *err);
void kern_json_free(kern_json_t *j);

#endif
