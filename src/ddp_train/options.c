/* options.c: ddp_train's option table and what it resolves, on the command-line engine
 * (cmdline.h): --name VALUE or --name=VALUE. */
#include "options.h"

#include <math.h>
#include <string.h>

/* The modes an option applies to (scope bits); given in another mode, it is refused. */
enum { M_SERIAL = 1 << MODE_SERIAL, M_DP = 1 << MODE_DP, M_DDP = 1 << MODE_DDP };

static const char *const MODES[] = {"serial", "dp", "ddp", NULL};
static const char *const IN_MODE[] = {"--mode serial", "--mode dp", "--mode ddp", NULL};

static int set_schedule(void *opts, const char *v, tdp_err_t *err);

#define OFF(field) offsetof(options_t, field)
#define PATH       .kind = CMDLINE_STRING, .size = OPT_PATH_LEN
#define ELSE       "model file's, else "

static const cmdline_opt_t SPECS[] = {
    {.name = "mode",
     .kind = CMDLINE_CHOICE,
     .off = OFF(mode),
     .choices = MODES,
     .arg = "serial|dp|ddp",
     .help = "how gradients are made and combined"},
    {.name = "model",
     PATH,
     .off = OFF(model_path),
     .arg = "FILE",
     .help = "model description (.cfg)",
     .def = "models/fashion-mlp.cfg, 784-256-128-10"},
    {.name = "data",
     PATH,
     .off = OFF(data),
     .arg = "DIR|synthetic",
     .help = "IDX files (.gz or not), or the synthetic set",
     .def = OPT_DEFAULT_DATA_DIR " when present, else synthetic"},
    {.name = "epochs",
     .kind = CMDLINE_INT,
     .off = OFF(epochs),
     .lo = 0,
     .hi = OPT_MAX_EPOCHS,
     .arg = "N",
     .help = "passes over the training set",
     .def = ELSE CMDLINE_STR(OPT_DEFAULT_EPOCHS)},
    {.name = "max-steps",
     .kind = CMDLINE_LONG,
     .off = OFF(max_steps),
     .lo = 0,
     .hi = 1e15,
     .arg = "N",
     .help = "stop after N optimizer steps",
     .def = "no limit"},
    {.name = "batch",
     .kind = CMDLINE_INT,
     .off = OFF(batch),
     .lo = 1,
     .hi = OPT_MAX_BATCH,
     .arg = "B",
     .help = "samples per worker per step",
     .def = ELSE CMDLINE_STR(OPT_DEFAULT_BATCH)},
    {.name = "lr",
     .kind = CMDLINE_REAL,
     .off = OFF(lr),
     .lo = OPT_MIN_LR,
     .hi = OPT_MAX_LR,
     .arg = "X",
     .help = "learning rate",
     .def = ELSE CMDLINE_STR(OPT_DEFAULT_LR)},
    {.name = "lr-schedule",
     .kind = CMDLINE_CUSTOM,
     .set = set_schedule,
     .arg = "cosine|constant",
     .help = "cosine: lr * (1 + cos(pi * step / steps)) / 2",
     .def = "cosine"},
    {.name = "momentum",
     .kind = CMDLINE_REAL,
     .off = OFF(momentum),
     .lo = 0,
     .hi = OPT_MAX_MOMENTUM,
     .arg = "X",
     .help = "SGD momentum, in [0, 1)",
     .def = ELSE CMDLINE_STR(OPT_DEFAULT_MOMENTUM)},
    {.name = "weight-decay",
     .kind = CMDLINE_REAL,
     .off = OFF(weight_decay),
     .lo = 0,
     .hi = OPT_MAX_WEIGHT_DECAY,
     .arg = "X",
     .help = "L2 penalty on every parameter",
     .def = ELSE CMDLINE_STR(OPT_DEFAULT_WEIGHT_DECAY)},
    {.name = "seed",
     .kind = CMDLINE_U64,
     .off = OFF(seed),
     .lo = 0,
     .hi = 0x1p64 /* all */,
     .arg = "S",
     .help = "seed of weights, shuffling and synthetic data"},
    {.name = "workers",
     .kind = CMDLINE_INT,
     .off = OFF(workers),
     .lo = 1,
     .hi = OPT_MAX_WORKERS,
     .arg = "P",
     .help = "worker threads: dp mode, or per rank in ddp mode (hybrid)",
     .scope = M_DP | M_DDP},
    {.name = "accum",
     .kind = CMDLINE_INT,
     .off = OFF(accum),
     .lo = 1,
     .hi = 65536,
     .arg = "N",
     .help = "micro-batches accumulated per optimizer step (ddp: one allreduce per step)"},
    {.name = "bucket-kb",
     .kind = CMDLINE_INT,
     .off = OFF(bucket_kb),
     .lo = 0,
     .hi = 1048576,
     .arg = "KB",
     .help = "ddp: gradient allreduce bucket size, 0 = one bucket",
     .scope = M_DDP},
    {.name = "no-overlap",
     .kind = CMDLINE_FLAG,
     .off = OFF(no_overlap),
     .help = "ddp: one blocking allreduce after backward instead of buckets during it",
     .scope = M_DDP},
    {.name = "comm-timeout",
     .kind = CMDLINE_REAL,
     .off = OFF(comm_timeout),
     .lo = 0,
     .hi = 86400,
     .arg = "SECONDS",
     .help = "ddp: give up on any wait for communication after this long, naming the ranks that "
             "did not arrive (0 = wait forever)",
     .scope = M_DDP},
    {.name = "check-sync",
     .kind = CMDLINE_LONG,
     .off = OFF(check_sync),
     .lo = 0,
     .hi = 1e15,
     .arg = "STEPS",
     .help = "ddp: compare a hash of the weights across ranks every STEPS steps (0 = never)",
     .scope = M_DDP},
    {.name = "deterministic",
     .kind = CMDLINE_FLAG,
     .off = OFF(deterministic),
     .help = "fixed reduction order: bitwise-reproducible runs"},
    {.name = "gil",
     .kind = CMDLINE_FLAG,
     .off = OFF(gil),
     .help = "dp: emulate the interpreter lock",
     .scope = M_DP},
    {.name = "switch-interval",
     .kind = CMDLINE_REAL,
     .off = OFF(switch_interval),
     .lo = 0.001,
     .hi = 10000,
     .arg = "MS",
     .help = "--gil: a waiting thread asks the holder to drop the lock after this long",
     .scope = M_DP},
    {.name = "dp-pool",
     .kind = CMDLINE_FLAG,
     .off = OFF(dp_pool),
     .help = "dp: persistent worker threads instead of threads created every step",
     .scope = M_DP},
    {.name = "dp-cache",
     .kind = CMDLINE_FLAG,
     .off = OFF(dp_cache),
     .help = "dp: keep freed replica memory mapped, as a caching allocator does (replicas are "
             "still made and destroyed every step)",
     .scope = M_DP},
    {.name = "json", PATH, .off = OFF(json_path), .arg = "FILE", .help = "write a JSON summary"},
    {.name = "dump-weights",
     PATH,
     .off = OFF(dump_weights_path),
     .arg = "FILE",
     .help = "write all parameters, float32 LE, W[out][in] then b[out] per layer"},
    {.name = "trace", PATH, .off = OFF(trace_path), .arg = "FILE", .help = "Chrome trace events"},
    {.name = "checkpoint",
     PATH,
     .off = OFF(checkpoint_path),
     .arg = "FILE",
     .help = "checkpoint file"},
    {.name = "checkpoint-every",
     .kind = CMDLINE_LONG,
     .off = OFF(checkpoint_every),
     .lo = 1,
     .hi = 1e15,
     .arg = "STEPS",
     .help = "also checkpoint every STEPS steps (--checkpoint is written when a signal stops the "
             "run and at the end)",
     .def = "none, only when stopped and at the end" /* 0 would be refused: say what it is */},
    {.name = "resume",
     PATH,
     .off = OFF(resume_path),
     .arg = "FILE",
     .help = "resume from a checkpoint (same options; the global batch may be split "
             "differently)"},
    {.name = "synthetic-train",
     .kind = CMDLINE_LONG,
     .off = OFF(synthetic_train),
     .lo = 1,
     .hi = 10000000,
     .arg = "N",
     .help = "training samples of the synthetic set"},
    {.name = "synthetic-test",
     .kind = CMDLINE_LONG,
     .off = OFF(synthetic_test),
     .lo = 1,
     .hi = 10000000,
     .arg = "N",
     .help = "test samples of the synthetic set"},
    {.name = "quiet", .kind = CMDLINE_FLAG, .off = OFF(quiet), .help = "print only errors"},
    {.name = "help", .kind = CMDLINE_FLAG, .off = OFF(help), .help = "this text (also -h)"},
    {.name = "version",
     .kind = CMDLINE_FLAG,
     .off = OFF(version),
     .help = "the version, the commit and the BLAS library"},
};
static const cmdline_t TABLE = {SPECS, sizeof SPECS / sizeof SPECS[0]};

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

const char *mode_name(train_mode_t m) {
    return (unsigned)m <= MODE_DDP ? MODES[m] : "?";
}

static void set_defaults(options_t *o) {
    memset(o, 0, sizeof *o);
    o->mode = MODE_DDP;
    snprintf(o->model_path, sizeof o->model_path, "%s", OPT_DEFAULT_MODEL);
    snprintf(o->data, sizeof o->data, "%s", OPT_DEFAULT_DATA_DIR);
    o->data_is_default = 1;
    o->epochs = -1;
    o->max_steps = -1;
    o->batch = -1;
    o->lr = NAN;
    o->momentum = NAN;
    o->weight_decay = NAN;
    o->seed = OPT_DEFAULT_SEED;
    o->lr_cosine = 1;
    o->accum = 1;
    o->switch_interval = 5.0;
    o->bucket_kb = OPT_DEFAULT_BUCKET_KB;
    o->workers = 1;
    o->synthetic_train = 10000;
    o->synthetic_test = 2000;
}

void options_usage(FILE *f, const char *prog) {
    fprintf(f,
            "Usage: %s [options]\n"
            "       mpirun -np P %s [options]\n"
            "Train a multilayer perceptron serially, data-parallel with threads (dp) or\n"
            "distributed data-parallel over MPI (ddp).\n\nOptions (default in brackets):\n",
            prog, prog);
    options_t d;
    set_defaults(&d);
    cmdline_print_options(f, &TABLE, &d, &(cmdline_layout_t){.width = 28});
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
    set_defaults(o);
    int rc = cmdline_parse(&TABLE, argc, argv, 1, NULL, o, &o->given, err);
    o->data_is_default = !options_given(o, "data");
    if (rc != TDP_OK)
        return rc;
    return o->help || o->version ? TDP_OK : check_applicable(o, err);
}
