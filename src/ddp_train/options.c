/* options.c: ddp_train's option table and what it resolves, on the command-line engine
 * (cmdline.h): --name VALUE or --name=VALUE. */
#include "options.h"

#include <math.h>

#include "argnum.h"
#include <string.h>

/* The modes an option applies to (scope bits); given in another mode, it is refused. */
enum { M_SERIAL = 1 << MODE_SERIAL, M_DP = 1 << MODE_DP, M_DDP = 1 << MODE_DDP };

static const char *const MODES[] = {"serial", "dp", "ddp", NULL};
static const char *const PROGRESS[] = {"auto", "bar", "lines", "off", NULL};
static const char *const IN_MODE[] = {"--mode serial", "--mode dp", "--mode ddp", NULL};

static int set_schedule(void *opts, const char *v, tdp_err_t *err);
static int set_bucket_kb(void *opts, const char *v, tdp_err_t *err);
static const char *const COMPRESS[] = {"none", "bf16", "fp16", NULL};

#define OFF(field) offsetof(options_t, field)
#define ELSE       "model file's, else "

static const cmdline_opt_t SPECS[] = {
    CMDLINE_OPT("mode", CMDLINE_CHOICE, OFF(mode), 0, 0, "serial|dp|ddp",
                "how gradients are made and combined", .choices = MODES),
    CMDLINE_OPT("model", CMDLINE_STRING, OFF(model_path), 0, 0, "FILE", "model description (.cfg)",
                .size = OPT_PATH_LEN, .def = "models/fashion-mlp.cfg, 784-256-128-10"),
    CMDLINE_OPT("data", CMDLINE_STRING, OFF(data), 0, 0, "DIR|synthetic",
                "IDX files (.gz or not), or the synthetic set", .size = OPT_PATH_LEN,
                .def = OPT_DEFAULT_DATA_DIR " when present, else synthetic"),
    CMDLINE_OPT("epochs", CMDLINE_INT, OFF(epochs), 0, OPT_MAX_EPOCHS, "N",
                "passes over the training set", .def = ELSE CMDLINE_STR(OPT_DEFAULT_EPOCHS)),
    CMDLINE_OPT("max-steps", CMDLINE_LONG, OFF(max_steps), 0, 1e15, "N",
                "stop after N optimizer steps", .def = "no limit"),
    CMDLINE_OPT("batch", CMDLINE_INT, OFF(batch), 1, OPT_MAX_BATCH, "B",
                "samples per worker per step", .def = ELSE CMDLINE_STR(OPT_DEFAULT_BATCH)),
    CMDLINE_OPT("lr", CMDLINE_REAL, OFF(lr), OPT_MIN_LR, OPT_MAX_LR, "X", "learning rate",
                .def = ELSE CMDLINE_STR(OPT_DEFAULT_LR)),
    CMDLINE_OPT("lr-schedule", CMDLINE_CUSTOM, 0, 0, 0, "cosine|constant",
                "cosine: lr * (1 + cos(pi * step / steps)) / 2", .set = set_schedule,
                .def = "cosine"),
    CMDLINE_OPT("momentum", CMDLINE_REAL, OFF(momentum), 0, OPT_MAX_MOMENTUM, "X",
                "SGD momentum, in [0, 1)", .def = ELSE CMDLINE_STR(OPT_DEFAULT_MOMENTUM)),
    CMDLINE_OPT("weight-decay", CMDLINE_REAL, OFF(weight_decay), 0, OPT_MAX_WEIGHT_DECAY, "X",
                "L2 penalty on every parameter", .def = ELSE CMDLINE_STR(OPT_DEFAULT_WEIGHT_DECAY)),
    CMDLINE_OPT("seed", CMDLINE_U64, OFF(seed), 0, 0x1p64 /* all of uint64_t */, "S",
                "seed of weights, shuffling and synthetic data"),
    CMDLINE_OPT("workers", CMDLINE_INT, OFF(workers), 1, OPT_MAX_WORKERS, "P",
                "worker threads: dp mode, or per rank in ddp mode (hybrid)", .scope = M_DP | M_DDP),
    CMDLINE_OPT("accum", CMDLINE_INT, OFF(accum), 1, 65536, "N",
                "micro-batches accumulated per optimizer step (ddp: one allreduce per step)"),
    CMDLINE_OPT("bucket-kb", CMDLINE_CUSTOM, 0, 0, 0, "KB|auto",
                "ddp: gradient allreduce bucket size, 0 = one bucket; auto: time --no-overlap and "
                "a few sizes over the first steps, keep the fastest",
                .set = set_bucket_kb, .def = CMDLINE_STR(OPT_DEFAULT_BUCKET_KB), .scope = M_DDP),
    CMDLINE_OPT("grad-compress", CMDLINE_CHOICE, OFF(grad_compress), 0, 0, "none|bf16|fp16",
                "ddp: send the gradient in 16 bits, summed in fp32", .choices = COMPRESS,
                .def = "none", .scope = M_DDP),
    CMDLINE_OPT("error-feedback", CMDLINE_FLAG, OFF(error_feedback), 0, 0, NULL,
                "--grad-compress: add each step's rounding residual to the next step's gradient",
                .scope = M_DDP),
    CMDLINE_OPT("no-overlap", CMDLINE_FLAG, OFF(no_overlap), 0, 0, NULL,
                "ddp: one blocking allreduce after backward instead of buckets during it",
                .scope = M_DDP),
    CMDLINE_OPT(
        "comm-timeout", CMDLINE_REAL, OFF(comm_timeout), 0, 86400, "SECONDS",
        "ddp: give up on any wait for communication after this long, naming the ranks that did not "
        "arrive (0 = wait forever)",
        .scope = M_DDP),
    CMDLINE_OPT("straggler-pct", CMDLINE_REAL, OFF(straggler_pct), 0, 1e6, "PCT",
                "ddp: name a rank whose compute over 100 steps exceeds the median rank's by "
                "more than PCT percent (0 = never)",
                .scope = M_DDP),
    CMDLINE_OPT("check-sync", CMDLINE_LONG, OFF(check_sync), 0, 1e15, "STEPS",
                "ddp: compare a hash of the weights across ranks every STEPS steps (0 = never)",
                .scope = M_DDP),
    CMDLINE_OPT("zero", CMDLINE_FLAG, OFF(zero), 0, 0, NULL,
                "ddp: ZeRO-1, each rank holds and updates the momentum of 1/P of the weights "
                "(reduce-scatter, then allgather)",
                .scope = M_DDP),
    CMDLINE_OPT("deterministic", CMDLINE_FLAG, OFF(deterministic), 0, 0, NULL,
                "fixed reduction order: bitwise-reproducible runs"),
    CMDLINE_OPT("gil", CMDLINE_FLAG, OFF(gil), 0, 0, NULL,
                "dp: emulate the interpreter lock (serial: its costs, one thread)",
                .scope = M_DP | M_SERIAL),
    CMDLINE_OPT("gil-calibration", CMDLINE_STRING, OFF(gil_calibration), 0, 0, "FILE",
                "--gil: the interpreter's costs (scripts/gil-calibrate writes one)",
                .size = OPT_PATH_LEN, .def = OPT_DEFAULT_GILCAL ", shipped beside the models",
                .scope = M_DP | M_SERIAL),
    CMDLINE_OPT("switch-interval", CMDLINE_REAL, OFF(switch_interval), 0.001, 10000, "MS",
                "--gil: a waiting thread asks the holder to drop the lock after this long",
                .scope = M_DP),
    CMDLINE_OPT("dp-pool", CMDLINE_FLAG, OFF(dp_pool), 0, 0, NULL,
                "dp: persistent worker threads instead of threads created every step",
                .scope = M_DP),
    CMDLINE_OPT("dp-cache", CMDLINE_FLAG, OFF(dp_cache), 0, 0, NULL,
                "dp: keep freed replica memory mapped, as a caching allocator does (replicas are "
                "still made "
                "and destroyed every step)",
                .scope = M_DP),
    CMDLINE_OPT("json", CMDLINE_STRING, OFF(json_path), 0, 0, "FILE", "write a JSON summary",
                .size = OPT_PATH_LEN),
    CMDLINE_OPT("dump-weights", CMDLINE_STRING, OFF(dump_weights_path), 0, 0, "FILE",
                "write all parameters, float32 LE, W[out][in] then b[out] per layer",
                .size = OPT_PATH_LEN),
    CMDLINE_OPT("trace", CMDLINE_STRING, OFF(trace_path), 0, 0, "FILE", "Chrome trace events",
                .size = OPT_PATH_LEN),
    CMDLINE_OPT("checkpoint", CMDLINE_STRING, OFF(checkpoint_path), 0, 0, "FILE", "checkpoint file",
                .size = OPT_PATH_LEN),
    CMDLINE_OPT("checkpoint-every", CMDLINE_LONG, OFF(checkpoint_every), 1, 1e15, "STEPS",
                "also checkpoint every STEPS steps (--checkpoint is written when a signal stops "
                "the run and "
                "at the end)",
                .def = "none, only when stopped and at the end" /* 0 is refused: say what it is */),
    CMDLINE_OPT(
        "resume", CMDLINE_STRING, OFF(resume_path), 0, 0, "FILE",
        "resume from a checkpoint (same options; the global batch may be split differently)",
        .size = OPT_PATH_LEN),
    CMDLINE_OPT("synthetic-train", CMDLINE_LONG, OFF(synthetic_train), 1, 10000000, "N",
                "training samples of the synthetic set"),
    CMDLINE_OPT("synthetic-test", CMDLINE_LONG, OFF(synthetic_test), 1, 10000000, "N",
                "test samples of the synthetic set"),
    CMDLINE_OPT("quiet", CMDLINE_FLAG, OFF(quiet), 0, 0, NULL, "print only errors"),
    /* progress and curves (issue 16) */
    CMDLINE_OPT("progress", CMDLINE_CHOICE, OFF(progress), 0, 0, "auto|bar|lines|off",
                "auto: a live bar when the output reaches a terminal (through mpirun too), "
                "lines with --log-every",
                .choices = PROGRESS),
    CMDLINE_OPT("log-every", CMDLINE_LONG, OFF(log_every), 1, 1e15, "N",
                "print a line (step, epoch, loss, samples/s, comm, ETA) and a --metrics record "
                "every N steps",
                .def = "none"),
    CMDLINE_OPT("metrics", CMDLINE_STRING, OFF(metrics_path), 0, 0, "FILE",
                "write the curves: a JSON object per line, every --log-every steps and every "
                "epoch",
                .size = OPT_PATH_LEN),
    CMDLINE_INFO(options_t),
};
static const cmdline_t TABLE = CMDLINE_TABLE(SPECS);

_Static_assert(sizeof(train_mode_t) == sizeof(int), "--mode is stored as an int");

static int set_schedule(void *opts, const char *v, tdp_err_t *err) {
    options_t *o = opts;
    if (strcmp(v, "cosine") == 0)
        o->lr_cosine = 1;
    else if (strcmp(v, "constant") == 0)
        o->lr_cosine = 0;
    else
        return tdp_fail(err, TDP_EINPUT, "--lr-schedule: '%s' is not cosine or constant", v);
    return TDP_OK;
}

static int set_bucket_kb(void *opts, const char *v, tdp_err_t *err) {
    options_t *o = opts;
    if (strcmp(v, "auto") == 0) {
        o->bucket_kb = OPT_BUCKET_AUTO;
        return TDP_OK;
    }
    long long kb;
    int rc = argnum_int("--bucket-kb", v, 0, 1048576, &kb, err);
    if (rc == TDP_OK)
        o->bucket_kb = (int)kb;
    return rc;
}

const char *mode_name(train_mode_t m) {
    return (unsigned)m <= MODE_DDP ? MODES[m] : "?";
}

/* The options before parsing: -1 and NaN for the values resolved later against the model
 * file's [net] section (setup.c). */
static const options_t DEFAULTS = {.mode = MODE_DDP,
                                   .model_path = OPT_DEFAULT_MODEL,
                                   .data = OPT_DEFAULT_DATA_DIR,
                                   .data_is_default = 1,
                                   .epochs = -1,
                                   .max_steps = -1,
                                   .batch = -1,
                                   .lr = NAN,
                                   .momentum = NAN,
                                   .weight_decay = NAN,
                                   .seed = OPT_DEFAULT_SEED,
                                   .lr_cosine = 1,
                                   .accum = 1,
                                   .switch_interval = 5.0,
                                   .gil_calibration = OPT_DEFAULT_GILCAL,
                                   .bucket_kb = OPT_DEFAULT_BUCKET_KB,
                                   .workers = 1,
                                   .straggler_pct = 20,
                                   .synthetic_train = 10000,
                                   .synthetic_test = 2000};

void options_usage(FILE *f, const char *prog) {
    fprintf(f,
            "Usage: %s [options]\n"
            "       mpirun -np P %s [options]\n"
            "Train a multilayer perceptron serially, data-parallel with threads (dp) or\n"
            "distributed data-parallel over MPI (ddp).\n\nOptions (default in brackets):\n",
            prog, prog);
    cmdline_print_options(f, &TABLE, &DEFAULTS, &(cmdline_layout_t){.width = 28});
    cmdline_print_exit_status(f);
}

int options_given(const options_t *o, const char *name) {
    return cmdline_given(&TABLE, o->given, name);
}

/* The options given that do not apply to the mode (or to the other options) chosen. */
static int check_applicable(const options_t *o, tdp_err_t *err) {
    uint64_t given = o->given;
    if (o->mode == MODE_SERIAL && options_given(o, "workers")) {
        if (o->workers != 1)
            return tdp_fail(err, TDP_EINPUT,
                            "--workers applies to --mode dp and --mode ddp (serial has one "
                            "worker)");
        given &= ~((uint64_t)1 << cmdline_index(&TABLE, "workers")); /* serial's own count */
    }
    int rc = cmdline_check_scope(&TABLE, given, 1u << o->mode, IN_MODE, err);
    if (rc != TDP_OK)
        return rc;
    if (options_given(o, "gil-calibration") && !o->gil)
        return tdp_fail(err, TDP_EINPUT, "--gil-calibration applies to --gil only");
    if (options_given(o, "error-feedback") && o->grad_compress == 0)
        return tdp_fail(err, TDP_EINPUT,
                        "--error-feedback applies to --grad-compress bf16|fp16 only");
    if (o->zero && options_given(o, "bucket-kb"))
        return tdp_fail(err, TDP_EINPUT,
                        "--bucket-kb does not apply to --zero (one reduce-scatter after backward)");
    if (options_given(o, "switch-interval") && !o->gil)
        return tdp_fail(err, TDP_EINPUT, "--switch-interval applies to --mode dp --gil only");
    if (!o->data_is_default && strcmp(o->data, "synthetic") != 0)
        for (int i = 0; i < 2; i++) {
            const char *name = i == 0 ? "synthetic-train" : "synthetic-test";
            if (options_given(o, name))
                return tdp_fail(err, TDP_EINPUT,
                                "--%s applies to --data synthetic only (--data %s reads the "
                                "data set's files)",
                                name, o->data);
        }
    return TDP_OK;
}

int options_parse(int argc, char **argv, options_t *o, tdp_err_t *err) {
    *o = DEFAULTS;
    int rc = cmdline_parse(&TABLE, argc, argv, 1, NULL, o, &o->given, err);
    o->data_is_default = !options_given(o, "data");
    if (rc != TDP_OK)
        return rc;
    return o->help || o->version ? TDP_OK : check_applicable(o, err);
}
