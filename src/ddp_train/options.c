/* options.c: a small table-driven parser for ddp_train: --name VALUE or --name=VALUE. */
#include "options.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "argnum.h"

typedef enum { K_FLAG, K_INT, K_LONG, K_U64, K_DOUBLE, K_STR, K_MODE, K_SCHED } kind_t;

/* The modes an option applies to; given in another mode, it is refused (as the kernels program
 * refuses an option that does not apply to its subcommand or mode). */
enum { M_SERIAL = 1 << MODE_SERIAL, M_DP = 1 << MODE_DP, M_DDP = 1 << MODE_DDP, M_ALL = 7 };

typedef struct {
    const char *name;
    kind_t kind;
    size_t off;       /* offset in options_t */
    double lo, hi;    /* inclusive range for numbers */
    const char *arg;  /* argument name in --help */
    const char *help; /* description; the default is printed after it */
    int modes;        /* M_*: the modes it applies to */
} opt_spec_t;

#define OFF(field) offsetof(options_t, field)

static const opt_spec_t SPECS[] = {
    {"mode", K_MODE, OFF(mode), 0, 0, "serial|dp|ddp", "how gradients are made and combined",
     M_ALL},
    {"model", K_STR, OFF(model_path), 0, 0, "FILE", "model description (.cfg)", M_ALL},
    {"data", K_STR, OFF(data), 0, 0, "DIR|synthetic",
     "IDX files (.gz or not), or the synthetic set", M_ALL},
    {"epochs", K_INT, OFF(epochs), 0, OPT_MAX_EPOCHS, "N", "passes over the training set", M_ALL},
    {"max-steps", K_LONG, OFF(max_steps), 0, 1e15, "N", "stop after N optimizer steps", M_ALL},
    {"batch", K_INT, OFF(batch), 1, OPT_MAX_BATCH, "B", "samples per worker per step", M_ALL},
    {"lr", K_DOUBLE, OFF(lr), OPT_MIN_LR, OPT_MAX_LR, "X", "learning rate", M_ALL},
    {"lr-schedule", K_SCHED, OFF(lr_cosine), 0, 0, "cosine|constant",
     "cosine: lr * (1 + cos(pi * step / steps)) / 2", M_ALL},
    {"momentum", K_DOUBLE, OFF(momentum), 0, OPT_MAX_MOMENTUM, "X", "SGD momentum, in [0, 1)",
     M_ALL},
    {"weight-decay", K_DOUBLE, OFF(weight_decay), 0, OPT_MAX_WEIGHT_DECAY, "X",
     "L2 penalty on every parameter", M_ALL},
    {"seed", K_U64, OFF(seed), 0, 0 /* all of uint64_t */, "S",
     "seed of weights, shuffling and synthetic data", M_ALL},
    {"workers", K_INT, OFF(workers), 1, OPT_MAX_WORKERS, "P",
     "worker threads: dp mode, or per rank in ddp mode (hybrid)", M_DP | M_DDP},
    {"accum", K_INT, OFF(accum), 1, 65536, "N",
     "micro-batches accumulated per optimizer step (ddp: one allreduce per step)", M_ALL},
    {"bucket-kb", K_INT, OFF(bucket_kb), 0, 1048576, "KB",
     "ddp: gradient allreduce bucket size, 0 = one bucket", M_DDP},
    {"no-overlap", K_FLAG, OFF(no_overlap), 0, 0, NULL,
     "ddp: one blocking allreduce after backward instead of buckets during it", M_DDP},
    {"comm-timeout", K_DOUBLE, OFF(comm_timeout), 0, 86400, "SECONDS",
     "ddp: give up on any wait for communication after this long, naming the ranks that did "
     "not arrive (0 = wait forever)",
     M_DDP},
    {"check-sync", K_LONG, OFF(check_sync), 0, 1e15, "STEPS",
     "ddp: compare a hash of the weights across ranks every STEPS steps (0 = never)", M_DDP},
    {"deterministic", K_FLAG, OFF(deterministic), 0, 0, NULL,
     "fixed reduction order: bitwise-reproducible runs", M_ALL},
    {"gil", K_FLAG, OFF(gil), 0, 0, NULL, "dp: emulate the interpreter lock", M_DP},
    {"switch-interval", K_DOUBLE, OFF(switch_interval), 0.001, 10000, "MS",
     "--gil: a waiting thread asks the holder to drop the lock after this long", M_DP},
    {"dp-pool", K_FLAG, OFF(dp_pool), 0, 0, NULL,
     "dp: persistent worker threads instead of threads created every step", M_DP},
    {"dp-cache", K_FLAG, OFF(dp_cache), 0, 0, NULL,
     "dp: keep freed replica memory mapped, as a caching allocator does (replicas are still "
     "made and destroyed every step)",
     M_DP},
    {"json", K_STR, OFF(json_path), 0, 0, "FILE", "write a JSON summary", M_ALL},
    {"dump-weights", K_STR, OFF(dump_weights_path), 0, 0, "FILE",
     "write all parameters, float32 LE, W[out][in] then b[out] per layer", M_ALL},
    {"trace", K_STR, OFF(trace_path), 0, 0, "FILE", "Chrome trace events", M_ALL},
    {"checkpoint", K_STR, OFF(checkpoint_path), 0, 0, "FILE", "checkpoint file", M_ALL},
    {"checkpoint-every", K_LONG, OFF(checkpoint_every), 1, 1e15, "STEPS",
     "also checkpoint every STEPS steps (--checkpoint is written when a signal stops the run "
     "and at the end)",
     M_ALL},
    {"resume", K_STR, OFF(resume_path), 0, 0, "FILE",
     "resume from a checkpoint (same options; the global batch may be split differently)", M_ALL},
    {"synthetic-train", K_LONG, OFF(synthetic_train), 1, 10000000, "N",
     "training samples of the synthetic set", M_ALL},
    {"synthetic-test", K_LONG, OFF(synthetic_test), 1, 10000000, "N",
     "test samples of the synthetic set", M_ALL},
    {"quiet", K_FLAG, OFF(quiet), 0, 0, NULL, "print only errors", M_ALL},
    {"help", K_FLAG, OFF(help), 0, 0, NULL, "this text (also -h)", M_ALL},
    {"version", K_FLAG, OFF(version), 0, 0, NULL, "the version, the commit and the BLAS library",
     M_ALL},
};
#define NSPECS (sizeof SPECS / sizeof SPECS[0])

const char *mode_name(train_mode_t m) {
    switch (m) {
    case MODE_SERIAL:
        return "serial";
    case MODE_DP:
        return "dp";
    case MODE_DDP:
        return "ddp";
    }
    return "?";
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

static const char *default_text(const opt_spec_t *s, char *buf, size_t len) {
    options_t d;
    set_defaults(&d);
    const char *p = (const char *)&d + s->off;
    if (strcmp(s->name, "epochs") == 0)
        snprintf(buf, len, "model file's, else %d", OPT_DEFAULT_EPOCHS);
    else if (strcmp(s->name, "batch") == 0)
        snprintf(buf, len, "model file's, else %d", OPT_DEFAULT_BATCH);
    else if (strcmp(s->name, "lr") == 0)
        snprintf(buf, len, "model file's, else %g", OPT_DEFAULT_LR);
    else if (strcmp(s->name, "momentum") == 0)
        snprintf(buf, len, "model file's, else %g", OPT_DEFAULT_MOMENTUM);
    else if (strcmp(s->name, "weight-decay") == 0)
        snprintf(buf, len, "model file's, else %g", OPT_DEFAULT_WEIGHT_DECAY);
    else if (strcmp(s->name, "max-steps") == 0)
        snprintf(buf, len, "no limit");
    else if (strcmp(s->name, "checkpoint-every") == 0) /* 0 would be refused: say what it is */
        snprintf(buf, len, "none, only when stopped and at the end");
    else if (strcmp(s->name, "data") == 0)
        snprintf(buf, len, "%s when present, else synthetic", OPT_DEFAULT_DATA_DIR);
    else if (strcmp(s->name, "model") == 0)
        snprintf(buf, len, "models/fashion-mlp.cfg, 784-256-128-10");
    else if (s->kind == K_MODE)
        snprintf(buf, len, "%s", mode_name(d.mode));
    else if (s->kind == K_SCHED)
        snprintf(buf, len, "%s", d.lr_cosine ? "cosine" : "constant");
    else if (s->kind == K_INT)
        snprintf(buf, len, "%d", *(const int *)p);
    else if (s->kind == K_LONG)
        snprintf(buf, len, "%ld", *(const long *)p);
    else if (s->kind == K_U64)
        snprintf(buf, len, "%llu", (unsigned long long)*(const uint64_t *)p);
    else if (s->kind == K_DOUBLE)
        snprintf(buf, len, "%g", *(const double *)p);
    else if (s->kind == K_FLAG)
        snprintf(buf, len, "off");
    else /* K_STR */
        snprintf(buf, len, "%s", *p ? p : "none");
    return buf;
}

void options_usage(FILE *f, const char *prog) {
    fprintf(f,
            "Usage: %s [options]\n"
            "       mpirun -np P %s [options]\n"
            "Train a multilayer perceptron serially, data-parallel with threads (dp) or\n"
            "distributed data-parallel over MPI (ddp).\n\nOptions (default in brackets):\n",
            prog, prog);
    for (size_t i = 0; i < NSPECS; i++) {
        char left[64], def[160];
        snprintf(left, sizeof left, "--%s%s%s", SPECS[i].name, SPECS[i].arg ? " " : "",
                 SPECS[i].arg ? SPECS[i].arg : "");
        fprintf(f, "  %-28s %s [%s]\n", left, SPECS[i].help,
                default_text(&SPECS[i], def, sizeof def));
    }
    fprintf(f, "\nExit status: 0 success, 1 runtime failure, 2 bad option or unusable input.\n");
}

static int parse_value(const opt_spec_t *s, const char *v, options_t *o, tdp_err_t *err) {
    char *p = (char *)o + s->off;
    char label[64];
    snprintf(label, sizeof label, "--%s", s->name);
    switch (s->kind) {
    case K_FLAG:
        *(int *)p = 1;
        return TDP_OK;
    case K_STR:
        if (*v == '\0')
            return tdp_fail(err, TDP_EINPUT, "--%s: empty value", s->name);
        if (strlen(v) >= sizeof o->model_path)
            return tdp_fail(err, TDP_EINPUT, "--%s: value too long", s->name);
        snprintf(p, sizeof o->model_path, "%s", v);
        if (strcmp(s->name, "data") == 0)
            o->data_is_default = 0;
        return TDP_OK;
    case K_MODE:
        if (strcmp(v, "serial") == 0)
            o->mode = MODE_SERIAL;
        else if (strcmp(v, "dp") == 0)
            o->mode = MODE_DP;
        else if (strcmp(v, "ddp") == 0)
            o->mode = MODE_DDP;
        else
            return tdp_fail(err, TDP_EINPUT, "--mode: '%s' is not one of serial, dp, ddp", v);
        return TDP_OK;
    case K_SCHED:
        if (strcmp(v, "cosine") == 0)
            o->lr_cosine = 1;
        else if (strcmp(v, "constant") == 0)
            o->lr_cosine = 0;
        else
            return tdp_fail(err, TDP_EINPUT, "--lr-schedule: '%s' is not cosine or constant", v);
        return TDP_OK;
    case K_U64:
        return argnum_u64(label, v, 0, UINT64_MAX, (uint64_t *)p, err);
    case K_INT:
    case K_LONG: {
        long long x = 0;
        int rc = argnum_int(label, v, s->lo, s->hi, &x, err);
        if (rc != TDP_OK)
            return rc;
        if (s->kind == K_INT)
            *(int *)p = (int)x;
        else
            *(long *)p = (long)x;
        return TDP_OK;
    }
    case K_DOUBLE:
        return argnum_real(label, v, s->lo, s->hi, (double *)p, err);
    }
    return tdp_fail(err, TDP_EINPUT, "--%s: unhandled option kind", s->name);
}

static int spec_index(const char *name) {
    for (size_t k = 0; k < NSPECS; k++)
        if (strcmp(SPECS[k].name, name) == 0)
            return (int)k;
    return -1;
}

int options_given(const options_t *o, const char *name) {
    int k = spec_index(name);
    return k >= 0 && (o->given >> k & 1u);
}

/* The options given that do not apply to the mode (or to the other options) chosen. */
static int check_applicable(const options_t *o, tdp_err_t *err) {
    for (size_t k = 0; k < NSPECS; k++) {
        const opt_spec_t *s = &SPECS[k];
        if (!(o->given >> k & 1u) || (s->modes & (1 << o->mode)))
            continue;
        if (strcmp(s->name, "workers") == 0) {
            if (o->workers == 1) /* serial's own worker count */
                continue;
            return tdp_fail(err, TDP_EINPUT,
                            "--workers applies to --mode dp and --mode ddp (serial has one "
                            "worker)");
        }
        return tdp_fail(err, TDP_EINPUT, "--%s applies to --mode %s only", s->name,
                        s->modes == M_DP ? "dp" : "ddp");
    }
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
    _Static_assert(NSPECS <= 64, "options_t.given has 64 bits");
    set_defaults(o);
    for (int i = 1; i < argc; i++) {
        const char *a = strcmp(argv[i], "-h") == 0 ? "--help" : argv[i];
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0')
            return tdp_fail(err, TDP_EINPUT, "unexpected argument '%s' (see --help)", a);
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const opt_spec_t *s = NULL;
        for (size_t k = 0; k < NSPECS; k++)
            if (strlen(SPECS[k].name) == nlen && strncmp(SPECS[k].name, name, nlen) == 0)
                s = &SPECS[k];
        if (s == NULL)
            return tdp_fail(err, TDP_EINPUT, "unknown option '%.*s' (see --help)", (int)nlen + 2,
                            a);
        const uint64_t bit = (uint64_t)1 << (s - SPECS);
        if (o->given & bit)
            return tdp_fail(err, TDP_EINPUT, "--%s given twice", s->name);
        o->given |= bit;
        const char *val = NULL;
        if (s->kind == K_FLAG) {
            if (eq != NULL)
                return tdp_fail(err, TDP_EINPUT, "--%s takes no value", s->name);
        } else if (eq != NULL) {
            val = eq + 1;
        } else {
            if (i + 1 >= argc)
                return tdp_fail(err, TDP_EINPUT, "--%s needs a value (%s)", s->name, s->arg);
            val = argv[++i];
        }
        int rc = parse_value(s, val ? val : "", o, err);
        if (rc != TDP_OK)
            return rc;
    }
    return o->help || o->version ? TDP_OK : check_applicable(o, err);
}
