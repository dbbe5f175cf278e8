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
#include "defaults.h"
#include "gilcal.h"
#include "hyper.h"
#include "io.h"
#include "json.h"
#include "modes.h"
#include "options.h"
#include "primes.h"
#include "share.h"
#include "sum.h"
#include "tasks.h"
#include "util.h"
#include "version.h"

static const char *prog = "kernels";

/* ---- running and reporting ---- */

typedef struct {
    kopts_t *o;
    int rank, world;
    const comm_t *comm;   /* mode mpi: the session */
    const gilcal_t *cal;  /* the gil modes: the lock's calibration */
    const char *cal_path; /* and the file it came from */
} ctx_t;

static int uses_gil(const kopts_t *o) {
    return o->sub != SUB_SHARE &&
           (o->mode == KERN_GIL_THREADS || (o->mode == KERN_THREAD_POOL && o->gil));
}

/* The gil modes: the calibration file (the shipped one unless --gil-calibration), read. */
static int load_calibration(const kopts_t *o, char *path, size_t len, gilcal_t *cal,
                            tdp_err_t *err) {
    snprintf(path, len, "%s", o->gil_calibration);
    if (strcmp(o->gil_calibration, OPT_DEFAULT_GILCAL) == 0)
        defaults_find(path, len, OPT_DEFAULT_GILCAL);
    int fd = -1, rc = tdp_open_input("--gil-calibration", path, &fd, err);
    if (rc != TDP_OK)
        return rc; /* a missing or unreadable file: bad input, exit 2 */
    close(fd);
    return gilcal_load(path, cal, err);
}

static void print_lock_line(const ctx_t *c, const kern_report_t *r) {
    const kopts_t *o = c->o;
    if (!uses_gil(o))
        return;
    printf("lock: %.3f s waited in all, %lu forced switches (switch interval %g ms)\n",
           r->gil_wait_seconds, r->gil_forced_switches, o->switch_ms);
    printf("lock: %.3f s held for contention: loops run %g times slower while another thread "
           "waits (loop_contended_factor of %s)\n",
           r->gil_held_seconds, c->cal->loop_contended_factor, c->cal_path);
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

/* One member per figure of the tasks: an array of it, task by task. */
static void add_task_figures(json_t *j, const kern_report_t *r, size_t ntasks) {
    static const char *const keys[] = {"results", "task_seconds", "task_starts", "task_pids"};
    for (int k = 0; k < 4; k++) {
        json_array(j, keys[k], JSON_INLINE);
        for (size_t i = 0; i < ntasks; i++) {
            const kern_record_t *t = &r->tasks[i];
            if (k == 0 || k == 3)
                json_int(j, NULL, k == 0 ? t->result : t->pid);
            else
                json_real(j, NULL, k == 1 ? t->seconds : t->start, 9);
        }
        json_end(j);
    }
}

/* The members every kernel's JSON has (the object is left open for the kernel's own). */
static void add_common(json_t *j, const char *kernel, const ctx_t *c, const kern_report_t *r,
                       size_t ntasks, int64_t result) {
    const kopts_t *o = c->o;
    json_init(j);
    json_object(j, NULL, JSON_LINES);
    json_string(j, "kernel", kernel);
    json_string(j, "mode", kern_mode_name(o->mode));
    json_int(j, "workers", r->workers);
    json_int(j, "tasks", (int64_t)ntasks);
    json_int(j, "result", result);
    json_real(j, "seconds", r->seconds, 9);
    json_real(j, "submit_seconds", r->submit_seconds, 9);
    json_int(j, "gil", o->mode == KERN_GIL_THREADS || o->gil);
    json_real(j, "gil_wait_seconds", r->gil_wait_seconds, 9);
    json_int(j, "gil_forced_switches", (int64_t)r->gil_forced_switches);
    json_real(j, "gil_held_seconds", r->gil_held_seconds, 9);
    json_string(j, "gil_calibration", uses_gil(o) ? c->cal_path : "");
    add_task_figures(j, r, ntasks);
}

/* Close the object and write it to path. */
static int write_json(json_t *j, const char *path, tdp_err_t *err) {
    json_end(j);
    return json_write(j, path, err);
}

static int run_job(const ctx_t *c, const kern_job_t *job, kern_report_t *rep, tdp_err_t *err) {
    kern_run_opts_t ro = {.mode = c->o->mode,
                          .workers = c->o->workers,
                          .gil_pool = c->o->gil,
                          .switch_interval = c->o->switch_ms / 1000.0,
                          .gilcal = c->cal,
                          .comm = c->comm};
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
        print_lock_line(c, &rep);
        printf("found primes: %lld, time: %.3f s [%s, %d %s]\n", (long long)total, rep.seconds,
               kern_mode_name(o->mode), rep.workers, workers_word(o->mode));
        if (o->json[0]) {
            json_t j;
            add_common(&j, "primes", c, &rep, chunks, total);
            json_int(&j, "limit", (int64_t)o->limit);
            rc = write_json(&j, o->json, err);
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
        print_lock_line(c, &rep);
        printf("%s time: %.3f s", kern_mode_name(o->mode), rep.seconds);
        for (size_t i = 0; i < ntasks; i++)
            printf(", res%zu: %lld", i + 1, (long long)recs[i].result);
        printf(" [%d %s, count(%llu) each]\n", rep.workers, workers_word(o->mode),
               (unsigned long long)o->n);
        if (o->json[0]) {
            json_t j;
            add_common(&j, "sum", c, &rep, ntasks, recs[0].result);
            json_int(&j, "n", (int64_t)o->n);
            rc = write_json(&j, o->json, err);
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

/* The servers' counts of every rank, summed (the largest in flight: the maximum) on rank 0. */
static int reduce_server_stats(const comm_t *comm, kern_server_stats_t *st, tdp_err_t *err) {
    unsigned long served = 0;
    int maxf = 0;
    TDP_MPI(MPI_Reduce(&st->served, &served, 1, MPI_UNSIGNED_LONG, MPI_SUM, 0, comm->comm),
            comm->rank, err);
    TDP_MPI(MPI_Reduce(&st->max_in_flight, &maxf, 1, MPI_INT, MPI_MAX, 0, comm->comm), comm->rank,
            err);
    st->served = served;
    st->max_in_flight = maxf;
    return TDP_OK;
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
        tdp_err_t e;
        if (reduce_server_stats(c->comm, &st, &e) != TDP_OK && rc == TDP_OK) {
            *err = e;
            rc = TDP_ERUNTIME;
        }
    }
    if (rc == TDP_OK && c->rank == 0) {
        int64_t ok = 0;
        for (size_t i = 0; i < ntasks; i++)
            ok += recs[i].result == 200;
        print_lock_line(c, &rep);
        printf("total time: %.3f s, %lld of %zu responses 200 [%s, %d %s]\n", rep.seconds,
               (long long)ok, ntasks, kern_mode_name(o->mode), rep.workers, workers_word(o->mode));
        if (srv != NULL)
            printf("server: %lu requests answered, at most %d in flight; closed\n", st.served,
                   st.max_in_flight);
        if (o->json[0]) {
            json_t j;
            add_common(&j, "io", c, &rep, ntasks, ok);
            json_int(&j, "requests", (int64_t)ntasks);
            json_int(&j, "latency_ms", o->nurls ? 0 : o->latency_ms);
            json_int(&j, "server_port", srv != NULL ? ij.port : 0);
            json_int(&j, "server_served", (int64_t)st.served);
            json_int(&j, "server_max_in_flight", st.max_in_flight);
            rc = write_json(&j, o->json, err);
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

static void add_globals(json_t *j, const char *key) {
    json_array(j, key, JSON_INLINE);
    for (size_t i = 0; i < KERN_SHARE_NGLOBALS; i++) {
        int64_t v;
        if (kern_share_global(i, &v))
            json_int(j, NULL, v);
        else
            json_null(j, NULL);
    }
    json_end(j);
}

static void add_results(json_t *j, const char *key, const kern_record_t *r) {
    json_array(j, key, JSON_INLINE);
    for (size_t i = 0; i < KERN_SHARE_NGLOBALS; i++)
        json_int(j, NULL, r[i].result);
    json_end(j);
}

static int cmd_share(const ctx_t *c, tdp_err_t *err) {
    kopts_t *o = c->o;
    int rc = TDP_OK;
    json_t j;
    int json = o->json[0] && c->rank == 0;
    if (json) {
        json_init(&j);
        json_object(&j, NULL, JSON_LINES);
    }
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
            json_string(&j, "kernel", "share");
            json_string(&j, "mode", o->mode == KERN_MPI ? "mpi" : "processes");
            json_array(&j, "shared_list", JSON_INLINE);
            for (size_t i = 0; i < list.n; i++)
                json_string(&j, NULL, list.items[i]);
            json_end(&j);
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
        ro.comm = c->comm;
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
                add_results(&j, "mpi_results", recs);
                add_globals(&j, "mpi_rank0_globals");
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
                add_globals(&j, key);
                snprintf(key, sizeof key, "%s_results", runs[k].key);
                add_results(&j, key, recs);
            }
        }
    }
    if (json) {
        json_int(&j, "workers", 2);
        json_int(&j, "n", (int64_t)o->n);
        json_int(&j, "result", result);
        json_real(&j, "seconds", tdp_now() - t0, 9);
        rc = write_json(&j, o->json, err);
        json = 0;
    }
done:
    if (json)
        json_free(&j);
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
    int rc = kopts_parse(argc, argv, &o, &err);
    if (rc == TDP_OK && o.help) {
        kopts_usage(stdout);
        return 0;
    }
    if (rc == TDP_OK && o.version) {
        tdp_print_version(stdout, prog);
        return 0;
    }
    if (rc == TDP_OK)
        rc = kopts_resolve(&o, &err);
    gilcal_t cal;
    static char cal_path[4096 + 64];
    if (rc == TDP_OK && uses_gil(&o))
        rc = load_calibration(&o, cal_path, sizeof cal_path, &cal, &err);
    if (rc != TDP_OK) {
        if (launcher_rank0())
            fprintf(stderr, "%s: %s\n", prog, err.msg);
        return cmdline_exit_code(rc);
    }
    /* a worker that died makes a write to its pipe fail with EPIPE instead of killing us */
    TDP_DIE_IF(signal(SIGPIPE, SIG_IGN) == SIG_ERR, "signal(SIGPIPE)");
    setvbuf(stdout, NULL, _IOLBF, 0); /* lines from threads and processes stay whole */

    if (o.sub == SUB_IO && (rc = kern_http_global_init(&err)) != TDP_OK) {
        fprintf(stderr, "%s: %s\n", prog, err.msg);
        return 1;
    }
    comm_t comm = {0};
    ctx_t c = {.o = &o,
               .rank = 0,
               .world = 1,
               .comm = &comm,
               .cal = uses_gil(&o) ? &cal : NULL,
               .cal_path = cal_path};
    int use_mpi = o.mode == KERN_MPI;
    if (use_mpi) {
        if (comm_start(&comm, &argc, &argv, &err) != TDP_OK) {
            fprintf(stderr, "%s: %s\n", prog, err.msg);
            if (!comm.started)
                return 1;
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        c.rank = comm.rank;
        c.world = comm.size;
        if (o.sub != SUB_SHARE) {
            if (kopts_given(&o, "workers") && o.workers != c.world) {
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
        comm_finish(&comm);
    if (o.sub == SUB_IO)
        kern_http_global_cleanup();
    return cmdline_exit_code(rc);
}
