/* outputs.c: the configuration ddp_train prints and the end of its run's outputs, staged so that
 * they appear all or none. */
#include "outputs.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "outfile.h"
#include "summary.h"

static int dump_weights(const char *path, const float *w, size_t n, tdp_err_t *err) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return write_file_atomic(path, w, n * sizeof(float), err);
#else
    uint32_t *le = malloc(n * sizeof *le);
    if (le == NULL)
        return tdp_fail_sys(err, __FILE__, __LINE__, 0, "out of memory");
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &w[i], 4);
        le[i] = __builtin_bswap32(u);
    }
    int rc = write_file_atomic(path, le, n * sizeof *le, err);
    free(le);
    return rc;
#endif
}

void print_config(const setup_t *s, const trainer_t *t, const ddp_t *d) {
    const options_t *o = &s->o;
    printf("tinyddp: mode %s, world %d (%d host%s), workers %d, model %s (%s, %zu parameters)\n",
           mode_name(o->mode), d ? d->c->size : 1, d ? d->c->hosts : 1,
           d && d->c->hosts > 1 ? "s" : "", t->cfg.world, s->model_path, s->model.shape,
           s->model.nparams);
    if (s->synthetic == 2)
        printf("data: %s not found, using the synthetic set (install dataset-fashion-mnist for "
               "the real one)\n",
               o->data);
    printf("data: %s: %zu train, %zu test samples of %d features, %d classes; features = "
           "pixel * %.6g + %.6g (the training set's mean and std)\n",
           s->synthetic ? "synthetic" : o->data, s->train.n, s->test.n, s->train.dim, s->cfg.output,
           (double)s->train.scale, (double)s->train.offset);
    printf("training: epochs %d, max-steps %ld, batch %d per worker x %d worker%s x %d "
           "accumulated = %d per step, lr %g (%s), momentum %g, weight-decay %g, seed %llu, "
           "%zu steps/epoch (last partial batch dropped)\n",
           s->epochs, o->max_steps, s->batch, t->cfg.world, t->cfg.world > 1 ? "s" : "", o->accum,
           s->batch * t->cfg.world * o->accum, s->lr, o->lr_cosine ? "cosine decay" : "constant",
           s->mom, s->wd, (unsigned long long)o->seed, t->batches);
    if (o->mode == MODE_DP)
        printf("dp: %d worker threads (%s), replicas of the model made and destroyed every step "
               "(%zu bytes per step, memory %s), interpreter lock %s\n",
               o->workers, o->dp_pool ? "a persistent pool" : "created every step",
               s->model.nparams * sizeof(float) * (size_t)o->workers,
               o->dp_cache ? "kept mapped" : "returned to the system", o->gil ? "emulated" : "off");
    if (o->gil) {
        char cal[1024];
        gilcal_format(&s->gilcal, cal, sizeof cal);
        printf("gil: calibration %s: %s\n", s->gilcal_path, cal);
    }
    if (d && o->workers > 1)
        printf("hybrid: %d threads per rank combine their gradients, then the ranks allreduce "
               "(%s)\n",
               o->workers,
               d->zero.on         ? "--zero: reduce-scatter"
               : d->deterministic ? "allgather + sum in rank order"
                                  : "blocking");
    if (d && d->autotune)
        printf("ddp: buckets auto: the first %d steps time --no-overlap and overlapped buckets of "
               "64, 256 and 1024 KB in %d interleaved rounds, then every rank keeps the fastest; "
               "model broadcast once (%zu bytes)%s\n",
               TUNE_STEPS, TUNE_ROUNDS, s->model.nparams * sizeof(float),
               o->accum > 1 ? ", one allreduce per accumulated step" : "");
    else if (d && !d->zero.on)
        printf("ddp: %s, %d bucket%s of up to %zu KB, model broadcast once (%zu bytes)%s\n",
               d->deterministic ? "allgather + sum in rank order (deterministic)"
               : d->overlap     ? "bucketed allreduce overlapped with backward"
                                : "one allreduce after backward",
               d->nbuckets, d->nbuckets > 1 ? "s" : "", d->bucket_kb,
               s->model.nparams * sizeof(float),
               o->accum > 1 ? ", one allreduce per accumulated step" : "");
    if (d && d->z.kind)
        printf("ddp: gradient sent as %s (%.0f bytes per step instead of %zu), summed in fp32%s%s; "
               "%s conversions\n",
               compress_name(d->z.kind), ddp_bytes_per_step(d),
               (s->model.nparams + TRAIN_EXTRA) * sizeof(float),
               d->deterministic ? " in rank order" : ", rounded to 16 bits after each addition",
               d->z.resid ? ", with error feedback" : "", half_fast() ? "F16C/AVX2" : "scalar");
    if (d && d->zero.on)
        printf("ddp: --zero (ZeRO-1): momentum of %zu of %zu parameters on rank 0 (1/%d), "
               "gradient reduce-scatter%s after backward, weights allgathered after the step, "
               "model broadcast once (%zu bytes)\n",
               d->zero.len, s->model.nparams, d->c->size,
               d->deterministic ? " as alltoall + sum in rank order (deterministic)" : "",
               s->model.nparams * sizeof(float));
    printf("blas: %d thread(s) per worker, %s\n", blas_get_threads(), blas_config());
    fflush(stdout);
}

/* The trace of every rank (DDP: gathered to rank 0, which writes it) or of this process. */
static int write_trace(const run_end_t *e, tdp_err_t *err) {
    const char *path = e->s->o.trace_path;
    if (e->d != NULL)
        return comm_write_trace(e->d->c, e->trace, path, err);
    char *part = NULL;
    size_t len = 0;
    int rc = trace_format(e->trace, 0, &part, &len, err);
    if (rc == TDP_OK)
        rc = trace_write(path, &part, &len, 1, err);
    free(part);
    return rc;
}

/* The JSON summary, from the state of the trainer, the ranks and the DP workers. */
static int write_summary(const run_end_t *e, tdp_err_t *err) {
    summary_source_t src = {
        .mode = mode_name(e->s->o.mode),
        .model = e->s->model_path,
        .t = e->t,
        .d = e->d,
        .dp = e->dp,
        .seconds = e->seconds,
        .broadcast_bytes = e->broadcast_bytes,
    };
    run_summary_t sum;
    summary_build(&sum, &src);
    return summary_write(e->s->o.json_path, &sum, err);
}

int outputs_write(const run_end_t *e, int rc, tdp_err_t *err) {
    const setup_t *s = e->s;
    trainer_t *t = e->t;
    const int rank = e->rank;
    /* the end of the run's outputs (trace, last checkpoint, weights, summary): all or none */
    out_stage_begin();
    if (rc == TDP_OK && e->trace != NULL)
        rc = write_trace(e, err);
    /* the curves of the steps run, a stopped run's too */
    if (rc == TDP_OK && e->metrics != NULL)
        rc = metrics_write(e->metrics, s->o.metrics_path, err);
    int stopped = rc == TDP_OK && t->stopped; /* no summary, no weights: not finished */
    if (stopped)
        rc = -1;
    if (rc == TDP_OK && t->ckpt_path)
        rc = trainer_checkpoint_end(t, err);
    if (rc == TDP_OK && rank == 0 && !s->o.quiet)
        printf("done: %ld steps, test accuracy %.4f, final loss %.4f, %.0f samples/s, %.2f s, "
               "exposed communication %.3f s\n",
               t->steps, t->test_accuracy, t->final_loss, t->samples_per_s, e->seconds,
               e->d ? e->d->comm_seconds : 0.0);
    if (rc == TDP_OK && rank == 0 && !s->o.quiet && e->d)
        ranktime_print(&e->d->rt, stdout);
    if (rc == TDP_OK && rank == 0 && s->o.dump_weights_path[0])
        rc = dump_weights(s->o.dump_weights_path, t->params, s->model.nparams, err);
    if (rc == TDP_OK && rank == 0 && s->o.json_path[0])
        rc = write_summary(e, err);
    /* every output written: rename them all into place; on any failure remove them all */
    int out = out_stage_end(stopped ? TDP_OK : rc, err);
    if (out != TDP_OK || !stopped) {
        rc = out;
        stopped = 0;
    }
    if (stopped && rank == 0) /* said once its outputs are in place */
        fprintf(stderr,
                "%s: stopped by %s after step %ld: %s%s; exit status %d (resume with --resume)\n",
                prog, stop_name(), t->steps,
                t->ckpt_path ? "checkpoint written to " : "no --checkpoint given, nothing saved",
                t->ckpt_path ? t->ckpt_path : "", EXIT_STOPPED);
    if (rc > 0) /* not yet reported */
        fprintf(stderr, "%s: %s\n", prog, err->msg);
    if (rc < 0 && !stopped)
        rc = -rc;
    return stopped ? RUN_STOPPED : rc;
}
