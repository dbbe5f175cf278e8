/* train.c: the mode-independent step loop, evaluation, and the serial gradient engine. */
#include "train.h"

#include "layers.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int trainer_init(trainer_t *t, const train_config_t *cfg, tdp_err_t *err) {
    memset(t, 0, sizeof *t);
    t->cfg = *cfg;
    const model_t *m = cfg->model;
    if (cfg->train->dim != m->cfg.input)
        return tdp_fail(err, TDP_EINPUT,
                        "model input %d does not match the data's %d features per sample",
                        m->cfg.input, cfg->train->dim);
    if (cfg->train->classes > m->cfg.output)
        return tdp_fail(err, TDP_EINPUT, "model output %d is smaller than the data's %d classes",
                        m->cfg.output, cfg->train->classes);
    size_t global;
    if (cfg->accum < 1 || cfg->world < 1 || cfg->procs < 1)
        return tdp_fail(err, TDP_EINPUT, "accum, world and procs must be >= 1");
    if (tdp_mul_size((size_t)cfg->batch, (size_t)cfg->world, &global) != 0 ||
        tdp_mul_size(global, (size_t)cfg->accum, &global) != 0)
        return tdp_fail(err, TDP_EINPUT, "global batch overflows");
    t->batches = batches_per_epoch(cfg->train->n, global);
    if (t->batches == 0)
        return tdp_fail(err, TDP_EINPUT,
                        "global batch %zu (batch %d x %d workers x %d accumulated) is larger "
                        "than the %zu training samples",
                        global, cfg->batch, cfg->world, cfg->accum, cfg->train->n);
    t->planned_steps = (long)t->batches * cfg->epochs;
    if (cfg->max_steps >= 0 && cfg->max_steps < t->planned_steps)
        t->planned_steps = cfg->max_steps;
    int rc = model_alloc_arena(m, &t->params, err);
    if (rc == TDP_OK) {
        model_t one_more = *m; /* the slots after the gradient arena */
        one_more.nparams += TRAIN_EXTRA;
        rc = model_alloc_arena(&one_more, &t->grads, err);
    }
    if (t->cfg.state_len == 0 || t->cfg.state_lo + t->cfg.state_len > m->nparams) {
        t->cfg.state_lo = 0;
        t->cfg.state_len = m->nparams;
    }
    if (rc == TDP_OK) {
        model_t slice = *m; /* the momentum of this process's slice */
        slice.nparams = t->cfg.state_len;
        rc = model_alloc_arena(&slice, &t->velocity, err);
    }
    if (rc == TDP_OK)
        rc = net_ws_alloc(m, cfg->batch > TRAIN_EVAL_BATCH ? cfg->batch : TRAIN_EVAL_BATCH, &t->ws,
                          err);
    if (rc == TDP_OK) {
        t->order = malloc(cfg->train->n * sizeof *t->order);
        if (t->order == NULL)
            rc = tdp_fail_sys(err, __FILE__, __LINE__, 0, "out of memory allocating the order");
    }
    if (rc != TDP_OK) {
        trainer_free(t);
        return rc;
    }
    model_init_weights(m, cfg->seed, t->params);
    return TDP_OK;
}

void trainer_free(trainer_t *t) {
    free(t->params);
    free(t->grads);
    free(t->velocity);
    free(t->order);
    net_ws_free(&t->ws);
    t->params = t->grads = t->velocity = NULL;
    t->order = NULL;
}

int trainer_load_shard(const trainer_t *t, net_ws_t *ws, size_t b, int k, int rank) {
    const size_t per = (size_t)t->cfg.batch;
    const size_t micro = b * (size_t)t->cfg.accum + (size_t)k;
    const uint32_t *idx = batch_shard(t->order, micro, per, rank, t->cfg.world);
    batch_gather(t->cfg.train, idx, per, ws->x, ws->y);
    /* the next micro-batch's rows travel from memory while this one computes */
    if (micro + 1 < t->batches * (size_t)t->cfg.accum)
        batch_prefetch(t->cfg.train, batch_shard(t->order, micro + 1, per, rank, t->cfg.world),
                       per);
    return t->cfg.batch;
}

long trainer_evaluate_share(trainer_t *t) {
    const dataset_t *d = t->cfg.test;
    const model_t *m = t->cfg.model;
    size_t lo = d->n * (size_t)t->cfg.proc_rank / (size_t)t->cfg.procs;
    size_t hi = d->n * ((size_t)t->cfg.proc_rank + 1) / (size_t)t->cfg.procs;
    long correct = 0;
    uint32_t idx[TRAIN_EVAL_BATCH];
    for (size_t s = lo; s < hi; s += TRAIN_EVAL_BATCH) {
        size_t n = hi - s < TRAIN_EVAL_BATCH ? hi - s : TRAIN_EVAL_BATCH;
        for (size_t i = 0; i < n; i++)
            idx[i] = (uint32_t)(s + i);
        batch_gather(d, idx, n, t->ws.x, t->ws.y);
        const float *logits = net_forward(m, t->params, &t->ws, (int)n);
        correct += argmax_correct(logits, t->ws.y, (int)n, m->layer[m->nlayers - 1].out);
    }
    return correct;
}

/* Test accuracy over every process's share. */
static int evaluate(trainer_t *t, const grad_engine_t *eng, void *self, double *acc,
                    tdp_err_t *err) {
    double c = (double)trainer_evaluate_share(t);
    if (eng->allsum != NULL) {
        int rc = eng->allsum(self, &c, 1, err);
        if (rc != TDP_OK)
            return rc;
    }
    *acc = t->cfg.test->n ? c / (double)t->cfg.test->n : 0.0;
    return TDP_OK;
}

/* The correct predictions of the epoch so far, summed over processes (into ep_correct_all). */
static int sum_correct(trainer_t *t, const grad_engine_t *eng, void *self, tdp_err_t *err) {
    double right = (double)t->ep_correct;
    if (eng->allsum != NULL) {
        int rc = eng->allsum(self, &right, 1, err);
        if (rc != TDP_OK)
            return rc;
    }
    t->ep_correct_all = right;
    return TDP_OK;
}

int trainer_run(trainer_t *t, const grad_engine_t *eng, void *self, report_t *rep, tdp_err_t *err) {
    const train_config_t *c = &t->cfg;
    const size_t global = (size_t)c->batch * (size_t)c->world * (size_t)c->accum;
    double t0 = tdp_now();
    double train_time = 0.0;
    int rc = evaluate(t, eng, self, &t->test_accuracy, err);
    if (rc != TDP_OK)
        return rc;
    for (int e = (int)t->start_epoch; e < c->epochs; e++) {
        /* the epoch a checkpoint was taken in continues with its sums (and, reached its end or
         * max-steps, still prints its line); any other starts from zero */
        const int resumed = e == t->start_epoch && t->resume_sums;
        if (c->max_steps >= 0 && t->steps >= c->max_steps && !(resumed && t->ep_steps > 0))
            break;
        epoch_order(c->seed, e, t->order, c->train->n);
        if (!resumed) {
            t->ep_loss = 0.0;
            t->ep_correct = 0;
            t->ep_steps = 0;
        }
        long ran = 0; /* steps of this epoch run by this process */
        double e0 = tdp_now();
        size_t b0 = e == t->start_epoch ? (size_t)t->start_b : 0;
        for (size_t b = b0; b < t->batches; b++) {
            if (c->max_steps >= 0 && t->steps >= c->max_steps)
                break;
            double step_loss = 0.0;
            float *stop_slot = &t->grads[c->model->nparams + TRAIN_SLOT_STOP];
            int asked =
                (t->stop_flag && *t->stop_flag) || (t->stop_at > 0 && t->steps + 1 == t->stop_at);
            *stop_slot = asked ? 1.0f : 0.0f;
            rc = eng->grads(self, t, b, &step_loss, &t->ep_correct, err);
            if (rc != TDP_OK)
                return rc;
            if (!isfinite(step_loss) && (t->diverged = 1))
                return tdp_fail(err, TDP_ERUNTIME,
                                "the loss became %s at step %ld (epoch %d): the learning rate "
                                "%g is too high for this model; try --lr %g",
                                isnan(step_loss) ? "NaN" : "infinite", t->steps + 1, e + 1,
                                (double)c->sgd.lr, (double)c->sgd.lr / 10.0);
            sgd_params_t sgd = c->sgd;
            sgd.lr = lr_at(c->sgd.lr, c->lr_cosine, t->steps, t->planned_steps);
            double o0 = tdp_now();
            sgd_step(&sgd, t->params + t->cfg.state_lo, t->grads, t->velocity, t->cfg.state_len);
            double o1 = tdp_now();
            t->optimizer_seconds += o1 - o0;
            trace_add(t->trace, "sgd", -1, 0, o0, o1);
            t->ep_loss += step_loss;
            t->ep_steps++;
            ran++;
            t->ran_steps++;
            t->steps++;
            if (eng->after_step && (rc = eng->after_step(self, t, err)) != TDP_OK)
                return rc;
            /* every worker has the same stop slot: the engines combine it with the gradient */
            int stop = *stop_slot > 0.0f;
            int every = t->ckpt_every > 0 && t->steps % t->ckpt_every == 0;
            if (t->ckpt_path && (stop || every)) {
                /* every process takes part in the sum (all reach this step together) */
                if ((rc = sum_correct(t, eng, self, err)) != TDP_OK ||
                    (rc = trainer_checkpoint(t, e, (long)b + 1, err)) != TDP_OK)
                    return rc;
            }
            if (stop) {
                t->stopped = 1;
                t->train_seconds = train_time + (tdp_now() - e0);
                return TDP_OK;
            }
            report_step(rep, &(step_stats_t){
                                 .epoch = e + 1,
                                 .epochs = c->epochs,
                                 .step_in_epoch = (long)b + 1,
                                 .steps_in_epoch = (long)t->batches,
                                 .steps = t->steps,
                                 .planned = t->planned_steps,
                                 .loss_sum = step_loss,
                                 .samples = (double)global,
                                 .epoch_loss = t->ep_loss / ((double)t->ep_steps * (double)global),
                                 .lr = sgd.lr,
                                 .comm_seconds = eng->comm_seconds ? eng->comm_seconds(self) : -1.0,
                             });
        }
        double epoch_time = tdp_now() - e0;
        train_time += epoch_time;
        if ((rc = sum_correct(t, eng, self, err)) != TDP_OK)
            return rc;
        double samples = (double)t->ep_steps * (double)global;
        t->final_loss = t->ep_steps ? t->ep_loss / samples : 0.0;
        if ((rc = evaluate(t, eng, self, &t->test_accuracy, err)) != TDP_OK)
            return rc;
        t->epochs_done = e + 1;
        epoch_stats_t s = {
            .epoch = e + 1,
            .epochs = c->epochs,
            .steps = t->steps,
            .loss = t->final_loss,
            .train_acc = t->ep_steps ? t->ep_correct_all / samples : 0.0,
            .test_acc = t->test_accuracy,
            /* only what this process ran, in the time it took */
            .samples_per_s = epoch_time > 0 ? (double)ran * (double)global / epoch_time : 0.0,
            .elapsed = tdp_now() - t0,
            .comm_seconds = eng->comm_seconds ? eng->comm_seconds(self) : 0.0,
        };
        if (eng->epoch_note)
            eng->epoch_note(self, s.note, sizeof s.note);
        report_epoch(rep, &s);
    }
    t->train_seconds = train_time;
    t->samples_per_s = train_time > 0 ? (double)t->ran_steps * (double)global / train_time : 0.0;
    return TDP_OK;
}

int trainer_checkpoint_end(trainer_t *t, tdp_err_t *err) {
    /* a checkpoint from which resuming only reports the last epoch again (its sums are those of
     * the epoch that ended the run) */
    long e = t->steps / (long)t->batches, nb = t->steps % (long)t->batches;
    if (nb == 0 && e > 0) {
        e--;
        nb = (long)t->batches;
    }
    return trainer_checkpoint(t, e, nb, err);
}

/* The whole momentum on the writer: its own, or gathered from every process's slice (every
 * process takes part) into *whole (freed by the caller). */
static int whole_state(trainer_t *t, const float **v, float **whole, tdp_err_t *err) {
    *v = t->velocity;
    *whole = NULL;
    if (t->cfg.state_len == t->cfg.model->nparams)
        return TDP_OK;
    if (t->ckpt_writer && (*whole = tdp_floats_new(t->cfg.model->nparams)) == NULL)
        return tdp_fail_sys(err, __FILE__, __LINE__, 0, "out of memory gathering the momentum");
    *v = *whole;
    return t->gather_state(t->gather_self, t->velocity, *whole, err);
}

int trainer_checkpoint(trainer_t *t, long epoch, long next_b, tdp_err_t *err) {
    const float *v;
    float *whole;
    int rc = whole_state(t, &v, &whole, err);
    if (rc != TDP_OK || !t->ckpt_writer) {
        free(whole);
        return rc;
    }
    ckpt_header_t h = t->ckpt_base;
    h.steps = (uint64_t)t->steps;
    h.epoch = (uint64_t)epoch;
    h.next_b = (uint64_t)next_b;
    h.planned_steps = (uint64_t)t->planned_steps;
    h.seed = t->cfg.seed;
    h.nparams = t->cfg.model->nparams;
    h.ep_loss = t->ep_loss;
    h.ep_correct = (uint64_t)t->ep_correct_all;
    h.ep_steps = (uint64_t)t->ep_steps;
    double c0 = tdp_now();
    rc = ckpt_write(t->ckpt_path, &h, t->ckpt_record, t->ckpt_record_len, t->params, v, err);
    free(whole);
    trace_add(t->trace, "checkpoint", -1, 0, c0, tdp_now());
    t->ckpt_written += rc == TDP_OK;
    return rc;
}

float lr_at(float lr, int cosine, long step, long planned) {
    if (!cosine || planned <= 0)
        return lr;
    return (float)((double)lr * 0.5 *
                   (1.0 + cos(3.141592653589793 * (double)step / (double)planned)));
}

static int serial_grads(void *self, trainer_t *t, size_t b, double *loss_sum, long *correct,
                        tdp_err_t *err) {
    (void)self;
    (void)err;
    const int accum = t->cfg.accum;
    const float scale = 1.0f / ((float)t->cfg.batch * (float)accum);
    for (int k = 0; k < accum; k++) {
        int n = trainer_load_shard(t, &t->ws, b, k, 0);
        net_grad_opts_t o = {.accumulate = k > 0, .trace = t->trace};
        net_grad(t->cfg.model, t->params, t->grads, &t->ws, n, scale, loss_sum, correct, &o);
    }
    return TDP_OK;
}

const grad_engine_t serial_engine = {
    .name = "serial",
    .grads = serial_grads,
    .allsum = NULL,
    .comm_seconds = NULL,
};
