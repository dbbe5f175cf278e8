/* summary.c: ddp_train's JSON summary (summary.h). */
#include "summary.h"

#include "blas.h"
#include "json.h"

void summary_build(run_summary_t *s, const summary_source_t *src) {
    const trainer_t *t = src->t;
    const ddp_t *d = src->d;
    dp_t *dp = src->dp;
    *s = (run_summary_t){
        .mode = src->mode,
        .world_size = d ? d->c->size : 1,
        .workers = t->cfg.world,
        .hosts = d ? d->c->hosts : 1,
        .model = src->model,
        .params = (long)t->cfg.model->nparams,
        .epochs = t->epochs_done,
        .steps = t->steps,
        .batch = t->cfg.batch,
        .global_batch = t->cfg.batch * t->cfg.world * t->cfg.accum,
        .train_samples_per_s = t->samples_per_s,
        .test_accuracy = t->test_accuracy,
        .final_loss = t->final_loss,
        .seconds = src->seconds,
        .train_seconds = t->train_seconds,
        .broadcast_bytes = src->broadcast_bytes,
        .allreduce_bytes_per_step = d ? ddp_bytes_per_step(d) : 0.0,
        .grad_compress = d ? compress_name(d->z.kind) : "none",
        .bucket_kb = d ? (long)d->bucket_kb : 0,
        .overlap = d ? d->overlap : 0,
        .comm_seconds = d ? d->comm_seconds : 0.0,
        .optimizer_seconds = t->optimizer_seconds,
        .optimizer_state_bytes = (double)t->cfg.state_len * sizeof(float),
        .blas = blas_config(),
    };
    if (d != NULL && d->rt.gathered) {
        s->ranks = d->rt.size;
        s->rank_compute = d->rt.r_compute;
        s->rank_comm = d->rt.r_comm;
        s->rank_wait = d->rt.r_wait;
    }
    if (dp != NULL) {
        s->replicated_bytes_total = dp->replicated_bytes;
        s->gil_wait_seconds = dp->use_gil ? gil_wait_seconds(&dp->gil) : 0.0;
        s->gil_held_seconds = dp->use_gil ? gil_held_seconds(&dp->gil) : 0.0;
        s->replicate_seconds = dp->replicate_s;
        s->scatter_seconds = dp->scatter_s;
        s->compute_seconds = dp->compute_s;
        s->gather_seconds = dp->gather_s;
    }
}

static void per_rank(json_t *j, const char *key, const double *v, int n) {
    json_array(j, key, JSON_INLINE);
    for (int i = 0; i < n; i++)
        json_fixed(j, NULL, v[i], 6);
    json_end(j);
}

int summary_write(const char *path, const run_summary_t *s, tdp_err_t *err) {
    json_t j;
    json_init(&j);
    json_object(&j, NULL, JSON_LINES);
    json_string(&j, "mode", s->mode);
    json_int(&j, "world_size", s->world_size);
    json_int(&j, "workers", s->workers);
    json_int(&j, "hosts", s->hosts);
    json_string(&j, "model", s->model);
    json_int(&j, "params", s->params);
    json_int(&j, "epochs", s->epochs);
    json_int(&j, "steps", s->steps);
    json_int(&j, "batch", s->batch);
    json_int(&j, "global_batch", s->global_batch);
    json_fixed(&j, "train_samples_per_s", s->train_samples_per_s, 3);
    json_fixed(&j, "test_accuracy", s->test_accuracy, 6);
    json_real(&j, "final_loss", s->final_loss, 8);
    json_fixed(&j, "seconds", s->seconds, 6);
    json_fixed(&j, "train_seconds", s->train_seconds, 9);
    json_fixed(&j, "replicated_bytes_total", s->replicated_bytes_total, 0);
    json_fixed(&j, "broadcast_bytes", s->broadcast_bytes, 0);
    json_fixed(&j, "allreduce_bytes_per_step", s->allreduce_bytes_per_step, 0);
    json_string(&j, "grad_compress", s->grad_compress ? s->grad_compress : "none");
    json_int(&j, "bucket_kb", s->bucket_kb);
    json_int(&j, "overlap", s->overlap);
    json_fixed(&j, "comm_seconds", s->comm_seconds, 6);
    json_fixed(&j, "gil_wait_seconds", s->gil_wait_seconds, 6);
    json_fixed(&j, "gil_held_seconds", s->gil_held_seconds, 6);
    json_fixed(&j, "replicate_seconds", s->replicate_seconds, 6);
    json_fixed(&j, "scatter_seconds", s->scatter_seconds, 6);
    json_fixed(&j, "compute_seconds", s->compute_seconds, 6);
    json_fixed(&j, "gather_seconds", s->gather_seconds, 6);
    json_fixed(&j, "optimizer_seconds", s->optimizer_seconds, 6);
    json_fixed(&j, "optimizer_state_bytes", s->optimizer_state_bytes, 0);
    json_string(&j, "blas", s->blas ? s->blas : "");
    per_rank(&j, "rank_compute_seconds", s->rank_compute, s->ranks);
    per_rank(&j, "rank_comm_seconds", s->rank_comm, s->ranks);
    per_rank(&j, "rank_wait_seconds", s->rank_wait, s->ranks);
    json_end(&j);
    return json_write(&j, path, err);
}
