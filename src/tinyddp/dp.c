/* dp.c: the thread team and the DataParallel gradient engine. */
#include "dp.h"

#include "layers.h"

#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double arena_bytes(size_t floats) {
    return (double)tdp_floats_bytes(floats);
}

double dp_workspace_bytes(const model_t *m, int batch) {
    /* net_ws_alloc: x, each layer's activations, two gradient buffers of the widest layer, the
     * labels */
    double b = (double)batch;
    double bytes = arena_bytes((size_t)batch * (size_t)m->cfg.input);
    for (int l = 0; l < m->nlayers; l++)
        bytes += arena_bytes((size_t)batch * (size_t)m->layer[l].out);
    bytes += 2.0 * arena_bytes((size_t)batch * (size_t)m->max_width);
    return bytes + b * sizeof(int);
}

double dp_thread_bytes(const model_t *m, int batch) {
    /* Measured (memcheck.c): what a worker thread adds besides its workspace and replicas is its
     * stack and what OpenBLAS 0.3.21 touches for it (its packing buffers grow with the rows of
     * the batch): 0.2 MB per thread at batch 8, 0.7 MB at 64 and 1.2 MB at 512 with the wide
     * model. Counted as 768 KB + one batch x widest-layer block. */
    return 768.0 * 1024 + 4.0 * (double)batch * (double)m->max_width;
}

double team_memory_bytes(const model_t *m, int n, int batch, double grads_each) {
    /* a worker's record and its gradient pointer */
    return (double)n * ((double)sizeof(dp_worker_t) + sizeof(float *) +
                        dp_workspace_bytes(m, batch) + dp_thread_bytes(m, batch) + grads_each);
}

double dp_memory_bytes(const model_t *m, int workers, int batch) {
    /* dp_grads: a replica of the weights and one of the gradient (with TRAIN_EXTRA) per worker */
    double replicas = arena_bytes(m->nparams) + arena_bytes(m->nparams + TRAIN_EXTRA);
    return team_memory_bytes(m, workers, batch, 0.0) + (double)workers * replicas;
}

/* The interpreter's dispatch of one layer: take the lock, let a waiting thread have it if it
 * asked, run the calibrated interpreter work under it (the module's forward call for the first
 * nlayers calls of a step, then its autograd node, the first with the loss's), release it for the
 * kernels, then the interpreter work that runs without it. */
static void interp_dispatch(gil_t *g, const void *self, int *calls, int nlayers) {
    const gilcal_t *c = g->cal;
    gil_acquire(g, self);
    gil_check(g, self);
    if (c != NULL) {
        int call = (*calls)++;
        double us = call < nlayers ? c->forward_held_us
                                   : c->backward_held_us + (call == nlayers ? c->loss_held_us : 0);
        gil_hold(g, self, us);
    }
    gil_release(g, self);
    if (c != NULL)
        gilcal_spin(c->free_per_layer_us / 2);
}

static void worker_dispatch(void *ctx) {
    dp_worker_t *w = ctx;
    interp_dispatch(w->team->gil, w, &w->calls, w->team->t->cfg.model->nlayers);
}

/* The master's Python-side work under the lock: `tensors` parameter tensors at `us` each, and
 * `mb` MB of parameters at `us_per_mb` (PyTorch's kernels beyond tinyddp's own). */
static void master_hold(gil_t *g, const void *self, double us, int tensors, double us_per_mb,
                        double mb) {
    if (g != NULL && g->cal != NULL)
        gil_hold(g, self, us * tensors + us_per_mb * mb);
}

static void worker_body(dp_worker_t *w) {
    dp_team_t *tm = w->team;
    trainer_t *t = tm->t;
    if (tm->self_load)
        trainer_load_shard(t, &w->ws, tm->b, tm->k, tm->first + w->index);
    net_grad_opts_t o = {
        .accumulate = tm->accumulate,
        .dispatch = tm->gil ? worker_dispatch : NULL,
        .dispatch_ctx = w,
        .trace = t->trace,
        .tid = 2 + w->index,
    };
    w->loss = 0.0;
    w->correct = 0;
    w->calls = 0;
    net_grad(t->cfg.model, w->params, tm->grads[w->index], &w->ws, t->cfg.batch, tm->scale,
             &w->loss, &w->correct, &o);
}

/* A thread made for this step. With a calibrated lock it first runs its bootstrap under the lock
 * (threading.Thread's, half of thread_start_us) and tells the master it has started. */
static void *thread_per_step(void *arg) {
    dp_worker_t *w = arg;
    dp_team_t *tm = w->team;
    if (tm->gil != NULL && tm->gil->cal != NULL) {
        gil_acquire(tm->gil, w);
        gil_hold(tm->gil, w, tm->gil->cal->thread_start_us / 2);
        pthread_mutex_lock(&tm->mu);
        tm->started++;
        pthread_cond_signal(&tm->started_cv);
        pthread_mutex_unlock(&tm->mu);
        gil_release(tm->gil, w);
    }
    worker_body(w);
    return NULL;
}

/* Start worker i for this step. With a calibrated lock, as threading.Thread.start() does: the
 * master holds the lock for its half of thread_start_us, creates the thread, releases the lock
 * and waits until the thread has run its bootstrap. The next start needs the lock again, which
 * the workers already running take for their own dispatch: the later workers start late. */
static int start_worker(dp_team_t *tm, int i) {
    gil_t *g = tm->gil != NULL && tm->gil->cal != NULL ? tm->gil : NULL;
    if (g != NULL) {
        gil_acquire(g, tm);
        gil_hold(g, tm, g->cal->thread_start_us / 2);
    }
    int rc = pthread_create(&tm->w[i].th, NULL, thread_per_step, &tm->w[i]);
    if (g != NULL) {
        gil_release(g, tm);
        pthread_mutex_lock(&tm->mu);
        while (rc == 0 && tm->started <= i)
            pthread_cond_wait(&tm->started_cv, &tm->mu);
        pthread_mutex_unlock(&tm->mu);
    }
    return rc;
}

static void *pool_thread(void *arg) {
    dp_worker_t *w = arg;
    dp_team_t *tm = w->team;
    unsigned long seen = 0;
    for (;;) {
        pthread_mutex_lock(&tm->mu);
        while (tm->generation == seen && !tm->stop)
            pthread_cond_wait(&tm->go, &tm->mu);
        seen = tm->generation;
        int stop = tm->stop;
        pthread_mutex_unlock(&tm->mu);
        if (stop)
            return NULL;
        worker_body(w);
        pthread_mutex_lock(&tm->mu);
        if (--tm->remaining == 0)
            pthread_cond_signal(&tm->done);
        pthread_mutex_unlock(&tm->mu);
    }
}

/* Worker i's workspace, and its gradient buffer when the team owns them. */
static int worker_init(dp_team_t *tm, const model_t *m, int i, int batch, tdp_err_t *err) {
    tm->w[i].index = i;
    tm->w[i].team = tm;
    int rc = net_ws_alloc(m, batch, &tm->w[i].ws, err);
    if (rc != TDP_OK || tm->grad_floats == 0)
        return rc;
    tm->grads[i] = tdp_floats_new(tm->grad_floats);
    if (tm->grads[i] == NULL)
        return tdp_fail_sys(err, __FILE__, __LINE__, 0, "out of memory (%zu bytes)",
                            tdp_floats_bytes(tm->grad_floats));
    return TDP_OK;
}

int team_init(dp_team_t *tm, const model_t *m, int n, int batch, int pool, int self_load,
              gil_t *gil, size_t grad_floats, tdp_err_t *err) {
    memset(tm, 0, sizeof *tm);
    tm->n = n;
    tm->pool = pool;
    tm->self_load = self_load;
    tm->gil = gil;
    tm->grad_floats = grad_floats;
    tm->w = calloc((size_t)n, sizeof *tm->w);
    tm->grads = calloc((size_t)n, sizeof *tm->grads);
    if (tm->w == NULL || tm->grads == NULL) {
        team_free(tm);
        return tdp_fail_sys(err, __FILE__, __LINE__, 0, "out of memory for %d workers", n);
    }
    for (int i = 0; i < n; i++) {
        int rc = worker_init(tm, m, i, batch, err);
        if (rc != TDP_OK) {
            team_free(tm);
            return rc;
        }
    }
    TDP_PTHREAD(pthread_mutex_init(&tm->mu, NULL), err);
    TDP_PTHREAD(pthread_cond_init(&tm->go, NULL), err);
    TDP_PTHREAD(pthread_cond_init(&tm->done, NULL), err);
    TDP_PTHREAD(pthread_cond_init(&tm->started_cv, NULL), err);
    return TDP_OK;
}

void team_free(dp_team_t *tm) {
    if (tm->w == NULL || tm->grads == NULL) {
        free(tm->w);
        free(tm->grads);
        tm->w = NULL;
        tm->grads = NULL;
        return;
    }
    if (tm->threads_up > 0) {
        pthread_mutex_lock(&tm->mu);
        tm->stop = 1;
        pthread_cond_broadcast(&tm->go);
        pthread_mutex_unlock(&tm->mu);
        for (int i = 0; i < tm->threads_up; i++)
            pthread_join(tm->w[i].th, NULL);
        tm->threads_up = 0;
    }
    for (int i = 0; i < tm->n; i++) {
        net_ws_free(&tm->w[i].ws);
        if (tm->grad_floats > 0)
            free(tm->grads[i]);
    }
    free(tm->w);
    free(tm->grads);
    tm->w = NULL;
    tm->grads = NULL;
    pthread_cond_destroy(&tm->go);
    pthread_cond_destroy(&tm->done);
    pthread_cond_destroy(&tm->started_cv);
    pthread_mutex_destroy(&tm->mu);
}

void team_sum_grads(const dp_team_t *tm, float *dst, size_t n, int accumulate) {
    sum_in_order(dst, (const float *const *)tm->grads, tm->n, n, accumulate);
}

int team_run(dp_team_t *tm, trainer_t *t, size_t b, int k, int first, float scale, int accumulate,
             tdp_err_t *err) {
    tm->t = t;
    tm->b = b;
    tm->k = k;
    tm->first = first;
    tm->scale = scale;
    tm->accumulate = accumulate;
    if (!tm->pool) {
        /* threads created for this step, as torch's parallel_apply does */
        int started = 0, rc = 0;
        tm->started = 0;
        for (; started < tm->n; started++) {
            rc = start_worker(tm, started);
            if (rc != 0)
                break;
        }
        if (tm->gil != NULL && tm->gil->cal != NULL) { /* back in Python to call join() */
            gil_acquire(tm->gil, tm);
            gil_release(tm->gil, tm);
        }
        for (int i = 0; i < started; i++)
            pthread_join(tm->w[i].th, NULL);
        if (rc != 0)
            return tdp_fail_sys(err, __FILE__, __LINE__, rc, "pthread_create (worker %d)", started);
        return TDP_OK;
    }
    while (tm->threads_up < tm->n) {
        int rc =
            pthread_create(&tm->w[tm->threads_up].th, NULL, pool_thread, &tm->w[tm->threads_up]);
        if (rc != 0)
            return tdp_fail_sys(err, __FILE__, __LINE__, rc, "pthread_create (pool worker %d)",
                                tm->threads_up);
        tm->threads_up++;
    }
    pthread_mutex_lock(&tm->mu);
    tm->remaining = tm->n;
    tm->generation++;
    pthread_cond_broadcast(&tm->go);
    while (tm->remaining > 0)
        pthread_cond_wait(&tm->done, &tm->mu);
    pthread_mutex_unlock(&tm->mu);
    return TDP_OK;
}

int dp_init(dp_t *d, const model_t *m, int workers, int batch, int pool, int use_gil,
            double switch_interval, int cache, tdp_err_t *err) {
    memset(d, 0, sizeof *d);
    /* an allocator that ignores mallopt (a sanitizer's) leaves cache_ok 0: the run goes on */
    d->cache_ok = cache && mallopt(M_MMAP_THRESHOLD, 512 << 20) == 1 &&
                  mallopt(M_TRIM_THRESHOLD, INT_MAX) == 1;
    d->n = m->nparams;
    d->cache = cache;
    d->use_gil = use_gil;
    if (use_gil) {
        int rc = gil_init(&d->gil, switch_interval, err);
        if (rc != TDP_OK)
            return rc;
    }
    return team_init(&d->team, m, workers, batch, pool, 0, use_gil ? &d->gil : NULL, 0, err);
}

void dp_set_calibration(dp_t *d, const gilcal_t *cal) {
    if (d->use_gil)
        gil_set_calibration(&d->gil, cal);
}

void dp_free(dp_t *d) {
    team_free(&d->team);
    if (d->use_gil)
        gil_destroy(&d->gil);
}

static void free_replicas(dp_t *d) {
    for (int i = 0; i < d->team.n; i++) {
        free((void *)d->team.w[i].params);
        free(d->team.grads[i]);
        d->team.w[i].params = NULL;
        d->team.grads[i] = NULL;
    }
}

static int dp_grads(void *self, trainer_t *t, size_t b, double *loss_sum, long *correct,
                    tdp_err_t *err) {
    dp_t *d = self;
    dp_team_t *tm = &d->team;
    const int P = tm->n, accum = t->cfg.accum;
    const float scale = 1.0f / ((float)t->cfg.batch * (float)P * (float)accum);
    const size_t n = d->n;
    gil_t *gil = d->use_gil ? &d->gil : NULL;
    const gilcal_t *cal = gil ? gil->cal : NULL;
    const int tensors = 2 * t->cfg.model->nlayers;
    const double mb = (double)n * sizeof(float) / 1e6;
    *loss_sum = 0.0;
    for (int k = 0; k < accum; k++) {
        if (gil)
            gil_acquire(gil, d);
        /* replicate: P replicas of the master weights, made for this forward pass */
        double t0 = tdp_now();
        for (int i = 0; i < P; i++) {
            float *p = tdp_floats_new(n), *g = tdp_floats_new(n + TRAIN_EXTRA);
            tm->w[i].params = p;
            tm->grads[i] = g;
            if (p == NULL || g == NULL) {
                free_replicas(d);
                if (gil)
                    gil_release(gil, d);
                return tdp_fail_sys(err, __FILE__, __LINE__, 0,
                                    "out of memory for replica %d (%zu bytes)", i, n * 4);
            }
            memcpy(p, t->params, n * sizeof *p);
        }
        d->replicated_bytes += (double)n * sizeof(float) * P;
        if (cal)
            master_hold(gil, d,
                        d->cache ? cal->kept_copy_us_per_tensor : cal->replicate_us_per_tensor,
                        tensors * P, d->cache ? cal->kept_copy_us_per_mb : cal->replicate_us_per_mb,
                        mb * P);
        double t1 = tdp_now();
        /* scatter: worker i's slice of the batch */
        for (int i = 0; i < P; i++)
            trainer_load_shard(t, &tm->w[i].ws, b, k, i);
        double t2 = tdp_now();
        if (gil)
            gil_release(gil, d);
        int rc = team_run(tm, t, b, k, 0, scale, 0, err);
        double t3 = tdp_now();
        if (rc != TDP_OK) {
            free_replicas(d);
            return rc;
        }
        if (gil)
            gil_acquire(gil, d);
        /* gather: the replicas' gradients summed on the master in worker order */
        team_sum_grads(tm, t->grads, n, k > 0);
        for (int i = 0; i < P; i++) {
            *loss_sum += tm->w[i].loss;
            *correct += tm->w[i].correct;
        }
        free_replicas(d); /* destroyed after the pass */
        if (cal)
            master_hold(gil, d, cal->gather_us_per_tensor, tensors, cal->gather_us_per_mb, mb);
        double t4 = tdp_now();
        if (gil)
            gil_release(gil, d);
        d->replicate_s += t1 - t0;
        d->scatter_s += t2 - t1;
        d->compute_s += t3 - t2;
        d->gather_s += t4 - t3;
        trace_add(t->trace, "replicate", -1, 0, t0, t1);
        trace_add(t->trace, "scatter", -1, 0, t1, t2);
        trace_add(t->trace, "parallel apply", -1, 0, t2, t3);
        trace_add(t->trace, "gather", -1, 0, t3, t4);
    }
    if (cal) {
        /* the optimizer's Python side (its kernels run in the shared step loop) */
        gil_acquire(gil, d);
        master_hold(gil, d, cal->optim_us_per_tensor, tensors, cal->optim_us_per_mb, mb);
        gil_release(gil, d);
    }
    return TDP_OK;
}

static int serial_gil_grads(void *self, trainer_t *t, size_t b, double *loss_sum, long *correct,
                            tdp_err_t *err) {
    (void)err;
    dp_t *d = self;
    const int accum = t->cfg.accum, nlayers = t->cfg.model->nlayers;
    const float scale = 1.0f / ((float)t->cfg.batch * (float)accum);
    dp_worker_t *w = &d->team.w[0];
    for (int k = 0; k < accum; k++) {
        int n = trainer_load_shard(t, &t->ws, b, k, 0);
        w->calls = 0;
        net_grad_opts_t o = {.accumulate = k > 0,
                             .trace = t->trace,
                             .dispatch = d->use_gil ? worker_dispatch : NULL,
                             .dispatch_ctx = w};
        w->team->t = t;
        net_grad(t->cfg.model, t->params, t->grads, &t->ws, n, scale, loss_sum, correct, &o);
    }
    if (d->use_gil && d->gil.cal) {
        gil_acquire(&d->gil, d);
        master_hold(&d->gil, d, d->gil.cal->optim_us_per_tensor, 2 * nlayers,
                    d->gil.cal->optim_us_per_mb, (double)d->n * sizeof(float) / 1e6);
        gil_release(&d->gil, d);
    }
    return TDP_OK;
}

static void dp_epoch_note(void *self, char *buf, size_t len) {
    dp_t *d = self;
    snprintf(buf, len, "replicated %.1f MB in %.3f s  gil_wait_s %.3f", d->replicated_bytes / 1e6,
             d->replicate_s, d->use_gil ? gil_wait_seconds(&d->gil) : 0.0);
}

const grad_engine_t serial_gil_engine = {
    .name = "serial",
    .grads = serial_gil_grads,
    .allsum = NULL,
    .comm_seconds = NULL,
};

const grad_engine_t dp_engine = {
    .name = "dp",
    .grads = dp_grads,
    .allsum = NULL,
    .comm_seconds = NULL,
    .epoch_note = dp_epoch_note,
};
