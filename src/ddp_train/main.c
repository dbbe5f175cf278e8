/* main.c: the command line of the trainer. Every rank parses and validates everything
 * before any work; the ranks agree on the outcome of set-up (so a problem seen by one rank ends
 * all of them, with no hang), then run the chosen mode through the shared step loop. Only rank 0
 * prints and writes files, at the end, atomically. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "ddp.h"
#include "dp.h"
#include "outputs.h"
#include "resume.h"
#include "setup.h"
#include "testhooks.h"
#include "trace.h"
#include "train.h"

#define TRACE_CAPACITY ((size_t)1 << 20)

const char *const prog = "ddp_train";

/* Everything a run sets up; main's one cleanup frees what is marked as set up. */
typedef struct {
    setup_t s;
    tdp_err_t err;
    int use_mpi; /* every process mpirun started, and --mode ddp */
    int mpi_up;  /* MPI initialised and d set up */
    int rank;
    comm_t comm;
    ddp_t d;
    ckpt_expect_t want;
    ckpt_header_t resumed;
    trainer_t t;
    int have_trainer;
    dp_t dp;
    int use_dp, have_dp;
    int serial_gil; /* serial --gil (runs on a one-worker dp_t) */
    trace_t trace;
    int tracing;
} run_t;

/* A status every rank has agreed on, reported once: by the rank that saw it (who). */
static int report_once(const run_t *r, int worst, int who) {
    if (worst != TDP_OK && r->rank == who)
        fprintf(stderr, "%s: %s\n", prog, r->err.msg);
    return worst;
}

/* The worst of every rank's status (alone: this process's), its message printed once. */
static int agree(run_t *r, int rc) {
    int who = 0;
    if (r->mpi_up)
        rc = comm_agree(&r->comm, rc, &who, &r->err);
    return report_once(r, rc, who);
}

/* The one exit: free whatever was set up, end MPI once when it was initialised. */
static int finish(run_t *r, int status) {
    if (r->tracing)
        trace_free(&r->trace);
    if (r->have_dp)
        dp_free(&r->dp);
    if (r->have_trainer)
        trainer_free(&r->t);
    dataset_free(&r->s.train); /* set-up may fail after loading the data (the memory check) */
    dataset_free(&r->s.test);
    run_config_free();
    if (r->mpi_up) {
        ddp_free(&r->d);
        comm_finish(&r->comm);
    }
    return cmdline_exit_code(status);
}

static int start_mpi(run_t *r, int *argc, char ***argv) {
    tdp_err_t e2;
    if (comm_start(&r->comm, argc, argv, &e2) != TDP_OK) {
        fprintf(stderr, "%s: %s\n", prog, e2.msg);
        if (!r->comm.started)
            return TDP_ERUNTIME;
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    r->mpi_up = 1;
    r->rank = r->comm.rank;
    r->comm.name = prog; /* its warnings' prefix */
    return TDP_OK;
}

/* --help or --version: rank 0 prints it and every rank is done (RUN_DONE). */
static int info_requested(run_t *r) {
    const options_t *o = &r->s.o;
    if (r->mpi_up) {
        /* --help or --version on some ranks only would leave the others waiting in the
         * agreement below */
        const int info = o->help | o->version << 1, mine = o->help ? 1 : o->version ? 2 : 0;
        int info_lo = 0, info_hi = 0;
        if (comm_agree_range(&r->comm, info, &info_lo, &info_hi) != TDP_OK || info_lo != info_hi) {
            const int which = mine ? mine : (info_hi & 1) ? 1 : 2;
            fprintf(stderr,
                    "%s: ranks disagree on %s: rank %d has %s, another rank %s: start every "
                    "rank with the same options\n",
                    prog, which == 1 ? "--help" : "--version", r->rank, mine ? "it" : "none",
                    mine ? "has none" : "has it");
            return TDP_EINPUT;
        }
    }
    if (!o->help && !o->version)
        return TDP_OK;
    if (r->rank == 0)
        print_info(o);
    return RUN_DONE;
}

/* A stop request during set-up on any rank stops every rank before training (RUN_STOPPED). */
static int stop_requested(run_t *r) {
    int who = 0, stop = stop_signal != 0;
    if (r->mpi_up)
        stop = comm_agree(&r->comm, stop, &who, NULL);
    if (stop == 0)
        return TDP_OK;
    if (r->rank == 0)
        stopped_in_setup();
    return RUN_STOPPED;
}

/* The whole resolved configuration, then the agreement of every rank on it. Each rank reads
 * the header of the checkpoint it resumes from first (the resume state is part of the
 * configuration), and nothing before the agreement depends on another rank. */
static int agree_config(run_t *r, int world) {
    const options_t *o = &r->s.o;
    int rc = run_config_make(&r->s, world, r->mpi_up || o->resume_path[0] || o->checkpoint_path[0],
                             &r->want, &r->resumed, &r->err);
    if (!r->mpi_up)
        return agree(r, rc);
    const runconfig_t *all = run_config_all();
    int who = 0;
    int worst = comm_agree_config(&r->comm, rc, all->text, all->len, &who, &r->err);
    if (worst == TDP_OK) {
        const int autotune = o->bucket_kb == OPT_BUCKET_AUTO;
        rc = ddp_setup(
            &r->d, &r->comm, &r->s.model, autotune ? OPT_DEFAULT_BUCKET_KB : (size_t)o->bucket_kb,
            !o->no_overlap && !o->zero, o->deterministic, o->workers, r->s.batch, &r->err);
        if (rc == TDP_OK && o->zero)
            rc = zero_setup(&r->d.zero, &r->comm, r->s.model.nparams, TRAIN_EXTRA, o->deterministic,
                            &r->err);
        if (rc == TDP_OK)
            rc = ddp_set_watchdog(&r->d, o->comm_timeout, o->check_sync, &r->err);
        if (rc == TDP_OK)
            rc = ddp_set_timing(&r->d, o->straggler_pct, &r->err);
        if (rc == TDP_OK)
            rc = ddp_set_compress(&r->d, (half_kind_t)o->grad_compress, o->error_feedback, &r->err);
        if (rc == TDP_OK && autotune)
            ddp_set_autotune(&r->d);
        worst = comm_agree(&r->comm, rc, &who, &r->err);
    }
    return report_once(r, worst, who);
}

/* The trainer (and in DP mode the worker threads), agreed on by every rank. */
static int make_trainer(run_t *r, int world) {
    const setup_t *s = &r->s;
    const options_t *o = &s->o;
    train_config_t tc = {
        .model = &s->model,
        .train = &s->train,
        .test = &s->test,
        .epochs = s->epochs,
        .max_steps = o->max_steps,
        .batch = s->batch,
        .world = world,
        .accum = o->accum,
        .proc_rank = r->rank,
        .procs = r->mpi_up ? r->comm.size : 1,
        .sgd = {.lr = (float)s->lr, .momentum = (float)s->mom, .weight_decay = (float)s->wd},
        .lr_cosine = o->lr_cosine,
        .seed = o->seed,
        .state_lo = r->d.zero.on ? r->d.zero.lo : 0, /* --zero: the momentum of a slice */
        .state_len = r->d.zero.on ? r->d.zero.len : 0,
    };
    int rc = trainer_init(&r->t, &tc, &r->err);
    r->t.gather_state = zero_gather_state;
    r->t.gather_self = &r->d.zero;
    r->have_trainer = 1; /* trainer_init frees what it allocated when it fails */
    r->use_dp = o->mode == MODE_DP;
    /* serial --gil: the serial step under the interpreter's costs, with a one-worker dp_t's lock */
    r->serial_gil = o->mode == MODE_SERIAL && o->gil;
    if (rc == TDP_OK && (r->use_dp || r->serial_gil)) {
        rc = dp_init(&r->dp, &s->model, r->use_dp ? o->workers : 1, s->batch, o->dp_pool, o->gil,
                     o->switch_interval / 1000.0, o->dp_cache, &r->err);
        r->have_dp = rc == TDP_OK;
        if (rc == TDP_OK && o->gil)
            dp_set_calibration(&r->dp, &s->gilcal);
        if (rc == TDP_OK && o->dp_cache && !r->dp.cache_ok)
            fprintf(stderr,
                    "%s: warning: --dp-cache has no effect: this allocator ignores "
                    "mallopt\n",
                    prog);
    }
    return agree(r, rc);
}

/* Checkpoints and the resume: every rank reads the file it resumes from (they agreed on its
 * header). */
static int prepare_resume(run_t *r) {
    run_config_attach(&r->t, &r->want, &r->s.o, r->rank);
    int rc = TDP_OK;
    if (r->s.o.resume_path[0] != '\0')
        rc = resume_from(&r->s, &r->t, &r->want, &r->resumed, r->rank, &r->err);
    /* tests: TDP_TEST_STOP_AFTER=N acts as a signal during the N-th step of this run */
    if (rc == TDP_OK && testhooks()->stop_after_set)
        r->t.stop_at = r->t.steps + testhooks()->stop_after;
    return agree(r, rc);
}

/* Train, from the replication of rank 0's weights to the end of the run's outputs. */
static int train(run_t *r) {
    const setup_t *s = &r->s;
    trainer_t *t = &r->t;
    ddp_t *d = r->mpi_up ? &r->d : NULL;
    int rc = TDP_OK;
    r->tracing = s->o.trace_path[0] != '\0';
    if (d)
        MPI_Barrier(MPI_COMM_WORLD); /* one time origin for every rank's trace */
    if (r->tracing && (rc = trace_init(&r->trace, TRACE_CAPACITY, tdp_now(), &r->err)) == TDP_OK)
        t->trace = &r->trace;

    /* the one replication of the model: rank 0's weights to every rank */
    double broadcast_bytes = 0.0;
    if (rc == TDP_OK && d && d->c->size > 1) {
        double b0 = tdp_now();
        rc = comm_broadcast(d->c, t->params, s->model.nparams, &r->err);
        trace_add(t->trace, "broadcast weights", -1, 1, b0, tdp_now());
        broadcast_bytes = (double)s->model.nparams * sizeof(float);
    }

    if (rc == TDP_OK && r->rank == 0 && !s->o.quiet) {
        print_config(s, t, d);
        if (s->o.resume_path[0])
            printf("resume: from %s at step %ld (epoch %ld, step %ld of it)\n", s->o.resume_path,
                   t->steps, t->start_epoch + 1, t->start_b);
    }

    report_t rep;
    report_init(&rep, !s->o.quiet && r->rank == 0);
    metrics_t metrics; /* rank 0's curves (--metrics) */
    metrics_init(&metrics);
    report_configure(&rep, (progress_t)s->o.progress, s->o.log_every,
                     r->rank == 0 && s->o.metrics_path[0] ? &metrics : NULL);
    double t0 = tdp_now();
    if (rc == TDP_OK)
        rc = trainer_run(t,
                         d               ? &ddp_engine
                         : r->use_dp     ? &dp_engine
                         : r->serial_gil ? &serial_gil_engine
                                         : &serial_engine,
                         d                              ? (void *)d
                         : (r->use_dp || r->serial_gil) ? (void *)&r->dp
                                                        : NULL,
                         &rep, &r->err);
    double seconds = tdp_now() - t0;
    if (rc == TDP_OK && d) /* every rank ended the same step: the per-rank timing */
        rc = ddp_finish(d, &r->err);
    if (rc != TDP_OK && d) {
        /* a diverging loss is seen identically by every rank (the loss travels with the
         * gradient): rank 0 says so and all return. Anything else (an MPI failure) may be one
         * rank's alone: report it with the rank and end the whole job. */
        if (t->diverged) {
            if (r->rank == 0)
                fprintf(stderr, "%s: %s\n", prog, r->err.msg);
            rc = -rc; /* reported */
        } else {
            fprintf(stderr, "%s: rank %d: %s\n", prog, r->rank, r->err.msg);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
    }
    run_end_t end = {
        .s = s,
        .t = t,
        .d = d,
        .dp = r->use_dp || r->serial_gil ? &r->dp : NULL,
        .trace = r->tracing ? &r->trace : NULL,
        .rank = r->rank,
        .seconds = seconds,
        .broadcast_bytes = broadcast_bytes,
        .metrics = rep.metrics,
    };
    rc = outputs_write(&end, rc, &r->err);
    metrics_free(&metrics);
    return rc;
}

/* Set-up and the agreement of every rank on its outcome: TDP_OK to train, else how the run ends. */
static int start(run_t *r, int *argc, char ***argv) {
    (void)testhooks(); /* the test-only switches, read once */
    /* from the start: a stop request during set-up stops the run after its first step */
    int st = install_stop_handlers(&r->err);
    if (st != TDP_OK)
        return report_once(r, st, 0);
    st = setup(*argc, *argv, &r->s, &r->err);
    /* every process mpirun started takes part in the agreements below, whatever its options
     * (--help included: a rank that printed its usage and left would leave the others waiting) */
    r->use_mpi = launcher_world_size() > 1 || (st == TDP_OK && r->s.o.mode == MODE_DDP);
    if (r->use_mpi && start_mpi(r, argc, argv) != TDP_OK)
        return TDP_ERUNTIME;
    /* a problem seen by any rank ends every rank, with its message printed once */
    st = agree(r, st);
    if (st == TDP_OK)
        st = info_requested(r);
    if (st == TDP_OK)
        st = stop_requested(r);
    return st;
}

int main(int argc, char **argv) {
    static run_t r; /* zeroed: nothing set up yet */
    int st = start(&r, &argc, &argv);
    if (st == TDP_OK && getenv("OPENBLAS_NUM_THREADS") == NULL)
        blas_set_threads(1); /* one BLAS thread per worker unless the user says otherwise */
    const int world = r.use_mpi               ? r.comm.size * r.s.o.workers
                      : r.s.o.mode == MODE_DP ? r.s.o.workers
                                              : 1;
    if (st == TDP_OK)
        st = agree_config(&r, world);
    if (st == TDP_OK)
        st = make_trainer(&r, world);
    if (st == TDP_OK)
        st = prepare_resume(&r);
    if (st == TDP_OK)
        st = train(&r);
    return finish(&r, st);
}
