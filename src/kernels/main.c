/* main.c: the command line of build/bin/kernels: the notebook's kernels (primes, the summing
 * loop, I/O-bound fetches, shared state) run serial, threaded, threaded under the emulated
 * interpreter lock, pooled, as processes and as MPI ranks. The pieces are in the other files of
 * this folder. */
#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "argnum.h"
#include "io.h"
#include "json.h"
#include "modes.h"
#include "primes.h"
#include "share.h"
#include "sum.h"
#include "tasks.h"
#include "report.h"
#include "util.h"
#include "version.h"

static const char *prog = "kernels";

enum { SUB_PRIMES = 1, SUB_SUM = 2, SUB_IO = 4, SUB_SHARE = 8, SUB_ALL = 15 };

#define MAX_WORKERS       1024
#define MAX_TASKS         1024
#define MAX_LATENCY_MS    60000
#define MAX_URLS          1024
#define MAX_URL_LEN       2048
#define IO_TIMEOUT_MS     30000 /* on top of the latency: bound on one transfer */
#define SHARE_N1          10    /* the notebook's thread_func1(10) and thread_func2(5) */
#define SHARE_N2          5
#define DEFAULT_LIMIT     10000000ULL  /* count_primes(10000000) */
#define DEFAULT_N         100000000ULL /* NUM1 = NUM2 = 100000000 */
#define DEFAULT_TASKS     2
#define DEFAULT_REQUESTS  3   /* the notebook's three URLs */
#define DEFAULT_LATENCY   750 /* ms: three fetches took 2.24 s serially in the notebook */
#define DEFAULT_SLEEP_MS  100 /* time.sleep(0.1) */
#define DEFAULT_SWITCH_MS 5.0 /* sys.getswitchinterval() */

typedef enum { K_FLAG, K_U64, K_INT, K_DOUBLE, K_MODE, K_PATH, K_URL } kind_t;

typedef struct {
    int sub; /* SUB_* */
    kern_mode_t mode;
    int workers;
    int gil;
    double switch_ms;
    char json[4096];
    uint64_t limit, n;
    int tasks, requests, latency_ms, sleep_ms;
    const char *urls[MAX_URLS];
    size_t nurls;
    int help;
    int version;
    unsigned given; /* bit per option spec: given on the command line */
} kopts_t;

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

static int given(const kopts_t *o, const char *name) {
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

static void usage(FILE *f) {
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

static int parse_args(int argc, char **argv, kopts_t *o, tdp_err_t *err) {
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
static int resolve(kopts_t *o, tdp_err_t *err) {
    const char *mode = kern_mode_name(o->mode);
    if (o->sub == SUB_SHARE) {
        if (given(o, "mode") && o->mode != KERN_MPI)
            return tdp_fail(err, TDP_EINPUT,
                            "share: --mode %s: share runs its own threads, processes and pool; "
                            "only --mode mpi changes it",
                            mode);
        return report_check_output("json", o->json, err);
    }
    if (o->gil && o->mode != KERN_THREAD_POOL)
        return tdp_fail(err, TDP_EINPUT,
                        "--gil applies to --mode thread-pool only (gil-threads is threads under "
                        "the lock)");
    if (given(o, "switch-interval") && o->mode != KERN_GIL_THREADS && !o->gil)
        return tdp_fail(err, TDP_EINPUT,
                        "--switch-interval applies to gil-threads and thread-pool --gil only");
    if (o->sub == SUB_IO) {
        if (o->nurls > 0 && given(o, "latency-ms"))
            return tdp_fail(err, TDP_EINPUT,
                            "io: --latency-ms sets the local server's delay; it does not apply "
                            "with --url");
        if (o->nurls > 0 && !given(o, "requests"))
            o->requests = (int)o->nurls;
    }
    /* tasks: primes has one chunk per worker; sum and io have their own count */
    int tasks = o->sub == SUB_SUM ? o->tasks : o->sub == SUB_IO ? o->requests : 0;
    const char *tasks_opt = o->sub == SUB_SUM ? "--tasks" : "--requests";
    if (o->mode == KERN_SERIAL) {
        if (o->sub == SUB_PRIMES) {
            if (!given(o, "workers"))
                o->workers = 1;
        } else if (given(o, "workers") && o->workers != 1) {
            return tdp_fail(err, TDP_EINPUT,
                            "--workers %d: serial mode runs on one worker (for primes, --workers "
                            "sets the number of chunks)",
                            o->workers);
        } else {
            o->workers = 1;
        }
    } else if (kern_mode_one_per_task(o->mode)) {
        if (o->sub == SUB_PRIMES) {
            if (!given(o, "workers"))
                o->workers = online_cores();
        } else if (given(o, "workers") && o->workers != tasks) {
            return tdp_fail(err, TDP_EINPUT,
                            "--workers %d: mode %s runs one %s per task, here %s %d", o->workers,
                            mode, o->mode == KERN_PROCESSES ? "process" : "thread", tasks_opt,
                            tasks);
        } else {
            o->workers = tasks;
        }
    } else if (o->mode != KERN_MPI && !given(o, "workers")) {
        o->workers = online_cores();
    }
    return report_check_output("json", o->json, err);
}

/* ---- running and reporting ---- */

typedef struct {
    kopts_t *o;
    int rank, world;
} ctx_t;

static void print_lock_line(const kopts_t *o, const kern_report_t *r) {
    if (o->mode == KERN_GIL_THREADS || (o->mode == KERN_THREAD_POOL && o->gil))
        printf("lock: %.3f s waited in all, %lu forced switches (switch interval %g ms)\n",
               r->gil_wait_seconds, r->gil_forced_switches, o->switch_ms);
}

static const char *workers_word(kern_mode_t m) {
    switch (m) {
    case KERN_PROCESSES:
    case KERN_PROCESS_POOL:
        return "processes";
    case KERN_MPI:
        return "ranks";
    case KERN_SERIAL:
        return "worker";
    default:
        return "threads";
    }
}

/* The members every kernel's JSON has. */
static void json_common(kern_json_t *j, const char *kernel, const kopts_t *o,
                        const kern_report_t *r, size_t ntasks, int64_t result) {
    kern_json_begin(j);
    kern_json_str(j, "kernel", kernel);
    kern_json_str(j, "mode", kern_mode_name(o->mode));
    kern_json_int(j, "workers", r->workers);
    kern_json_int(j, "tasks", (int64_t)ntasks);
    kern_json_int(j, "result", result);
    kern_json_num(j, "seconds", r->seconds);
    kern_json_num(j, "submit_seconds", r->submit_seconds);
    kern_json_int(j, "gil", o->mode == KERN_GIL_THREADS || o->gil);
    kern_json_num(j, "gil_wait_seconds", r->gil_wait_seconds);
    kern_json_int(j, "gil_forced_switches", (int64_t)r->gil_forced_switches);
    kern_json_array(j, "results");
    for (size_t i = 0; i < ntasks; i++)
        kern_json_elem_int(j, r->tasks[i].result);
    kern_json_array_end(j);
    kern_json_array(j, "task_seconds");
    for (size_t i = 0; i < ntasks; i++)
        kern_json_elem_num(j, r->tasks[i].seconds);
    kern_json_array_end(j);
    kern_json_array(j, "task_starts");
    for (size_t i = 0; i < ntasks; i++)
        kern_json_elem_num(j, r->tasks[i].start);
    kern_json_array_end(j);
    kern_json_array(j, "task_pids");
    for (size_t i = 0; i < ntasks; i++)
        kern_json_elem_int(j, r->tasks[i].pid);
    kern_json_array_end(j);
}

static int run_job(const ctx_t *c, const kern_job_t *job, kern_report_t *rep, tdp_err_t *err) {
    kern_run_opts_t ro = {.mode = c->o->mode,
                          .workers = c->o->workers,
                          .gil_pool = c->o->gil,
                          .switch_interval = c->o->switch_ms / 1000.0};
    return kern_run(&ro, job, rep, err);
}

static int cmd_primes(const ctx_t *c, tdp_err_t *err) {
    kopts_t *o = c->o;
    size_t chunks = (size_t)o->workers;
    kern_primes_job_t pj = {.limit = o->limit, .chunks = chunks};
    kern_job_t job = {.fn = kern_primes_task, .arg = &pj, .ntasks = chunks};
    kern_record_t *recs = calloc(chunks, sizeof *recs);
    if (recs == NULL)
        return tdp_fail_sys(err, __FILE__, __LINE__, 0, "out of memory");
    kern_report_t rep = {.tasks = recs};
    if (c->rank == 0) {
        printf("primes below %llu: trial division up to sqrt(n), %zu contiguous chunk%s, mode %s\n",
               (unsigned long long)o->limit, chunks, chunks == 1 ? "" : "s",
               kern_mode_name(o->mode));
        fflush(stdout);
    }
    int rc = run_job(c, &job, &rep, err);
    if (rc == TDP_OK && c->rank == 0) {
        int64_t total = 0;
        for (size_t i = 0; i < chunks; i++) {
            uint64_t a, b;
            kern_primes_chunk(o->limit, chunks, i, &a, &b);
            total += recs[i].result;
            printf("  chunk %zu [%llu, %llu): %lld primes, %.3f s (", i, (unsigned long long)a,
                   (unsigned long long)b, (long long)recs[i].result, recs[i].seconds);
            if (o->mode == KERN_MPI)
                printf("rank %d, ", (int)recs[i].rank);
            printf("process %lld, thread %llu)\n", (long long)recs[i].pid,
                   (unsigned long long)recs[i].tid);
        }
        print_lock_line(o, &rep);
        printf("found primes: %lld, time: %.3f s [%s, %d %s]\n", (long long)total, rep.seconds,
               kern_mode_name(o->mode), rep.workers, workers_word(o->mode));
        if (o->json[0]) {
            kern_json_t j;
            json_common(&j, "primes", o, &rep, chunks, total);
            kern_json_int(&j, "limit", (int64_t)o->limit);
            rc = kern_json_write(&j, o->json, err);
        }
    }
    free(recs);
    return rc;
}

static int cmd_sum(const ctx_t *c, tdp_err_t *err) {
    kopts_t *o = c->o;
    size_t ntasks = (size_t)o->tasks;
    kern_sum_job_t sj = {.n = o->n};
    kern_job_t job = {.fn = kern_sum_task, .arg = &sj, .ntasks = ntasks};
    kern_record_t *recs = calloc(ntasks, sizeof *recs);
    if (recs == NULL)
        return tdp_fail_sys(err, __FILE__, __LINE__, 0, "out of memory");
    kern_report_t rep = {.tasks = recs};
    int rc = run_job(c, &job, &rep, err);
    fflush(stdout);
    if (rc == TDP_OK && c->rank == 0) {
        if (o->mode == KERN_THREAD_POOL)
            printf("%s submit time: %.3f s\n", kern_mode_name(o->mode), rep.submit_seconds);
        print_lock_line(o, &rep);
        printf("%s time: %.3f s", kern_mode_name(o->mode), rep.seconds);
        for (size_t i = 0; i < ntasks; i++)
            printf(", res%zu: %lld", i + 1, (long long)recs[i].result);
        printf(" [%d %s, count(%llu) each]\n", rep.workers, workers_word(o->mode),
               (unsigned long long)o->n);
        if (o->json[0]) {
            kern_json_t j;
            json_common(&j, "sum", o, &rep, ntasks, recs[0].result);
            kern_json_int(&j, "n", (int64_t)o->n);
            rc = kern_json_write(&j, o->json, err);
        }
    }
    free(recs);
    return rc;
}

static int server_ready(void *arg, tdp_err_t *err) {
    return kern_server_start(arg, err);
}

static int failed_ready(void *arg, tdp_err_t *err) {
    *err = *(const tdp_err_t *)arg;
    return TDP_ERUNTIME;
}

static int cmd_io(const ctx_t *c, tdp_err_t *err) {
    kopts_t *o = c->o;
    size_t ntasks = (size_t)o->requests;
    kern_server_t *srv = NULL;
    kern_io_job_t ij = {.urls = o->nurls ? o->urls : NULL,
                        .nurls = o->nurls,
                        .timeout_ms = IO_TIMEOUT_MS + (o->nurls ? 0 : o->latency_ms)};
    kern_job_t job = {.fn = kern_io_task, .arg = &ij, .ntasks = ntasks};
    kern_record_t *recs = calloc(ntasks, sizeof *recs);
    if (recs == NULL)
        return tdp_fail_sys(err, __FILE__, __LINE__, 0, "out of memory");
    kern_report_t rep = {.tasks = recs};
    int rc = TDP_OK;
    tdp_err_t open_err;
    if (o->nurls == 0) {
        /* in mpi mode every rank has its own server: ranks may sit on different hosts */
        if (kern_server_open(o->latency_ms, &srv, &open_err) != TDP_OK) {
            if (o->mode != KERN_MPI) {
                *err = open_err;
                rc = TDP_ERUNTIME;
                goto done;
            }
            /* the other ranks learn of it through the run's agreement on failure */
            job.ready = failed_ready;
            job.ready_arg = &open_err;
        } else {
            ij.port = kern_server_port(srv);
            job.ready = server_ready;
            job.ready_arg = srv;
        }
        if (c->rank == 0 && srv != NULL) {
            printf("server: http://127.0.0.1:%d/ answers each request after %d ms%s\n", ij.port,
                   o->latency_ms, o->mode == KERN_MPI ? " (one server per rank)" : "");
            fflush(stdout);
        }
    }
    rc = run_job(c, &job, &rep, err);
    fflush(stdout);
    kern_server_stats_t st = {0};
    if (srv != NULL) {
        tdp_err_t e;
        int src = kern_server_close(srv, &st, &e);
        if (src != TDP_OK && rc == TDP_OK) {
            *err = e;
            rc = src;
        }
    }
    if (o->mode == KERN_MPI && o->nurls == 0) {
        /* every rank gets here (kern_run agreed on failure): sum and max over the servers */
        unsigned long served = 0;
        int maxf = 0;
        if (MPI_Reduce(&st.served, &served, 1, MPI_UNSIGNED_LONG, MPI_SUM, 0, MPI_COMM_WORLD) !=
                MPI_SUCCESS ||
            MPI_Reduce(&st.max_in_flight, &maxf, 1, MPI_INT, MPI_MAX, 0, MPI_COMM_WORLD) !=
                MPI_SUCCESS) {
            if (rc == TDP_OK)
                rc = tdp_fail_sys(err, __FILE__, __LINE__, 0, "MPI_Reduce of the server counts");
        }
        st.served = served;
        st.max_in_flight = maxf;
    }
    if (rc == TDP_OK && c->rank == 0) {
        int64_t ok = 0;
        for (size_t i = 0; i < ntasks; i++)
            ok += recs[i].result == 200;
        print_lock_line(o, &rep);
        printf("total time: %.3f s, %lld of %zu responses 200 [%s, %d %s]\n", rep.seconds,
               (long long)ok, ntasks, kern_mode_name(o->mode), rep.workers, workers_word(o->mode));
        if (srv != NULL)
            printf("server: %lu requests answered, at most %d in flight; closed\n", st.served,
                   st.max_in_flight);
        if (o->json[0]) {
            kern_json_t j;
            json_common(&j, "io", o, &rep, ntasks, ok);
            kern_json_int(&j, "requests", (int64_t)ntasks);
            kern_json_int(&j, "latency_ms", o->nurls ? 0 : o->latency_ms);
            kern_json_int(&j, "server_port", srv != NULL ? ij.port : 0);
            kern_json_int(&j, "server_served", (int64_t)st.served);
            kern_json_int(&j, "server_max_in_flight", st.max_in_flight);
            rc = kern_json_write(&j, o->json, err);
        }
    }
done:
    free(recs);
    return rc;
}

/* "res1: 5000000050000000, res2: None" from this process's globals */
static void print_globals(void) {
    for (size_t i = 0; i < KERN_SHARE_NGLOBALS; i++) {
        int64_t v;
        if (kern_share_global(i, &v))
            printf("%sres%zu: %lld", i ? ", " : "", i + 1, (long long)v);
        else
            printf("%sres%zu: None", i ? ", " : "", i + 1);
    }
}

static void json_globals(kern_json_t *j, const char *key) {
    kern_json_array(j, key);
    for (size_t i = 0; i < KERN_SHARE_NGLOBALS; i++) {
        int64_t v;
        if (kern_share_global(i, &v))
            kern_json_elem_int(j, v);
        else
            kern_json_elem_null(j);
    }
    kern_json_array_end(j);
}

static void json_results(kern_json_t *j, const char *key, const kern_record_t *r) {
    kern_json_array(j, key);
    for (size_t i = 0; i < KERN_SHARE_NGLOBALS; i++)
        kern_json_elem_int(j, r[i].result);
    kern_json_array_end(j);
}

static int cmd_share(const ctx_t *c, tdp_err_t *err) {
    kopts_t *o = c->o;
    int rc = TDP_OK;
    kern_json_t j;
    int json = o->json[0] && c->rank == 0;
    if (json)
        kern_json_begin(&j);
    double t0 = tdp_now();

    /* the list shared by two threads (rank 0 only under mpi) */
    if (c->rank == 0) {
        kern_share_list_t list;
        if ((rc = kern_share_list(SHARE_N1, SHARE_N2, o->sleep_ms, o->switch_ms / 1000.0, &list,
                                  err)) != TDP_OK)
            goto done;
        printf("threads time: %.2f s, shared_list: [", list.seconds);
        for (size_t i = 0; i < list.n; i++)
            printf("%s'%s'", i ? ", " : "", list.items[i]);
        printf("]\n");
        if (json) {
            kern_json_str(&j, "kernel", "share");
            kern_json_str(&j, "mode", o->mode == KERN_MPI ? "mpi" : "processes");
            kern_json_array(&j, "shared_list");
            for (size_t i = 0; i < list.n; i++)
                kern_json_elem_str(&j, list.items[i]);
            kern_json_array_end(&j);
        }
    }

    /* globals: count(n) into res1 and res2 by two tasks */
    kern_sum_job_t sj = {.n = o->n};
    kern_job_t job = {.fn = kern_share_task, .arg = &sj, .ntasks = KERN_SHARE_NGLOBALS};
    kern_record_t recs[KERN_SHARE_NGLOBALS];
    kern_report_t rep = {.tasks = recs};
    kern_run_opts_t ro = {.workers = 2, .switch_interval = o->switch_ms / 1000.0};
    int64_t result = 0;
    if (o->mode == KERN_MPI) {
        kern_share_reset_globals();
        ro.mode = KERN_MPI;
        if ((rc = kern_run(&ro, &job, &rep, err)) != TDP_OK)
            goto done;
        fflush(stdout);
        if (c->rank == 0) {
            result = recs[0].result;
            printf("mpi time: %.3f s, %d ranks; reduced to rank 0: res1: %lld, res2: %lld\n",
                   rep.seconds, rep.world, (long long)recs[0].result, (long long)recs[1].result);
            printf("mpi: rank 0's own globals: ");
            print_globals();
            printf(" (a rank sets only the globals of the tasks it ran)\n");
            if (json) {
                json_results(&j, "mpi_results", recs);
                json_globals(&j, "mpi_rank0_globals");
            }
        }
    } else {
        static const struct {
            kern_mode_t mode;
            const char *key, *note;
        } runs[] = {
            {KERN_THREADS, "threads", "globals written by threads: one memory"},
            {KERN_PROCESSES, "processes", "globals written by the child processes stay unset here"},
            {KERN_PROCESS_POOL, "process_pool", "results returned through pipes"},
        };
        for (size_t k = 0; k < sizeof runs / sizeof runs[0]; k++) {
            kern_share_reset_globals();
            ro.mode = runs[k].mode;
            if ((rc = kern_run(&ro, &job, &rep, err)) != TDP_OK)
                goto done;
            fflush(stdout);
            printf("%s time: %.3f s, ", kern_mode_name(runs[k].mode), rep.seconds);
            if (runs[k].mode == KERN_PROCESS_POOL) {
                result = recs[0].result;
                printf("res1: %lld, res2: %lld (%s; this process's globals: ",
                       (long long)recs[0].result, (long long)recs[1].result, runs[k].note);
                print_globals();
                printf(")\n");
            } else {
                print_globals();
                printf(" (%s)\n", runs[k].note);
            }
            if (json) {
                char key[64];
                snprintf(key, sizeof key, "%s_globals", runs[k].key);
                json_globals(&j, key);
                snprintf(key, sizeof key, "%s_results", runs[k].key);
                json_results(&j, key, recs);
            }
        }
    }
    if (json) {
        kern_json_int(&j, "workers", 2);
        kern_json_int(&j, "n", (int64_t)o->n);
        kern_json_int(&j, "result", result);
        kern_json_num(&j, "seconds", tdp_now() - t0);
        rc = kern_json_write(&j, o->json, err);
        json = 0;
    }
done:
    if (json)
        kern_json_free(&j);
    return rc;
}

/* Before MPI is up: is this process rank 0 of an mpirun job, or not under mpirun at all? */
static int launcher_rank0(void) {
    const char *r = getenv("OMPI_COMM_WORLD_RANK");
    if (r == NULL)
        r = getenv("PMI_RANK");
    return r == NULL || strcmp(r, "0") == 0;
}

int main(int argc, char **argv) {
    kopts_t o;
    tdp_err_t err = {0};
    int rc = parse_args(argc, argv, &o, &err);
    if (rc == TDP_OK && o.help) {
        usage(stdout);
        return 0;
    }
    if (rc == TDP_OK && o.version) {
        tdp_print_version(stdout, prog);
        return 0;
    }
    if (rc == TDP_OK)
        rc = resolve(&o, &err);
    if (rc != TDP_OK) {
        if (launcher_rank0())
            fprintf(stderr, "%s: %s\n", prog, err.msg);
        return 2;
    }
    /* a worker that died makes a write to its pipe fail with EPIPE instead of killing us */
    TDP_DIE_IF(signal(SIGPIPE, SIG_IGN) == SIG_ERR, "signal(SIGPIPE)");
    setvbuf(stdout, NULL, _IOLBF, 0); /* lines from threads and processes stay whole */

    if (o.sub == SUB_IO && (rc = kern_http_global_init(&err)) != TDP_OK) {
        fprintf(stderr, "%s: %s\n", prog, err.msg);
        return 1;
    }
    ctx_t c = {.o = &o, .rank = 0, .world = 1};
    int use_mpi = o.mode == KERN_MPI;
    if (use_mpi) {
        int provided = 0;
        if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
            fprintf(stderr, "%s: %s:%d: MPI_Init_thread failed\n", prog, __FILE__, __LINE__);
            return 1;
        }
        if (MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN) != MPI_SUCCESS ||
            MPI_Comm_rank(MPI_COMM_WORLD, &c.rank) != MPI_SUCCESS ||
            MPI_Comm_size(MPI_COMM_WORLD, &c.world) != MPI_SUCCESS) {
            fprintf(stderr, "%s: %s:%d: MPI setup failed\n", prog, __FILE__, __LINE__);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        if (o.sub != SUB_SHARE) {
            if (given(&o, "workers") && o.workers != c.world) {
                rc = tdp_fail(&err, TDP_EINPUT,
                              "--workers %d: mode mpi runs one worker per rank, here %d ranks "
                              "(mpirun -np)",
                              o.workers, c.world);
            }
            o.workers = c.world;
        }
    }
    if (rc == TDP_OK) {
        switch (o.sub) {
        case SUB_PRIMES:
            rc = cmd_primes(&c, &err);
            break;
        case SUB_SUM:
            rc = cmd_sum(&c, &err);
            break;
        case SUB_IO:
            rc = cmd_io(&c, &err);
            break;
        default:
            rc = cmd_share(&c, &err);
            break;
        }
    }
    fflush(stdout);
    if (rc != TDP_OK && (c.rank == 0 || !use_mpi || rc != TDP_EINPUT))
        fprintf(stderr, "%s: %s\n", prog, err.msg);
    if (use_mpi)
        MPI_Finalize();
    if (o.sub == SUB_IO)
        kern_http_global_cleanup();
    return rc == TDP_OK ? 0 : rc == TDP_EINPUT ? 2 : 1;
}
