/* outfile.h: the output files of the programs: checked before any work starts, written through
 * a temporary file that is renamed into place, or staged so that a run's outputs appear all or
 * none. */
#ifndef TDP_OUTFILE_H
#define TDP_OUTFILE_H

#include <limits.h>
#include <stddef.h>

#include "util.h"

/* The longest suffix write_file_atomic adds to a name for its temporary file: ".tmp." and a
 * process id of up to 10 digits. */
#define OUT_TMP_SUFFIX_MAX 15

/* An output path (option --opt, without its dashes) must be usable before any work starts, so
 * that a typo fails in a second and nothing fails after training: not a directory, a FIFO (the
 * write would block), a socket or a block device (a character device such as /dev/null is
 * written in place, and must be writable); a directory that exists and is writable; a name
 * that, with the temporary file's suffix, fits NAME_MAX, and a whole path that fits PATH_MAX.
 * TDP_EINPUT naming the option and the problem. An empty path is no output: TDP_OK. */
int out_check(const char *opt, const char *path, tdp_err_t *err);

/* A file a run reads or writes, for out_check_aliases. */
typedef struct {
    const char *opt;       /* option name without its dashes ("json") */
    const char *path;      /* NULL or "": not given */
    int output;            /* written by the run */
    const char *may_alias; /* the option of another entry this one may name (NULL: none) */
} run_file_t;

/* Refuse an output that is an input or another output (TDP_EINPUT, naming both options): the
 * same device and inode where both exist, the same resolved path (the real path of the
 * directory and the name) where neither does. Inputs that do not exist are left to their
 * readers; character devices (/dev/null) may be named by several outputs. */
int out_check_aliases(const run_file_t *files, int n, tdp_err_t *err);

/* Write `len` bytes to `path` atomically: path.tmp.PID, fsync, rename. Nothing is left behind
 * on failure. A character device is written in place (renaming over /dev/null would replace
 * the device); any other file that is not a regular file is refused. Failures here are runtime
 * failures (TDP_ERUNTIME): the paths were checked before the work (out_check). */
int write_file_atomic(const char *path, const void *data, size_t len, tdp_err_t *err);

/* The outputs of a run, all or none: between out_stage_begin and out_stage_end, write_file_atomic
 * and out_commit leave each file in its temporary (written, fsynced) instead of renaming it
 * (character devices are written at once). out_stage_end(rc) renames every temporary into
 * place when rc is TDP_OK, and removes every one otherwise; it returns rc, or TDP_ERUNTIME when
 * a rename failed (the temporaries not yet renamed are removed; renames already done stay).
 * One stage at a time, used from one thread. */
void out_stage_begin(void);
int out_stage_end(int rc, tdp_err_t *err);

/* An output written through a temporary file: out_open creates path.tmp.PID (known to the signal
 * handlers: tmpfiles.h), out_write appends (the first failure is kept), out_commit fsyncs and
 * closes it, then renames it into place and fsyncs the directory (inside a stage: keeps it for
 * out_stage_end), or removes it after a failure. The one writer of every output file
 * (write_file_atomic, checkpoints). */
typedef struct {
    char tmp[PATH_MAX + 32];
    const char *path;
    int fd, slot, errno_value;
    const char *what; /* the step that failed */
} out_file_t;
int out_open(out_file_t *o, const char *path, tdp_err_t *err);
void out_write(out_file_t *o, const void *data, size_t len);
int out_commit(out_file_t *o, tdp_err_t *err);

#endif
