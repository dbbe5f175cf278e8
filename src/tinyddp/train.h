/* train.h: the step loop, shared by every mode. A mode supplies a gradient engine: how the
 * gradient of one global batch is produced and combined. The loop, the model, the data path,
 * the optimizer, the evaluation and the reporting are the same for all. */
#ifndef TDP_TRAIN_H
#define TDP_TRAIN_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "checkpoint.h"
#include "data.h"
#include "model.h"
#include "net.h"
#include "optim.h"
#include "report.h"
#include "trace.h"
#include "util.h"

typedef struct trainer trainer_t;

/* The gradient arena has TRAIN_EXTRA floats after the parameters' gradients, combined with them
 * by every engine that combines across processes: grads[nparams + TRAIN_SLOT_LOSS] carries the
 * step's summed loss, grads[nparams + TRAIN_SLOT_STOP] > 0 asks every worker to stop after this
 * step (a signal seen by any rank stops all of them at the same step). */
#define TRAIN_EXTRA 2
/* The batch of evaluation passes (at least the training batch). */
#define TRAIN_EVAL_BATCH 1000
#define TRAIN_SLOT_LOSS  0
#define TRAIN_SLOT_STOP  1

typedef struct {
    const char *name;
    /* Leave in t->grads the gradient of the mean loss over step `b` of the epoch order t->order
     * (accum micro-batches of every worker's share, combined). Set *loss_sum to the summed loss
     * of all those samples (every worker's: it decides, identically everywhere, whether the run
     * diverged) and add this process's correct predictions to *correct. */
    int (*grads)(void *self, trainer_t *t, size_t b, double *loss_sum, long *correct,
                 tdp_err_t *err);
    /* Sum v[0..n) over all processes in place (epoch metrics); NULL for a single process. */
    int (*allsum)(void *self, double *v, int n, tdp_err_t *err);
    /* Seconds of communication not hidden behind computation, so far; NULL for none. */
    double (*comm_seconds)(void *self);
    /* Called after every optimizer step (checks across workers); NULL: none. */
    int (*after_step)(void *self, trainer_t *t, tdp_err_t *err);
    /* Mode-specific text for the end of the per-epoch line (cumulative figures); NULL: none. */
    void (*epoch_note)(void *self, char *buf, size_t len);
} grad_engine_t;

typedef struct {
    const model_t *model;
    const dataset_t *train, *test;
    int epochs;
    long max_steps;   /* -1: no limit */
    int batch;        /* per worker per micro-batch */
    int world;        /* workers sharing each global batch (ranks x threads) */
    int accum;        /* micro-batches per optimizer step (gradient accumulation), >= 1 */
    int proc_rank;    /* this process's index and the process count: evaluation is */
    int procs;        /* split between processes and summed */
    sgd_params_t sgd; /* sgd.lr is the peak learning rate */
    int lr_cosine;    /* cosine decay to 0 over the planned steps */
    uint64_t seed;
    /* the slice [state_lo, state_lo + state_len) of the parameters whose momentum this process
     * holds and updates (a sharded optimizer, zero.h; its engine leaves the slice's gradient at
     * the start of the gradient arena and gathers the weights after the step); state_len 0: all */
    size_t state_lo, state_len;
} train_config_t;

struct trainer {
    train_config_t cfg;
    float *params;      /* [nparams] the model */
    float *grads;       /* [nparams + TRAIN_EXTRA] gradient of the current step, then slots */
    float *velocity;    /* [cfg.state_len] momentum of the slice this process updates */
    net_ws_t ws;        /* activations for one worker's batch (and evaluation) */
    uint32_t *order;    /* [train->n] the current epoch's sample order */
    trace_t *trace;     /* NULL unless --trace */
    size_t batches;     /* optimizer steps per epoch (batch x world x accum samples each) */
    long planned_steps; /* epochs x batches, or max_steps when smaller */
    /* results */
    long steps;
    int epochs_done;
    int diverged; /* the run stopped on a non-finite loss */
    /* checkpoints and stopping (set by the caller before trainer_run) */
    const char *ckpt_path;   /* NULL: none */
    long ckpt_every;         /* steps; 0: only when stopping (the caller writes the end one) */
    int ckpt_writer;         /* this process writes (rank 0) */
    ckpt_header_t ckpt_base; /* the fields that describe the run */
    const char *ckpt_record; /* the option record (runconfig.h text) */
    size_t ckpt_record_len;
    /* a sharded momentum: every process calls it; it gathers the whole momentum into whole[]
     * on the writer (mine: this process's slice) */
    int (*gather_state)(void *self, const float *mine, float *whole, tdp_err_t *err);
    void *gather_self;
    volatile const sig_atomic_t *stop_flag; /* non-zero: stop after the current step */
    long start_epoch, start_b;              /* where to resume */
    /* the epoch in progress: its running sums (set from the checkpoint on resume, with
     * resume_sums = 1, for start_epoch) */
    int resume_sums;
    double ep_loss;  /* summed loss of its steps (every worker's) */
    long ep_correct; /* correct predictions: this process's (+ the restored total on process 0) */
    long ep_steps;   /* steps counted, restored ones included */
    double ep_correct_all; /* correct predictions of every process, when last summed */
    long ran_steps;        /* steps this process ran (its throughput counts only these) */
    long stop_at;          /* tests: behave as if signalled during step stop_at (0: no) */
    int stopped;           /* the run stopped on request, after a checkpoint if any */
    int ckpt_written;
    double train_seconds, final_loss, test_accuracy, samples_per_s;
    double optimizer_seconds;
};

/* Allocate arenas and workspace and initialise the weights from cfg->seed (He). */
int trainer_init(trainer_t *t, const train_config_t *cfg, tdp_err_t *err);
void trainer_free(trainer_t *t);

/* Run the epochs (bounded by max_steps), reporting through rep. A non-finite loss stops the
 * run with TDP_ERUNTIME and a message that suggests a lower learning rate. */
int trainer_run(trainer_t *t, const grad_engine_t *eng, void *self, report_t *rep, tdp_err_t *err);

/* Correct predictions on this process's share of the test set with the current weights. */
long trainer_evaluate_share(trainer_t *t);

/* The learning rate of step `step` (0-based) of `planned` steps:
 *     cosine: (float)(lr * 0.5 * (1 + cos(pi * step / planned))), computed in double;
 *     constant: lr. */
float lr_at(float lr, int cosine, long step, long planned);

/* Write a checkpoint (on the writing process) whose next step is step next_b of epoch, with the
 * epoch's sums t->ep_loss, t->ep_correct_all and t->ep_steps. */
int trainer_checkpoint(trainer_t *t, long epoch, long next_b, tdp_err_t *err);
/* The end-of-run checkpoint (the caller writes it with the run's other outputs). */
int trainer_checkpoint_end(trainer_t *t, tdp_err_t *err);

/* The serial engine: one worker computes the gradient of the whole global batch. */
extern const grad_engine_t serial_engine;

/* Load worker `rank`'s share of micro-batch k of step b into ws (x, y), prefetching the next
 * one's rows; returns its size (cfg.batch). */
int trainer_load_shard(const trainer_t *t, net_ws_t *ws, size_t b, int k, int rank);

#endif
