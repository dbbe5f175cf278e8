/* ddp.c: the MPI gradient engine: the rank's gradient (one thread or a team), then the ranks'
 * sum by one of three strategies (see ddp.h). */
#include "ddp.h"

#include "layers.h"
#include "testhooks.h"
#include "tune.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The buckets over the arena's total floats; bucket 0 is the tail of the arena (backward
 * finishes the last layer first). */
static int make_buckets(ddp_t *d, size_t total, size_t bucket_kb, tdp_err_t *err) {
    d->bucket_kb = bucket_kb;
    d->bucket_floats = bucket_kb ? bucket_kb * 1024 / sizeof(float) : total;
    if (d->bucket_floats == 0)
        d->bucket_floats = 1;
    d->nbuckets = (int)((total + d->bucket_floats - 1) / d->bucket_floats);
    d->b_off = calloc((size_t)d->nbuckets, sizeof *d->b_off);
    d->b_len = calloc((size_t)d->nbuckets, sizeof *d->b_len);
    d->req = calloc((size_t)d->nbuckets + 1, sizeof *d->req); /* + the slots' (compressed) */
    d->b_start = calloc((size_t)d->nbuckets, sizeof *d->b_start);
    if (!d->b_off || !d->b_len || !d->req || !d->b_start)
        return tdp_fail_sys(err, __FILE__, __LINE__, 0, "out of memory for %d buckets",
                            d->nbuckets);
    size_t end = total;
    for (int i = 0; i < d->nbuckets; i++) {
        size_t len = end > d->bucket_floats ? d->bucket_floats : end;
        d->b_off[i] = end - len;
        d->b_len[i] = len;
        d->req[i] = MPI_REQUEST_NULL;
        end -= len;
    }
    d->req[d->nbuckets] = MPI_REQUEST_NULL;
    return TDP_OK;
}

/* Deterministic: room for every rank's arena, and each rank's row in it. */
static int make_gather(ddp_t *d, size_t total, tdp_err_t *err) {
    size_t bytes;
    if (tdp_mul_size(total * sizeof(float), (size_t)d->c->size, &bytes) != 0)
        return tdp_fail(err, TDP_EINPUT, "gather buffer size overflows");
    TDP_MALLOC(d->gather, bytes, err);
    TDP_MALLOC(d->rows, (size_t)d->c->size * sizeof *d->rows, err);
    for (int q = 0; q < d->c->size; q++)
        d->rows[q] = d->gather + (size_t)q * total;
    return TDP_OK;
}

int ddp_setup(ddp_t *d, comm_t *c, const model_t *m, size_t bucket_kb, int overlap,
              int deterministic, int threads, int batch, tdp_err_t *err) {
    size_t n = m->nparams;
    size_t total = n + TRAIN_EXTRA; /* the loss and stop slots travel with the gradient */
    d->c = c;
    d->n = n;
    d->threads = threads;
    d->overlap = overlap && !deterministic && threads == 1 && c->size > 1;
    d->deterministic = deterministic;
    if (threads > 1) {
        int rc = team_init(&d->team, m, threads, batch, 1, 1, NULL, total, err);
        if (rc != TDP_OK)
            return rc;
    }
    int rc = make_buckets(d, total, bucket_kb, err);
    if (rc == TDP_OK && deterministic)
        rc = make_gather(d, total, err);
    return rc;
}

int ddp_set_compress(ddp_t *d, half_kind_t kind, int error_feedback, tdp_err_t *err) {
    if (d->c->size == 1)
        kind = HALF_NONE; /* nothing travels */
    if (!d->zero.on)
        return compress_setup(&d->z, kind, error_feedback, d->n, TRAIN_EXTRA, d->c->size,
                              d->deterministic, err);
    /* --zero: its reduce-scatter sends the 16-bit values (its own rank-order rows) */
    int rc = compress_setup(&d->z, kind, error_feedback, d->n, TRAIN_EXTRA, d->c->size, 0, err);
    return rc == TDP_OK ? zero_set_compress(&d->zero, &d->z, err) : rc;
}

const char *ddp_setting(const ddp_t *d, char *buf, size_t len) {
    if (d->overlap)
        snprintf(buf, len, "overlap, %zu KB", d->bucket_kb);
    else
        snprintf(buf, len, "no-overlap");
    return buf;
}

double ddp_bytes_per_step(const ddp_t *d) {
    if (d->c->size == 1)
        return 0.0;
    return d->z.kind ? compress_bytes(&d->z) : (double)(d->n + TRAIN_EXTRA) * sizeof(float);
}

/* Buckets of another size (between steps: none in flight). */
static int rebucket(ddp_t *d, size_t bucket_kb, int overlap, tdp_err_t *err) {
    free(d->b_off);
    free(d->b_len);
    free(d->req);
    free(d->b_start);
    d->overlap = overlap && !d->deterministic && d->threads == 1 && d->c->size > 1;
    return make_buckets(d, d->n + TRAIN_EXTRA, bucket_kb, err);
}

void ddp_free(ddp_t *d) {
    compress_free(&d->z);
    if (d->threads > 1)
        team_free(&d->team);
    free(d->b_off);
    free(d->b_len);
    free(d->req);
    free(d->b_start);
    free(d->gather);
    free(d->rows);
    ranktime_free(&d->rt);
    zero_free(&d->zero);
    d->b_off = d->b_len = NULL;
    d->req = NULL;
    d->b_start = NULL;
    d->gather = NULL;
    d->rows = NULL;
}

int ddp_set_watchdog(ddp_t *d, double comm_timeout, long check_sync, tdp_err_t *err) {
    d->check_sync = check_sync;
    return comm_set_watchdog(d->c, comm_timeout, testhooks()->stall_warn_seconds, err);
}

int ddp_set_timing(ddp_t *d, double straggler_pct, tdp_err_t *err) {
    return ranktime_init(&d->rt, d->c->rank, d->c->size, straggler_pct, err);
}

int ddp_finish(ddp_t *d, tdp_err_t *err) {
    int rc = comm_drain_notes(d->c, err);
    return rc == TDP_OK && d->rt.notes ? ranktime_gather(&d->rt, d->c, err) : rc;
}

/* The step number the watchdog's messages name. */
static long step_now(const ddp_t *d) {
    return d->t ? d->t->steps + 1 : 0;
}

static int ddp_allsum(void *self, double *v, int n, tdp_err_t *err) {
    ddp_t *d = self;
    return comm_allsum(d->c, v, n, step_now(d), err);
}

/* Start the sum of bucket i. Compressed: its gradient in 16 bits; the loss and stop slots (in
 * bucket 0, the first started) in fp32 by a request of their own, req[nbuckets]. */
static int start_bucket(ddp_t *d, int i) {
    float *g = d->t->grads;
    if (!d->z.kind)
        return MPI_Iallreduce(MPI_IN_PLACE, g + d->b_off[i], (int)d->b_len[i], MPI_FLOAT, MPI_SUM,
                              d->c->comm, &d->req[i]);
    size_t off = d->b_off[i], end = off + d->b_len[i];
    if (end > d->n) {
        int rc = MPI_Iallreduce(MPI_IN_PLACE, g + d->n, TRAIN_EXTRA, MPI_FLOAT, MPI_SUM, d->c->comm,
                                &d->req[d->nbuckets]);
        if (rc != MPI_SUCCESS)
            return rc;
        end = d->n;
    }
    return compress_start(&d->z, g, off, end > off ? end - off : 0, d->c->comm, &d->req[i]);
}

/* Bucket i's sum has arrived: compressed, back to fp32. */
static void bucket_arrived(ddp_t *d, int i) {
    if (!d->z.kind)
        return;
    size_t off = d->b_off[i], end = off + d->b_len[i] < d->n ? off + d->b_len[i] : d->n;
    compress_finish(&d->z, d->t->grads, off, end > off ? end - off : 0);
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
        int rc = start_bucket(d, i);
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
        bucket_arrived(d, d->done);
        trace_add(d->t->trace, "allreduce bucket", d->done, 1, d->b_start[d->done], tdp_now());
        d->done++;
    }
}

/* The rank's gradient of its slice, hybrid: its threads share its one replica and combine in
 * thread order. */
static int grads_threads(ddp_t *d, trainer_t *t, size_t b, float scale, long *correct,
                         tdp_err_t *err) {
    dp_team_t *tm = &d->team;
    for (int i = 0; i < tm->n; i++)
        tm->w[i].params = t->params;
    for (int k = 0; k < t->cfg.accum; k++) {
        int rc = team_run(tm, t, b, k, d->c->rank * tm->n, scale, k > 0, err);
        if (rc != TDP_OK)
            return rc;
        for (int i = 0; i < tm->n; i++) {
            d->local_loss += tm->w[i].loss;
            *correct += tm->w[i].correct;
        }
    }
    double c0 = tdp_now();
    team_sum_grads(tm, t->grads, d->n, 0);
    trace_add(t->trace, "combine threads", -1, 0, c0, tdp_now());
    return TDP_OK;
}

/* The rank's gradient of its slice, one thread; with overlap, the last micro-batch's backward
 * starts each bucket's allreduce as soon as the bucket is ready (on_progress). */
static int grads_one_thread(ddp_t *d, trainer_t *t, size_t b, float scale, long *correct,
                            tdp_err_t *err) {
    const int accum = t->cfg.accum;
    for (int k = 0; k < accum; k++) {
        int n = trainer_load_shard(t, &t->ws, b, k, d->c->rank);
        net_grad_opts_t o = {.accumulate = k > 0, .trace = t->trace};
        if (d->overlap && k == accum - 1) {
            o.progress = on_progress;
            o.ctx = d;
            o.chunk_floats = d->bucket_floats;
        }
        net_grad(t->cfg.model, t->params, t->grads, &t->ws, n, scale, &d->local_loss, correct, &o);
    }
    if (d->mpi_rc != MPI_SUCCESS)
        return comm_fail(err, __FILE__, __LINE__, d->c->rank, "MPI_Iallreduce/MPI_Test", d->mpi_rc);
    return TDP_OK;
}

/* Test switches: this rank computes slow_ms longer every step (a straggler), or stops
 * arriving at its stall step (a hung rank). */
static void stall_if_asked(const ddp_t *d, const trainer_t *t) {
    const testhooks_t *h = testhooks();
    if (h->slow_rank == d->c->rank && h->slow_ms > 0) {
        struct timespec ts = {
            (time_t)(h->slow_ms / 1000),
            (long)((h->slow_ms - 1000 * (double)(time_t)(h->slow_ms / 1000)) * 1e6)};
        nanosleep(&ts, NULL);
    }
    if (h->stall_rank != d->c->rank || t->steps + 1 != h->stall_step)
        return;
    double until = tdp_now() + h->stall_seconds;
    while (tdp_now() < until) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* Overlapped: start the buckets backward has not started, wait for all of them. */
static int combine_overlapped(ddp_t *d, trainer_t *t, tdp_err_t *err) {
    on_progress(d, 0); /* nothing left to compute: start what is not started */
    if (d->mpi_rc != MPI_SUCCESS)
        return comm_fail(err, __FILE__, __LINE__, d->c->rank, "MPI_Iallreduce", d->mpi_rc);
    /* compressed: req[nbuckets], the slots' request, comes last */
    int rc = comm_wait(d->c, d->nbuckets - d->done + (d->z.kind != HALF_NONE), d->req + d->done,
                       "the gradient allreduce", step_now(d), err);
    if (rc != TDP_OK)
        return rc;
    double w1 = tdp_now();
    for (int i = d->done; i < d->nbuckets; i++)
        bucket_arrived(d, i);
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
    if (d->z.kind)
        TDP_MPI(compress_gather_start(&d->z, g, d->c->comm, &r), d->c->rank, err);
    else
        TDP_MPI(MPI_Iallgather(g, (int)total, MPI_FLOAT, d->gather, (int)total, MPI_FLOAT,
                               d->c->comm, &r),
                d->c->rank, err);
    int rc = comm_wait(d->c, 1, &r, "the gradient allgather", step_now(d), err);
    if (rc != TDP_OK)
        return rc;
    for (int q = 0; q < d->c->size && d->z.kind; q++)
        compress_gather_row(&d->z, q, d->gather + (size_t)q * total);
    sum_in_order(g, d->rows, d->c->size, total, 0);
    trace_add(t->trace, "allgather+sum", -1, 1, w0, tdp_now());
    return TDP_OK;
}

/* Blocking: one allreduce of the whole arena after backward. */
static int combine_blocking(ddp_t *d, trainer_t *t, tdp_err_t *err) {
    double w0 = tdp_now();
    float *g = t->grads;
    g[d->n] = (float)d->local_loss;
    MPI_Request r[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
    if (d->z.kind) { /* the gradient in 16 bits, the slots in fp32 */
        TDP_MPI(compress_start(&d->z, g, 0, d->n, d->c->comm, &r[0]), d->c->rank, err);
        TDP_MPI(MPI_Iallreduce(MPI_IN_PLACE, g + d->n, TRAIN_EXTRA, MPI_FLOAT, MPI_SUM, d->c->comm,
                               &r[1]),
                d->c->rank, err);
    } else {
        TDP_MPI(MPI_Iallreduce(MPI_IN_PLACE, g, (int)(d->n + TRAIN_EXTRA), MPI_FLOAT, MPI_SUM,
                               d->c->comm, &r[0]),
                d->c->rank, err);
    }
    int rc = comm_wait(d->c, 1 + (d->z.kind != HALF_NONE), r, "the gradient allreduce", step_now(d),
                       err);
    if (rc != TDP_OK)
        return rc;
    if (d->z.kind)
        compress_finish(&d->z, g, 0, d->n);
    trace_add(t->trace, "allreduce", -1, 1, w0, tdp_now());
    return TDP_OK;
}

/* The gradient is read only when every bucket's allreduce is known complete: a request left
 * behind would leak and leave its bucket's sum unguaranteed. */
static int check_completed(const ddp_t *d, const trainer_t *t, tdp_err_t *err) {
    int pending = 0;
    for (int i = 0; i <= d->nbuckets; i++)
        pending += d->req[i] != MPI_REQUEST_NULL;
    if (pending > 0)
        return tdp_fail(err, TDP_ERUNTIME,
                        "internal error: %d allreduce requests not completed at step %ld", pending,
                        t->steps + 1);
    return TDP_OK;
}

void ddp_set_autotune(ddp_t *d) {
    /* deterministic, hybrid and a world of one sum without buckets: nothing to choose */
    d->autotune = !d->deterministic && d->threads == 1 && d->c->size > 1;
    tune_init(&d->tune);
}

/* --bucket-kb auto, before a step: the setting being timed. */
static int tune_before(ddp_t *d, tdp_err_t *err) {
    if (!d->autotune || !tune_active(&d->tune) || d->tune.step % (TUNE_WARMUP + TUNE_TIMED) != 0)
        return TDP_OK;
    int i = tune_current(&d->tune);
    return rebucket(d, d->tune.kb[i], d->tune.overlap[i], err);
}

/* --bucket-kb auto, after a step of `seconds`: when every setting is timed, the ranks agree on
 * the slowest rank's score of each and all keep the fastest setting. */
static int tune_after(ddp_t *d, double seconds, tdp_err_t *err) {
    if (!d->autotune || d->tune.chosen >= 0)
        return TDP_OK;
    tune_record(&d->tune, seconds);
    if (tune_active(&d->tune))
        return TDP_OK;
    MPI_Request r;
    int rc = comm_arrive(d->c, err);
    if (rc != TDP_OK)
        return rc;
    TDP_MPI(MPI_Iallreduce(MPI_IN_PLACE, d->tune.score, TUNE_SETTINGS, MPI_DOUBLE, MPI_MAX,
                           d->c->comm, &r),
            d->c->rank, err);
    if ((rc = comm_wait(d->c, 1, &r, "the --bucket-kb auto agreement", step_now(d), err)) != TDP_OK)
        return rc;
    int i = tune_choose(&d->tune);
    return rebucket(d, d->tune.kb[i], d->tune.overlap[i], err);
}

/* One step's gradient: this rank's slice (threads or one thread), then the ranks' sum by one of
 * the three strategies (a world of one has nothing to combine). */
static int ddp_grads(void *self, trainer_t *t, size_t b, double *loss_sum, long *correct,
                     tdp_err_t *err) {
    ddp_t *d = self;
    const double c0 = tdp_now(); /* the rank's compute starts */
    const float scale = 1.0f / ((float)t->cfg.batch * (float)t->cfg.world * (float)t->cfg.accum);
    d->t = t;
    d->local_loss = 0.0;
    d->next = d->done = 0;
    d->mpi_rc = MPI_SUCCESS;
    const double s0 = tdp_now();
    int rc = tune_before(d, err);
    if (rc != TDP_OK)
        return rc;
    rc = d->threads > 1 ? grads_threads(d, t, b, scale, correct, err)
                        : grads_one_thread(d, t, b, scale, correct, err);
    if (rc != TDP_OK)
        return rc;
    stall_if_asked(d, t);
    if ((rc = comm_arrive(d->c, err)) != TDP_OK)
        return rc;
    double w0 = tdp_now();
    if (d->c->size == 1)
        t->grads[d->n] = (float)d->local_loss;
    else if (d->zero.on) {
        t->grads[d->n] = (float)d->local_loss;
        rc = zero_combine(&d->zero, t->grads, step_now(d), t->trace, err);
    } else if (d->overlap)
        rc = combine_overlapped(d, t, err);
    else if (d->deterministic)
        rc = combine_in_rank_order(d, t, err);
    else
        rc = combine_blocking(d, t, err);
    if (rc != TDP_OK)
        return rc;
    const double w1 = tdp_now();
    d->comm_seconds += w1 - w0;
    if (d->rt.notes)
        d->timing_due = ranktime_note(&d->rt, t->steps + 1, w0 - c0, w1 - w0);
    if ((rc = check_completed(d, t, err)) != TDP_OK)
        return rc;
    if ((rc = tune_after(d, tdp_now() - s0, err)) != TDP_OK)
        return rc;
    *loss_sum = (double)t->grads[d->n];
    return TDP_OK;
}

/* --check-sync: every rank hashes its weights; all compare (and the test switch
 * TDP_TEST_PERTURB_RANK / TDP_TEST_PERTURB_STEP nudges one rank's weights first). */
static int ddp_after_step(void *self, trainer_t *t, tdp_err_t *err) {
    ddp_t *d = self;
    d->t = t;
    if (d->zero.on && d->c->size > 1) {
        double a0 = tdp_now();
        int rc = zero_allgather(&d->zero, t->params, t->steps, t->trace, err);
        if (rc != TDP_OK)
            return rc;
        d->comm_seconds += tdp_now() - a0;
    }
    const testhooks_t *h = testhooks();
    if (h->perturb_rank == d->c->rank && t->steps == h->perturb_step)
        t->params[0] += 1e-3f;
    if (d->timing_due) { /* every rank's window is full at the same step */
        d->timing_due = 0;
        int rc = ranktime_exchange(&d->rt, d->c, err);
        if (rc != TDP_OK)
            return rc;
    }
    if (d->check_sync <= 0 || t->steps % d->check_sync != 0 || d->c->size == 1)
        return TDP_OK;
    return comm_check_sync(d->c, t->params, d->n, t->steps, err);
}

static double ddp_comm_seconds(void *self) {
    return ((ddp_t *)self)->comm_seconds;
}

static void ddp_epoch_note(void *self, char *buf, size_t len) {
    const ddp_t *d = self;
    if (d->autotune && d->tune.chosen >= 0)
        snprintf(buf, len, "comm_s %.3f  buckets (auto): %s", d->comm_seconds,
                 ddp_setting(d, (char[64]){0}, 64));
    else
        snprintf(buf, len, "comm_s %.3f", d->comm_seconds);
}

const grad_engine_t ddp_engine = {
    .name = "ddp",
    .grads = ddp_grads,
    .allsum = ddp_allsum,
    .comm_seconds = ddp_comm_seconds,
    .after_step = ddp_after_step,
    .epoch_note = ddp_epoch_note,
};
