/* json.c: the JSON writer (json.h). */
#include "json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outfile.h"

static void fail(json_t *j, const char *why) {
    if (j->failed == NULL)
        j->failed = why;
}

/* Room for n more bytes and the terminating NUL. */
static int reserve(json_t *j, size_t n) {
    if (j->failed != NULL)
        return 0;
    if (j->len + n < j->cap)
        return 1;
    size_t cap = j->cap ? j->cap : 1024;
    while (cap <= j->len + n)
        cap *= 2;
    char *b = realloc(j->buf, cap);
    if (b == NULL) {
        fail(j, "out of memory");
        return 0;
    }
    j->buf = b;
    j->cap = cap;
    return 1;
}

static void put_bytes(json_t *j, const char *s, size_t n) {
    if (!reserve(j, n))
        return;
    memcpy(j->buf + j->len, s, n);
    j->len += n;
    j->buf[j->len] = '\0';
}

static void put(json_t *j, const char *s) {
    put_bytes(j, s, strlen(s));
}

static void putf(json_t *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void putf(json_t *j, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= (int)sizeof tmp) /* a number: never this long */
        fail(j, "a number too long to write");
    else
        put_bytes(j, tmp, (size_t)n);
}

static void put_string(json_t *j, const char *s) {
    put(j, "\"");
    for (const char *run = s;; s++) {
        unsigned char c = (unsigned char)*s;
        if (c != '\0' && c != '"' && c != '\\' && c >= 0x20)
            continue;
        put_bytes(j, run, (size_t)(s - run));
        if (c == '\0')
            break;
        if (c == '"' || c == '\\')
            putf(j, "\\%c", c);
        else
            putf(j, "\\u%04x", c);
        run = s + 1;
    }
    put(j, "\"");
}

static void indent(json_t *j, int levels) {
    for (int i = 0; i < levels; i++)
        put(j, "  ");
}

/* What comes before a value: the separator of its container, then its key in an object. */
static void begin_value(json_t *j, const char *key) {
    int d = j->depth;
    long n = j->level[d].n++;
    int in_object = d > 0 && j->level[d].closer == '}';
    if ((key != NULL) != in_object)
        fail(j, in_object ? "a member without a name" : "a name outside an object");
    if (d == 0) {
        if (n > 0)
            put(j, ",\n");
    } else if (j->level[d].layout == JSON_INLINE) {
        if (n > 0)
            put(j, ", ");
    } else {
        put(j, n > 0 ? ",\n" : "\n");
        if (j->level[d].layout == JSON_LINES)
            indent(j, d);
    }
    if (key != NULL) {
        put_string(j, key);
        put(j, ": ");
    }
}

static void open_container(json_t *j, const char *key, json_layout_t layout, char opener) {
    begin_value(j, key);
    if (j->depth == JSON_DEPTH) {
        fail(j, "nested too deep");
        return;
    }
    char s[2] = {opener, '\0'};
    put(j, s);
    j->depth++;
    j->level[j->depth].layout = layout;
    j->level[j->depth].closer = opener == '{' ? '}' : ']';
    j->level[j->depth].n = 0;
}

void json_init(json_t *j) {
    memset(j, 0, sizeof *j);
}

void json_free(json_t *j) {
    free(j->buf);
    json_init(j);
}

void json_object(json_t *j, const char *key, json_layout_t layout) {
    open_container(j, key, layout, '{');
}

void json_array(json_t *j, const char *key, json_layout_t layout) {
    open_container(j, key, layout, '[');
}

void json_end(json_t *j) {
    int d = j->depth;
    if (d == 0) {
        fail(j, "nothing open to close");
        return;
    }
    if (j->level[d].layout != JSON_INLINE) {
        put(j, "\n");
        if (j->level[d].layout == JSON_LINES)
            indent(j, d - 1);
    }
    char s[2] = {j->level[d].closer, '\0'};
    put(j, s);
    j->depth--;
}

void json_string(json_t *j, const char *key, const char *value) {
    begin_value(j, key);
    put_string(j, value);
}

void json_int(json_t *j, const char *key, int64_t value) {
    begin_value(j, key);
    putf(j, "%lld", (long long)value);
}

/* A real as "%.{precision}g" (general) or "%.{precision}f"; null when not finite. */
static void put_real(json_t *j, const char *key, double value, int precision, int general) {
    begin_value(j, key);
    if (!isfinite(value))
        put(j, "null");
    else if (general)
        putf(j, "%.*g", precision, value);
    else
        putf(j, "%.*f", precision, value);
}

void json_fixed(json_t *j, const char *key, double value, int decimals) {
    put_real(j, key, value, decimals, 0);
}

void json_real(json_t *j, const char *key, double value, int digits) {
    put_real(j, key, value, digits, 1);
}

void json_null(json_t *j, const char *key) {
    begin_value(j, key);
    put(j, "null");
}

void json_raw(json_t *j, const char *values, size_t len) {
    begin_value(j, NULL);
    put_bytes(j, values, len);
}

int json_finish(json_t *j, const char *what, tdp_err_t *err) {
    if (j->depth != 0)
        fail(j, "an object or array left open");
    put(j, "\n");
    if (j->failed != NULL)
        return tdp_fail(err, TDP_ERUNTIME, "cannot write %s: %s", what, j->failed);
    return TDP_OK;
}

int json_write(json_t *j, const char *path, tdp_err_t *err) {
    int rc = json_finish(j, path, err);
    if (rc == TDP_OK)
        rc = write_file_atomic(path, j->buf, j->len, err);
    json_free(j);
    return rc;
}
