/* json.c: the JSON writer (see json.h). */
#include "json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "report.h"

static void put(kern_json_t *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(kern_json_t *j, const char *fmt, ...) {
    if (j->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(j->buf ? j->buf + j->len : NULL, j->buf ? j->cap - j->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            j->oom = 1;
            return;
        }
        if (j->buf != NULL && j->len + (size_t)n < j->cap) {
            j->len += (size_t)n;
            return;
        }
        size_t cap = j->cap ? j->cap : 1024;
        while (cap <= j->len + (size_t)n)
            cap *= 2;
        char *b = realloc(j->buf, cap);
        if (b == NULL) {
            j->oom = 1;
            return;
        }
        j->buf = b;
        j->cap = cap;
    }
}

static void put_string(kern_json_t *j, const char *s) {
    put(j, "\"");
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            put(j, "\\%c", c);
        else if (c < 0x20)
            put(j, "\\u%04x", c);
        else
            put(j, "%c", c);
    }
    put(j, "\"");
}

static void put_num(kern_json_t *j, double v) {
    if (isfinite(v))
        put(j, "%.9g", v);
    else
        put(j, "null");
}

static void key(kern_json_t *j, const char *k) {
    put(j, "%s\n  ", j->items++ ? "," : "");
    put_string(j, k);
    put(j, ": ");
}

static void elem(kern_json_t *j) {
    if (j->elements++ > 0)
        put(j, ", ");
}

void kern_json_begin(kern_json_t *j) {
    *j = (kern_json_t){.elements = -1};
    put(j, "{");
}

void kern_json_str(kern_json_t *j, const char *k, const char *value) {
    key(j, k);
    put_string(j, value);
}

void kern_json_int(kern_json_t *j, const char *k, int64_t value) {
    key(j, k);
    put(j, "%lld", (long long)value);
}

void kern_json_num(kern_json_t *j, const char *k, double value) {
    key(j, k);
    put_num(j, value);
}

void kern_json_array(kern_json_t *j, const char *k) {
    key(j, k);
    put(j, "[");
    j->elements = 0;
}

void kern_json_elem_int(kern_json_t *j, int64_t value) {
    elem(j);
    put(j, "%lld", (long long)value);
}

void kern_json_elem_num(kern_json_t *j, double value) {
    elem(j);
    put_num(j, value);
}

void kern_json_elem_str(kern_json_t *j, const char *value) {
    elem(j);
    put_string(j, value);
}

void kern_json_elem_null(kern_json_t *j) {
    elem(j);
    put(j, "null");
}

void kern_json_array_end(kern_json_t *j) {
    put(j, "]");
    j->elements = -1;
}

int kern_json_write(kern_json_t *j, const char *path, tdp_err_t *err) {
    put(j, "\n}\n");
    int rc = j->oom ? tdp_fail_sys(err, __FILE__, __LINE__, 0, "out of memory building %s", path)
                    : write_file_atomic(path, j->buf, j->len, err);
    kern_json_free(j);
    return rc;
}

void kern_json_free(kern_json_t *j) {
    free(j->buf);
    j->buf = NULL;
    j->len = j->cap = 0;
}
