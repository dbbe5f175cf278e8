/* ddp_train.c: the command line of the trainer. Parses and validates everything before any
 * work, runs the chosen mode through the shared step loop, writes the outputs at the end. */
#include <errno.h>
#include <math.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blas.h"
#include "cfg.h"
#include "data.h"
#include "model.h"
#include "options.h"
#include "report.h"
#include "train.h"

#ifndef TDP_MODELS_DIR
#define TDP_MODELS_DIR "models"
#endif

static const char *prog = "ddp_train";

static int fail(const tdp_err_t *err) {
    fprintf(stderr, "%s: %s\n", prog, err->msg);
    return err->code == TDP_EINPUT ? 2 : 1;
}

/* An output path must be writable before any work starts, so a typo fails in a second. */
static int check_output_path(const char *opt, const char *path, tdp_err_t *err) {
    if (path[0] == '\0')
        return TDP_OK;
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return tdp_fail(err, TDP_EINPUT, "--%s %s: is a directory", opt, path);
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    const char *dir = dirname(buf);
    if (access(dir, W_OK) != 0)
        return tdp_fail(err, TDP_EINPUT, "--%s %s: directory %s is not writable: %s", opt, path,
                        dir, strerror(errno));
    return TDP_OK;
}

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

int main(int argc, char **argv) {
    tdp_err_t err = {0};
    options_t o;
    int rc = options_parse(argc, argv, &o, &err);
    if (rc != TDP_OK)
        return fail(&err);
    if (o.help) {
        options_usage(stdout, prog);
        return 0;
    }
    if (o.mode != MODE_SERIAL) {
        fprintf(stderr, "%s: --mode %s is not implemented in this version (use --mode serial)\n",
                prog, mode_name(o.mode));
        return 2;
    }
    if (o.workers != 1) {
        fprintf(stderr, "%s: --workers applies to dp mode only\n", prog);
        return 2;
    }

    /* the default model file, relative to the working directory or the source tree */
    model_cfg_t cfg;
    char model_path[4096];
    snprintf(model_path, sizeof model_path, "%s", o.model_path);
    if (strcmp(o.model_path, "models/fashion-mlp.cfg") == 0 && access(model_path, R_OK) != 0)
        snprintf(model_path, sizeof model_path, "%s/fashion-mlp.cfg", TDP_MODELS_DIR);
    if ((rc = cfg_load(model_path, &cfg, &err)) != TDP_OK)
        return fail(&err);
    model_t model;
    if ((rc = model_build(&cfg, &model, &err)) != TDP_OK)
        return fail(&err);

    /* hyperparameters: command line, else the model file's [net], else built-in */
    int epochs = o.epochs >= 0 ? o.epochs : cfg.has_epochs ? cfg.epochs : OPT_DEFAULT_EPOCHS;
    int batch = o.batch > 0 ? o.batch : cfg.has_batch ? cfg.batch : OPT_DEFAULT_BATCH;
    double lr = !isnan(o.lr) ? o.lr : cfg.has_lr ? cfg.lr : OPT_DEFAULT_LR;
    double mom = !isnan(o.momentum) ? o.momentum
                 : cfg.has_momentum ? cfg.momentum
                                    : OPT_DEFAULT_MOMENTUM;
    double wd = !isnan(o.weight_decay) ? o.weight_decay
                : cfg.has_weight_decay ? cfg.weight_decay
                                       : OPT_DEFAULT_WEIGHT_DECAY;

    if ((rc = check_output_path("json", o.json_path, &err)) != TDP_OK ||
        (rc = check_output_path("dump-weights", o.dump_weights_path, &err)) != TDP_OK)
        return fail(&err);

    /* data */
    dataset_t train = {0}, test = {0};
    int synthetic = strcmp(o.data, "synthetic") == 0;
    if (!synthetic && o.data_is_default && access(o.data, R_OK | X_OK) != 0) {
        synthetic = 1;
        if (!o.quiet)
            printf("data: %s not found, using the synthetic set (install "
                   "dataset-fashion-mnist for the real one)\n",
                   o.data);
    }
    if (synthetic)
        rc = dataset_synthetic(o.seed, (size_t)o.synthetic_train, (size_t)o.synthetic_test,
                               cfg.input, cfg.output, &train, &test, &err);
    else
        rc = dataset_load_dir(o.data, cfg.output, &train, &test, &err);
    if (rc != TDP_OK)
        return fail(&err);
    dataset_standardize(&test, &train);
    dataset_standardize(&train, &train);

    /* one BLAS thread per worker unless the user says otherwise */
    if (getenv("OPENBLAS_NUM_THREADS") == NULL)
        blas_set_threads(1);

    train_config_t tc = {
        .model = &model,
        .train = &train,
        .test = &test,
        .epochs = epochs,
        .max_steps = o.max_steps,
        .batch = batch,
        .world = 1,
        .accum = 1,
        .proc_rank = 0,
        .procs = 1,
        .sgd = {.lr = (float)lr, .momentum = (float)mom, .weight_decay = (float)wd},
        .lr_cosine = o.lr_cosine,
        .seed = o.seed,
    };
    trainer_t t;
    if ((rc = trainer_init(&t, &tc, &err)) != TDP_OK) {
        dataset_free(&train);
        dataset_free(&test);
        return fail(&err);
    }

    if (!o.quiet) {
        printf("tinyddp: mode %s, workers 1, model %s (%s, %zu parameters)\n", mode_name(o.mode),
               model_path, model.shape, model.nparams);
        printf("data: %s: %zu train, %zu test samples of %d features, %d classes; features = "
               "pixel * %.6g + %.6g (the training set's mean and std)\n",
               synthetic ? "synthetic" : o.data, train.n, test.n, train.dim, cfg.output,
               (double)train.scale, (double)train.offset);
        printf("training: epochs %d, max-steps %ld, batch %d, lr %g (%s), momentum %g, "
               "weight-decay %g, seed %llu, %zu steps/epoch (last partial batch dropped)\n",
               epochs, o.max_steps, batch, lr, o.lr_cosine ? "cosine decay" : "constant", mom, wd,
               (unsigned long long)o.seed, t.batches);
        printf("blas: %d thread(s), %s\n", blas_get_threads(), blas_config());
        fflush(stdout);
    }

    report_t rep;
    report_init(&rep, !o.quiet);
    double t0 = tdp_now();
    rc = trainer_run(&t, &serial_engine, NULL, &rep, &err);
    double seconds = tdp_now() - t0;
    if (rc == TDP_OK && !o.quiet)
        printf("done: %ld steps, test accuracy %.4f, final loss %.4f, %.0f samples/s, %.2f s\n",
               t.steps, t.test_accuracy, t.final_loss, t.samples_per_s, seconds);
    if (rc == TDP_OK && o.dump_weights_path[0])
        rc = dump_weights(o.dump_weights_path, t.params, model.nparams, &err);
    if (rc == TDP_OK && o.json_path[0]) {
        run_summary_t s = {
            .mode = mode_name(o.mode),
            .world_size = 1,
            .workers = 1,
            .hosts = 1,
            .model = model_path,
            .params = (long)model.nparams,
            .epochs = t.epochs_done,
            .steps = t.steps,
            .batch = batch,
            .global_batch = batch,
            .train_samples_per_s = t.samples_per_s,
            .test_accuracy = t.test_accuracy,
            .final_loss = t.final_loss,
            .seconds = seconds,
        };
        rc = report_write_json(o.json_path, &s, &err);
    }
    trainer_free(&t);
    dataset_free(&train);
    dataset_free(&test);
    return rc == TDP_OK ? 0 : fail(&err);
}
