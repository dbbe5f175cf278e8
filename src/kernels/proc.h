/* proc.h: worker processes: fork, a result record through a pipe, reaping.
 *
 * Every worker process of the process modes (processes, process-pool, and so the share and io
 * kernels too) is forked by kern_proc_fork and reaped by kern_proc_reap: together they keep the
 * workers of this process a family that dies with it.
 *  - The workers live in a process group of their own (the first one alive leads it).
 *  - Each worker asks the kernel to kill it (PR_SET_PDEATHSIG, SIGKILL) when its parent dies,
 *    even by SIGKILL; one whose parent died before it could ask (getppid() is no longer the
 *    parent recorded before the fork) leaves at once.
 *  - While any worker is alive, SIGTERM, SIGINT, SIGHUP and SIGQUIT make the parent kill the
 *    whole group with SIGKILL, reap it, say so in one line on stderr ("kernels: stopped by
 *    SIGTERM; its worker processes were killed") and end by the same signal, default action
 *    (exit status 128 + signal in a shell). SIGTSTP (Ctrl-Z) stops the workers with the parent,
 *    SIGCONT continues them. A signal this process inherited as ignored stays ignored.
 *  - A worker starts with the dispositions the parent had before (and SIGTTOU ignored: the
 *    group is not the terminal's foreground group, and a worker's line must not stop it).
 * The parent must fork and reap from the same thread, one that outlives its workers (the death
 * signal fires when the thread that forked ends), and must not fork while other threads exist.
 *
 * A child runs one function that fills a kern_record_t, writes the record to its pipe in one
 * write (it is smaller than PIPE_BUF, so it arrives whole or not at all), flushes stdio and
 * leaves with _exit. The parent reads the record and reaps the child; a child that dies before
 * its record arrives is reported with its exit status or signal. */
#ifndef TDP_KERN_PROC_H
#define TDP_KERN_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

/* One task's outcome, as it travels through a pipe (or is filled in place). */
typedef struct {
    int32_t status; /* TDP_OK, or TDP_ERUNTIME with msg */
    int32_t rank;   /* MPI rank that ran it (0 outside mpi mode) */
    uint64_t index; /* task index */
    int64_t result;
    double start;   /* seconds since the run started (monotonic clock, shared by processes) */
    double seconds; /* duration of the task */
    int64_t pid;    /* process that ran it */
    uint64_t tid;   /* thread that ran it (pthread_self, as Python's threading.get_ident) */
    char msg[256];  /* error message when status != TDP_OK */
} kern_record_t;

/* Runs task `index` and fills rec (in whichever process calls it). */
typedef void (*kern_record_fn)(void *ctx, uint64_t index, kern_record_t *rec);

/* write/read exactly len bytes, retrying after EINTR and short transfers. kern_write_full returns
 * 0, or -1 with errno set. kern_read_full returns the bytes read (fewer than len only at end of
 * file), or -1 with errno set. */
int kern_write_full(int fd, const void *buf, size_t len);
ssize_t kern_read_full(int fd, void *buf, size_t len);

/* Flush stdio and fork a worker into the family (above). *pid is the worker's pid in the
 * parent, 0 in the worker, which then runs on (it returns from here) and leaves with _exit. */
int kern_proc_fork(pid_t *pid, tdp_err_t *err);

/* Flush stdio, fork a child (kern_proc_fork) that runs fn(ctx, index, &rec), writes rec to a new
 * pipe and exits. The parent gets the child's pid and the pipe's read end. */
int kern_proc_spawn(kern_record_fn fn, void *ctx, uint64_t index, pid_t *pid, int *rfd,
                    tdp_err_t *err);

/* Read the child's record from rfd (closing it), then reap the child. */
int kern_proc_collect(pid_t pid, int rfd, kern_record_t *rec, tdp_err_t *err);

/* Wait for a worker and reap it (retrying after EINTR), the one way out of the family; an exit
 * status other than 0 or a signal is an error. */
int kern_proc_reap(pid_t pid, tdp_err_t *err);

#endif
