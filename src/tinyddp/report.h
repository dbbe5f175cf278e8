/* report.h: what a run tells its user: the resolved configuration, a progress bar (terminal) or
 * nothing (pipe) during an epoch, one line per epoch, and the JSON summary. Only the reporting
 * rank (rank 0) prints; the others pass enabled = 0. */
#ifndef TDP_REPORT_H
#define TDP_REPORT_H

#include <limits.h>
#include <stdio.h>

#include "util.h"

typedef struct {
    int epoch; /* 1-based */
    int epochs;
    long steps;       /* optimizer steps so far, all epochs */
    double loss;      /* mean training loss over the epoch's steps */
    double train_acc; /* over the epoch's training samples */
    double test_acc;
    double samples_per_s; /* training samples (all workers) per second of training time */
    double elapsed;       /* seconds since training started */
    double comm_seconds;  /* exposed communication so far (0 when none) */
    char note[160];       /* the mode's own figures, appended to the line */
} epoch_stats_t;

/* The JSON summary: every key is present in every mode, 0 where a mode has none. */
typedef struct {
    const char *mode;
    int world_size, workers, hosts;
    const char *model;
    long params;
    int epochs;
    long steps;
    int batch, global_batch;
    double train_samples_per_s, test_accuracy, final_loss, seconds;
    double train_seconds; /* the time of the training steps this process ran (the throughput's) */
    double replicated_bytes_total, broadcast_bytes, allreduce_bytes_per_step;
    double comm_seconds, gil_wait_seconds;
    /* the step's time split (seconds over the run; 0 where a mode has no such part) */
    double replicate_seconds, scatter_seconds, compute_seconds, gather_seconds, optimizer_seconds;
    const char *blas; /* what the BLAS library runs (blas_config) */
} run_summary_t;

typedef struct {
    int enabled; /* print at all (rank 0, not --quiet) */
    int tty;     /* stdout is a terminal: draw a progress bar */
    FILE *out;
    double last_draw;
} report_t;

void report_init(report_t *r, int enabled);
void report_progress(report_t *r, int epoch, long step_in_epoch, long steps_in_epoch,
                     double loss_so_far);
void report_epoch(report_t *r, const epoch_stats_t *s);
/* Write the summary to path atomically (temporary file, then rename). */
int report_write_json(const char *path, const run_summary_t *s, tdp_err_t *err);

/* The longest suffix write_file_atomic adds to a name for its temporary file: ".tmp." and a
 * process id of up to 10 digits. */
#define REPORT_TMP_SUFFIX_MAX 15

/* An output path (option --opt, without its dashes) must be usable before any work starts, so
 * that a typo fails in a second and nothing fails after training: not a directory, a FIFO (the
 * write would block), a socket or a block device (a character device such as /dev/null is
 * written in place, and must be writable); a directory that exists and is writable; a name
 * that, with the temporary file's suffix, fits NAME_MAX, and a whole path that fits PATH_MAX.
 * TDP_EINPUT naming the option and the problem. An empty path is no output: TDP_OK. */
int report_check_output(const char *opt, const char *path, tdp_err_t *err);

/* A file a run reads or writes, for report_check_aliases. */
typedef struct {
    const char *opt;       /* option name without its dashes ("json") */
    const char *path;      /* NULL or "": not given */
    int output;            /* written by the run */
    const char *may_alias; /* the option of another entry this one may name (NULL: none) */
} report_file_t;

/* Refuse an output that is an input or another output (TDP_EINPUT, naming both options): the
 * same device and inode where both exist, the same resolved path (the real path of the
 * directory and the name) where neither does. Inputs that do not exist are left to their
 * readers; character devices (/dev/null) may be named by several outputs. */
int report_check_aliases(const report_file_t *files, int n, tdp_err_t *err);

/* Write `len` bytes to `path` atomically: path.tmp.PID, fsync, rename. Nothing is left behind
 * on failure. A character device is written in place (renaming over /dev/null would replace
 * the device); any other file that is not a regular file is refused. Failures here are runtime
 * failures (TDP_ERUNTIME): the paths were checked before the work (report_check_output). */
int write_file_atomic(const char *path, const void *data, size_t len, tdp_err_t *err);

/* The outputs of a run, all or none: between report_stage_begin and report_stage_end,
 * write_file_atomic leaves each file in its temporary (written, fsynced) instead of renaming it
 * (character devices are written at once). report_stage_end(rc) renames every temporary into
 * place when rc is TDP_OK, and removes every one otherwise; it returns rc, or TDP_ERUNTIME when
 * a rename failed (the temporaries not yet renamed are removed; renames already done stay).
 * One stage at a time, used from one thread. */
void report_stage_begin(void);
int report_stage_end(int rc, tdp_err_t *err);

/* An output written through a temporary file: out_open creates path.tmp.PID (known to the signal
 * handlers: tmpfiles.h), out_write appends (the first failure is kept), out_commit fsyncs and
 * closes it and puts it in place with report_commit_tmp, or removes it after a failure. The one
 * writer of every output file (write_file_atomic, checkpoints). */
typedef struct {
    char tmp[PATH_MAX + 32];
    const char *path;
    int fd, slot, errno_value;
    const char *what; /* the step that failed */
} out_file_t;
int out_open(out_file_t *o, const char *path, tdp_err_t *err);
void out_write(out_file_t *o, const void *data, size_t len);
int out_commit(out_file_t *o, tdp_err_t *err);

/* Finish the temporary file tmp written for path (complete, fsynced, closed; registered with
 * tmpfiles_remember as slot): rename it into place and fsync the directory, or, inside a stage,
 * keep it for report_stage_end. On failure tmp is removed. The one way every writer of an
 * output (write_file_atomic, ckpt_write) puts its file in place. */
int report_commit_tmp(const char *tmp, const char *path, int slot, tdp_err_t *err);

#endif
