/* options.c: the kernels program's option table, the usage text and what the options resolve
 * to (options.h), on the command-line engine (cmdline.h). */
#include "options.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hyper.h"
#include "outfile.h"
#include "primes.h"
#include "sum.h"

static const char *prog = "kernels";

/* The subcommands' names by scope bit (SUB_*), and what each does. */
static const char *const SUB_NAMES[] = {"primes", "sum", "io", "share", NULL};
static const char *const SUB_WHAT[] = {
    "count the primes below --limit by trial division up to sqrt(n), in --workers contiguous "
    "chunks",
    "--tasks independent count(n): res += n; n -= 1 until n is 0",
    "--requests HTTP GETs of a local server that answers after --latency-ms (or of --url)",
    "a list shared by two threads; globals written by threads, child processes and a pool",
};
#define NSUBS (sizeof SUB_WHAT / sizeof SUB_WHAT[0])

static int add_url(void *opts, const char *v, tdp_err_t *err);

#define OFF(f) offsetof(kopts_t, f)

static const cmdline_opt_t SPECS[] = {
    CMDLINE_OPT("mode", CMDLINE_CHOICE, OFF(mode), 0, 0, "MODE",
                "serial, threads, gil-threads, thread-pool, processes, process-pool or mpi",
                .choices = kern_mode_names, .def = "serial; share: fork demonstrations, or mpi"),
    CMDLINE_OPT(
        "workers", CMDLINE_INT, OFF(workers), 1, MAX_WORKERS, "P",
        "pool size of thread-pool and process-pool; for primes also the number of chunks; under "
        "mpi, "
        "the number of ranks",
        .def =
            "serial 1; threads, gil-threads, processes: one per task; pools and primes: the cores",
        .scope = SUB_PRIMES | SUB_SUM | SUB_IO),
    CMDLINE_OPT(
        "gil", CMDLINE_FLAG, OFF(gil), 0, 0, NULL,
        "thread-pool: run the pool under the emulated interpreter lock (like ThreadPoolExecutor)",
        .scope = SUB_PRIMES | SUB_SUM | SUB_IO),
    CMDLINE_OPT("gil-calibration", CMDLINE_STRING, OFF(gil_calibration), 0, 0, "FILE",
                "emulated lock: the interpreter's costs; CPU loops run loop_contended_factor "
                "times slower while another thread waits (scripts/gil-calibrate writes one)",
                .size = sizeof(((kopts_t *)0)->gil_calibration),
                .def = OPT_DEFAULT_GILCAL ", shipped beside the models",
                .scope = SUB_PRIMES | SUB_SUM | SUB_IO),
    CMDLINE_OPT("switch-interval", CMDLINE_REAL, OFF(switch_ms), 0.001, 10000, "MS",
                "emulated lock: a waiting thread asks the holder to drop it after this long"),
    CMDLINE_OPT("json", CMDLINE_STRING, OFF(json), 0, 0, "FILE",
                "write a summary object (kernel, mode, workers, result, seconds, ...)",
                .size = sizeof(((kopts_t *)0)->json)),
    CMDLINE_OPT("limit", CMDLINE_U64, OFF(limit), 0, (double)KERN_PRIMES_MAX_LIMIT, "N",
                "primes: count the primes below N", .scope = SUB_PRIMES),
    CMDLINE_OPT("n", CMDLINE_U64, OFF(n), 1, (double)KERN_SUM_MAX_N, "N",
                "sum, share: each task is count(N), N (N + 1) / 2", .scope = SUB_SUM | SUB_SHARE),
    CMDLINE_OPT("tasks", CMDLINE_INT, OFF(tasks), 1, MAX_TASKS, "T",
                "sum: independent count(N) tasks", .scope = SUB_SUM),
    CMDLINE_OPT("requests", CMDLINE_INT, OFF(requests), 1, MAX_TASKS, "R", "io: HTTP GETs",
                .def = "3, or the number of --url", .scope = SUB_IO),
    CMDLINE_OPT("latency-ms", CMDLINE_INT, OFF(latency_ms), 0, MAX_LATENCY_MS, "L",
                "io: the local server answers each request after L ms", .scope = SUB_IO),
    CMDLINE_OPT(
        "url", CMDLINE_CUSTOM, 0, 0, 0, "URL",
        "io: fetch this http(s) address instead of the local server (repeatable; requests cycle "
        "through them)",
        .set = add_url, .scope = SUB_IO, .repeatable = 1),
    CMDLINE_OPT("sleep-ms", CMDLINE_INT, OFF(sleep_ms), 0, 10000, "MS",
                "share: thread 1 sleeps this long after each append", .scope = SUB_SHARE),
    CMDLINE_INFO(kopts_t),
};
static const cmdline_t TABLE = CMDLINE_TABLE(SPECS);

_Static_assert(sizeof(kern_mode_t) == sizeof(int), "--mode is stored as an int");

static int add_url(void *opts, const char *v, tdp_err_t *err) {
    kopts_t *o = opts;
    if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
        return tdp_fail(err, TDP_EINPUT, "--url: '%s' is not an http:// or https:// address", v);
    if (strlen(v) > MAX_URL_LEN)
        return tdp_fail(err, TDP_EINPUT, "--url: longer than %d characters", MAX_URL_LEN);
    if (o->nurls == MAX_URLS)
        return tdp_fail(err, TDP_EINPUT, "--url: more than %d addresses", MAX_URLS);
    o->urls[o->nurls++] = v;
    return TDP_OK;
}

int kopts_given(const kopts_t *o, const char *name) {
    return cmdline_given(&TABLE, o->given, name);
}

/* The options before parsing. */
static const kopts_t DEFAULTS = {.mode = KERN_SERIAL,
                                 .switch_ms = DEFAULT_SWITCH_MS,
                                 .gil_calibration = OPT_DEFAULT_GILCAL,
                                 .limit = DEFAULT_LIMIT,
                                 .n = DEFAULT_N,
                                 .tasks = DEFAULT_TASKS,
                                 .requests = DEFAULT_REQUESTS,
                                 .latency_ms = DEFAULT_LATENCY,
                                 .sleep_ms = DEFAULT_SLEEP_MS};

void kopts_usage(FILE *f) {
    fprintf(f,
            "Usage: %s SUBCOMMAND [options]\n"
            "       mpirun -np P %s SUBCOMMAND --mode mpi [options]\n"
            "The notebook's CPU-bound and I/O-bound kernels in C, run serial, threaded, threaded "
            "under an\nemulated interpreter lock (CPython's GIL), pooled, as processes and as MPI "
            "ranks.\n\nSubcommands:\n",
            prog, prog);
    for (size_t i = 0; i < NSUBS; i++) {
        fprintf(f, "  %-8s ", SUB_NAMES[i]);
        cmdline_print_wrapped(f, SUB_WHAT[i], 11, 100);
    }
    fprintf(f, "\nOptions (default in brackets; the subcommands that take each):\n");
    cmdline_print_options(
        f, &TABLE, &DEFAULTS,
        &(cmdline_layout_t){.width = 22, .wrap = 100, .names = SUB_NAMES, .all = SUB_ALL});
    fprintf(f,
            "\nModes: serial (one task after another), threads (one pthread per task), "
            "gil-threads (the same\nunder the emulated lock: CPU-bound loops reach a check point "
            "every so many iterations, I/O\nwaits release it), thread-pool (P reusable threads, "
            "tasks as futures), processes (fork per\ntask, results through pipes), process-pool "
            "(P forked workers fed through pipes), mpi (tasks\ndealt round-robin to the ranks, "
            "results reduced to rank 0).\n"
            "\nOutput: the notebook's lines, then the result and the wall time; --json adds "
            "per-task results\nand times. result: primes counted; sum: count(n); io: responses "
            "with status 200; share: count(n)\nas returned by the pool.\n");
    cmdline_print_exit_status(f);
}

int kopts_parse(int argc, char **argv, kopts_t *o, tdp_err_t *err) {
    *o = DEFAULTS;
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
        if (strcmp(sub, SUB_NAMES[i]) == 0)
            o->sub = 1 << i;
    if (o->sub == 0)
        return tdp_fail(err, TDP_EINPUT,
                        "unknown subcommand '%s': expected primes, sum, io or share (see --help)",
                        sub);
    const cmdline_scope_t scope = {sub, (unsigned)o->sub};
    return cmdline_parse(&TABLE, argc, argv, 2, &scope, o, &o->given, err);
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
    if (kopts_given(o, "gil-calibration") && o->mode != KERN_GIL_THREADS && !o->gil)
        return tdp_fail(err, TDP_EINPUT,
                        "--gil-calibration applies to gil-threads and thread-pool --gil only");
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
