/* runconfig.c: the canonical configuration text, its comparison, and a fast data hash. */
#include "runconfig.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void runconfig_init(runconfig_t *c) {
    memset(c, 0, sizeof *c);
}

void runconfig_free(runconfig_t *c) {
    free(c->text);
    memset(c, 0, sizeof *c);
}

static int reserve(runconfig_t *c, size_t more) {
    if (c->len + more + 1 <= c->cap)
        return 0;
    size_t cap = c->cap ? c->cap : 1024;
    while (cap < c->len + more + 1)
        cap *= 2;
    char *p = realloc(c->text, cap);
    if (p == NULL)
        return -1;
    c->text = p;
    c->cap = cap;
    return 0;
}

void runconfig_add(runconfig_t *c, const char *key, const char *fmt, ...) {
    if (c->failed)
        return;
    char value[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(value, sizeof value, fmt, ap);
    va_end(ap);
    size_t klen = strlen(key);
    if (n < 0 || (size_t)n >= sizeof value || klen == 0 || strpbrk(key, "=\n") != NULL ||
        strchr(value, '\n') != NULL || reserve(c, klen + (size_t)n + 2) != 0) {
        c->failed = 1;
        return;
    }
    memcpy(c->text + c->len, key, klen);
    c->len += klen;
    c->text[c->len++] = '=';
    memcpy(c->text + c->len, value, (size_t)n);
    c->len += (size_t)n;
    c->text[c->len++] = '\n';
    c->text[c->len] = '\0';
}

const char *runconfig_real(double v, char buf[40]) {
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, 40, "%.*g", prec, v);
        if (strtod(buf, NULL) == v || v != v)
            break;
    }
    return buf;
}

/* The line of `text` holding `key` (klen bytes): its value and the value's length. */
static const char *find_key(const char *text, size_t len, const char *key, size_t klen,
                            size_t *vlen) {
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *eq = memchr(p, '=', (size_t)(le - p));
        if (eq != NULL && (size_t)(eq - p) == klen && memcmp(p, key, klen) == 0) {
            *vlen = (size_t)(le - eq - 1);
            return eq + 1;
        }
        p = le + 1;
    }
    return NULL;
}

static void copy_out(char *dst, size_t cap, const char *src, size_t n) {
    if (cap == 0)
        return;
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Every key of x, in order: the first whose value in y differs or is missing. */
static int first_difference(const char *x, size_t xlen, const char *y, size_t ylen, const char **k,
                            size_t *kl, const char **vx, size_t *vxl, const char **vy,
                            size_t *vyl) {
    const char *p = x, *end = x + xlen;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *eq = memchr(p, '=', (size_t)(le - p));
        const char *kend = eq ? eq : le;
        size_t klen = (size_t)(kend - p), xl = eq ? (size_t)(le - eq - 1) : 0, yl = 0;
        const char *yv = find_key(y, ylen, p, klen, &yl);
        if (yv == NULL || yl != xl || (xl > 0 && memcmp(yv, eq + 1, xl) != 0)) {
            *k = p;
            *kl = klen;
            *vx = eq ? eq + 1 : "";
            *vxl = xl;
            *vy = yv;
            *vyl = yl;
            return 1;
        }
        p = le + 1;
    }
    return 0;
}

int runconfig_diff(const char *a, size_t alen, const char *b, size_t blen, char *key, size_t klen,
                   char *va, size_t valen, char *vb, size_t vblen) {
    const char *k = NULL, *x = NULL, *y = NULL;
    size_t kl = 0, xl = 0, yl = 0;
    if (first_difference(a, alen, b, blen, &k, &kl, &x, &xl, &y, &yl)) {
        copy_out(key, klen, k, kl);
        copy_out(va, valen, x, xl);
        if (y != NULL)
            copy_out(vb, vblen, y, yl);
        else
            copy_out(vb, vblen, "(absent)", 8);
        return 1;
    }
    if (first_difference(b, blen, a, alen, &k, &kl, &y, &yl, &x, &xl)) {
        copy_out(key, klen, k, kl);
        copy_out(va, valen, "(absent)", 8);
        copy_out(vb, vblen, y, yl);
        return 1;
    }
    return 0;
}

int runconfig_valid(const char *text, size_t len) {
    int has_eq = 0, line_len = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)text[i];
        if (ch == '\n') {
            if (!has_eq)
                return 0;
            has_eq = line_len = 0;
        } else if (ch < 0x20 || ch > 0x7e) {
            return 0;
        } else {
            if (ch == '=' && !has_eq) {
                if (line_len == 0)
                    return 0; /* empty key */
                has_eq = 1;
            }
            line_len++;
        }
    }
    return len == 0 || text[len - 1] == '\n';
}

#define P1 0x9E3779B185EBCA87ULL
#define P2 0xC2B2AE3D27D4EB4FULL

static inline uint64_t rotl64(uint64_t x, int r) {
    return (x << r) | (x >> (64 - r));
}

static inline uint64_t round64(uint64_t acc, uint64_t w) {
    return rotl64(acc + w * P2, 31) * P1;
}

uint64_t runconfig_hash(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    uint64_t a = h + P1 + P2, b = h + P2, c = h, d = h - P1;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        uint64_t w[4];
        memcpy(w, p + i, sizeof w); /* host byte order: checkpoints are little-endian only */
        a = round64(a, w[0]);
        b = round64(b, w[1]);
        c = round64(c, w[2]);
        d = round64(d, w[3]);
    }
    uint64_t x = rotl64(a, 1) + rotl64(b, 7) + rotl64(c, 12) + rotl64(d, 18);
    for (; i < n; i++)
        x = round64(x, p[i]);
    x ^= (uint64_t)n * P1;
    /* avalanche (splitmix64's finaliser) */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}
