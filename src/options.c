/* options.c: a small table-driven parser for ddp_train: --name VALUE or --name=VALUE. */
#include "options.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "argnum.h"

typedef enum { K_FLAG, K_INT, K_LONG, K_U64, K_DOUBLE, K_STR, K_MODE, K_SCHED } kind_t;

typedef struct {
    const char *name;
    kind_t kind;
    size_t off;       /* offset in options_t */
    double lo, hi;    /* inclusive range for numbers */
    const char *arg;  /* argument name in --help */
    const char *help; /* description; the default is printed after it */
} opt_spec_t;

#define OFF(field) offsetof(options_t, field)

static const opt_spec_t SPECS[] = {
    {"mode", K_MODE, OFF(mode), 0, 0, "serial|dp|ddp", "how gradients are made and combined"},
    {"model", K_STR, OFF(model_path), 0, 0, "FILE", "model description (.cfg)"},
    {"data", K_STR, OFF(data), 0, 0, "DIR|synthetic",
     "IDX files (.gz or not), or the synthetic set"},
    {"epochs", K_INT, OFF(epochs), 0, 1000000, "N", "passes over the training set"},
    {"max-steps", K_LONG, OFF(max_steps), 0, 1e15, "N", "stop after N optimizer steps"},
    {"batch", K_INT, OFF(batch), 1, OPT_MAX_BATCH, "B", "samples per worker per step"},
    {"lr", K_DOUBLE, OFF(lr), 1e-12, 1e6, "X", "learning rate"},
    {"lr-schedule", K_SCHED, OFF(lr_cosine), 0, 0, "cosine|constant",
     "cosine: lr * (1 + cos(pi * step / steps)) / 2"},
    {"momentum", K_DOUBLE, OFF(momentum), 0, 0.999999, "X", "SGD momentum, in [0, 1)"},
    {"weight-decay", K_DOUBLE, OFF(weight_decay), 0, 1e6, "X", "L2 penalty on every parameter"},
    {"seed", K_U64, OFF(seed), 0, 0, "S", "seed of weights, shuffling and synthetic data"},
    {"workers", K_INT, OFF(workers), 1, OPT_MAX_WORKERS, "P",
     "worker threads: dp mode, or per rank in ddp mode (hybrid)"},
    {"accum", K_INT, OFF(accum), 1, 65536, "N",
     "micro-batches accumulated per optimizer step (ddp: one allreduce per step)"},
    {"bucket-kb", K_INT, OFF(bucket_kb), 0, 1048576, "KB",
     "ddp: gradient allreduce bucket size, 0 = one bucket"},
    {"no-overlap", K_FLAG, OFF(no_overlap), 0, 0, NULL,
     "ddp: one blocking allreduce after backward instead of buckets during it"},
    {"comm-timeout", K_DOUBLE, OFF(comm_timeout), 0, 86400, "SECONDS",
     "ddp: give up on any wait for communication after this long, naming the ranks that did "
     "not arrive (0 = wait forever)"},
    {"check-sync", K_LONG, OFF(check_sync), 0, 1e15, "STEPS",
     "ddp: compare a hash of the weights across ranks every STEPS steps (0 = never)"},
    {"deterministic", K_FLAG, OFF(deterministic), 0, 0, NULL,
     "fixed reduction order: bitwise-reproducible runs"},
    {"gil", K_FLAG, OFF(gil), 0, 0, NULL, "dp: emulate the interpreter lock"},
    {"switch-interval", K_DOUBLE, OFF(switch_interval), 0.001, 10000, "MS",
     "--gil: a waiting thread asks the holder to drop the lock after this long"},
    {"dp-pool", K_FLAG, OFF(dp_pool), 0, 0, NULL,
     "dp: persistent worker threads instead of threads created every step"},
    {"dp-cache", K_FLAG, OFF(dp_cache), 0, 0, NULL,
     "dp: keep freed replica memory mapped, as a caching allocator does (replicas are still "
     "made and destroyed every step)"},
    {"json", K_STR, OFF(json_path), 0, 0, "FILE", "write a JSON summary"},
    {"dump-weights", K_STR, OFF(dump_weights_path), 0, 0, "FILE",
     "write all parameters, float32 LE, W[out][in] then b[out] per layer"},
    {"trace", K_STR, OFF(trace_path), 0, 0, "FILE", "Chrome trace events"},
    {"checkpoint", K_STR, OFF(checkpoint_path), 0, 0, "FILE", "checkpoint file"},
    {"checkpoint-every", K_LONG, OFF(checkpoint_every), 1, 1e15, "STEPS",
     "also checkpoint every STEPS steps (--checkpoint is written when a signal stops the run "
     "and at the end)"},
    {"resume", K_STR, OFF(resume_path), 0, 0, "FILE",
     "resume from a checkpoint (same options; the global batch may be split differently)"},
    {"synthetic-train", K_LONG, OFF(synthetic_train), 1, 10000000, "N",
     "training samples of the synthetic set"},
    {"synthetic-test", K_LONG, OFF(synthetic_test), 1, 10000000, "N",
     "test samples of the synthetic set"},
    {"quiet", K_FLAG, OFF(quiet), 0, 0, NULL, "print only errors"},
    {"help", K_FLAG, OFF(help), 0, 0, NULL, "this text"},
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
    snprintf(o->model_path, sizeof o->model_path, "%s", "models/fashion-mlp.cfg");
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
    else if (s->kind == K_FLAG)
        snprintf(buf, len, "off");
    else if (s->kind == K_STR)
        snprintf(buf, len, "%s", *p ? p : "none");
    else
        snprintf(buf, len, "?");
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
        if (SPECS[i].kind == K_FLAG)
            fprintf(f, "  %-28s %s\n", left, SPECS[i].help);
        else
            fprintf(f, "  %-28s %s [%s]\n", left, SPECS[i].help,
                    default_text(&SPECS[i], def, sizeof def));
    }
    fprintf(f, "\nExit status: 0 success, 1 runtime failure, 2 bad option or unusable input.\n");
}

static int parse_value(const opt_spec_t *s, const char *v, options_t *o, tdp_err_t *err) {
    char *p = (char *)o + s->off;
    char *end = NULL;
    errno = 0;
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
    case K_U64: {
        if (*v == '-' || *v == '\0')
            return tdp_fail(err, TDP_EINPUT, "--%s: '%s' is not a non-negative integer", s->name,
                            v);
        unsigned long long x = strtoull(v, &end, 0);
        if (errno != 0 || *end != '\0')
            return tdp_fail(err, TDP_EINPUT, "--%s: '%s' is not a 64-bit unsigned integer", s->name,
                            v);
        *(uint64_t *)p = (uint64_t)x;
        return TDP_OK;
    }
    case K_INT:
    case K_LONG: {
        long long x = 0;
        int rc = argnum_integer(s->name, v, s->lo, s->hi, &x, err);
        if (rc != TDP_OK)
            return rc;
        if (s->kind == K_INT)
            *(int *)p = (int)x;
        else
            *(long *)p = (long)x;
        return TDP_OK;
    }
    case K_DOUBLE:
        return argnum_real(s->name, v, s->lo, s->hi, (double *)p, err);
    }
    return tdp_fail(err, TDP_EINPUT, "--%s: unhandled option kind", s->name);
}

int options_parse(int argc, char **argv, options_t *o, tdp_err_t *err) {
    set_defaults(o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
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
    return TDP_OK;
}
