/* modes.c: the runners (see modes.h). */
#include "modes.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "pool.h"
#include "procpool.h"

const char *const kern_mode_names[KERN_NMODES + 1] = {
    "serial", "threads", "gil-threads", "thread-pool", "processes", "process-pool", "mpi", NULL};

const char *kern_mode_name(kern_mode_t m) {
    return (unsigned)m < KERN_NMODES ? kern_mode_names[m] : "?";
}

int kern_mode_one_per_task(kern_mode_t m) {
    return m == KERN_THREADS || m == KERN_GIL_THREADS || m == KERN_PROCESSES;
}

/* ---- one task, wherever it runs ---- */

typedef struct {
    const kern_job_t *job;
    double t0; /* the run's start (monotonic clock: comparable across this machine's processes) */
    int rank;
} exec_ctx_t;

static void exec_task(const exec_ctx_t *c, size_t i, const kern_lock_t *lock, kern_record_t *rec) {
    memset(rec, 0, sizeof *rec);
    rec->index = i;
    rec->rank = c->rank;
    rec->pid = (int64_t)getpid();
    rec->tid = (uint64_t)pthread_self();
    tdp_err_t e;
    e.msg[0] = '\0';
    double s = tdp_now();
    rec->start = s - c->t0;
    rec->status = c->job->fn(c->job->arg, i, lock, &rec->result, &e);
    rec->seconds = tdp_now() - s;
    if (rec->status != TDP_OK)
        snprintf(rec->msg, sizeof rec->msg, "%s", e.msg[0] ? e.msg : "task failed");
}

static void proc_exec(void *ctx, uint64_t i, kern_record_t *rec) {
    exec_task(ctx, (size_t)i, NULL, rec);
}

static int call_ready(const kern_job_t *job, tdp_err_t *err) {
    return job->ready != NULL ? job->ready(job->ready_arg, err) : TDP_OK;
}

/* ---- serial ---- */

static int run_serial(const exec_ctx_t *c, kern_report_t *rep, tdp_err_t *err) {
    int rc = call_ready(c->job, err);
    if (rc != TDP_OK)
        return rc;
    rep->workers = 1;
    for (size_t i = 0; i < c->job->ntasks; i++) {
        exec_task(c, i, NULL, &rep->tasks[i]);
        if (rep->tasks[i].status != TDP_OK)
            break; /* as an exception would stop a Python loop */
    }
    return TDP_OK;
}

/* ---- threads and gil-threads: one pthread per task ---- */

typedef struct {
    const exec_ctx_t *c;
    size_t i;
    kern_record_t *rec;
    gil_t *gil;
    pthread_t th;
} thread_arg_t;

static void *thread_main(void *arg) {
    thread_arg_t *t = arg;
    gil_loop_t loop = {0};
    kern_lock_t lock = {.gil = t->gil, .self = t, .loop = &loop};
    kern_lock_reacquire(&lock); /* a new Python thread takes the lock before its first bytecode */
    exec_task(t->c, t->i, &lock, t->rec);
    kern_lock_release(&lock);
    return NULL;
}

static int run_threads(const exec_ctx_t *c, gil_t *gil, kern_report_t *rep, tdp_err_t *err) {
    size_t n = c->job->ntasks, started = 0;
    int rc = TDP_OK;
    thread_arg_t *args = NULL; /* one per task, its thread included */
    KERN_CALLOC_GOTO(args, n, err, rc, done);
    if ((rc = call_ready(c->job, err)) != TDP_OK)
        goto done;
    for (size_t i = 0; i < n; i++) {
        args[i] = (thread_arg_t){.c = c, .i = i, .rec = &rep->tasks[i], .gil = gil};
        KERN_PT_GOTO(pthread_create(&args[i].th, NULL, thread_main, &args[i]), err, rc, done);
        started++;
    }
done:
    for (size_t i = 0; i < started; i++)
        pthread_join(args[i].th, NULL);
    rep->workers = (int)started;
    free(args);
    return rc;
}

/* ---- thread-pool: futures ---- */

typedef struct {
    const exec_ctx_t *c;
    size_t i;
    kern_record_t *rec;
} pool_item_t;

static int pool_call(void *arg, const kern_lock_t *lock) {
    pool_item_t *it = arg;
    exec_task(it->c, it->i, lock, it->rec);
    return it->rec->status;
}

static int run_thread_pool(const exec_ctx_t *c, int workers, gil_t *gil, kern_report_t *rep,
                           tdp_err_t *err) {
    size_t n = c->job->ntasks, submitted = 0;
    int rc = TDP_OK;
    pool_item_t *items = NULL;
    kern_future_t **fut = NULL;
    kern_pool_t *pool = NULL;
    KERN_CALLOC_GOTO(items, n, err, rc, done);
    KERN_CALLOC_GOTO(fut, n, err, rc, done);
    if ((rc = call_ready(c->job, err)) != TDP_OK)
        goto done;
    if ((rc = kern_pool_create(workers, gil, &pool, err)) != TDP_OK)
        goto done;
    rep->workers = workers;
    for (size_t i = 0; i < n; i++) {
        items[i] = (pool_item_t){.c = c, .i = i, .rec = &rep->tasks[i]};
        if ((rc = kern_pool_submit(pool, pool_call, &items[i], &fut[i], err)) != TDP_OK)
            goto done;
        submitted++;
    }
    rep->submit_seconds = tdp_now() - c->t0;
    for (size_t i = 0; i < n; i++)
        kern_future_wait(fut[i]); /* a failed task's status is in its record */
done:
    kern_pool_shutdown(pool); /* waits for whatever was submitted */
    for (size_t i = 0; i < submitted; i++)
        kern_future_free(fut[i]);
    free(fut);
    free(items);
    return rc;
}

/* ---- processes: fork per task ---- */

static int run_processes(exec_ctx_t *c, kern_report_t *rep, tdp_err_t *err) {
    size_t n = c->job->ntasks, started = 0;
    int rc = TDP_OK;
    pid_t *pids = NULL;
    int *fds = NULL;
    KERN_CALLOC_GOTO(pids, n, err, rc, done);
    KERN_CALLOC_GOTO(fds, n, err, rc, done);
    for (size_t i = 0; i < n; i++) {
        if ((rc = kern_proc_spawn(proc_exec, c, i, &pids[i], &fds[i], err)) != TDP_OK)
            break;
        started++;
    }
    if (started > 0) {
        /* even after a failed fork: the children already started may be waiting for it */
        tdp_err_t e;
        if (call_ready(c->job, &e) != TDP_OK && rc == TDP_OK)
            rc = tdp_fail(err, TDP_ERUNTIME, "%s", e.msg);
    }
done:
    /* every child that was started is read and reaped, whatever failed */
    for (size_t i = 0; i < started; i++) {
        tdp_err_t e;
        if (kern_proc_collect(pids[i], fds[i], &rep->tasks[i], &e) != TDP_OK && rc == TDP_OK)
            rc = tdp_fail(err, TDP_ERUNTIME, "%s", e.msg);
    }
    rep->workers = (int)started;
    free(pids);
    free(fds);
    return rc;
}

/* ---- process-pool ---- */

static int run_process_pool(exec_ctx_t *c, int workers, kern_report_t *rep, tdp_err_t *err) {
    kern_procpool_t *pool = NULL;
    int rc = kern_procpool_create(workers, proc_exec, c, &pool, err);
    if (rc != TDP_OK)
        return rc;
    rep->workers = workers;
    rc = call_ready(c->job, err);
    if (rc == TDP_OK)
        rc = kern_procpool_map(pool, c->job->ntasks, rep->tasks, err);
    tdp_err_t e;
    if (kern_procpool_close(pool, &e) != TDP_OK && rc == TDP_OK)
        rc = tdp_fail(err, TDP_ERUNTIME, "%s", e.msg);
    return rc;
}

/* ---- mpi: round-robin over ranks, reduced to rank 0 ---- */

/* This rank's tasks (rank, rank + world, ...), then the ranks' agreement on failure: the lowest
 * failing rank's message is the one reported. */
static int mpi_tasks(exec_ctx_t *c, const comm_t *comm, kern_record_t *local, double *elapsed,
                     kern_report_t *rep, tdp_err_t *err) {
    const int rank = comm->rank;
    tdp_err_t mine;
    mine.msg[0] = '\0';
    int failed = call_ready(c->job, &mine) != TDP_OK;
    TDP_MPI(MPI_Barrier(comm->comm), rank, err);
    c->t0 = tdp_now();
    for (size_t i = (size_t)rank; i < c->job->ntasks && !failed; i += (size_t)comm->size) {
        exec_task(c, i, NULL, &local[i]);
        if (local[i].status != TDP_OK) {
            failed = 1;
            snprintf(mine.msg, sizeof mine.msg, "%s", local[i].msg);
        }
    }
    *elapsed = tdp_now() - c->t0;
    int who = rank, worst = comm_agree(comm, failed ? TDP_ERUNTIME : TDP_OK, &who, err);
    if (worst == TDP_OK)
        return TDP_OK;
    rep->local_failure = failed || who == rank;
    if (failed)
        return tdp_fail(err, TDP_ERUNTIME, "rank %d: %s", rank, mine.msg);
    if (who == rank)
        return worst; /* the agreement itself failed: err says why */
    return tdp_fail(err, TDP_ERUNTIME, "a task failed on rank %d", who);
}

/* The records of every rank's tasks, reduced to rank 0. */
typedef struct {
    kern_record_t *local;
    int64_t *ints, *ints_sum;
    double *dbl, *dbl_sum;
} mpi_bufs_t;

static void mpi_unpack(const mpi_bufs_t *b, size_t n, kern_report_t *rep) {
    for (size_t i = 0; i < n; i++) {
        kern_record_t *r = &rep->tasks[i];
        memset(r, 0, sizeof *r);
        r->index = i;
        r->result = b->ints_sum[4 * i + 0];
        r->pid = b->ints_sum[4 * i + 1];
        r->tid = (uint64_t)b->ints_sum[4 * i + 2];
        r->rank = (int32_t)b->ints_sum[4 * i + 3];
        r->start = b->dbl_sum[2 * i + 0];
        r->seconds = b->dbl_sum[2 * i + 1];
    }
}

/* Each task was run by exactly one rank and is zero elsewhere: a sum gathers it on rank 0. */
static int mpi_reduce(const comm_t *comm, const mpi_bufs_t *b, size_t n, double elapsed,
                      kern_report_t *rep, tdp_err_t *err) {
    const int rank = comm->rank;
    for (size_t i = (size_t)rank; i < n; i += (size_t)comm->size) {
        b->ints[4 * i + 0] = b->local[i].result;
        b->ints[4 * i + 1] = b->local[i].pid;
        b->ints[4 * i + 2] = (int64_t)b->local[i].tid;
        b->ints[4 * i + 3] = b->local[i].rank;
        b->dbl[2 * i + 0] = b->local[i].start;
        b->dbl[2 * i + 1] = b->local[i].seconds;
    }
    double slowest = 0;
    TDP_MPI(MPI_Reduce(b->ints, b->ints_sum, (int)(4 * n), MPI_INT64_T, MPI_SUM, 0, comm->comm),
            rank, err);
    TDP_MPI(MPI_Reduce(b->dbl, b->dbl_sum, (int)(2 * n), MPI_DOUBLE, MPI_SUM, 0, comm->comm), rank,
            err);
    TDP_MPI(MPI_Reduce(&elapsed, &slowest, 1, MPI_DOUBLE, MPI_MAX, 0, comm->comm), rank, err);
    if (rank == 0) {
        mpi_unpack(b, n, rep);
        rep->seconds = slowest;
    } else {
        memcpy(rep->tasks, b->local, n * sizeof *b->local);
        rep->seconds = elapsed;
    }
    return TDP_OK;
}

static int run_mpi(exec_ctx_t *c, const comm_t *comm, kern_report_t *rep, tdp_err_t *err) {
    int rc = TDP_OK;
    size_t n = c->job->ntasks;
    mpi_bufs_t b = {0};
    rep->rank = comm->rank;
    rep->world = comm->size;
    rep->workers = comm->size;
    c->rank = comm->rank;
    KERN_CALLOC_GOTO(b.local, n, err, rc, done);
    KERN_CALLOC_GOTO(b.ints, 4 * n, err, rc, done);
    KERN_CALLOC_GOTO(b.ints_sum, 4 * n, err, rc, done);
    KERN_CALLOC_GOTO(b.dbl, 2 * n, err, rc, done);
    KERN_CALLOC_GOTO(b.dbl_sum, 2 * n, err, rc, done);
    double elapsed = 0;
    rc = mpi_tasks(c, comm, b.local, &elapsed, rep, err);
    if (rc == TDP_OK)
        rc = mpi_reduce(comm, &b, n, elapsed, rep, err);
done:
    free(b.local);
    free(b.ints);
    free(b.ints_sum);
    free(b.dbl);
    free(b.dbl_sum);
    return rc;
}

int kern_run(const kern_run_opts_t *o, const kern_job_t *job, kern_report_t *rep, tdp_err_t *err) {
    memset(rep->tasks, 0, job->ntasks * sizeof *rep->tasks);
    rep->seconds = rep->submit_seconds = rep->gil_wait_seconds = rep->gil_held_seconds = 0;
    rep->gil_forced_switches = 0;
    rep->workers = 0;
    rep->rank = 0;
    rep->world = 1;
    rep->local_failure = 1;

    gil_t gil;
    int use_gil = o->mode == KERN_GIL_THREADS || (o->mode == KERN_THREAD_POOL && o->gil_pool);
    if (use_gil) {
        int rc = gil_init(&gil, o->switch_interval, err);
        if (rc != TDP_OK)
            return rc;
        gil_set_calibration(&gil, o->gilcal);
    }
    exec_ctx_t c = {.job = job, .t0 = tdp_now(), .rank = 0};
    int rc = TDP_OK;
    switch (o->mode) {
    case KERN_SERIAL:
        rc = run_serial(&c, rep, err);
        break;
    case KERN_THREADS:
        rc = run_threads(&c, NULL, rep, err);
        break;
    case KERN_GIL_THREADS:
        rc = run_threads(&c, &gil, rep, err);
        break;
    case KERN_THREAD_POOL:
        rc = run_thread_pool(&c, o->workers, use_gil ? &gil : NULL, rep, err);
        break;
    case KERN_PROCESSES:
        rc = run_processes(&c, rep, err);
        break;
    case KERN_PROCESS_POOL:
        rc = run_process_pool(&c, o->workers, rep, err);
        break;
    case KERN_MPI:
        return run_mpi(&c, o->comm, rep, err); /* its own clock and agreement on failure */
    default:
        rc = tdp_fail(err, TDP_EINPUT, "unknown mode %d", (int)o->mode);
    }
    rep->seconds = tdp_now() - c.t0;
    if (use_gil) {
        rep->gil_wait_seconds = gil_wait_seconds(&gil);
        rep->gil_forced_switches = gil_forced_switches(&gil);
        rep->gil_held_seconds = gil_held_seconds(&gil);
        gil_destroy(&gil);
    }
    if (rc != TDP_OK)
        return rc;
    for (size_t i = 0; i < job->ntasks; i++)
        if (rep->tasks[i].status != TDP_OK)
            return tdp_fail(err, TDP_ERUNTIME, "%s", rep->tasks[i].msg);
    return TDP_OK;
}
