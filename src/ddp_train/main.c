/* main.c: the command line of the trainer. Every rank parses and validates everything
 * before any work; the ranks agree on the outcome of set-up (so a problem seen by one rank ends
 * all of them, with no hang), then run the chosen mode through the shared step loop. Only rank 0
 * prints and writes files, at the end, atomically. */
#include <errno.h>
#include <signal.h>
#include <libgen.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "blas.h"
#include "cfg.h"
#include "data.h"
#include "ddp.h"
#include "dp.h"
#include "memcheck.h"
#include "model.h"
#include "options.h"
#include "report.h"
#include "runconfig.h"
#include "tmpfiles.h"
#include "trace.h"
#include "version.h"
#include "train.h"

#ifndef TDP_MODELS_DIR
#define TDP_MODELS_DIR "models"
#endif

#define TRACE_CAPACITY ((size_t)1 << 20)

static const char *prog = "ddp_train";

/* Exit status of a run stopped by SIGUSR1, SIGTERM or SIGINT after writing its checkpoint:
 * EX_TEMPFAIL, "try again" (a job script requeues on it). */
#define EXIT_STOPPED 75

static volatile sig_atomic_t stop_signal = 0;

static void on_stop_signal(int sig) {
    if (stop_signal != 0 && sig == SIGINT) { /* a second Ctrl-C: stop now */
        /* a checkpoint being written leaves no temporary file (unlink is async-signal-safe) */
        tmpfiles_unlink_all();
        signal(SIGINT, SIG_DFL);
        raise(SIGINT);
    }
    stop_signal = sig;
}

static int install_stop_handlers(tdp_err_t *err) {
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

/* The number of processes mpirun started, from its environment (1 when not under mpirun). */
static int launcher_world_size(void) {
    const char *v = getenv("OMPI_COMM_WORLD_SIZE");
    if (v == NULL)
        v = getenv("PMI_SIZE");
    return v ? atoi(v) : 1;
}

typedef struct {
    options_t o;
    char model_path[4096];
    model_cfg_t cfg;
    model_t model;
    int epochs, batch;
    double lr, mom, wd;
    dataset_t train, test;
    int synthetic;
} setup_t;

/* The inputs are regular files (checked without opening them: the readers open them without
 * blocking too), no output is an input or another output; --checkpoint X --resume X goes on
 * with X. */
static int check_files(const setup_t *s, tdp_err_t *err) {
    const options_t *o = &s->o;
    report_file_t f[4 + 1 + 1 + 4] = {
        {"checkpoint", o->checkpoint_path, 1, "resume"},
        {"json", o->json_path, 1, NULL},
        {"dump-weights", o->dump_weights_path, 1, NULL},
        {"trace", o->trace_path, 1, NULL},
        {"model", s->model_path, 0, NULL},
        {"resume", o->resume_path, 0, "checkpoint"},
    };
    int n = 6, rc = tdp_open_input("--resume", o->resume_path, NULL, err);
    char data[DATASET_NFILES][4096 + 32];
    if (strcmp(o->data, "synthetic") != 0) {
        for (int i = 0; i < DATASET_NFILES; i++) {
            if (rc == TDP_OK && dataset_file(o->data, i, data[i], sizeof data[i]) != 0)
                rc = tdp_fail(err, TDP_EINPUT, "--data %s: path too long", o->data);
            if (rc == TDP_OK)
                rc = tdp_open_input("--data", data[i], NULL, err);
            f[n++] = (report_file_t){"data", data[i], 0, NULL};
        }
    }
    return rc != TDP_OK ? rc : report_check_aliases(f, n, err);
}

/* tests: TDP_TEST_SETUP_WAIT=FILE [TDP_TEST_SETUP_WAIT_RANK=R]: at the end of set-up, write
 * this process's id to FILE and wait, as a slow set-up would, until a stop signal comes or FILE
 * is removed (60 s at most). */
static void test_setup_wait(void) {
    const char *f = getenv("TDP_TEST_SETUP_WAIT"), *r = getenv("TDP_TEST_SETUP_WAIT_RANK");
    const char *me = getenv("OMPI_COMM_WORLD_RANK");
    if (f == NULL || (r != NULL && atoi(r) != (me ? atoi(me) : 0)))
        return;
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    tdp_err_t err;
    if (write_file_atomic(f, pid, (size_t)n, &err) != TDP_OK) {
        fprintf(stderr, "%s: TDP_TEST_SETUP_WAIT: %s\n", prog, err.msg);
        return;
    }
    struct timespec ts = {0, 10000000};
    for (int i = 0; i < 6000 && stop_signal == 0 && access(f, F_OK) == 0; i++)
        nanosleep(&ts, NULL);
}

/* The name of the stop request that stopped this process. */
static const char *stop_name(void) {
    return stop_signal == SIGUSR1   ? "SIGUSR1"
           : stop_signal == SIGTERM ? "SIGTERM"
           : stop_signal == SIGINT  ? "SIGINT"
                                    : "a stop request from another rank";
}

/* A stop request during set-up ends the run before training: nothing trained, nothing saved. */
static int stopped_in_setup(void) {
    fprintf(stderr,
            "%s: stopped by %s during set-up, before training: nothing saved; exit status %d\n",
            prog, stop_name(), EXIT_STOPPED);
    return EXIT_STOPPED;
}

/* The default model, models/fashion-mlp.cfg: in the working directory, else where an install
 * puts it (PREFIX/share/tinyddp/models beside PREFIX/bin), else next to the program, else in the
 * source tree it was built from. The first that exists wins; none: the first, whose open fails
 * with its name. */
static void find_default_model(char *path, size_t len) {
    char exe[4096], dir[4096], cand[3][4096 + 64];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    int k = 0;
    if (n > 0) {
        exe[n] = '\0';
        snprintf(dir, sizeof dir, "%s", dirname(exe));
        snprintf(cand[k++], sizeof cand[0], "%s/../share/tinyddp/%s", dir, OPT_DEFAULT_MODEL);
        snprintf(cand[k++], sizeof cand[0], "%s/%s", dir, OPT_DEFAULT_MODEL);
    }
    snprintf(cand[k++], sizeof cand[0], "%s/fashion-mlp.cfg", TDP_MODELS_DIR);
    if (access(path, R_OK) == 0)
        return;
    for (int i = 0; i < k; i++) {
        size_t l = strlen(cand[i]);
        if (l < len && access(cand[i], R_OK) == 0) {
            memcpy(path, cand[i], l + 1);
            return;
        }
    }
}

/* --help or --version: what the user asked to see instead of a run. */
static void print_info(const options_t *o) {
    if (o->help)
        options_usage(stdout, prog);
    else
        tdp_print_version(stdout, prog);
}

/* Everything a rank checks and loads before training. */
static int setup(int argc, char **argv, setup_t *s, tdp_err_t *err) {
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
        find_default_model(s->model_path, sizeof s->model_path);
    if ((rc = tdp_open_input("--model", s->model_path, NULL, err)) != TDP_OK ||
        (rc = cfg_load(s->model_path, &s->cfg, err)) != TDP_OK)
        return rc;
    if ((rc = model_build(&s->cfg, &s->model, err)) != TDP_OK)
        return rc;
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
    /* (report_check_output refuses the other kinds of non-regular files, as for every output) */
    if (o->checkpoint_path[0] && stat(o->checkpoint_path, &ck) == 0 && S_ISCHR(ck.st_mode))
        return tdp_fail(err, TDP_EINPUT,
                        "--checkpoint %s: not a regular file (%s): a checkpoint is a file to "
                        "resume from",
                        o->checkpoint_path, tdp_file_kind(ck.st_mode));
    if ((rc = report_check_output("checkpoint", o->checkpoint_path, err)) != TDP_OK ||
        (rc = report_check_output("json", o->json_path, err)) != TDP_OK ||
        (rc = report_check_output("dump-weights", o->dump_weights_path, err)) != TDP_OK ||
        (rc = report_check_output("trace", o->trace_path, err)) != TDP_OK ||
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

/* The resolved configuration as canonical text (runconfig.h): `all` holds every setting the
 * ranks of a DDP run must agree on, `ck` the lines a checkpoint stores and a resume must match
 * (what the weights depend on besides the model and the global batch, which the checkpoint's
 * header carries). run_config_resume then adds the resume state to `all`.
 *
 * `all` covers every option that changes what any rank computes or which collectives it calls,
 * the model, every byte of both data sets, and the resume state. What may differ between ranks:
 * the paths of --json, --dump-weights, --trace and --checkpoint, and --quiet (only rank 0 writes
 * and prints; whether --trace and --checkpoint are given must agree, since every rank takes part
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
    runconfig_add(all, "--bucket-kb", "%d", o->bucket_kb);
    runconfig_add(all, "--no-overlap", "%s", o->no_overlap ? "on" : "off");
    runconfig_add(all, "--deterministic", "%s", o->deterministic ? "on" : "off");
    runconfig_add(all, "--comm-timeout", "%s", runconfig_real(o->comm_timeout, r));
    runconfig_add(all, "--check-sync", "%ld", o->check_sync);
    runconfig_add(all, "--gil", "%s", o->gil ? "on" : "off");
    runconfig_add(all, "--switch-interval", "%s", runconfig_real(o->switch_interval, r));
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

static void run_config_free(void) {
    runconfig_free(&run_conf);
    runconfig_free(&run_record);
}

/* Load the checkpoint whose header every rank read and agreed on (h0) into the trainer: the
 * weights, the momentum, the position and the epoch's running sums. */
static int resume_from(const setup_t *s, trainer_t *t, const ckpt_expect_t *want,
                       const ckpt_header_t *h0, int rank, tdp_err_t *err) {
    const char *path = s->o.resume_path;
    ckpt_header_t h;
    int rc = ckpt_read(path, want, &h, t->params, t->velocity, err);
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

static void print_config(const setup_t *s, const trainer_t *t, const ddp_t *d) {
    const options_t *o = &s->o;
    printf("tinyddp: mode %s, world %d (%d host%s), workers %d, model %s (%s, %zu parameters)\n",
           mode_name(o->mode), d ? d->size : 1, d ? d->hosts : 1, d && d->hosts > 1 ? "s" : "",
           t->cfg.world, s->model_path, s->model.shape, s->model.nparams);
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
    if (d && o->workers > 1)
        printf("hybrid: %d threads per rank combine their gradients, then the ranks allreduce "
               "(%s)\n",
               o->workers, d->deterministic ? "allgather + sum in rank order" : "blocking");
    if (d)
        printf("ddp: %s, %d bucket%s of up to %d KB, model broadcast once (%zu bytes)%s\n",
               d->deterministic ? "allgather + sum in rank order (deterministic)"
               : d->overlap     ? "bucketed allreduce overlapped with backward"
                                : "one allreduce after backward",
               d->nbuckets, d->nbuckets > 1 ? "s" : "", o->bucket_kb,
               s->model.nparams * sizeof(float),
               o->accum > 1 ? ", one allreduce per accumulated step" : "");
    printf("blas: %d thread(s) per worker, %s\n", blas_get_threads(), blas_config());
    fflush(stdout);
}

/* Free what a run holds once its trainer exists (dp and d may be NULL), and end MPI. */
static void release(setup_t *s, trainer_t *t, dp_t *dp, ddp_t *d) {
    if (dp != NULL)
        dp_free(dp);
    trainer_free(t);
    dataset_free(&s->train);
    dataset_free(&s->test);
    run_config_free();
    if (d != NULL) {
        ddp_free(d);
        MPI_Finalize();
    }
}

int main(int argc, char **argv) {
    tdp_err_t err = {0};
    setup_t s;
    memset(&s, 0, sizeof s);
    /* from the start: a stop request during set-up stops the run after its first step */
    int rc = install_stop_handlers(&err);
    if (rc != TDP_OK) {
        fprintf(stderr, "%s: %s\n", prog, err.msg);
        return 1;
    }
    rc = setup(argc, argv, &s, &err);
    /* every process mpirun started takes part in the agreements below, whatever its options
     * (--help included: a rank that printed its usage and left would leave the others waiting) */
    const int use_mpi = launcher_world_size() > 1 || (rc == TDP_OK && s.o.mode == MODE_DDP);

    ddp_t d;
    int rank = 0;
    if (use_mpi) {
        int provided;
        if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
            fprintf(stderr, "%s: MPI_Init_thread failed\n", prog);
            return 1;
        }
        tdp_err_t e2;
        if (ddp_init(&d, MPI_COMM_WORLD, &e2) != TDP_OK) {
            fprintf(stderr, "%s: %s\n", prog, e2.msg);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        rank = d.rank;
        /* a problem seen by any rank ends every rank, with its message printed once */
        int who = 0;
        int worst = ddp_agree_status(&d, rc, &who);
        if (worst != TDP_OK) {
            if (rank == who)
                fprintf(stderr, "%s: %s\n", prog, err.msg);
            dataset_free(&s.train);
            dataset_free(&s.test);
            MPI_Finalize();
            return worst == TDP_EINPUT ? 2 : 1;
        }
        /* --help or --version on some ranks only would leave the others waiting in the
         * agreement below */
        const int info = s.o.help | s.o.version << 1, mine = s.o.help ? 1 : s.o.version ? 2 : 0;
        int info_lo = 0, info_hi = 0;
        if (ddp_agree_range(&d, info, &info_lo, &info_hi) != TDP_OK || info_lo != info_hi) {
            const int which = mine ? mine : (info_hi & 1) ? 1 : 2;
            fprintf(stderr,
                    "%s: ranks disagree on %s: rank %d has %s, another rank %s: start every "
                    "rank with the same options\n",
                    prog, which == 1 ? "--help" : "--version", rank, mine ? "it" : "none",
                    mine ? "has none" : "has it");
            ddp_free(&d);
            dataset_free(&s.train);
            dataset_free(&s.test);
            MPI_Finalize();
            return 2;
        }
        if (info) {
            if (rank == 0)
                print_info(&s.o);
            ddp_free(&d);
            MPI_Finalize();
            return 0;
        }
        /* a stop request during set-up on any rank stops every rank before training */
        if (ddp_agree_status(&d, stop_signal != 0, &who) != 0) {
            int code = rank == 0 ? stopped_in_setup() : EXIT_STOPPED;
            ddp_free(&d);
            dataset_free(&s.train);
            dataset_free(&s.test);
            MPI_Finalize();
            return code;
        }
    } else if (rc != TDP_OK) {
        fprintf(stderr, "%s: %s\n", prog, err.msg);
        dataset_free(&s.train); /* set-up may fail after loading the data (the memory check) */
        dataset_free(&s.test);
        return rc == TDP_EINPUT ? 2 : 1;
    } else if (s.o.help || s.o.version) {
        print_info(&s.o);
        return 0;
    } else if (stop_signal != 0) { /* a stop request during set-up: stop before training */
        dataset_free(&s.train);
        dataset_free(&s.test);
        return stopped_in_setup();
    }

    /* one BLAS thread per worker unless the user says otherwise */
    if (getenv("OPENBLAS_NUM_THREADS") == NULL)
        blas_set_threads(1);

    /* The whole resolved configuration, then the agreement of every rank on it. Each rank reads
     * the header of the checkpoint it resumes from first (the resume state is part of the
     * configuration), and nothing before the agreement depends on another rank. */
    const int world = use_mpi ? d.size * s.o.workers : s.o.mode == MODE_DP ? s.o.workers : 1;
    ckpt_expect_t want = {
        .nparams = s.model.nparams,
        .shape_hash = model_shape_hash(&s.model),
        .mode = (uint32_t)s.o.mode,
        .workers = (uint32_t)world,
        .batch = (uint32_t)s.batch,
        .accum = (uint32_t)s.o.accum,
    };
    ckpt_header_t resumed;
    const int resuming = s.o.resume_path[0] != '\0';
    if (use_mpi || resuming || s.o.checkpoint_path[0]) {
        run_config(&s, &run_conf, &run_record);
        want.record = run_record.text;
        want.record_len = run_record.len;
        if (!run_conf.failed && !run_record.failed && resuming)
            rc = ckpt_read(s.o.resume_path, &want, &resumed, NULL, NULL, &err);
        if (rc == TDP_OK)
            run_config_resume(&run_conf, resuming ? &resumed : NULL);
        if (rc == TDP_OK && (run_conf.failed || run_record.failed))
            rc = tdp_fail(&err, TDP_ERUNTIME, "out of memory describing the configuration");
    }
    if (use_mpi) {
        int who = 0;
        int worst = ddp_agree_config(&d, rc, run_conf.text, run_conf.len, &who, &err);
        if (worst == TDP_OK) {
            rc = ddp_setup(&d, &s.model, (size_t)s.o.bucket_kb, !s.o.no_overlap, s.o.deterministic,
                           s.o.workers, s.batch, &err);
            if (rc == TDP_OK)
                rc = ddp_set_watchdog(&d, s.o.comm_timeout, s.o.check_sync, &err);
            worst = ddp_agree_status(&d, rc, &who);
        }
        if (worst != TDP_OK) {
            if (rank == who)
                fprintf(stderr, "%s: %s\n", prog, err.msg);
            ddp_free(&d);
            dataset_free(&s.train);
            dataset_free(&s.test);
            run_config_free();
            MPI_Finalize();
            return worst == TDP_EINPUT ? 2 : 1;
        }
    } else if (rc != TDP_OK) {
        fprintf(stderr, "%s: %s\n", prog, err.msg);
        dataset_free(&s.train);
        dataset_free(&s.test);
        run_config_free();
        return rc == TDP_EINPUT ? 2 : 1;
    }

    train_config_t tc = {
        .model = &s.model,
        .train = &s.train,
        .test = &s.test,
        .epochs = s.epochs,
        .max_steps = s.o.max_steps,
        .batch = s.batch,
        .world = world,
        .accum = s.o.accum,
        .proc_rank = rank,
        .procs = use_mpi ? d.size : 1,
        .sgd = {.lr = (float)s.lr, .momentum = (float)s.mom, .weight_decay = (float)s.wd},
        .lr_cosine = s.o.lr_cosine,
        .seed = s.o.seed,
    };
    trainer_t t;
    rc = trainer_init(&t, &tc, &err);
    dp_t dp;
    int use_dp = s.o.mode == MODE_DP;
    if (rc == TDP_OK && use_dp) {
        rc = dp_init(&dp, &s.model, s.o.workers, s.batch, s.o.dp_pool, s.o.gil,
                     s.o.switch_interval / 1000.0, s.o.dp_cache, &err);
        if (rc != TDP_OK)
            trainer_free(&t);
        else if (s.o.dp_cache && !dp.cache_ok)
            fprintf(stderr,
                    "%s: warning: --dp-cache has no effect: this allocator ignores "
                    "mallopt\n",
                    prog);
    }
    if (use_mpi) {
        int who = 0, worst = ddp_agree_status(&d, rc, &who);
        if (worst != TDP_OK) {
            if (rank == who)
                fprintf(stderr, "%s: %s\n", prog, err.msg);
            if (rc == TDP_OK)
                trainer_free(&t);
            ddp_free(&d);
            dataset_free(&s.train);
            dataset_free(&s.test);
            MPI_Finalize();
            return worst == TDP_EINPUT ? 2 : 1;
        }
    } else if (rc != TDP_OK) {
        dataset_free(&s.train);
        dataset_free(&s.test);
        fprintf(stderr, "%s: %s\n", prog, err.msg);
        return rc == TDP_EINPUT ? 2 : 1;
    }

    /* checkpoints: every rank reads the file it resumes from (they agreed on its header) */
    if (rc == TDP_OK) {
        t.ckpt_base = (ckpt_header_t){
            .shape_hash = want.shape_hash,
            .mode = want.mode,
            .workers = want.workers,
            .batch = want.batch,
            .accum = want.accum,
        };
        t.ckpt_record = run_record.text;
        t.ckpt_record_len = run_record.len;
        t.ckpt_path = s.o.checkpoint_path[0] ? s.o.checkpoint_path : NULL;
        t.ckpt_every = s.o.checkpoint_every;
        t.ckpt_writer = rank == 0;
        t.stop_flag = &stop_signal;
        /* tests: TDP_TEST_STOP_AT=N [TDP_TEST_STOP_RANK=R] acts as a signal during step N */
        const char *sa = getenv("TDP_TEST_STOP_AT"), *sr = getenv("TDP_TEST_STOP_RANK");
        if (sa != NULL && (sr == NULL || atoi(sr) == rank))
            t.stop_at = atol(sa);
    }
    if (rc == TDP_OK && resuming)
        rc = resume_from(&s, &t, &want, &resumed, rank, &err);
    /* tests: TDP_TEST_STOP_AFTER=N acts as a signal during the N-th step of this run */
    const char *sn = getenv("TDP_TEST_STOP_AFTER");
    if (rc == TDP_OK && sn != NULL)
        t.stop_at = t.steps + atol(sn);
    if (use_mpi) {
        int who = 0, worst = ddp_agree_status(&d, rc, &who);
        if (worst != TDP_OK) {
            if (rank == who)
                fprintf(stderr, "%s: %s\n", prog, err.msg);
            rc = worst;
        }
    } else if (rc != TDP_OK) {
        fprintf(stderr, "%s: %s\n", prog, err.msg);
    }
    if (rc != TDP_OK) {
        release(&s, &t, use_dp ? &dp : NULL, use_mpi ? &d : NULL);
        return rc == TDP_EINPUT ? 2 : 1;
    }

    trace_t trace;
    int tracing = s.o.trace_path[0] != '\0';
    if (use_mpi)
        MPI_Barrier(MPI_COMM_WORLD); /* one time origin for every rank's trace */
    if (tracing && (rc = trace_init(&trace, TRACE_CAPACITY, tdp_now(), &err)) == TDP_OK)
        t.trace = &trace;

    /* the one replication of the model: rank 0's weights to every rank */
    double broadcast_bytes = 0.0;
    if (rc == TDP_OK && use_mpi && d.size > 1) {
        double b0 = tdp_now();
        rc = ddp_broadcast(&d, t.params, s.model.nparams, &err);
        trace_add(t.trace, "broadcast weights", -1, 1, b0, tdp_now());
        broadcast_bytes = (double)s.model.nparams * sizeof(float);
    }

    if (rc == TDP_OK && rank == 0 && !s.o.quiet) {
        print_config(&s, &t, use_mpi ? &d : NULL);
        if (s.o.resume_path[0])
            printf("resume: from %s at step %ld (epoch %ld, step %ld of it)\n", s.o.resume_path,
                   t.steps, t.start_epoch + 1, t.start_b);
    }

    report_t rep;
    report_init(&rep, !s.o.quiet && rank == 0);
    double t0 = tdp_now();
    if (rc == TDP_OK)
        rc = trainer_run(&t,
                         use_mpi  ? &ddp_engine
                         : use_dp ? &dp_engine
                                  : &serial_engine,
                         use_mpi  ? (void *)&d
                         : use_dp ? (void *)&dp
                                  : NULL,
                         &rep, &err);
    double seconds = tdp_now() - t0;
    if (rc != TDP_OK && use_mpi) {
        /* a diverging loss is seen identically by every rank (the loss travels with the
         * gradient): rank 0 says so and all return. Anything else (an MPI failure) may be one
         * rank's alone: report it with the rank and end the whole job. */
        if (t.diverged) {
            if (rank == 0)
                fprintf(stderr, "%s: %s\n", prog, err.msg);
            rc = -rc; /* reported */
        } else {
            fprintf(stderr, "%s: rank %d: %s\n", prog, rank, err.msg);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
    }
    /* the end of the run's outputs (trace, last checkpoint, weights, summary): all or none */
    report_stage_begin();
    if (rc == TDP_OK && tracing && use_mpi)
        rc = ddp_write_trace(&d, &trace, s.o.trace_path, &err);
    else if (rc == TDP_OK && tracing) {
        char *part = NULL;
        size_t len = 0;
        rc = trace_format(&trace, 0, &part, &len, &err);
        if (rc == TDP_OK)
            rc = trace_write(s.o.trace_path, &part, &len, 1, &err);
        free(part);
    }
    int stopped = rc == TDP_OK && t.stopped; /* no summary, no weights: not finished */
    if (stopped)
        rc = -1;
    if (rc == TDP_OK && t.ckpt_path)
        rc = trainer_checkpoint_end(&t, &err);
    if (rc == TDP_OK && rank == 0 && !s.o.quiet)
        printf("done: %ld steps, test accuracy %.4f, final loss %.4f, %.0f samples/s, %.2f s, "
               "exposed communication %.3f s\n",
               t.steps, t.test_accuracy, t.final_loss, t.samples_per_s, seconds,
               use_mpi ? d.comm_seconds : 0.0);
    if (rc == TDP_OK && rank == 0 && s.o.dump_weights_path[0])
        rc = dump_weights(s.o.dump_weights_path, t.params, s.model.nparams, &err);
    if (rc == TDP_OK && rank == 0 && s.o.json_path[0]) {
        int global = s.batch * tc.world * s.o.accum;
        run_summary_t sum = {
            .mode = mode_name(s.o.mode),
            .world_size = use_mpi ? d.size : 1,
            .workers = tc.world,
            .hosts = use_mpi ? d.hosts : 1,
            .model = s.model_path,
            .params = (long)s.model.nparams,
            .epochs = t.epochs_done,
            .steps = t.steps,
            .batch = s.batch,
            .global_batch = global,
            .train_samples_per_s = t.samples_per_s,
            .test_accuracy = t.test_accuracy,
            .final_loss = t.final_loss,
            .seconds = seconds,
            .train_seconds = t.train_seconds,
            .broadcast_bytes = broadcast_bytes,
            .allreduce_bytes_per_step =
                use_mpi && d.size > 1 ? (double)(s.model.nparams + TRAIN_EXTRA) * sizeof(float)
                                      : 0.0,
            .comm_seconds = use_mpi ? d.comm_seconds : 0.0,
            .optimizer_seconds = t.optimizer_seconds,
            .blas = blas_config(),
        };
        if (use_dp) {
            sum.replicated_bytes_total = dp.replicated_bytes;
            sum.gil_wait_seconds = s.o.gil ? gil_wait_seconds(&dp.gil) : 0.0;
            sum.replicate_seconds = dp.replicate_s;
            sum.scatter_seconds = dp.scatter_s;
            sum.compute_seconds = dp.compute_s;
            sum.gather_seconds = dp.gather_s;
        }
        rc = report_write_json(s.o.json_path, &sum, &err);
    }
    /* every output written: rename them all into place; on any failure remove them all */
    int out = report_stage_end(stopped ? TDP_OK : rc, &err);
    if (out != TDP_OK || !stopped) {
        rc = out;
        stopped = 0;
    }
    if (stopped && rank == 0) /* said once its outputs are in place */
        fprintf(stderr,
                "%s: stopped by %s after step %ld: %s%s; exit status %d (resume with --resume)\n",
                prog, stop_name(), t.steps,
                t.ckpt_path ? "checkpoint written to " : "no --checkpoint given, nothing saved",
                t.ckpt_path ? t.ckpt_path : "", EXIT_STOPPED);
    if (rc > 0) /* not yet reported */
        fprintf(stderr, "%s: %s\n", prog, err.msg);
    if (rc < 0 && !stopped)
        rc = -rc;
    if (tracing)
        trace_free(&trace);
    release(&s, &t, use_dp ? &dp : NULL, use_mpi ? &d : NULL);
    return stopped ? EXIT_STOPPED : rc == TDP_OK ? 0 : rc == TDP_EINPUT ? 2 : 1;
}
