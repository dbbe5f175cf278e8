/* pool.c: the thread pool with futures (see pool.h). */
#include "pool.h"

#include <pthread.h>
#include <stdlib.h>

#include "check.h"

struct kern_future {
    kern_pool_fn fn;
    void *arg;
    kern_future_t *next; /* queue link */
    pthread_mutex_t mu;
    pthread_cond_t done_cv;
    int done;
    int status;
};

typedef struct {
    kern_pool_t *pool;
} worker_t;

struct kern_pool {
    pthread_mutex_t mu;
    pthread_cond_t work_cv; /* signalled when a call is queued or the pool stops */
    kern_future_t *head, *tail;
    int stopping;
    int nthreads;
    pthread_t *threads;
    worker_t *workers; /* each worker's address is its identity for the lock */
    gil_t *gil;
};

static void *worker_main(void *arg) {
    worker_t *self = arg;
    kern_pool_t *p = self->pool;
    gil_loop_t loop = {0};
    kern_lock_t lock = {.gil = p->gil, .self = self, .loop = &loop};
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (p->head == NULL && !p->stopping)
            pthread_cond_wait(&p->work_cv, &p->mu);
        kern_future_t *f = p->head;
        if (f != NULL) {
            p->head = f->next;
            if (p->head == NULL)
                p->tail = NULL;
        }
        pthread_mutex_unlock(&p->mu);
        if (f == NULL)
            return NULL; /* stopping and nothing left */
        kern_lock_reacquire(&lock);
        int status = f->fn(f->arg, &lock);
        kern_lock_release(&lock);
        pthread_mutex_lock(&f->mu);
        f->status = status;
        f->done = 1;
        pthread_cond_broadcast(&f->done_cv);
        pthread_mutex_unlock(&f->mu);
    }
}

static void stop_and_join(kern_pool_t *p) {
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_broadcast(&p->work_cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    p->nthreads = 0;
}

int kern_pool_create(int workers, gil_t *gil, kern_pool_t **out, tdp_err_t *err) {
    int rc = TDP_OK;
    kern_pool_t *p = NULL;
    TDP_MALLOC(p, sizeof *p, err);
    *p = (kern_pool_t){.gil = gil};
    int have_mu = 0, have_cv = 0;
    KERN_CALLOC_GOTO(p->threads, workers, err, rc, fail);
    KERN_CALLOC_GOTO(p->workers, workers, err, rc, fail);
    KERN_PT_GOTO(pthread_mutex_init(&p->mu, NULL), err, rc, fail);
    have_mu = 1;
    KERN_PT_GOTO(pthread_cond_init(&p->work_cv, NULL), err, rc, fail);
    have_cv = 1;
    for (int i = 0; i < workers; i++) {
        p->workers[i].pool = p;
        KERN_PT_GOTO(pthread_create(&p->threads[i], NULL, worker_main, &p->workers[i]), err, rc,
                     fail);
        p->nthreads = i + 1;
    }
    *out = p;
    return TDP_OK;
fail:
    if (have_cv) {
        stop_and_join(p);
        pthread_cond_destroy(&p->work_cv);
    }
    if (have_mu)
        pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p->workers);
    free(p);
    return rc;
}

int kern_pool_submit(kern_pool_t *p, kern_pool_fn fn, void *arg, kern_future_t **out,
                     tdp_err_t *err) {
    int rc = TDP_OK;
    kern_future_t *f = NULL;
    TDP_MALLOC(f, sizeof *f, err);
    *f = (kern_future_t){.fn = fn, .arg = arg};
    KERN_PT_GOTO(pthread_mutex_init(&f->mu, NULL), err, rc, fail);
    if ((rc = pthread_cond_init(&f->done_cv, NULL)) != 0) {
        rc = tdp_fail_sys(err, __FILE__, __LINE__, rc, "pthread_cond_init");
        pthread_mutex_destroy(&f->mu);
        goto fail;
    }
    pthread_mutex_lock(&p->mu);
    if (p->stopping) {
        pthread_mutex_unlock(&p->mu);
        pthread_cond_destroy(&f->done_cv);
        pthread_mutex_destroy(&f->mu);
        rc = tdp_fail_sys(err, __FILE__, __LINE__, 0, "submit to a pool that was shut down");
        goto fail;
    }
    if (p->tail != NULL)
        p->tail->next = f;
    else
        p->head = f;
    p->tail = f;
    pthread_cond_signal(&p->work_cv);
    pthread_mutex_unlock(&p->mu);
    *out = f;
    return TDP_OK;
fail:
    free(f);
    return rc;
}

int kern_future_wait(kern_future_t *f) {
    pthread_mutex_lock(&f->mu);
    while (!f->done)
        pthread_cond_wait(&f->done_cv, &f->mu);
    int status = f->status;
    pthread_mutex_unlock(&f->mu);
    return status;
}

void kern_future_free(kern_future_t *f) {
    if (f == NULL)
        return;
    pthread_cond_destroy(&f->done_cv);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

void kern_pool_shutdown(kern_pool_t *p) {
    if (p == NULL)
        return;
    stop_and_join(p);
    pthread_cond_destroy(&p->work_cv);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p->workers);
    free(p);
}
