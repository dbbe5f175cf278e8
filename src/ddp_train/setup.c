/* setup.c: everything a rank of ddp_train parses, checks and loads before any work (options,
 * model, outputs, inputs, data, the memory check), and the stop requests it honours. */
#include "setup.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "defaults.h"
#include "memcheck.h"
#include "outfile.h"
#include "testhooks.h"
#include "tmpfiles.h"
#include "version.h"

volatile sig_atomic_t stop_signal = 0;

static void on_stop_signal(int sig) {
    if (stop_signal != 0 && sig == SIGINT) { /* a second Ctrl-C: stop now */
        /* a checkpoint being written leaves no temporary file (unlink is async-signal-safe) */
        tmpfiles_unlink_all();
        signal(SIGINT, SIG_DFL);
        raise(SIGINT);
    }
    stop_signal = sig;
}

int install_stop_handlers(tdp_err_t *err) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    int sigs[] = {SIGUSR1, SIGTERM, SIGINT};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        if (sigaction(sigs[i], &sa, NULL) != 0)
            return tdp_fail_sys(err, __FILE__, __LINE__, errno, "sigaction");
    return TDP_OK;
}

int launcher_world_size(void) {
    const char *v = getenv("OMPI_COMM_WORLD_SIZE");
    if (v == NULL)
        v = getenv("PMI_SIZE");
    return v ? atoi(v) : 1;
}

/* The inputs are regular files (checked without opening them: the readers open them without
 * blocking too), no output is an input or another output; --checkpoint X --resume X goes on
 * with X. */
static int check_files(const setup_t *s, tdp_err_t *err) {
    const options_t *o = &s->o;
    run_file_t f[5 + 1 + 1 + 4] = {
        {"checkpoint", o->checkpoint_path, 1, "resume"}, {"json", o->json_path, 1, NULL},
        {"dump-weights", o->dump_weights_path, 1, NULL}, {"trace", o->trace_path, 1, NULL},
        {"metrics", o->metrics_path, 1, NULL},           {"model", s->model_path, 0, NULL},
        {"resume", o->resume_path, 0, "checkpoint"},
    };
    int n = 7, rc = tdp_open_input("--resume", o->resume_path, NULL, err);
    char data[DATASET_NFILES][4096 + 32];
    if (strcmp(o->data, "synthetic") != 0) {
        for (int i = 0; i < DATASET_NFILES; i++) {
            if (rc == TDP_OK && dataset_file(o->data, i, data[i], sizeof data[i]) != 0)
                rc = tdp_fail(err, TDP_EINPUT, "--data %s: path too long", o->data);
            if (rc == TDP_OK)
                rc = tdp_open_input("--data", data[i], NULL, err);
            f[n++] = (run_file_t){"data", data[i], 0, NULL};
        }
    }
    return rc != TDP_OK ? rc : out_check_aliases(f, n, err);
}

/* tests: TDP_TEST_SETUP_WAIT=FILE [TDP_TEST_SETUP_WAIT_RANK=R]: at the end of set-up, write
 * this process's id to FILE and wait, as a slow set-up would, until a stop signal comes or FILE
 * is removed (60 s at most; polled every millisecond: scripts/py/scale/corun.py releases
 * co-running processes with it, and they must start within a few steps of each other). */
static void test_setup_wait(void) {
    const testhooks_t *h = testhooks();
    const char *f = h->setup_wait, *me = getenv("OMPI_COMM_WORLD_RANK");
    if (f == NULL || (h->setup_wait_rank_set && h->setup_wait_rank != (me ? atoi(me) : 0)))
        return;
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    tdp_err_t err;
    if (write_file_atomic(f, pid, (size_t)n, &err) != TDP_OK) {
        fprintf(stderr, "%s: TDP_TEST_SETUP_WAIT: %s\n", prog, err.msg);
        return;
    }
    struct timespec ts = {0, 1000000};
    for (int i = 0; i < 60000 && stop_signal == 0 && access(f, F_OK) == 0; i++)
        nanosleep(&ts, NULL);
}

const char *stop_name(void) {
    return stop_signal == SIGUSR1   ? "SIGUSR1"
           : stop_signal == SIGTERM ? "SIGTERM"
           : stop_signal == SIGINT  ? "SIGINT"
                                    : "a stop request from another rank";
}

void stopped_in_setup(void) {
    fprintf(stderr,
            "%s: stopped by %s during set-up, before training: nothing saved; exit status %d\n",
            prog, stop_name(), EXIT_STOPPED);
}

void print_info(const options_t *o) {
    if (o->help)
        options_usage(stdout, prog);
    else
        tdp_print_version(stdout, prog);
}

int setup(int argc, char **argv, setup_t *s, tdp_err_t *err) {
    options_t *o = &s->o;
    int rc = options_parse(argc, argv, o, err);
    if (rc != TDP_OK || o->help || o->version)
        return rc;
    /* options_parse refused the options that do not apply to the mode */
    if (o->mode != MODE_DDP && launcher_world_size() > 1)
        return tdp_fail(err, TDP_EINPUT,
                        "--mode %s runs as one process, but mpirun started %d: use --mode ddp "
                        "or run without mpirun",
                        mode_name(o->mode), launcher_world_size());

    snprintf(s->model_path, sizeof s->model_path, "%s", o->model_path);
    if (strcmp(o->model_path, OPT_DEFAULT_MODEL) == 0)
        defaults_find(s->model_path, sizeof s->model_path, OPT_DEFAULT_MODEL);
    if ((rc = tdp_open_input("--model", s->model_path, NULL, err)) != TDP_OK ||
        (rc = cfg_load(s->model_path, &s->cfg, err)) != TDP_OK)
        return rc;
    if ((rc = model_build(&s->cfg, &s->model, err)) != TDP_OK)
        return rc;
    if (o->gil) {
        snprintf(s->gilcal_path, sizeof s->gilcal_path, "%s", o->gil_calibration);
        if (strcmp(o->gil_calibration, OPT_DEFAULT_GILCAL) == 0)
            defaults_find(s->gilcal_path, sizeof s->gilcal_path, OPT_DEFAULT_GILCAL);
        if ((rc = tdp_open_input("--gil-calibration", s->gilcal_path, NULL, err)) != TDP_OK ||
            (rc = gilcal_load(s->gilcal_path, &s->gilcal, err)) != TDP_OK)
            return rc;
    }
    const model_cfg_t *c = &s->cfg;
    /* hyperparameters: command line, else the model file's [net], else built-in */
    s->epochs = o->epochs >= 0 ? o->epochs : c->has_epochs ? c->epochs : OPT_DEFAULT_EPOCHS;
    s->batch = o->batch > 0 ? o->batch : c->has_batch ? c->batch : OPT_DEFAULT_BATCH;
    s->lr = !isnan(o->lr) ? o->lr : c->has_lr ? c->lr : OPT_DEFAULT_LR;
    s->mom = !isnan(o->momentum) ? o->momentum
             : c->has_momentum   ? c->momentum
                                 : OPT_DEFAULT_MOMENTUM;
    s->wd = !isnan(o->weight_decay) ? o->weight_decay
            : c->has_weight_decay   ? c->weight_decay
                                    : OPT_DEFAULT_WEIGHT_DECAY;
    if (o->checkpoint_every > 0 && o->checkpoint_path[0] == '\0')
        return tdp_fail(err, TDP_EINPUT, "--checkpoint-every needs --checkpoint FILE");
    struct stat ck;
    /* (out_check refuses the other kinds of non-regular files, as for every output) */
    if (o->checkpoint_path[0] && stat(o->checkpoint_path, &ck) == 0 && S_ISCHR(ck.st_mode))
        return tdp_fail(err, TDP_EINPUT,
                        "--checkpoint %s: not a regular file (%s): a checkpoint is a file to "
                        "resume from",
                        o->checkpoint_path, tdp_file_kind(ck.st_mode));
    if ((rc = out_check("checkpoint", o->checkpoint_path, err)) != TDP_OK ||
        (rc = out_check("json", o->json_path, err)) != TDP_OK ||
        (rc = out_check("dump-weights", o->dump_weights_path, err)) != TDP_OK ||
        (rc = out_check("trace", o->trace_path, err)) != TDP_OK ||
        (rc = out_check("metrics", o->metrics_path, err)) != TDP_OK ||
        (rc = check_files(s, err)) != TDP_OK)
        return rc;

    s->synthetic = strcmp(o->data, "synthetic") == 0;
    if (!s->synthetic && o->data_is_default && access(o->data, R_OK | X_OK) != 0)
        s->synthetic = 2; /* the default directory is missing: say so */
    if (s->synthetic) {
        double need = ((double)o->synthetic_train + (double)o->synthetic_test) * (c->input + 1);
        uint64_t avail = tdp_mem_available();
        if (avail > 0 && need > (double)avail)
            return tdp_fail(err, TDP_EINPUT,
                            "the synthetic set needs %.1f GB of memory, only %.1f GB is available",
                            need / 1e9, (double)avail / 1e9);
    }
    if (s->synthetic)
        rc = dataset_synthetic(o->seed, (size_t)o->synthetic_train, (size_t)o->synthetic_test,
                               c->input, c->output, &s->train, &s->test, err);
    else
        rc = dataset_load_dir(o->data, c->output, &s->train, &s->test, err);
    if (rc != TDP_OK)
        return rc;
    /* everything the mode will hold, before any of it is allocated (what the process holds now,
     * the data included, is part of it) */
    mem_plan_t mp = {.mode = o->mode,
                     .workers = o->workers,
                     .batch = s->batch,
                     .deterministic = o->deterministic,
                     .zero = o->zero,
                     .whole_state = o->checkpoint_path[0] || o->resume_path[0],
                     .compress = o->mode == MODE_DDP && o->grad_compress != 0,
                     .error_feedback = o->error_feedback,
                     .train_n = s->train.n,
                     .resident = mem_resident()};
    mem_launcher_ranks(&mp.world, &mp.local_ranks);
    if ((rc = mem_check(&s->model, &mp, s->model_path, err)) != TDP_OK)
        return rc;
    dataset_standardize(&s->test, &s->train);
    dataset_standardize(&s->train, &s->train);
    test_setup_wait();
    return TDP_OK;
}
