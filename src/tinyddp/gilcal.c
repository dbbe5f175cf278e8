/* gilcal.c: the interpreter lock's calibration file and its busy work (see gilcal.h). */
#include "gilcal.h"

#include <stdio.h>
#include <string.h>

#include "argnum.h"

#include <errno.h>

static const char *const keys[GILCAL_NKEYS] = {
    "forward_held_us",      "backward_held_us",        "loss_held_us",
    "free_per_layer_us",    "replicate_us_per_tensor", "kept_copy_us_per_tensor",
    "gather_us_per_tensor", "optim_us_per_tensor",     "replicate_us_per_mb",
    "kept_copy_us_per_mb",  "gather_us_per_mb",        "optim_us_per_mb",
    "thread_start_us",      "contended_factor",        "loop_contended_factor"};

/* The keys that are factors (>= 1) rather than microseconds. */
static int is_factor(int i) {
    return i >= GILCAL_NKEYS - 2;
}

const char *gilcal_key(int i) {
    return keys[i];
}

double *gilcal_slot(gilcal_t *c, int i) {
    double *slots[GILCAL_NKEYS] = {
        &c->forward_held_us,      &c->backward_held_us,        &c->loss_held_us,
        &c->free_per_layer_us,    &c->replicate_us_per_tensor, &c->kept_copy_us_per_tensor,
        &c->gather_us_per_tensor, &c->optim_us_per_tensor,     &c->replicate_us_per_mb,
        &c->kept_copy_us_per_mb,  &c->gather_us_per_mb,        &c->optim_us_per_mb,
        &c->thread_start_us,      &c->contended_factor,        &c->loop_contended_factor};
    return slots[i];
}

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

/* One non-blank line "KEY = VALUE": its value stored, the key marked seen. */
static int parse_line(const char *path, int ln, char *line, gilcal_t *c, int *seen,
                      tdp_err_t *err) {
    char *eq = strchr(line, '=');
    if (eq == NULL)
        return tdp_fail(err, TDP_EINPUT, "%s:%d: expected KEY = VALUE", path, ln);
    *eq = '\0';
    char *k = trim(line), *v = trim(eq + 1), show[64];
    for (int i = 0; i < GILCAL_NKEYS; i++) {
        if (strcmp(k, keys[i]) != 0)
            continue;
        if (seen[i])
            return tdp_fail(err, TDP_EINPUT, "%s:%d: %s given twice", path, ln, k);
        seen[i] = 1;
        char label[4200];
        snprintf(label, sizeof label, "%s:%d: %s", path, ln, k);
        double lo = is_factor(i) ? 1.0 : 0.0, hi = is_factor(i) ? 100.0 : 1e6;
        return argnum_real(label, v, lo, hi, gilcal_slot(c, i), err);
    }
    return tdp_fail(err, TDP_EINPUT, "%s:%d: unknown key '%s'", path, ln,
                    argnum_show(k, show, sizeof show));
}

int gilcal_load(const char *path, gilcal_t *c, tdp_err_t *err) {
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return tdp_fail_sys(err, __FILE__, __LINE__, errno, "cannot open %s", path);
    int seen[GILCAL_NKEYS] = {0}, ln = 0, rc = TDP_OK;
    char line[512];
    memset(c, 0, sizeof *c);
    while (rc == TDP_OK && fgets(line, sizeof line, f) != NULL) {
        ln++;
        if (strchr(line, '\n') == NULL && !feof(f)) {
            rc = tdp_fail(err, TDP_EINPUT, "%s:%d: line too long", path, ln);
            break;
        }
        char *hash = strchr(line, '#');
        if (hash != NULL)
            *hash = '\0';
        char *s = trim(line);
        if (*s != '\0')
            rc = parse_line(path, ln, s, c, seen, err);
    }
    if (rc == TDP_OK && ferror(f))
        rc = tdp_fail_sys(err, __FILE__, __LINE__, errno, "reading %s", path);
    fclose(f);
    for (int i = 0; rc == TDP_OK && i < GILCAL_NKEYS; i++)
        if (!seen[i])
            rc = tdp_fail(err, TDP_EINPUT, "%s: %s missing", path, keys[i]);
    return rc;
}

void gilcal_format(const gilcal_t *c, char *buf, size_t len) {
    size_t off = 0;
    buf[0] = '\0';
    for (int i = 0; i < GILCAL_NKEYS && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, "%s%s=%.9g", i ? " " : "", keys[i],
                                *gilcal_slot((gilcal_t *)c, i));
}

void gilcal_spin(double us) {
    if (us <= 0.0)
        return;
    double until = tdp_now() + us * 1e-6;
    while (tdp_now() < until) {
    }
}
