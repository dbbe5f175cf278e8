/* memcheck.h: the up-front memory check of ddp_train: what each mode will hold at its peak,
 * against what this process may still use, refused with the size before anything is allocated
 * for training. */
#ifndef TDP_MEMCHECK_H
#define TDP_MEMCHECK_H

#include <stddef.h>

#include "model.h"
#include "hyper.h"
#include "util.h"

typedef struct {
    double trainer;  /* the model's three arenas, the evaluation workspace, the epoch order */
    double workers;  /* dp: replicas and per-worker workspaces; hybrid: the threads' buffers */
    double comm;     /* ddp: MPI's own memory, its temporaries, the deterministic gather */
    double resident; /* in use already: the program, its libraries, the loaded data sets */
    double per_rank; /* the sum: one process */
    int local_ranks; /* processes of this run on this host */
    double total;    /* per_rank x local_ranks: this host */
} mem_need_t;

typedef struct {
    train_mode_t mode;
    int workers; /* dp: workers; ddp: threads per rank */
    int batch;   /* per worker */
    int deterministic;
    int zero;           /* ddp --zero: the momentum of 1/world of the weights */
    int whole_state;    /* --zero with --checkpoint or --resume: the whole momentum, at times */
    int compress;       /* ddp --grad-compress bf16|fp16 (several ranks): the 16-bit buffers */
    int error_feedback; /* --error-feedback: the rounding residual, one float per weight */
    size_t train_n;
    double resident; /* this process's resident bytes now (VmRSS), with the data sets loaded */
    int world;       /* ddp: ranks in all (from the launcher's environment) */
    int local_ranks; /* ddp: ranks on this host (idem) */
} mem_plan_t;

/* What a run of plan p with model m holds at its peak (resident bytes), by part. */
void mem_need(const model_t *m, const mem_plan_t *p, mem_need_t *out);

/* The bytes this process may still use, the least of: MemAvailable (or TDP_TEST_MEM_AVAILABLE,
 * bytes, for tests), RLIMIT_AS less the address space in use, RLIMIT_DATA less the data in use,
 * and the memory cgroup's limit less its usage. *what names the one that bounds it. 0 when none
 * can be read. */
double mem_available(const char **what);

/* This process's resident bytes now (VmRSS); 0 when unknown. */
double mem_resident(void);

/* Refuse (TDP_EINPUT) a run that needs more than is available: "--mode dp --workers 1024 with
 * models/wide.cfg needs 17.1 GB of memory (...), 3.0 GB is available (MemAvailable)". What
 * the process holds already (p->resident) is part of the need, and is added back to what is
 * available (which no longer counts it). */
int mem_check(const model_t *m, const mem_plan_t *p, const char *model_path, tdp_err_t *err);

/* Ranks in all and on this host, from the launcher's environment (1 and 1 without one). */
void mem_launcher_ranks(int *world, int *local);

#endif
