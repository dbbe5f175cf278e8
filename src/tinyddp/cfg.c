/* cfg.c: the model description parser (format in cfg.h).
 *
 * The text is processed one line at a time through a bounded line buffer, so it need not be
 * NUL-terminated and nothing past `len` is ever read. Every problem is a TDP_EINPUT error
 * "name:line: problem"; on error *out is left zeroed. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "cfg.h"

#include "argnum.h"
#include "hyper.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CFG_MAX_LINE 4096              /* bytes per line, not counting the newline */
#define CFG_MAX_FILE ((size_t)1 << 20) /* cfg_load refuses larger files */

#define NET_KEYS   "input, output, lr, momentum, weight_decay, batch, epochs"
#define DENSE_KEYS "units, activation"

enum { SEC_NONE, SEC_NET, SEC_DENSE };

/* Bits for the keys seen in the current section (duplicate detection). */
enum {
    K_INPUT = 1 << 0,
    K_OUTPUT = 1 << 1,
    K_LR = 1 << 2,
    K_MOMENTUM = 1 << 3,
    K_WEIGHT_DECAY = 1 << 4,
    K_BATCH = 1 << 5,
    K_EPOCHS = 1 << 6,
    K_UNITS = 1 << 7,
    K_ACTIVATION = 1 << 8,
};

typedef struct {
    const char *name;
    tdp_err_t *err;
    size_t line;                       /* current line, 1-based */
    model_cfg_t m;                     /* result under construction */
    int section;                       /* SEC_* */
    unsigned seen;                     /* K_* bits of the current section */
    size_t key_line[9];                /* where each key of the current section was set */
    size_t net_line;                   /* line of [net], 0 if none yet */
    size_t layer_line[CFG_MAX_LAYERS]; /* line of each [dense] */
    size_t act_line[CFG_MAX_LAYERS];   /* line of its activation key, 0 if defaulted */
    int has_units[CFG_MAX_LAYERS];
} parser_t;

static int perr(const parser_t *p, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int perr(const parser_t *p, size_t line, const char *fmt, ...) {
    char what[TDP_ERRLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return tdp_fail(p->err, TDP_EINPUT, "%s:%zu: %s", p->name, line, what);
}

/* Trim whitespace in place: returns the first non-space char, NUL-terminates after the last. */
static char *trim(char *s) {
    while (*s != '\0' && isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    s[n] = '\0';
    return s;
}

/* Numbers follow the command line's rule (argnum.h), with "name:line: key" as the label. */
static const char *label(const parser_t *p, const char *key, char *buf, size_t n) {
    snprintf(buf, n, "%s:%zu: %s", p->name, p->line, key);
    return buf;
}

static int parse_int(parser_t *p, const char *key, const char *val, long lo, long hi, int *out) {
    char lb[TDP_ERRLEN];
    long long v = 0;
    int rc = argnum_int(label(p, key, lb, sizeof lb), val, (double)lo, (double)hi, &v, p->err);
    if (rc == TDP_OK)
        *out = (int)v;
    return rc;
}

static int parse_double(parser_t *p, const char *key, const char *val, double lo, double hi,
                        double *out) {
    char lb[TDP_ERRLEN];
    return argnum_real(label(p, key, lb, sizeof lb), val, lo, hi, out, p->err);
}

/* Record key bit `bit` (index idx) as seen; duplicate → error. */
static int mark_key(parser_t *p, unsigned bit, int idx, const char *key) {
    if (p->seen & bit)
        return perr(p, p->line, "duplicate key '%s' (first set at line %zu)", key,
                    p->key_line[idx]);
    p->seen |= bit;
    p->key_line[idx] = p->line;
    return TDP_OK;
}

static int net_key(parser_t *p, const char *key, const char *val) {
    model_cfg_t *m = &p->m;
    char sv[64];
    int rc;
    if (strcmp(key, "input") == 0) {
        if ((rc = mark_key(p, K_INPUT, 0, key)) != TDP_OK)
            return rc;
        return parse_int(p, key, val, 1, CFG_MAX_UNITS, &m->input);
    }
    if (strcmp(key, "output") == 0) {
        if ((rc = mark_key(p, K_OUTPUT, 1, key)) != TDP_OK)
            return rc;
        return parse_int(p, key, val, 2, CFG_MAX_UNITS, &m->output);
    }
    /* the training values take the command line's ranges (hyper.h) */
    if (strcmp(key, "batch") == 0) {
        if ((rc = mark_key(p, K_BATCH, 5, key)) != TDP_OK)
            return rc;
        m->has_batch = 1;
        return parse_int(p, key, val, 1, OPT_MAX_BATCH, &m->batch);
    }
    if (strcmp(key, "epochs") == 0) {
        if ((rc = mark_key(p, K_EPOCHS, 6, key)) != TDP_OK)
            return rc;
        m->has_epochs = 1;
        return parse_int(p, key, val, 0, OPT_MAX_EPOCHS, &m->epochs);
    }
    if (strcmp(key, "lr") == 0) {
        if ((rc = mark_key(p, K_LR, 2, key)) != TDP_OK)
            return rc;
        m->has_lr = 1;
        return parse_double(p, key, val, OPT_MIN_LR, OPT_MAX_LR, &m->lr);
    }
    if (strcmp(key, "momentum") == 0) {
        if ((rc = mark_key(p, K_MOMENTUM, 3, key)) != TDP_OK)
            return rc;
        m->has_momentum = 1;
        return parse_double(p, key, val, 0, OPT_MAX_MOMENTUM, &m->momentum);
    }
    if (strcmp(key, "weight_decay") == 0) {
        if ((rc = mark_key(p, K_WEIGHT_DECAY, 4, key)) != TDP_OK)
            return rc;
        m->has_weight_decay = 1;
        return parse_double(p, key, val, 0, OPT_MAX_WEIGHT_DECAY, &m->weight_decay);
    }
    return perr(p, p->line, "unknown key '%s' in [net] (allowed: " NET_KEYS ")",
                argnum_show(key, sv, sizeof sv));
}

static int dense_key(parser_t *p, const char *key, const char *val) {
    int li = p->m.nlayers - 1;
    cfg_layer_t *l = &p->m.layers[li];
    char sv[64];
    int rc;
    if (strcmp(key, "units") == 0) {
        if ((rc = mark_key(p, K_UNITS, 7, key)) != TDP_OK)
            return rc;
        if ((rc = parse_int(p, key, val, 1, CFG_MAX_UNITS, &l->units)) != TDP_OK)
            return rc;
        p->has_units[li] = 1;
        return TDP_OK;
    }
    if (strcmp(key, "activation") == 0) {
        if ((rc = mark_key(p, K_ACTIVATION, 8, key)) != TDP_OK)
            return rc;
        if (strcmp(val, "relu") == 0)
            l->act = ACT_RELU;
        else if (strcmp(val, "none") == 0)
            l->act = ACT_NONE;
        else
            return perr(p, p->line, "activation = '%s': must be relu or none",
                        argnum_show(val, sv, sizeof sv));
        p->act_line[li] = p->line;
        return TDP_OK;
    }
    return perr(p, p->line, "unknown key '%s' in [dense] (allowed: " DENSE_KEYS ")",
                argnum_show(key, sv, sizeof sv));
}

/* A line starting with '[' (comments stripped, trimmed). */
static int header(parser_t *p, char *s) {
    char sv[64];
    char *close = strchr(s, ']');
    if (close == NULL)
        return perr(p, p->line, "unterminated section header '%s' (missing ']')",
                    argnum_show(s, sv, sizeof sv));
    if (close[1] != '\0')
        return perr(p, p->line, "trailing characters '%s' after section header",
                    argnum_show(close + 1, sv, sizeof sv));
    *close = '\0';
    const char *name = trim(s + 1);
    if (strcmp(name, "net") == 0) {
        if (p->net_line != 0)
            return perr(p, p->line, "[net] appears twice (first at line %zu)", p->net_line);
        p->net_line = p->line;
        p->section = SEC_NET;
    } else if (strcmp(name, "dense") == 0) {
        /* so [net] is first whenever it is there: a later [net] is then a duplicate */
        if (p->net_line == 0)
            return perr(p, p->line, "[dense] before [net]: [net] must be the first section");
        if (p->m.nlayers >= CFG_MAX_LAYERS)
            return perr(p, p->line, "too many layers (at most %d [dense] sections)",
                        CFG_MAX_LAYERS);
        int li = p->m.nlayers++;
        p->m.layers[li].units = 0;
        p->m.layers[li].act = ACT_RELU;
        p->layer_line[li] = p->line;
        p->act_line[li] = 0;
        p->has_units[li] = 0;
        p->section = SEC_DENSE;
    } else {
        return perr(p, p->line, "unknown section '[%s]' (allowed: [net], [dense])",
                    argnum_show(name, sv, sizeof sv));
    }
    p->seen = 0;
    return TDP_OK;
}

/* One line of at most CFG_MAX_LINE bytes, NUL-terminated, no NUL inside. */
static int parse_line(parser_t *p, char *buf) {
    char sv[64];
    buf[strcspn(buf, "#;")] = '\0';
    char *s = trim(buf);
    if (*s == '\0')
        return TDP_OK;
    if (*s == '[')
        return header(p, s);
    char *eq = strchr(s, '=');
    if (eq == NULL)
        return perr(p, p->line, "expected 'key = value' (no '=' in '%s')",
                    argnum_show(s, sv, sizeof sv));
    *eq = '\0';
    char *key = trim(s);
    char *val = trim(eq + 1);
    if (*key == '\0')
        return perr(p, p->line, "empty key before '='");
    if (*val == '\0')
        return perr(p, p->line, "empty value for key '%s'", argnum_show(key, sv, sizeof sv));
    switch (p->section) {
    case SEC_NET:
        return net_key(p, key, val);
    case SEC_DENSE:
        return dense_key(p, key, val);
    default:
        return perr(p, p->line, "key '%s' before any section (start with [net])",
                    argnum_show(key, sv, sizeof sv));
    }
}

/* Whole-file checks once all lines are read; `last` is the last line number. */
static int finish(parser_t *p, size_t last) {
    model_cfg_t *m = &p->m;
    if (p->net_line == 0)
        return perr(p, last, "missing [net] section");
    if (m->input == 0)
        return perr(p, p->net_line, "[net] is missing required key 'input'");
    if (m->output == 0)
        return perr(p, p->net_line, "[net] is missing required key 'output'");
    if (m->nlayers == 0)
        return perr(p, last, "no [dense] layer (need at least one, the last with units = output)");
    for (int i = 0; i < m->nlayers; i++)
        if (!p->has_units[i])
            return perr(p, p->layer_line[i], "[dense] (layer %d) is missing required key 'units'",
                        i + 1);
    int li = m->nlayers - 1;
    if (m->layers[li].units != m->output)
        return perr(p, p->layer_line[li], "last layer has %d units but [net] output = %d",
                    m->layers[li].units, m->output);
    if (m->layers[li].act != ACT_NONE)
        return perr(p, p->act_line[li] ? p->act_line[li] : p->layer_line[li],
                    "last layer must have activation = none (a softmax follows in the loss), "
                    "not relu%s",
                    p->act_line[li] ? "" : " (the default)");
    return TDP_OK;
}

int cfg_parse(const char *text, size_t len, const char *name, model_cfg_t *out, tdp_err_t *err) {
    if (name == NULL)
        name = "<cfg>";
    if (out == NULL)
        return tdp_fail(err, TDP_EINPUT, "%s: cfg_parse: no output", name);
    memset(out, 0, sizeof *out);
    if (text == NULL && len != 0)
        return tdp_fail(err, TDP_EINPUT, "%s: cfg_parse: no text", name);

    parser_t *p;
    TDP_MALLOC(p, sizeof *p, err);
    memset(p, 0, sizeof *p);
    p->name = name;
    p->err = err;
    p->section = SEC_NONE;

    char buf[CFG_MAX_LINE + 1];
    size_t pos = 0;
    /* a UTF-8 byte order mark (as some editors write) is not part of the first line */
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        pos = 3;
    int rc = TDP_OK;
    while (pos < len && rc == TDP_OK) {
        p->line++;
        const char *start = text + pos;
        size_t rest = len - pos;
        const char *nl = memchr(start, '\n', rest);
        size_t n = nl ? (size_t)(nl - start) : rest;
        pos += nl ? n + 1 : n;
        if (memchr(start, '\0', n) != NULL) {
            rc = perr(p, p->line, "NUL byte in the text");
        } else if (n > CFG_MAX_LINE) {
            rc = perr(p, p->line, "line longer than %d characters", CFG_MAX_LINE);
        } else {
            memcpy(buf, start, n);
            buf[n] = '\0';
            rc = parse_line(p, buf);
        }
    }
    if (rc == TDP_OK)
        rc = finish(p, p->line > 0 ? p->line : 1);
    if (rc == TDP_OK)
        *out = p->m;
    free(p);
    return rc;
}

int cfg_load(const char *path, model_cfg_t *out, tdp_err_t *err) {
    if (out != NULL)
        memset(out, 0, sizeof *out);
    if (path == NULL)
        return tdp_fail(err, TDP_EINPUT, "cfg_load: no path");
    int fd;
    int rc = tdp_open_input(NULL, path, &fd, err); /* a regular file, opened without blocking */
    if (rc != TDP_OK)
        return rc;
    FILE *f = fdopen(fd, "rb");
    if (f == NULL) {
        close(fd);
        return tdp_fail_sys(err, __FILE__, __LINE__, errno, "fdopen %s", path);
    }

    char *text = NULL;
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        rc = tdp_fail_sys(err, __FILE__, __LINE__, errno, "cannot stat %s", path);
        goto done;
    }
    if ((unsigned long long)st.st_size > CFG_MAX_FILE) {
        rc = tdp_fail(err, TDP_EINPUT, "%s: file is larger than 1 MiB (%lld bytes)", path,
                      (long long)st.st_size);
        goto done;
    }
    /* Read up to one byte past the limit, so a file that grew (or a pipe) is caught too. */
    TDP_MALLOC_GOTO(text, CFG_MAX_FILE + 1, err, rc, done);
    size_t n = 0;
    while (n < CFG_MAX_FILE + 1) {
        size_t got = fread(text + n, 1, CFG_MAX_FILE + 1 - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        rc = tdp_fail_sys(err, __FILE__, __LINE__, errno, "error reading %s", path);
        goto done;
    }
    if (n > CFG_MAX_FILE) {
        rc = tdp_fail(err, TDP_EINPUT, "%s: file is larger than 1 MiB", path);
        goto done;
    }
    rc = cfg_parse(text, n, path, out, err);
done:
    free(text);
    fclose(f);
    return rc;
}

void cfg_shape_string(const model_cfg_t *m, char *buf, size_t len) {
    if (buf == NULL || len == 0)
        return;
    buf[0] = '\0';
    if (m == NULL)
        return;
    size_t off = 0;
    int w = snprintf(buf, len, "%d", m->input);
    if (w < 0 || (size_t)w >= len)
        return;
    off = (size_t)w;
    int nl = m->nlayers < 0 ? 0 : m->nlayers > CFG_MAX_LAYERS ? CFG_MAX_LAYERS : m->nlayers;
    for (int i = 0; i < nl; i++) {
        w = snprintf(buf + off, len - off, "-%d", m->layers[i].units);
        if (w < 0 || (size_t)w >= len - off)
            return;
        off += (size_t)w;
    }
}
