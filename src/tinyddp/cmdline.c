/* cmdline.c: the command-line engine of every program (see cmdline.h). */
#include "cmdline.h"

#include <string.h>

#include "argnum.h"
#include "version.h"

int cmdline_exit_code(int status) {
    return status == TDP_OK || status == RUN_DONE ? 0
           : status == RUN_STOPPED                ? EXIT_STOPPED
           : status == TDP_EINPUT                 ? 2
                                                  : 1;
}

int cmdline_index(const cmdline_t *t, const char *name) {
    for (size_t k = 0; k < t->n; k++)
        if (strcmp(t->opts[k].name, name) == 0)
            return (int)k;
    return -1;
}

int cmdline_given(const cmdline_t *t, uint64_t given, const char *name) {
    int k = cmdline_index(t, name);
    return k >= 0 && (given >> k & 1u);
}

/* "is not one of a, b, c" (or "is not a or b") */
static int bad_choice(const cmdline_opt_t *s, const char *v, tdp_err_t *err) {
    char list[512] = "", sv[64];
    size_t n = 0;
    while (s->choices[n] != NULL)
        n++;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%s%s",
                 i == 0   ? ""
                 : n == 2 ? " or "
                          : ", ",
                 s->choices[i]);
    }
    return tdp_fail(err, TDP_EINPUT, "--%s: '%s' is not %s%s", s->name,
                    argnum_show(v, sv, sizeof sv), n == 2 ? "" : "one of ", list);
}

static int parse_choice(const cmdline_opt_t *s, const char *v, int *out, tdp_err_t *err) {
    for (int i = 0; s->choices[i] != NULL; i++)
        if (strcmp(v, s->choices[i]) == 0) {
            *out = i;
            return TDP_OK;
        }
    return bad_choice(s, v, err);
}

static int parse_integer(const cmdline_opt_t *s, const char *label, const char *v, char *p,
                         tdp_err_t *err) {
    long long x = 0;
    int rc = argnum_int(label, v, s->lo, s->hi, &x, err);
    if (rc != TDP_OK)
        return rc;
    if (s->kind == CMDLINE_INT)
        *(int *)p = (int)x;
    else
        *(long *)p = (long)x;
    return TDP_OK;
}

static int parse_string(const cmdline_opt_t *s, const char *v, char *p, tdp_err_t *err) {
    if (*v == '\0')
        return tdp_fail(err, TDP_EINPUT, "--%s: empty value", s->name);
    if (strlen(v) >= s->size)
        return tdp_fail(err, TDP_EINPUT, "--%s: value too long", s->name);
    memcpy(p, v, strlen(v) + 1);
    return TDP_OK;
}

static int parse_value(const cmdline_opt_t *s, const char *v, void *opts, tdp_err_t *err) {
    char *p = (char *)opts + s->off;
    char label[80];
    snprintf(label, sizeof label, "--%s", s->name);
    switch (s->kind) {
    case CMDLINE_FLAG:
        *(int *)p = 1;
        return TDP_OK;
    case CMDLINE_INT:
    case CMDLINE_LONG:
        return parse_integer(s, label, v, p, err);
    case CMDLINE_U64:
        return argnum_u64(label, v, (uint64_t)s->lo, s->hi >= 0x1p64 ? UINT64_MAX : (uint64_t)s->hi,
                          (uint64_t *)p, err);
    case CMDLINE_REAL:
        return argnum_real(label, v, s->lo, s->hi, (double *)p, err);
    case CMDLINE_STRING:
        return parse_string(s, v, p, err);
    case CMDLINE_CHOICE:
        return parse_choice(s, v, (int *)p, err);
    case CMDLINE_CUSTOM:
        return s->set(opts, v, err);
    }
    return tdp_fail(err, TDP_EINPUT, "--%s: unhandled option kind", s->name);
}

/* The option that argument a ("--name" or "--name=value") names, or -1. */
static int find(const cmdline_t *t, const char *a) {
    const char *name = a + 2, *eq = strchr(name, '=');
    size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
    for (size_t k = 0; k < t->n; k++)
        if (strlen(t->opts[k].name) == nlen && strncmp(t->opts[k].name, name, nlen) == 0)
            return (int)k;
    return -1;
}

/* "CMD: " before the messages about arguments the command does not know */
static const char *where(const cmdline_scope_t *scope, char *buf, size_t n) {
    snprintf(buf, n, "%s%s", scope ? scope->name : "", scope ? ": " : "");
    return buf;
}

/* Argument i (an option of the table) and its value; *i moves past what it used. */
static int parse_one(const cmdline_t *t, int argc, char **argv, int *i,
                     const cmdline_scope_t *scope, void *opts, uint64_t *given, tdp_err_t *err) {
    const char *a =
        strcmp(argv[*i], "-h") == 0 && cmdline_index(t, "help") >= 0 ? "--help" : argv[*i];
    char pre[128];
    if (strncmp(a, "--", 2) != 0 || a[2] == '\0')
        return tdp_fail(err, TDP_EINPUT, "%sunexpected argument '%s' (see --help)",
                        where(scope, pre, sizeof pre), a);
    const char *eq = strchr(a, '=');
    int k = find(t, a);
    if (k < 0)
        return tdp_fail(err, TDP_EINPUT, "%sunknown option '%.*s' (see --help)",
                        where(scope, pre, sizeof pre), (int)(eq ? (size_t)(eq - a) : strlen(a)), a);
    const cmdline_opt_t *s = &t->opts[k];
    if (scope && s->scope != 0 && !(s->scope & scope->bit))
        return tdp_fail(err, TDP_EINPUT, "%s: --%s does not apply to %s (see --help)", scope->name,
                        s->name, scope->name);
    const uint64_t bit = (uint64_t)1 << k;
    if ((*given & bit) && !s->repeatable)
        return tdp_fail(err, TDP_EINPUT, "--%s given twice", s->name);
    *given |= bit;
    const char *val = "";
    if (s->kind == CMDLINE_FLAG) {
        if (eq != NULL)
            return tdp_fail(err, TDP_EINPUT, "--%s takes no value", s->name);
    } else if (eq != NULL) {
        val = eq + 1;
    } else {
        if (*i + 1 >= argc)
            return tdp_fail(err, TDP_EINPUT, "--%s needs a value (%s)", s->name, s->arg);
        val = argv[++*i];
    }
    return parse_value(s, val, opts, err);
}

int cmdline_parse(const cmdline_t *t, int argc, char **argv, int first,
                  const cmdline_scope_t *scope, void *opts, uint64_t *given, tdp_err_t *err) {
    if (t->n > 64)
        return tdp_fail(err, TDP_ERUNTIME, "cmdline: more than 64 options in a table");
    for (int i = first; i < argc; i++) {
        int rc = parse_one(t, argc, argv, &i, scope, opts, given, err);
        if (rc != TDP_OK)
            return rc;
    }
    return TDP_OK;
}

/* names[] of the bits of mask, joined by sep */
static const char *scope_names(unsigned mask, const char *const *names, const char *sep, char *buf,
                               size_t n) {
    buf[0] = '\0';
    for (unsigned b = 0; names[b] != NULL; b++)
        if (mask >> b & 1u) {
            size_t l = strlen(buf);
            snprintf(buf + l, n - l, "%s%s", l ? sep : "", names[b]);
        }
    return buf;
}

int cmdline_check_scope(const cmdline_t *t, uint64_t given, unsigned chosen,
                        const char *const *names, tdp_err_t *err) {
    for (size_t k = 0; k < t->n; k++) {
        const cmdline_opt_t *s = &t->opts[k];
        if (!(given >> k & 1u) || s->scope == 0 || (s->scope & chosen))
            continue;
        char list[256];
        return tdp_fail(err, TDP_EINPUT, "--%s applies to %s only", s->name,
                        scope_names(s->scope, names, " and ", list, sizeof list));
    }
    return TDP_OK;
}

static const char *default_text(const cmdline_opt_t *s, const void *defaults, char *buf,
                                size_t len) {
    const char *p = (const char *)defaults + s->off;
    if (s->def != NULL)
        return s->def;
    switch (s->kind) {
    case CMDLINE_INT:
        snprintf(buf, len, "%d", *(const int *)p);
        break;
    case CMDLINE_LONG:
        snprintf(buf, len, "%ld", *(const long *)p);
        break;
    case CMDLINE_U64:
        snprintf(buf, len, "%llu", (unsigned long long)*(const uint64_t *)p);
        break;
    case CMDLINE_REAL:
        snprintf(buf, len, "%g", *(const double *)p);
        break;
    case CMDLINE_STRING:
        snprintf(buf, len, "%s", *p ? p : "none");
        break;
    case CMDLINE_CHOICE:
        snprintf(buf, len, "%s", s->choices[*(const int *)p]);
        break;
    default: /* a flag, or a custom value without a default text */
        snprintf(buf, len, "%s", s->kind == CMDLINE_FLAG ? "off" : "none");
    }
    return buf;
}

void cmdline_print_wrapped(FILE *f, const char *text, int indent, int width) {
    int col = indent;
    const char *p = text;
    while (*p != '\0') {
        const char *sp = strchr(p, ' ');
        int w = sp ? (int)(sp - p) : (int)strlen(p);
        if (col > indent && col + 1 + w > width) {
            fprintf(f, "\n%*s", indent, "");
            col = indent;
        } else if (col > indent) {
            fputc(' ', f);
            col++;
        }
        fprintf(f, "%.*s", w, p);
        col += w;
        p += w;
        while (*p == ' ')
            p++;
    }
    fputc('\n', f);
}

void cmdline_print_options(FILE *f, const cmdline_t *t, const void *defaults,
                           const cmdline_layout_t *layout) {
    for (size_t k = 0; k < t->n; k++) {
        const cmdline_opt_t *s = &t->opts[k];
        char left[64], def[256], where[128] = "", text[1024];
        snprintf(left, sizeof left, "--%s%s%s", s->name, s->arg ? " " : "", s->arg ? s->arg : "");
        if (layout->names != NULL && s->scope != 0 && s->scope != layout->all)
            scope_names(s->scope, layout->names, ", ", where, sizeof where);
        snprintf(text, sizeof text, "%s [%s]%s%s%s", s->help,
                 default_text(s, defaults, def, sizeof def), where[0] ? " (" : "", where,
                 where[0] ? ")" : "");
        fprintf(f, "  %-*s ", layout->width, left);
        if (layout->wrap > 0)
            cmdline_print_wrapped(f, text, layout->width + 3, layout->wrap);
        else
            fprintf(f, "%s\n", text);
    }
}

void cmdline_print_exit_status(FILE *f) {
    fprintf(f, "\nExit status: 0 success, 1 runtime failure, 2 bad option or unusable input.\n");
}

/* The int flag of row NAME in opts (0 when the table has no such row). */
static int flag(const cmdline_t *t, const void *opts, const char *name) {
    int k = cmdline_index(t, name);
    return k >= 0 && *(const int *)((const char *)opts + t->opts[k].off);
}

int cmdline_program(const cmdline_prog_t *p, int argc, char **argv, void *opts, int speak) {
    uint64_t given = 0;
    tdp_err_t err;
    if (cmdline_parse(&p->table, argc, argv, 1, NULL, opts, &given, &err) != TDP_OK) {
        if (speak)
            fprintf(stderr, "%s: %s\n", p->name, err.msg);
        return TDP_EINPUT;
    }
    const int help = flag(&p->table, opts, "help"), version = flag(&p->table, opts, "version");
    if (speak && help) {
        int width = 0; /* the longest "--name ARG" */
        for (size_t k = 0; k < p->table.n; k++) {
            const cmdline_opt_t *s = &p->table.opts[k];
            int w = 2 + (int)strlen(s->name) + (s->arg ? 1 + (int)strlen(s->arg) : 0);
            width = w > width ? w : width;
        }
        printf("%s\nOptions (default in brackets):\n", p->intro);
        cmdline_print_options(stdout, &p->table, p->defaults,
                              &(cmdline_layout_t){.width = width + 1});
        cmdline_print_exit_status(stdout);
    } else if (speak && version) {
        tdp_print_version(stdout, p->name);
    }
    return help || version ? RUN_DONE : TDP_OK;
}
