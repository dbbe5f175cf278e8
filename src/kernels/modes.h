/* modes.h: the runners: one job (n independent tasks) run in one of the notebook's ways.
 *
 *   serial        the tasks one after another in the calling thread
 *   threads       one pthread per task (threading.Thread)
 *   gil-threads   the same, each thread holding the emulated interpreter lock (gil.h) while it
 *                 runs; kernels reach a check point every so many iterations and release the
 *                 lock around blocking I/O
 *   thread-pool   P reusable threads, tasks submitted as futures (ThreadPoolExecutor); with
 *                 gil_pool, under the emulated lock as well
 *   processes     one forked process per task, its result back through a pipe
 *                 (multiprocessing.Process, plus the pipe the notebook lacked)
 *   process-pool  P forked worker processes fed through pipes (multiprocessing.Pool,
 *                 ProcessPoolExecutor)
 *   mpi           the tasks dealt round-robin to the ranks of the caller's MPI session (comm.h;
 *                 task i on rank i mod size), results reduced to rank 0
 *
 * A task runs in whichever thread, process or rank the mode gives it; it only sees its inputs
 * (the job's arg and its index) and a lock context. */
#ifndef TDP_KERN_MODES_H
#define TDP_KERN_MODES_H

#include <stddef.h>
#include <stdint.h>

#include "comm.h"
#include "lock.h"
#include "proc.h"
#include "util.h"

typedef enum {
    KERN_SERIAL,
    KERN_THREADS,
    KERN_GIL_THREADS,
    KERN_THREAD_POOL,
    KERN_PROCESSES,
    KERN_PROCESS_POOL,
    KERN_MPI,
    KERN_NMODES
} kern_mode_t;

/* The modes' names, in kern_mode_t's order, NULL-terminated (the --mode option's choices). */
extern const char *const kern_mode_names[KERN_NMODES + 1];
const char *kern_mode_name(kern_mode_t m);
/* One thread or process per task (threads, gil-threads, processes). */
int kern_mode_one_per_task(kern_mode_t m);

/* Task i of a job: sets *result, returns TDP_OK or fills err. */
typedef int (*kern_task_fn)(const void *arg, size_t i, const kern_lock_t *lock, int64_t *result,
                            tdp_err_t *err);

typedef struct {
    kern_task_fn fn;
    const void *arg;
    size_t ntasks;
    /* Optional: called once in the calling process when the workers exist (after the forks of
     * the process modes) and before any result is awaited; e.g. starting a server's threads,
     * so that no thread exists when the process modes fork. */
    int (*ready)(void *ready_arg, tdp_err_t *err);
    void *ready_arg;
} kern_job_t;

typedef struct {
    kern_mode_t mode;
    int workers;            /* thread-pool and process-pool: pool size; others: unused */
    int gil_pool;           /* thread-pool: under the emulated lock */
    double switch_interval; /* seconds: the emulated lock's switch interval */
    const gilcal_t *gilcal; /* the emulated lock's calibration (gil_loop_check); NULL: none */
    const comm_t *comm;     /* mpi: the session, started by the caller */
} kern_run_opts_t;

typedef struct {
    kern_record_t *tasks;    /* [ntasks], the caller's; filled on rank 0 in mpi mode */
    double seconds;          /* wall time of the run: workers started, tasks done, all joined */
    double submit_seconds;   /* pools: from the start until every task was submitted */
    double gil_wait_seconds; /* gil modes: time threads spent waiting for the lock, summed */
    unsigned long gil_forced_switches;
    double gil_held_seconds; /* gil modes: time held for contention (gil_loop_check), summed */
    int workers;             /* threads, processes or ranks that ran tasks */
    int rank;                /* mpi: this rank; else 0 */
    int world;               /* mpi: the number of ranks; else 1 */
    int local_failure;       /* mpi: the error is this rank's own (else it was another rank's) */
} kern_report_t;

/* Run every task of job; rep->tasks must hold job->ntasks records. On failure, the first failed
 * task's message (or the runner's own) is in err. */
int kern_run(const kern_run_opts_t *o, const kern_job_t *job, kern_report_t *rep, tdp_err_t *err);

#endif
