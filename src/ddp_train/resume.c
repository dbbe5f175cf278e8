/* resume.c: the run's configuration as canonical text, the checkpoint settings of the trainer,
 * and the resume from a checkpoint. */
#include "resume.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compress.h"
#include "testhooks.h"

/* The resolved configuration as canonical text (runconfig.h): `all` holds every setting the
 * ranks of a DDP run must agree on, `ck` the lines a checkpoint stores and a resume must match
 * (what the weights depend on besides the model and the global batch, which the checkpoint's
 * header carries). run_config_resume then adds the resume state to `all`.
 *
 * `all` covers every option that changes what any rank computes or which collectives it calls,
 * the model, every byte of both data sets, and the resume state. What may differ between ranks:
 * the paths of --json, --dump-weights, --trace, --metrics and --checkpoint, and --quiet,
 * --progress and --log-every (only rank 0 writes and prints, from what it has without another
 * collective; whether --trace and --checkpoint are given must agree, since every rank takes part
 * in gathering the trace and in the sums a checkpoint stores), the --model and --data paths
 * (their contents must agree: the model's shape, the data's bytes), --synthetic-train and
 * --synthetic-test (through the data), and --resume's path (the state read from it must
 * agree). */
static void run_config(const setup_t *s, runconfig_t *all, runconfig_t *ck) {
    const options_t *o = &s->o;
    char r[40];
#define BOTH(key, ...)                                                                             \
    do {                                                                                           \
        runconfig_add(all, key, __VA_ARGS__);                                                      \
        runconfig_add(ck, key, __VA_ARGS__);                                                       \
    } while (0)
    runconfig_add(all, "--mode", "%s", mode_name(o->mode));
    runconfig_add(all, "model", "%s, %zu parameters, shape hash %016llx", s->model.shape,
                  s->model.nparams, (unsigned long long)model_shape_hash(&s->model));
    BOTH("--epochs", "%d", s->epochs);
    if (o->max_steps >= 0)
        BOTH("--max-steps", "%ld", o->max_steps);
    else
        BOTH("--max-steps", "none");
    runconfig_add(all, "--batch", "%d", s->batch);
    runconfig_add(all, "--accum", "%d", o->accum);
    runconfig_add(all, "--workers", "%d", o->workers);
    BOTH("--lr", "%s", runconfig_real(s->lr, r));
    BOTH("--lr-schedule", "%s", o->lr_cosine ? "cosine" : "constant");
    BOTH("--momentum", "%s", runconfig_real(s->mom, r));
    BOTH("--weight-decay", "%s", runconfig_real(s->wd, r));
    BOTH("--seed", "%llu", (unsigned long long)o->seed);
    if (o->bucket_kb == OPT_BUCKET_AUTO)
        runconfig_add(all, "--bucket-kb", "auto");
    else
        runconfig_add(all, "--bucket-kb", "%d", o->bucket_kb);
    runconfig_add(all, "--grad-compress", "%s", compress_name((half_kind_t)o->grad_compress));
    runconfig_add(all, "--error-feedback", "%s", o->error_feedback ? "on" : "off");
    /* the weights depend on the compression: a checkpoint records it (only when on, so that the
     * records of uncompressed runs stay as they were) and a resume must match it */
    if (o->grad_compress)
        runconfig_add(ck, "--grad-compress", "%s%s", compress_name((half_kind_t)o->grad_compress),
                      o->error_feedback ? " with error feedback" : "");
    runconfig_add(all, "--no-overlap", "%s", o->no_overlap ? "on" : "off");
    runconfig_add(all, "--deterministic", "%s", o->deterministic ? "on" : "off");
    runconfig_add(all, "--zero", "%s", o->zero ? "on" : "off"); /* not ck: resume either way */
    runconfig_add(all, "--comm-timeout", "%s", runconfig_real(o->comm_timeout, r));
    runconfig_add(all, "--check-sync", "%ld", o->check_sync);
    runconfig_add(all, "--straggler-pct", "%s", runconfig_real(o->straggler_pct, r));
    runconfig_add(all, "--gil", "%s", o->gil ? "on" : "off");
    runconfig_add(all, "--switch-interval", "%s", runconfig_real(o->switch_interval, r));
    if (o->gil) {
        char cal[1024];
        gilcal_format(&s->gilcal, cal, sizeof cal);
        runconfig_add(all, "--gil-calibration", "%s", cal);
    }
    runconfig_add(all, "--dp-pool", "%s", o->dp_pool ? "on" : "off");
    runconfig_add(all, "--dp-cache", "%s", o->dp_cache ? "on" : "off");
    runconfig_add(all, "--checkpoint", "%s", o->checkpoint_path[0] ? "given" : "none");
    runconfig_add(all, "--checkpoint-every", "%ld", o->checkpoint_every);
    runconfig_add(all, "--trace", "%s", o->trace_path[0] ? "given" : "none");
    /* the data: every byte of the images and labels of both sets */
    const dataset_t *set[2] = {&s->train, &s->test};
    uint64_t h[2];
    for (int i = 0; i < 2; i++) {
        uint64_t shape[3] = {set[i]->n, (uint64_t)set[i]->dim, (uint64_t)set[i]->classes};
        h[i] = runconfig_hash(0, shape, sizeof shape);
        h[i] = runconfig_hash(h[i], set[i]->x, set[i]->n * (size_t)set[i]->dim);
        h[i] = runconfig_hash(h[i], set[i]->y, set[i]->n);
    }
    BOTH("training set size", "%zu", s->train.n);
    BOTH("training data hash", "%016llx", (unsigned long long)h[0]);
    runconfig_add(all, "test set size", "%zu", s->test.n);
    runconfig_add(all, "test data hash", "%016llx", (unsigned long long)h[1]);
#undef BOTH
}

/* The state a run resumes from (resume: the checkpoint's header), or "none". */
static void run_config_resume(runconfig_t *all, const ckpt_header_t *resume) {
    if (resume != NULL)
        runconfig_add(all, "--resume", "step %llu (epoch %llu, step %llu of it), header CRC %08x",
                      (unsigned long long)resume->steps, (unsigned long long)resume->epoch + 1,
                      (unsigned long long)resume->next_b, resume->header_crc);
    else
        runconfig_add(all, "--resume", "none");
}

/* The configuration of this run and its checkpoint record (static: the trainer points at the
 * record until the end). */
static runconfig_t run_conf, run_record;

void run_config_free(void) {
    runconfig_free(&run_conf);
    runconfig_free(&run_record);
}

int run_config_make(const setup_t *s, int world, int describe, ckpt_expect_t *want,
                    ckpt_header_t *resumed, tdp_err_t *err) {
    *want = (ckpt_expect_t){
        .nparams = s->model.nparams,
        .shape_hash = model_shape_hash(&s->model),
        .mode = (uint32_t)s->o.mode,
        .workers = (uint32_t)world,
        .batch = (uint32_t)s->batch,
        .accum = (uint32_t)s->o.accum,
    };
    const int resuming = s->o.resume_path[0] != '\0';
    int rc = TDP_OK;
    if (describe) {
        run_config(s, &run_conf, &run_record);
        want->record = run_record.text;
        want->record_len = run_record.len;
        if (!run_conf.failed && !run_record.failed && resuming)
            rc = ckpt_read(s->o.resume_path, want, resumed, NULL, NULL, err);
        if (rc == TDP_OK)
            run_config_resume(&run_conf, resuming ? resumed : NULL);
        if (rc == TDP_OK && (run_conf.failed || run_record.failed))
            rc = tdp_fail(err, TDP_ERUNTIME, "out of memory describing the configuration");
    }
    return rc;
}

const runconfig_t *run_config_all(void) {
    return &run_conf;
}

void run_config_attach(trainer_t *t, const ckpt_expect_t *want, const options_t *o, int rank) {
    t->ckpt_base = (ckpt_header_t){
        .shape_hash = want->shape_hash,
        .mode = want->mode,
        .workers = want->workers,
        .batch = want->batch,
        .accum = want->accum,
    };
    t->ckpt_record = run_record.text;
    t->ckpt_record_len = run_record.len;
    t->ckpt_path = o->checkpoint_path[0] ? o->checkpoint_path : NULL;
    t->ckpt_every = o->checkpoint_every;
    t->ckpt_writer = rank == 0;
    t->stop_flag = &stop_signal;
    /* tests: TDP_TEST_STOP_AT=N [TDP_TEST_STOP_RANK=R] acts as a signal during step N */
    const testhooks_t *h = testhooks();
    if (h->stop_at_set && (!h->stop_rank_set || h->stop_rank == rank))
        t->stop_at = h->stop_at;
}

int resume_from(const setup_t *s, trainer_t *t, const ckpt_expect_t *want, const ckpt_header_t *h0,
                int rank, tdp_err_t *err) {
    const char *path = s->o.resume_path;
    ckpt_header_t h;
    /* a sharded momentum (--zero): the whole one is read, this rank keeps its slice */
    const size_t n = t->cfg.model->nparams, lo = t->cfg.state_lo, len = t->cfg.state_len;
    float *whole = len == n ? t->velocity : tdp_floats_new(n);
    if (whole == NULL)
        return tdp_fail_sys(err, __FILE__, __LINE__, 0, "out of memory reading the momentum");
    int rc = ckpt_read(path, want, &h, t->params, whole, err);
    if (whole != t->velocity) {
        memcpy(t->velocity, whole + lo, len * sizeof *whole);
        free(whole);
    }
    if (rc != TDP_OK)
        return rc;
    if (memcmp(&h, h0, sizeof h) != 0)
        return tdp_fail(err, TDP_EINPUT,
                        "checkpoint %s changed while this run was starting: run it again", path);
    if ((long)h.planned_steps != t->planned_steps)
        return tdp_fail(err, TDP_EINPUT,
                        "checkpoint %s: its schedule has %llu steps, this run %ld: resume "
                        "with the same --epochs and --max-steps",
                        path, (unsigned long long)h.planned_steps, t->planned_steps);
    /* this run's global batch (the header's was checked equal; its fields are not trusted in
     * arithmetic: a product of them could wrap) */
    const uint64_t global =
        (uint64_t)t->cfg.batch * (uint64_t)t->cfg.world * (uint64_t)t->cfg.accum;
    if (h.epoch >= (uint64_t)t->cfg.epochs + (t->cfg.epochs == 0) || h.next_b > t->batches ||
        h.steps != h.epoch * t->batches + h.next_b || h.ep_steps != h.next_b ||
        h.ep_correct > h.ep_steps * global)
        return tdp_fail(err, TDP_EINPUT,
                        "checkpoint %s: inconsistent position (step %llu, epoch %llu, step %llu "
                        "of it)",
                        path, (unsigned long long)h.steps, (unsigned long long)h.epoch + 1,
                        (unsigned long long)h.next_b);
    t->steps = (long)h.steps;
    t->start_epoch = (long)h.epoch;
    t->start_b = (long)h.next_b;
    t->resume_sums = 1;
    t->ep_loss = h.ep_loss;
    t->ep_steps = (long)h.ep_steps;
    t->ep_correct = rank == 0 ? (long)h.ep_correct : 0; /* the others add their own from here */
    t->ep_correct_all = (double)h.ep_correct;
    return TDP_OK;
}
