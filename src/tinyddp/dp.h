/* dp.h: DataParallel with pthreads, as torch.nn.DataParallel does it on every forward pass:
 * the master thread replicates the model (allocates P replicas and copies the weights into
 * each), scatters the batch, runs P worker threads (created for the step, as parallel_apply
 * creates them, or a persistent pool with --dp-pool), gathers the replicas' gradients (summed in
 * worker order), destroys the replicas, and the shared step loop then steps the optimizer.
 *
 * The same thread team, with the model shared instead of replicated and each thread loading its
 * own slice, makes the per-rank gradient of the hybrid mode (mpirun -np R --workers T).
 *
 * With an emulated interpreter lock (gil.h), what PyTorch runs as Python bytecode holds it:
 * replication, scatter, gather (master), and each worker's dispatch of each layer's forward and
 * backward; the kernels (sgemm, bias, activation, loss) run with it released. */
#ifndef TDP_DP_H
#define TDP_DP_H

#include <pthread.h>

#include "gil.h"
#include "net.h"
#include "train.h"
#include "util.h"

typedef struct dp_team dp_team_t;

typedef struct {
    int index; /* within the team */
    dp_team_t *team;
    pthread_t th;
    net_ws_t ws;         /* activations (allocated once) */
    const float *params; /* the weights it reads: a replica (dp) or the shared model (hybrid) */
    double loss;
    long correct;
    int calls; /* the interpreter's layer dispatches in this step (--gil) */
} dp_worker_t;

struct dp_team {
    int n;         /* threads */
    int pool;      /* persistent threads instead of threads per step */
    int self_load; /* workers load their own slice (hybrid) instead of the master */
    gil_t *gil;    /* NULL: no emulated lock */
    dp_worker_t *w;
    /* [n] worker i's gradient: a replica's (dp, made and freed by dp_grads every step) or a
     * buffer of grad_floats the team owns (hybrid) */
    float **grads;
    size_t grad_floats; /* 0: the team owns no gradient buffers */
    /* the job in flight */
    trainer_t *t;
    size_t b;
    int k, first; /* micro-batch, global index of worker 0 */
    float scale;
    int accumulate;
    /* the pool */
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    unsigned long generation;
    int remaining, stop, threads_up;
    /* threads per step under a calibrated lock: how many have run their bootstrap */
    pthread_cond_t started_cv;
    int started;
};

/* Bytes of net_ws_alloc(m, batch): one worker's activations and workspace. */
double dp_workspace_bytes(const model_t *m, int batch);
/* Resident bytes a running thread adds besides what it allocates itself: its stack and the BLAS
 * library's packing buffer for the model's layers (measured; see dp.c). */
double dp_thread_bytes(const model_t *m, int batch);
/* Resident bytes of a team of n threads at `batch` as team_init makes it and team_run runs it,
 * plus `grads_each` bytes of gradient per worker (the hybrid mode's own gradient buffers). */
double team_memory_bytes(const model_t *m, int n, int batch, double grads_each);
/* Resident bytes of dp_init's team and of the replicas dp_grads makes every step (P weights and
 * P gradients, all alive during a step). */
double dp_memory_bytes(const model_t *m, int workers, int batch);

/* grad_floats > 0: the team allocates (and team_free frees) a gradient buffer of that many
 * floats for each worker. */
int team_init(dp_team_t *tm, const model_t *m, int n, int batch, int pool, int self_load,
              gil_t *gil, size_t grad_floats, tdp_err_t *err);
void team_free(dp_team_t *tm);
/* dst = the workers' gradients summed in worker order (dst += them when accumulate): the first n
 * floats of each. */
void team_sum_grads(const dp_team_t *tm, float *dst, size_t n, int accumulate);
/* Run every worker on micro-batch k of step b (worker i takes global slice first + i) and wait
 * for all of them. */
int team_run(dp_team_t *tm, trainer_t *t, size_t b, int k, int first, float scale, int accumulate,
             tdp_err_t *err);

typedef struct {
    dp_team_t team;
    gil_t gil;
    int use_gil;
    int cache_ok; /* --dp-cache took effect */
    int cache;    /* --dp-cache asked for: replicas kept, as the calibration counts them */
    size_t n;     /* nparams */
    /* metrics */
    double replicated_bytes; /* copied into replicas, all steps */
    double replicate_s, scatter_s, compute_s, gather_s;
} dp_t;

/* dp mode: P workers, per-step replicas. */
/* cache: keep the memory of destroyed replicas mapped (glibc's mmap and trim thresholds raised,
 * process-wide), so that making them again costs the copy and not fresh pages. */
int dp_init(dp_t *d, const model_t *m, int workers, int batch, int pool, int use_gil,
            double switch_interval, int cache, tdp_err_t *err);
void dp_free(dp_t *d);
/* --gil's calibrated holds (gilcal.h) from now on; cal must outlive d. */
void dp_set_calibration(dp_t *d, const gilcal_t *cal);
extern const grad_engine_t dp_engine;
/* serial --gil: the serial step under the interpreter's costs (one thread, no contention); its
 * self is a dp_t made by dp_init with one worker and use_gil, whose lock it uses. */
extern const grad_engine_t serial_gil_engine;

#endif
