/* ddp.c: the MPI gradient engine: one broadcast at start, bucketed allreduce overlapped with
 * backward every step. */
#include "ddp.h"

#include "runconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int ddp_mpi_fail(tdp_err_t *err, const char *file, int line, int rank, const char *call, int rc) {
    char msg[MPI_MAX_ERROR_STRING] = "unknown MPI error";
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    return tdp_fail(err, TDP_ERUNTIME, "rank %d: %s:%d: %.120s failed: %s", rank, file, line, call,
                    msg);
}

int ddp_init(ddp_t *d, MPI_Comm comm, tdp_err_t *err) {
    memset(d, 0, sizeof *d);
    d->comm = comm;
    TDP_MPI(MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN), -1, err);
    TDP_MPI(MPI_Comm_rank(comm, &d->rank), -1, err);
    TDP_MPI(MPI_Comm_size(comm, &d->size), d->rank, err);
    /* hosts: distinct processor names */
    char name[MPI_MAX_PROCESSOR_NAME] = {0};
    int len = 0;
    TDP_MPI(MPI_Get_processor_name(name, &len), d->rank, err);
    char *all = calloc((size_t)d->size, MPI_MAX_PROCESSOR_NAME);
    if (all == NULL)
        return tdp_fail_sys(err, __FILE__, __LINE__, 0, "out of memory");
    int rc = MPI_Allgather(name, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, all, MPI_MAX_PROCESSOR_NAME,
                           MPI_CHAR, comm);
    if (rc != MPI_SUCCESS) {
        free(all);
        return ddp_mpi_fail(err, __FILE__, __LINE__, d->rank, "MPI_Allgather(names)", rc);
    }
    d->hosts = 0;
    for (int i = 0; i < d->size; i++) {
        int seen = 0;
        for (int j = 0; j < i && !seen; j++)
            seen = strncmp(all + (size_t)i * MPI_MAX_PROCESSOR_NAME,
                           all + (size_t)j * MPI_MAX_PROCESSOR_NAME, MPI_MAX_PROCESSOR_NAME) == 0;
        d->hosts += !seen;
    }
    free(all);
    return TDP_OK;
}

int ddp_setup(ddp_t *d, const model_t *m, size_t bucket_kb, int overlap, int deterministic,
              int threads, int batch, tdp_err_t *err) {
    size_t n = m->nparams;
    d->n = n;
    d->threads = threads;
    d->overlap = overlap && !deterministic && threads == 1 && d->size > 1;
    if (threads > 1) {
        int rc = team_init(&d->team, m, threads, batch, 1, 1, NULL, err);
        if (rc != TDP_OK)
            return rc;
        for (int i = 0; i < threads; i++) {
            d->team.w[i].grads = tdp_floats_new(n + TRAIN_EXTRA);
            if (d->team.w[i].grads == NULL)
                return tdp_fail_sys(err, __FILE__, __LINE__, 0, "out of memory (%zu bytes)",
                                    tdp_floats_bytes(n + TRAIN_EXTRA));
        }
    }
    d->deterministic = deterministic;
    size_t total = n + TRAIN_EXTRA; /* the loss and stop slots travel with the gradient */
    d->bucket_floats = bucket_kb ? bucket_kb * 1024 / sizeof(float) : total;
    if (d->bucket_floats == 0)
        d->bucket_floats = 1;
    d->nbuckets = (int)((total + d->bucket_floats - 1) / d->bucket_floats);
    d->b_off = calloc((size_t)d->nbuckets, sizeof *d->b_off);
    d->b_len = calloc((size_t)d->nbuckets, sizeof *d->b_len);
    d->req = calloc((size_t)d->nbuckets, sizeof *d->req);
    d->b_start = calloc((size_t)d->nbuckets, sizeof *d->b_start);
    if (!d->b_off || !d->b_len || !d->req || !d->b_start)
        return tdp_fail_sys(err, __FILE__, __LINE__, 0, "out of memory for %d buckets",
                            d->nbuckets);
    /* bucket 0 is the tail of the arena: backward finishes the last layer first */
    size_t end = total;
    for (int i = 0; i < d->nbuckets; i++) {
        size_t len = end > d->bucket_floats ? d->bucket_floats : end;
        d->b_off[i] = end - len;
        d->b_len[i] = len;
        d->req[i] = MPI_REQUEST_NULL;
        end -= len;
    }
    if (deterministic) {
        size_t bytes;
        if (tdp_mul_size(total * sizeof(float), (size_t)d->size, &bytes) != 0)
            return tdp_fail(err, TDP_EINPUT, "gather buffer size overflows");
        TDP_MALLOC(d->gather, bytes, err);
    }
    return TDP_OK;
}

void ddp_free(ddp_t *d) {
    free(d->arrived);
    free(d->arr_req);
    d->arrived = NULL;
    d->arr_req = NULL;
    if (d->threads > 1 && d->team.w != NULL) {
        for (int i = 0; i < d->threads; i++)
            free(d->team.w[i].grads);
        team_free(&d->team);
    }
    free(d->b_off);
    free(d->b_len);
    free(d->req);
    free(d->b_start);
    free(d->gather);
    d->b_off = d->b_len = NULL;
    d->req = NULL;
    d->b_start = NULL;
    d->gather = NULL;
}

int ddp_agree_status(ddp_t *d, int rc, int *who) {
    struct {
        int rc, rank;
    } in = {rc, d->rank}, out = {rc, d->rank};
    if (MPI_Allreduce(&in, &out, 1, MPI_2INT, MPI_MAXLOC, d->comm) != MPI_SUCCESS) {
        *who = d->rank;
        return rc ? rc : TDP_ERUNTIME;
    }
    *who = out.rank;
    return out.rc;
}

/* The longest configuration text the ranks exchange (it is about 1 KB). */
#define DDP_CONFIG_MAX 65536

int ddp_agree_config(ddp_t *d, int rc, const char *text, size_t len, int *who, tdp_err_t *err) {
    int worst = ddp_agree_status(d, rc, who);
    if (worst != TDP_OK)
        return worst;
    /* a static buffer: no allocation that could fail on one rank between two collectives */
    static char theirs[DDP_CONFIG_MAX];
    uint64_t n = len < DDP_CONFIG_MAX ? len : 0; /* 0: rank 0's text is unusable */
    int mrc = MPI_Bcast(&n, 1, MPI_UINT64_T, 0, d->comm);
    if (mrc == MPI_SUCCESS && n > 0) {
        if (d->rank == 0)
            memcpy(theirs, text, (size_t)n);
        mrc = MPI_Bcast(theirs, (int)n, MPI_CHAR, 0, d->comm);
    }
    rc = TDP_OK;
    char key[64], v0[160], mine[160];
    if (mrc != MPI_SUCCESS)
        rc = ddp_mpi_fail(err, __FILE__, __LINE__, d->rank, "MPI_Bcast(configuration)", mrc);
    else if (n == 0 || len >= DDP_CONFIG_MAX)
        rc = tdp_fail(err, TDP_ERUNTIME, "rank %d: the configuration text is too long to compare",
                      d->rank);
    else if (runconfig_diff(theirs, (size_t)n, text, len, key, sizeof key, v0, sizeof v0, mine,
                            sizeof mine))
        rc = tdp_fail(err, TDP_EINPUT,
                      "ranks disagree on %s: rank 0 has %s, rank %d has %s: start every rank with "
                      "the same options, model and data",
                      key, v0, d->rank, mine);
    worst = ddp_agree_status(d, rc, who);
    if (worst == TDP_EINPUT) {
        /* every rank says why it stops (each may have a log of its own): the lowest rank that
         * found a difference tells the others */
        err->code = TDP_EINPUT;
        if (MPI_Bcast(err->msg, TDP_ERRLEN, MPI_CHAR, *who, d->comm) == MPI_SUCCESS) {
            err->msg[TDP_ERRLEN - 1] = '\0';
            *who = d->rank;
        }
    }
    return worst;
}

int ddp_agree_range(ddp_t *d, int v, int *lo, int *hi) {
    int in[2] = {v, -v}, out[2];
    if (MPI_Allreduce(in, out, 2, MPI_INT, MPI_MAX, d->comm) != MPI_SUCCESS)
        return TDP_ERUNTIME;
    *hi = out[0];
    *lo = -out[1];
    return TDP_OK;
}

int ddp_broadcast(ddp_t *d, float *params, size_t n, tdp_err_t *err) {
    /* in pieces below INT_MAX elements */
    for (size_t off = 0; off < n; off += (size_t)1 << 30) {
        size_t len = n - off < ((size_t)1 << 30) ? n - off : (size_t)1 << 30;
        TDP_MPI(MPI_Bcast(params + off, (int)len, MPI_FLOAT, 0, d->comm), d->rank, err);
    }
    return TDP_OK;
}

int ddp_set_watchdog(ddp_t *d, double comm_timeout, long check_sync, tdp_err_t *err) {
    d->comm_timeout = comm_timeout;
    d->check_sync = check_sync;
    const char *r = getenv("TDP_TEST_STALL_RANK"), *s = getenv("TDP_TEST_STALL_STEP"),
               *x = getenv("TDP_TEST_STALL_SECONDS");
    d->stall_rank = r ? atoi(r) : -1;
    d->stall_step = s ? atol(s) : 1;
    d->stall_seconds = x ? atof(x) : 3600.0;
    if (comm_timeout > 0) {
        d->arrived = calloc((size_t)d->size, sizeof *d->arrived);
        d->arr_req = calloc(2 * (size_t)d->size, sizeof *d->arr_req);
        if (d->arrived == NULL || d->arr_req == NULL)
            return tdp_fail_sys(err, __FILE__, __LINE__, 0, "out of memory");
        for (int i = 0; i < 2 * d->size; i++)
            d->arr_req[i] = MPI_REQUEST_NULL;
    }
    return TDP_OK;
}

#define ARRIVAL_TAG 7301

/* Before a step's communication: tell every other rank we arrived at this step, and listen for
 * theirs (only with the watchdog). */
static int post_arrivals(ddp_t *d, tdp_err_t *err) {
    if (d->comm_timeout <= 0 || d->size == 1)
        return TDP_OK;
    d->step_no++;
    for (int p = 0; p < d->size; p++) {
        if (p == d->rank)
            continue;
        TDP_MPI(MPI_Irecv(&d->arrived[p], 1, MPI_LONG, p, ARRIVAL_TAG, d->comm, &d->arr_req[p]),
                d->rank, err);
        TDP_MPI(
            MPI_Isend(&d->step_no, 1, MPI_LONG, p, ARRIVAL_TAG, d->comm, &d->arr_req[d->size + p]),
            d->rank, err);
    }
    return TDP_OK;
}

/* Wait for n requests; with the watchdog, give up after comm_timeout seconds naming the ranks
 * that have not arrived at this step. */
static int wait_all(ddp_t *d, int n, MPI_Request *req, const char *what, tdp_err_t *err) {
    if (d->comm_timeout <= 0) {
        TDP_MPI(MPI_Waitall(n, req, MPI_STATUSES_IGNORE), d->rank, err);
        return TDP_OK;
    }
    double deadline = tdp_now() + d->comm_timeout;
    int flag = 0;
    for (;;) {
        TDP_MPI(MPI_Testall(n, req, &flag, MPI_STATUSES_IGNORE), d->rank, err);
        if (flag)
            break;
        if (tdp_now() > deadline) {
            char missing[256] = "";
            size_t len = 0;
            for (int p = 0; p < d->size && d->size > 1; p++) {
                int got = 1;
                if (p != d->rank && d->arr_req[p] != MPI_REQUEST_NULL)
                    MPI_Test(&d->arr_req[p], &got, MPI_STATUS_IGNORE);
                if (!got && len + 16 < sizeof missing)
                    len += (size_t)snprintf(missing + len, sizeof missing - len, "%s%d",
                                            len ? ", " : "", p);
            }
            return tdp_fail(err, TDP_ERUNTIME,
                            "%s at step %ld did not complete within --comm-timeout %g s: %s%s",
                            what, d->t ? d->t->steps + 1 : 0, d->comm_timeout,
                            len ? "rank(s) that did not arrive: " : "all ranks arrived; ",
                            len ? missing : "the transfer itself is stuck");
        }
    }
    /* every rank took part, so their arrival notes are here or on their way */
    if (d->comm_timeout > 0 && d->size > 1)
        TDP_MPI(MPI_Waitall(2 * d->size, d->arr_req, MPI_STATUSES_IGNORE), d->rank, err);
    return TDP_OK;
}

int ddp_allsum(void *self, double *v, int n, tdp_err_t *err) {
    ddp_t *d = self;
    MPI_Request r;
    int rc = post_arrivals(d, err);
    if (rc != TDP_OK)
        return rc;
    TDP_MPI(MPI_Iallreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_SUM, d->comm, &r), d->rank, err);
    return wait_all(d, 1, &r, "a metrics allreduce", err);
}

/* Backward's progress callback: start every bucket that is now complete, then let MPI progress
 * the ones in flight (libnbc advances a collective only inside MPI calls). */
static void on_progress(void *ctx, size_t ready_from) {
    ddp_t *d = ctx;
    if (d->mpi_rc != MPI_SUCCESS)
        return;
    float *g = d->t->grads;
    if (d->next == 0)
        g[d->n] = (float)d->local_loss;
    while (d->next < d->nbuckets && d->b_off[d->next] >= ready_from) {
        int i = d->next++;
        d->b_start[i] = tdp_now();
        int rc = MPI_Iallreduce(MPI_IN_PLACE, g + d->b_off[i], (int)d->b_len[i], MPI_FLOAT, MPI_SUM,
                                d->comm, &d->req[i]);
        if (rc != MPI_SUCCESS) {
            d->mpi_rc = rc;
            return;
        }
    }
    while (d->done < d->next) {
        int flag = 0;
        int rc = MPI_Test(&d->req[d->done], &flag, MPI_STATUS_IGNORE);
        d->bucket_tests++;
        if (rc != MPI_SUCCESS) {
            d->mpi_rc = rc;
            return;
        }
        if (!flag)
            break;
        trace_add(d->t->trace, "allreduce bucket", d->done, 1, d->b_start[d->done], tdp_now());
        d->done++;
    }
}

/* The rank's gradient of its slice, hybrid: its threads share its one replica and combine in
 * thread order. */
static int grads_threads(ddp_t *d, trainer_t *t, size_t b, float scale, long *correct,
                         tdp_err_t *err) {
    dp_team_t *tm = &d->team;
    float *g = t->grads;
    for (int i = 0; i < tm->n; i++)
        tm->w[i].params = t->params;
    for (int k = 0; k < t->cfg.accum; k++) {
        int rc = team_run(tm, t, b, k, d->rank * tm->n, scale, k > 0, err);
        if (rc != TDP_OK)
            return rc;
        for (int i = 0; i < tm->n; i++) {
            d->local_loss += tm->w[i].loss;
            *correct += tm->w[i].correct;
        }
    }
    double c0 = tdp_now();
    memcpy(g, tm->w[0].grads, d->n * sizeof *g);
    for (int i = 1; i < tm->n; i++) {
        const float *src = tm->w[i].grads;
        for (size_t j = 0; j < d->n; j++)
            g[j] += src[j];
    }
    trace_add(t->trace, "combine threads", -1, 0, c0, tdp_now());
    return TDP_OK;
}

/* The rank's gradient of its slice, one thread; with overlap, the last micro-batch's backward
 * starts each bucket's allreduce as soon as the bucket is ready (on_progress). */
static int grads_one_thread(ddp_t *d, trainer_t *t, size_t b, float scale, long *correct,
                            tdp_err_t *err) {
    const int accum = t->cfg.accum;
    for (int k = 0; k < accum; k++) {
        int n = trainer_load_shard(t, &t->ws, b, k, d->rank);
        net_grad_opts_t o = {.accumulate = k > 0, .trace = t->trace};
        if (d->overlap && k == accum - 1) {
            o.progress = on_progress;
            o.ctx = d;
            o.chunk_floats = d->bucket_floats;
        }
        net_grad(t->cfg.model, t->params, t->grads, &t->ws, n, scale, &d->local_loss, correct, &o);
    }
    if (d->mpi_rc != MPI_SUCCESS)
        return ddp_mpi_fail(err, __FILE__, __LINE__, d->rank, "MPI_Iallreduce/MPI_Test", d->mpi_rc);
    return TDP_OK;
}

/* Test switch: this rank stops arriving at its stall step (a hung rank). */
static void stall_if_asked(const ddp_t *d, const trainer_t *t) {
    if (d->stall_rank != d->rank || t->steps + 1 != d->stall_step)
        return;
    double until = tdp_now() + d->stall_seconds;
    while (tdp_now() < until) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* Overlapped: start the buckets backward has not started, wait for all of them. */
static int combine_overlapped(ddp_t *d, trainer_t *t, tdp_err_t *err) {
    on_progress(d, 0); /* nothing left to compute: start what is not started */
    if (d->mpi_rc != MPI_SUCCESS)
        return ddp_mpi_fail(err, __FILE__, __LINE__, d->rank, "MPI_Iallreduce", d->mpi_rc);
    int rc = wait_all(d, d->nbuckets - d->done, d->req + d->done, "the gradient allreduce", err);
    if (rc != TDP_OK)
        return rc;
    double w1 = tdp_now();
    for (int i = d->done; i < d->nbuckets; i++)
        trace_add(t->trace, "allreduce bucket", i, 1, d->b_start[i], w1);
    return TDP_OK;
}

/* Deterministic: every rank sums the same values in the same (rank) order: bitwise identical on
 * all ranks and across runs, whatever MPI's reduction algorithm. */
static int combine_in_rank_order(ddp_t *d, trainer_t *t, tdp_err_t *err) {
    double w0 = tdp_now();
    float *g = t->grads;
    const size_t total = d->n + TRAIN_EXTRA;
    g[d->n] = (float)d->local_loss;
    MPI_Request r;
    TDP_MPI(MPI_Iallgather(g, (int)total, MPI_FLOAT, d->gather, (int)total, MPI_FLOAT, d->comm, &r),
            d->rank, err);
    int rc = wait_all(d, 1, &r, "the gradient allgather", err);
    if (rc != TDP_OK)
        return rc;
    memcpy(g, d->gather, total * sizeof *g);
    for (int q = 1; q < d->size; q++) {
        const float *src = d->gather + (size_t)q * total;
        for (size_t i = 0; i < total; i++)
            g[i] += src[i];
    }
    trace_add(t->trace, "allgather+sum", -1, 1, w0, tdp_now());
    return TDP_OK;
}

/* Blocking: one allreduce of the whole arena after backward. */
static int combine_blocking(ddp_t *d, trainer_t *t, tdp_err_t *err) {
    double w0 = tdp_now();
    float *g = t->grads;
    g[d->n] = (float)d->local_loss;
    MPI_Request r;
    TDP_MPI(
        MPI_Iallreduce(MPI_IN_PLACE, g, (int)(d->n + TRAIN_EXTRA), MPI_FLOAT, MPI_SUM, d->comm, &r),
        d->rank, err);
    int rc = wait_all(d, 1, &r, "the gradient allreduce", err);
    if (rc != TDP_OK)
        return rc;
    trace_add(t->trace, "allreduce", -1, 1, w0, tdp_now());
    return TDP_OK;
}

/* The gradient is read only when every bucket's allreduce is known complete: a request left
 * behind would leak and leave its bucket's sum unguaranteed. */
static int check_completed(const ddp_t *d, const trainer_t *t, tdp_err_t *err) {
    int pending = 0;
    for (int i = 0; i < d->nbuckets; i++)
        pending += d->req[i] != MPI_REQUEST_NULL;
    if (pending > 0)
        return tdp_fail(err, TDP_ERUNTIME,
                        "internal error: %d allreduce requests not completed at step %ld", pending,
                        t->steps + 1);
    return TDP_OK;
}

/* One step's gradient: this rank's slice (threads or one thread), then the ranks' sum by one of
 * the three strategies (a world of one has nothing to combine). */
static int ddp_grads(void *self, trainer_t *t, size_t b, double *loss_sum, long *correct,
                     tdp_err_t *err) {
    ddp_t *d = self;
    const float scale = 1.0f / ((float)t->cfg.batch * (float)t->cfg.world * (float)t->cfg.accum);
    d->t = t;
    d->local_loss = 0.0;
    d->next = d->done = 0;
    d->mpi_rc = MPI_SUCCESS;
    int rc = d->threads > 1 ? grads_threads(d, t, b, scale, correct, err)
                            : grads_one_thread(d, t, b, scale, correct, err);
    if (rc != TDP_OK)
        return rc;
    stall_if_asked(d, t);
    if ((rc = post_arrivals(d, err)) != TDP_OK)
        return rc;
    double w0 = tdp_now();
    if (d->size == 1)
        t->grads[d->n] = (float)d->local_loss;
    else if (d->overlap)
        rc = combine_overlapped(d, t, err);
    else if (d->deterministic)
        rc = combine_in_rank_order(d, t, err);
    else
        rc = combine_blocking(d, t, err);
    if (rc != TDP_OK)
        return rc;
    d->comm_seconds += tdp_now() - w0;
    if ((rc = check_completed(d, t, err)) != TDP_OK)
        return rc;
    *loss_sum = (double)t->grads[d->n];
    return TDP_OK;
}

/* --check-sync: every rank hashes its weights; all compare (and the test switch
 * TDP_TEST_PERTURB_RANK / TDP_TEST_PERTURB_STEP nudges one rank's weights first). */
static int ddp_after_step(void *self, trainer_t *t, tdp_err_t *err) {
    ddp_t *d = self;
    d->t = t;
    static int pr = -2;
    static long ps;
    if (pr == -2) {
        const char *r = getenv("TDP_TEST_PERTURB_RANK"), *s = getenv("TDP_TEST_PERTURB_STEP");
        pr = r ? atoi(r) : -1;
        ps = s ? atol(s) : 1;
    }
    if (pr == d->rank && t->steps == ps)
        t->params[0] += 1e-3f;
    if (d->check_sync <= 0 || t->steps % d->check_sync != 0 || d->size == 1)
        return TDP_OK;
    uint64_t h = tdp_fnv1a(TDP_FNV_INIT, t->params, d->n * sizeof(float));
    uint64_t *all = malloc((size_t)d->size * sizeof *all);
    if (all == NULL)
        return tdp_fail_sys(err, __FILE__, __LINE__, 0, "out of memory");
    MPI_Request r;
    int rc = post_arrivals(d, err);
    if (rc == TDP_OK) {
        int mrc = MPI_Iallgather(&h, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T, d->comm, &r);
        rc = mrc != MPI_SUCCESS
                 ? ddp_mpi_fail(err, __FILE__, __LINE__, d->rank, "MPI_Iallgather(check-sync)", mrc)
                 : wait_all(d, 1, &r, "the --check-sync hash exchange", err);
    }
    for (int p = 1; rc == TDP_OK && p < d->size; p++)
        if (all[p] != all[0])
            rc = tdp_fail(err, TDP_ERUNTIME,
                          "--check-sync: the weights of rank %d differ from rank 0's after step "
                          "%ld (hash %016llx vs %016llx): the replicas have diverged",
                          p, t->steps, (unsigned long long)all[p], (unsigned long long)all[0]);
    free(all);
    return rc;
}

static double ddp_comm_seconds(void *self) {
    return ((ddp_t *)self)->comm_seconds;
}

static void ddp_epoch_note(void *self, char *buf, size_t len) {
    snprintf(buf, len, "comm_s %.3f", ((ddp_t *)self)->comm_seconds);
}

int ddp_write_trace(ddp_t *d, const trace_t *t, const char *path, tdp_err_t *err) {
    char *mine = NULL;
    size_t len = 0;
    int rc = trace_format(t, d->rank, &mine, &len, err);
    if (rc != TDP_OK)
        return rc;
    int ilen = (int)len, *lens = NULL, *displs = NULL;
    char *all = NULL;
    if (d->rank == 0) {
        lens = calloc((size_t)d->size, sizeof *lens);
        displs = calloc((size_t)d->size, sizeof *displs);
        if (!lens || !displs) {
            free(mine);
            free(lens);
            free(displs);
            return tdp_fail_sys(err, __FILE__, __LINE__, 0, "out of memory");
        }
    }
    rc = MPI_Gather(&ilen, 1, MPI_INT, lens, 1, MPI_INT, 0, d->comm);
    size_t total = 0;
    if (rc == MPI_SUCCESS && d->rank == 0) {
        for (int i = 0; i < d->size; i++) {
            displs[i] = (int)total;
            total += (size_t)lens[i];
        }
        all = malloc(total ? total : 1);
        if (all == NULL)
            rc = MPI_ERR_NO_MEM;
    }
    if (rc == MPI_SUCCESS)
        rc = MPI_Gatherv(mine, ilen, MPI_CHAR, all, lens, displs, MPI_CHAR, 0, d->comm);
    free(mine);
    int out = TDP_OK;
    if (rc != MPI_SUCCESS) {
        out = ddp_mpi_fail(err, __FILE__, __LINE__, d->rank, "MPI_Gatherv(trace)", rc);
    } else if (d->rank == 0) {
        char **parts = malloc((size_t)d->size * sizeof *parts);
        size_t *plens = malloc((size_t)d->size * sizeof *plens);
        if (parts && plens) {
            for (int i = 0; i < d->size; i++) {
                parts[i] = all + displs[i];
                plens[i] = (size_t)lens[i];
            }
            out = trace_write(path, parts, plens, d->size, err);
        } else {
            out = tdp_fail_sys(err, __FILE__, __LINE__, 0, "out of memory");
        }
        free(parts);
        free(plens);
    }
    free(all);
    free(lens);
    free(displs);
    return out;
}

const grad_engine_t ddp_engine = {
    .name = "ddp",
    .grads = ddp_grads,
    .allsum = ddp_allsum,
    .comm_seconds = ddp_comm_seconds,
    .after_step = ddp_after_step,
    .epoch_note = ddp_epoch_note,
};
