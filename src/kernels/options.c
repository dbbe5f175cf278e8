/* options.c: the kernels program's option table, its parser and the usage text (options.h). */
#include "options.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "argnum.h"
#include "primes.h"
#include "outfile.h"
#include "sum.h"

static const char *prog = "kernels";

typedef enum { K_FLAG, K_U64, K_INT, K_DOUBLE, K_MODE, K_PATH, K_URL } kind_t;

typedef struct {
    const char *name;
    kind_t kind;
    int subs;      /* subcommands that take it */
    size_t off;    /* offset in kopts_t */
    double lo, hi; /* inclusive range for numbers */
    const char *arg, *help, *def;
} spec_t;

#define OFF(f) offsetof(kopts_t, f)

static const spec_t SPECS[] = {
    {"mode", K_MODE, SUB_ALL, OFF(mode), 0, 0, "MODE",
     "serial, threads, gil-threads, thread-pool, processes, process-pool or mpi",
     "serial; share: fork demonstrations, or mpi"},
    {"workers", K_INT, SUB_PRIMES | SUB_SUM | SUB_IO, OFF(workers), 1, MAX_WORKERS, "P",
     "pool size of thread-pool and process-pool; for primes also the number of chunks; under "
     "mpi, the number of ranks",
     "serial 1; threads, gil-threads, processes: one per task; pools and primes: the cores"},
    {"gil", K_FLAG, SUB_PRIMES | SUB_SUM | SUB_IO, OFF(gil), 0, 0, NULL,
     "thread-pool: run the pool under the emulated interpreter lock (like ThreadPoolExecutor)",
     "off"},
    {"switch-interval", K_DOUBLE, SUB_ALL, OFF(switch_ms), 0.001, 10000, "MS",
     "emulated lock: a waiting thread asks the holder to drop it after this long", "5"},
    {"json", K_PATH, SUB_ALL, OFF(json), 0, 0, "FILE",
     "write a summary object (kernel, mode, workers, result, seconds, ...)", "none"},
    {"limit", K_U64, SUB_PRIMES, OFF(limit), 0, (double)KERN_PRIMES_MAX_LIMIT, "N",
     "primes: count the primes below N", "10000000"},
    {"n", K_U64, SUB_SUM | SUB_SHARE, OFF(n), 1, (double)KERN_SUM_MAX_N, "N",
     "sum, share: each task is count(N), N (N + 1) / 2", "100000000"},
    {"tasks", K_INT, SUB_SUM, OFF(tasks), 1, MAX_TASKS, "T", "sum: independent count(N) tasks",
     "2"},
    {"requests", K_INT, SUB_IO, OFF(requests), 1, MAX_TASKS, "R", "io: HTTP GETs",
     "3, or the number of --url"},
    {"latency-ms", K_INT, SUB_IO, OFF(latency_ms), 0, MAX_LATENCY_MS, "L",
     "io: the local server answers each request after L ms", "750"},
    {"url", K_URL, SUB_IO, 0, 0, 0, "URL",
     "io: fetch this http(s) address instead of the local server (repeatable; requests cycle "
     "through them)",
     "none"},
    {"sleep-ms", K_INT, SUB_SHARE, OFF(sleep_ms), 0, 10000, "MS",
     "share: thread 1 sleeps this long after each append", "100"},
    {"help", K_FLAG, SUB_ALL, OFF(help), 0, 0, NULL, "this text (also -h)", "off"},
    {"version", K_FLAG, SUB_ALL, OFF(version), 0, 0, NULL,
     "the version, the commit and the BLAS library", "off"},
};
#define NSPECS (sizeof SPECS / sizeof SPECS[0])

static const struct {
    const char *name;
    int bit;
    const char *what;
} SUBS[] = {
    {"primes", SUB_PRIMES,
     "count the primes below --limit by trial division up to sqrt(n), in --workers contiguous "
     "chunks"},
    {"sum", SUB_SUM, "--tasks independent count(n): res += n; n -= 1 until n is 0"},
    {"io", SUB_IO,
     "--requests HTTP GETs of a local server that answers after --latency-ms (or of --url)"},
    {"share", SUB_SHARE,
     "a list shared by two threads; globals written by threads, child processes and a pool"},
};
#define NSUBS (sizeof SUBS / sizeof SUBS[0])

static int spec_index(const char *name) {
    for (size_t k = 0; k < NSPECS; k++)
        if (strcmp(SPECS[k].name, name) == 0)
            return (int)k;
    return -1;
}

int kopts_given(const kopts_t *o, const char *name) {
    int k = spec_index(name);
    return k >= 0 && (o->given >> k & 1u);
}

/* Print text from column `indent` on, wrapped at spaces before column `width`. */
static void print_wrapped(FILE *f, const char *text, int indent, int width) {
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

void kopts_usage(FILE *f) {
    fprintf(f,
            "Usage: %s SUBCOMMAND [options]\n"
            "       mpirun -np P %s SUBCOMMAND --mode mpi [options]\n"
            "The notebook's CPU-bound and I/O-bound kernels in C, run serial, threaded, threaded "
            "under an\nemulated interpreter lock (CPython's GIL), pooled, as processes and as MPI "
            "ranks.\n\nSubcommands:\n",
            prog, prog);
    for (size_t i = 0; i < NSUBS; i++) {
        fprintf(f, "  %-8s ", SUBS[i].name);
        print_wrapped(f, SUBS[i].what, 11, 100);
    }
    fprintf(f, "\nOptions (default in brackets; the subcommands that take each):\n");
    for (size_t k = 0; k < NSPECS; k++) {
        const spec_t *s = &SPECS[k];
        char left[64], subs[64] = "";
        snprintf(left, sizeof left, "--%s%s%s", s->name, s->arg ? " " : "", s->arg ? s->arg : "");
        if (s->subs != SUB_ALL)
            for (size_t i = 0; i < NSUBS; i++)
                if (s->subs & SUBS[i].bit) {
                    size_t l = strlen(subs);
                    snprintf(subs + l, sizeof subs - l, "%s%s", l ? ", " : "", SUBS[i].name);
                }
        char text[640];
        snprintf(text, sizeof text, "%s [%s]%s%s%s", s->help, s->def, subs[0] ? " (" : "", subs,
                 subs[0] ? ")" : "");
        fprintf(f, "  %-22s ", left);
        print_wrapped(f, text, 25, 100);
    }
    fprintf(f,
            "\nModes: serial (one task after another), threads (one pthread per task), "
            "gil-threads (the same\nunder the emulated lock: CPU-bound loops reach a check point "
            "every so many iterations, I/O\nwaits release it), thread-pool (P reusable threads, "
            "tasks as futures), processes (fork per\ntask, results through pipes), process-pool "
            "(P forked workers fed through pipes), mpi (tasks\ndealt round-robin to the ranks, "
            "results reduced to rank 0).\n"
            "\nOutput: the notebook's lines, then the result and the wall time; --json adds "
            "per-task results\nand times. result: primes counted; sum: count(n); io: responses "
            "with status 200; share: count(n)\nas returned by the pool.\n"
            "\nExit status: 0 success, 1 runtime failure, 2 bad option or unusable input.\n");
}

/* ---- parsing ---- */

/* Numbers follow argnum.h's rule, the same as ddp_train's options and the model file. */
static int parse_value(const spec_t *s, const char *v, kopts_t *o, tdp_err_t *err) {
    char *p = (char *)o + s->off;
    char label[64];
    snprintf(label, sizeof label, "--%s", s->name);
    switch (s->kind) {
    case K_FLAG:
        *(int *)p = 1;
        return TDP_OK;
    case K_MODE:
        if (kern_mode_parse(v, (kern_mode_t *)p) != 0)
            return tdp_fail(err, TDP_EINPUT, "--mode: '%s' is not one of %s", v, kern_mode_list());
        return TDP_OK;
    case K_PATH:
        if (*v == '\0')
            return tdp_fail(err, TDP_EINPUT, "--%s: empty value", s->name);
        if (strlen(v) >= sizeof o->json)
            return tdp_fail(err, TDP_EINPUT, "--%s: path too long", s->name);
        snprintf(p, sizeof o->json, "%s", v);
        return TDP_OK;
    case K_URL:
        if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
            return tdp_fail(err, TDP_EINPUT, "--url: '%s' is not an http:// or https:// address",
                            v);
        if (strlen(v) > MAX_URL_LEN)
            return tdp_fail(err, TDP_EINPUT, "--url: longer than %d characters", MAX_URL_LEN);
        if (o->nurls == MAX_URLS)
            return tdp_fail(err, TDP_EINPUT, "--url: more than %d addresses", MAX_URLS);
        o->urls[o->nurls++] = v;
        return TDP_OK;
    case K_U64:
        return argnum_u64(label, v, (uint64_t)s->lo, (uint64_t)s->hi, (uint64_t *)p, err);
    case K_INT: {
        long long x = 0;
        int rc = argnum_int(label, v, s->lo, s->hi, &x, err);
        if (rc != TDP_OK)
            return rc;
        *(int *)p = (int)x;
        return TDP_OK;
    }
    case K_DOUBLE:
        return argnum_real(label, v, s->lo, s->hi, (double *)p, err);
    }
    return tdp_fail(err, TDP_EINPUT, "--%s: unhandled option kind", s->name);
}

static void set_defaults(kopts_t *o) {
    memset(o, 0, sizeof *o);
    o->mode = KERN_SERIAL;
    o->switch_ms = DEFAULT_SWITCH_MS;
    o->limit = DEFAULT_LIMIT;
    o->n = DEFAULT_N;
    o->tasks = DEFAULT_TASKS;
    o->requests = DEFAULT_REQUESTS;
    o->latency_ms = DEFAULT_LATENCY;
    o->sleep_ms = DEFAULT_SLEEP_MS;
}

int kopts_parse(int argc, char **argv, kopts_t *o, tdp_err_t *err) {
    set_defaults(o);
    if (argc < 2)
        return tdp_fail(err, TDP_EINPUT,
                        "missing subcommand: primes, sum, io or share (see --help)");
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
        o->help = 1;
        return TDP_OK;
    }
    if (strcmp(sub, "--version") == 0) {
        o->version = 1;
        return TDP_OK;
    }
    for (size_t i = 0; i < NSUBS; i++)
        if (strcmp(sub, SUBS[i].name) == 0)
            o->sub = SUBS[i].bit;
    if (o->sub == 0)
        return tdp_fail(err, TDP_EINPUT,
                        "unknown subcommand '%s': expected primes, sum, io or share (see --help)",
                        sub);
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0) {
            o->help = 1;
            continue;
        }
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0')
            return tdp_fail(err, TDP_EINPUT, "%s: unexpected argument '%s' (see --help)", sub, a);
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        int k = -1;
        for (size_t j = 0; j < NSPECS; j++)
            if (strlen(SPECS[j].name) == nlen && strncmp(SPECS[j].name, name, nlen) == 0)
                k = (int)j;
        if (k < 0)
            return tdp_fail(err, TDP_EINPUT, "%s: unknown option '--%.*s' (see --help)", sub,
                            (int)nlen, name);
        const spec_t *s = &SPECS[k];
        if (!(s->subs & o->sub))
            return tdp_fail(err, TDP_EINPUT, "%s: --%s does not apply to %s (see --help)", sub,
                            s->name, sub);
        if ((o->given >> k & 1u) && s->kind != K_URL)
            return tdp_fail(err, TDP_EINPUT, "--%s given twice", s->name);
        const char *val = "";
        if (s->kind == K_FLAG) {
            if (eq != NULL)
                return tdp_fail(err, TDP_EINPUT, "--%s takes no value", s->name);
        } else if (eq != NULL) {
            val = eq + 1;
        } else {
            if (i + 1 >= argc)
                return tdp_fail(err, TDP_EINPUT, "--%s needs a value (%s)", s->name, s->arg);
            val = argv[++i];
        }
        int rc = parse_value(s, val, o, err);
        if (rc != TDP_OK)
            return rc;
        o->given |= 1u << k;
    }
    return TDP_OK;
}

static int online_cores(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > MAX_WORKERS ? MAX_WORKERS : (int)n;
}

/* Consistency of the options with the subcommand and the mode; fills in the defaults that depend
 * on them. The mpi world size is checked later, once MPI is up. */
int kopts_resolve(kopts_t *o, tdp_err_t *err) {
    const char *mode = kern_mode_name(o->mode);
    if (o->sub == SUB_SHARE) {
        if (kopts_given(o, "mode") && o->mode != KERN_MPI)
            return tdp_fail(err, TDP_EINPUT,
                            "share: --mode %s: share runs its own threads, processes and pool; "
                            "only --mode mpi changes it",
                            mode);
        return out_check("json", o->json, err);
    }
    if (o->gil && o->mode != KERN_THREAD_POOL)
        return tdp_fail(err, TDP_EINPUT,
                        "--gil applies to --mode thread-pool only (gil-threads is threads under "
                        "the lock)");
    if (kopts_given(o, "switch-interval") && o->mode != KERN_GIL_THREADS && !o->gil)
        return tdp_fail(err, TDP_EINPUT,
                        "--switch-interval applies to gil-threads and thread-pool --gil only");
    if (o->sub == SUB_IO) {
        if (o->nurls > 0 && kopts_given(o, "latency-ms"))
            return tdp_fail(err, TDP_EINPUT,
                            "io: --latency-ms sets the local server's delay; it does not apply "
                            "with --url");
        if (o->nurls > 0 && !kopts_given(o, "requests"))
            o->requests = (int)o->nurls;
    }
    /* tasks: primes has one chunk per worker; sum and io have their own count */
    int tasks = o->sub == SUB_SUM ? o->tasks : o->sub == SUB_IO ? o->requests : 0;
    const char *tasks_opt = o->sub == SUB_SUM ? "--tasks" : "--requests";
    if (o->mode == KERN_SERIAL) {
        if (o->sub == SUB_PRIMES) {
            if (!kopts_given(o, "workers"))
                o->workers = 1;
        } else if (kopts_given(o, "workers") && o->workers != 1) {
            return tdp_fail(err, TDP_EINPUT,
                            "--workers %d: serial mode runs on one worker (for primes, --workers "
                            "sets the number of chunks)",
                            o->workers);
        } else {
            o->workers = 1;
        }
    } else if (kern_mode_one_per_task(o->mode)) {
        if (o->sub == SUB_PRIMES) {
            if (!kopts_given(o, "workers"))
                o->workers = online_cores();
        } else if (kopts_given(o, "workers") && o->workers != tasks) {
            return tdp_fail(err, TDP_EINPUT,
                            "--workers %d: mode %s runs one %s per task, here %s %d", o->workers,
                            mode, o->mode == KERN_PROCESSES ? "process" : "thread", tasks_opt,
                            tasks);
        } else {
            o->workers = tasks;
        }
    } else if (o->mode != KERN_MPI && !kopts_given(o, "workers")) {
        o->workers = online_cores();
    }
    return out_check("json", o->json, err);
}
