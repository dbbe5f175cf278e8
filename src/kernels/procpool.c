/* procpool.c: a pool of forked worker processes fed through pipes (see procpool.h). */
#include "procpool.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

typedef struct {
    pid_t pid;
    int task_w;   /* parent writes task indexes here */
    int result_r; /* parent reads records here */
    int busy;     /* a task is out */
} worker_t;

struct kern_procpool {
    int n;
    worker_t *w;
};

/* The worker process: tasks until end of file, one record per task. Never returns. */
static void worker_loop(int task_r, int result_w, kern_record_fn fn, void *ctx) {
    for (;;) {
        uint64_t index;
        ssize_t got = kern_read_full(task_r, &index, sizeof index);
        if (got == 0)
            break; /* the pool is closing */
        if (got != (ssize_t)sizeof index) {
            fprintf(stderr, "%s:%d: worker %ld: reading a task: %s\n", __FILE__, __LINE__,
                    (long)getpid(), got < 0 ? strerror(errno) : "short read");
            fflush(stderr);
            _exit(1);
        }
        kern_record_t rec;
        memset(&rec, 0, sizeof rec);
        fn(ctx, index, &rec);
        fflush(stdout);
        if (kern_write_full(result_w, &rec, sizeof rec) != 0) {
            fprintf(stderr, "%s:%d: worker %ld: sending a result: %s\n", __FILE__, __LINE__,
                    (long)getpid(), strerror(errno));
            fflush(stderr);
            _exit(1);
        }
    }
    fflush(stdout);
    fflush(stderr);
    _exit(0);
}

static int close_workers(kern_procpool_t *p, tdp_err_t *err) {
    int rc = TDP_OK;
    for (int i = 0; i < p->n; i++)
        if (p->w[i].task_w >= 0) {
            close(p->w[i].task_w);
            p->w[i].task_w = -1;
        }
    for (int i = 0; i < p->n; i++) {
        if (p->w[i].result_r >= 0) {
            close(p->w[i].result_r);
            p->w[i].result_r = -1;
        }
        if (p->w[i].pid > 0) {
            tdp_err_t e;
            if (kern_proc_reap(p->w[i].pid, &e) != TDP_OK && rc == TDP_OK)
                rc = tdp_fail(err, TDP_ERUNTIME, "%s", e.msg);
            p->w[i].pid = 0;
        }
    }
    return rc;
}

int kern_procpool_create(int workers, kern_record_fn fn, void *ctx, kern_procpool_t **out,
                         tdp_err_t *err) {
    int rc = TDP_OK;
    kern_procpool_t *p = NULL;
    TDP_MALLOC(p, sizeof *p, err);
    p->n = 0;
    KERN_CALLOC_GOTO(p->w, workers, err, rc, fail);
    for (int i = 0; i < workers; i++) {
        int task[2], result[2];
        KERN_SYS_GOTO(pipe(task), err, rc, fail);
        if (pipe(result) == -1) {
            rc = tdp_fail_sys(err, __FILE__, __LINE__, errno, "pipe(result)");
            close(task[0]);
            close(task[1]);
            goto fail;
        }
        pid_t pid;
        if ((rc = kern_proc_fork(&pid, err)) != TDP_OK) {
            close(task[0]);
            close(task[1]);
            close(result[0]);
            close(result[1]);
            goto fail;
        }
        if (pid == 0) {
            /* the parent's ends of the earlier workers' pipes: a copy left open here would keep
             * those workers from ever reading end of file */
            for (int j = 0; j < i; j++) {
                close(p->w[j].task_w);
                close(p->w[j].result_r);
            }
            close(task[1]);
            close(result[0]);
            worker_loop(task[0], result[1], fn, ctx);
        }
        close(task[0]);
        close(result[1]);
        p->w[i] = (worker_t){.pid = pid, .task_w = task[1], .result_r = result[0], .busy = 0};
        p->n = i + 1;
    }
    *out = p;
    return TDP_OK;
fail:
    if (p != NULL) {
        if (p->w != NULL) {
            close_workers(p, NULL);
            free(p->w);
        }
        free(p);
    }
    return rc;
}

static int send_task(worker_t *w, uint64_t index, tdp_err_t *err) {
    if (kern_write_full(w->task_w, &index, sizeof index) != 0)
        return tdp_fail_sys(err, __FILE__, __LINE__, errno, "sending task %llu to process %ld",
                            (unsigned long long)index, (long)w->pid);
    w->busy = 1;
    return TDP_OK;
}

int kern_procpool_map(kern_procpool_t *p, size_t n, kern_record_t *recs, tdp_err_t *err) {
    int rc = TDP_OK;
    struct pollfd *pfd = NULL;
    int *who = NULL;
    KERN_CALLOC_GOTO(pfd, p->n, err, rc, done);
    KERN_CALLOC_GOTO(who, p->n, err, rc, done);
    size_t next = 0, finished = 0;
    for (int i = 0; i < p->n && next < n; i++)
        if ((rc = send_task(&p->w[i], next++, err)) != TDP_OK)
            goto done;
    while (finished < n) {
        int m = 0;
        for (int i = 0; i < p->n; i++)
            if (p->w[i].busy) {
                pfd[m] = (struct pollfd){.fd = p->w[i].result_r, .events = POLLIN};
                who[m++] = i;
            }
        int r = poll(pfd, (nfds_t)m, -1);
        if (r == -1 && errno == EINTR)
            continue;
        KERN_SYS_GOTO(r, err, rc, done);
        for (int k = 0; k < m; k++) {
            if (pfd[k].revents == 0)
                continue;
            worker_t *w = &p->w[who[k]];
            kern_record_t rec;
            ssize_t got = kern_read_full(w->result_r, &rec, sizeof rec);
            if (got != (ssize_t)sizeof rec) {
                rc = tdp_fail_sys(err, __FILE__, __LINE__, got < 0 ? errno : 0,
                                  "worker process %ld stopped before sending a result",
                                  (long)w->pid);
                goto done;
            }
            if (rec.index >= n) {
                rc = tdp_fail_sys(err, __FILE__, __LINE__, 0,
                                  "worker process %ld sent a result for task %llu of %zu",
                                  (long)w->pid, (unsigned long long)rec.index, n);
                goto done;
            }
            recs[rec.index] = rec;
            finished++;
            w->busy = 0;
            if (next < n && (rc = send_task(w, next++, err)) != TDP_OK)
                goto done;
        }
    }
done:
    free(pfd);
    free(who);
    return rc;
}

int kern_procpool_close(kern_procpool_t *p, tdp_err_t *err) {
    int rc = close_workers(p, err);
    free(p->w);
    free(p);
    return rc;
}
