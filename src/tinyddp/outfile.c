/* outfile.c: the output files: checks before the work, writes through a temporary file, and the
 * stage that puts a run's outputs in place all or none (outfile.h). */
#define _XOPEN_SOURCE 700 /* realpath */
#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tmpfiles.h"

int out_check(const char *opt, const char *path, tdp_err_t *err) {
    if (path == NULL || path[0] == '\0')
        return TDP_OK;
    size_t len = strlen(path);
    if (len + OUT_TMP_SUFFIX_MAX >= PATH_MAX)
        return tdp_fail(err, TDP_EINPUT,
                        "--%s: the path is too long (%zu characters; at most %d with the %d of "
                        "the temporary file's suffix .tmp.PID)",
                        opt, len, PATH_MAX - 1 - OUT_TMP_SUFFIX_MAX, OUT_TMP_SUFFIX_MAX);
    struct stat st;
    int exists = stat(path, &st) == 0, e = errno;
    if (exists && S_ISDIR(st.st_mode))
        return tdp_fail(err, TDP_EINPUT, "--%s %s: is a directory", opt, path);
    if (exists && S_ISCHR(st.st_mode)) { /* written in place, like /dev/null */
        if (access(path, W_OK) != 0)
            return tdp_fail(err, TDP_EINPUT, "--%s %s: cannot write: %s", opt, path,
                            strerror(errno));
        return TDP_OK;
    }
    if (exists && !S_ISREG(st.st_mode))
        return tdp_fail(err, TDP_EINPUT,
                        "--%s %s: not a regular file (%s%s): an output must be a regular file "
                        "or a character device such as /dev/null",
                        opt, path, tdp_file_kind(st.st_mode),
                        S_ISFIFO(st.st_mode) ? ", writing to it would block" : "");
    if (path[len - 1] == '/')
        return tdp_fail(err, TDP_EINPUT, "--%s %s: names a directory (ends with '/')", opt, path);
    char b1[PATH_MAX], b2[PATH_MAX];
    memcpy(b1, path, len + 1);
    memcpy(b2, path, len + 1);
    const char *name = basename(b1), *dir = dirname(b2);
    long name_max = pathconf(dir, _PC_NAME_MAX);
    if (name_max <= 0)
        name_max = NAME_MAX;
    if ((long)strlen(name) + OUT_TMP_SUFFIX_MAX > name_max)
        return tdp_fail(err, TDP_EINPUT,
                        "--%s %s: the name is too long (%zu characters; at most %ld with the %d "
                        "of the temporary file's suffix .tmp.PID)",
                        opt, path, strlen(name), name_max - OUT_TMP_SUFFIX_MAX, OUT_TMP_SUFFIX_MAX);
    if (access(dir, W_OK | X_OK) != 0)
        return tdp_fail(err, TDP_EINPUT, "--%s %s: directory %s is not writable: %s", opt, path,
                        dir, strerror(errno));
    if (!exists && e != ENOENT)
        return tdp_fail(err, TDP_EINPUT, "--%s %s: %s", opt, path, strerror(e));
    return TDP_OK;
}

/* What a path names, to compare two: the file (device, inode) where it exists, else the real
 * path of its directory followed by its name. */
typedef struct {
    int exists, chr;
    dev_t dev;
    ino_t ino;
    char where[PATH_MAX + NAME_MAX + 2];
} file_id_t;

static void file_id(const char *path, file_id_t *id) {
    memset(id, 0, sizeof *id);
    struct stat st;
    if (stat(path, &st) == 0) {
        id->exists = 1;
        id->chr = S_ISCHR(st.st_mode);
        id->dev = st.st_dev;
        id->ino = st.st_ino;
        return;
    }
    char b1[PATH_MAX], b2[PATH_MAX], real[PATH_MAX];
    snprintf(b1, sizeof b1, "%s", path);
    snprintf(b2, sizeof b2, "%s", path);
    if (realpath(dirname(b2), real) == NULL) /* unresolvable: compare as given */
        snprintf(id->where, sizeof id->where, "%s", path);
    else
        snprintf(id->where, sizeof id->where, "%s/%s", real, basename(b1));
}

static int same_file(const file_id_t *a, const file_id_t *b) {
    if (a->exists != b->exists)
        return 0;
    if (a->exists)
        return a->dev == b->dev && a->ino == b->ino && !(a->chr && b->chr);
    return strcmp(a->where, b->where) == 0;
}

int out_check_aliases(const run_file_t *f, int n, tdp_err_t *err) {
    file_id_t *id = calloc(n > 0 ? (size_t)n : 1, sizeof *id);
    if (id == NULL)
        return tdp_fail_sys(err, __FILE__, __LINE__, 0, "out of memory");
    for (int i = 0; i < n; i++)
        if (f[i].path != NULL && f[i].path[0] != '\0')
            file_id(f[i].path, &id[i]);
    int rc = TDP_OK;
    for (int i = 0; i < n && rc == TDP_OK; i++) {
        if (!f[i].output || f[i].path == NULL || f[i].path[0] == '\0')
            continue;
        for (int j = 0; j < n && rc == TDP_OK; j++) {
            if (j == i || f[j].path == NULL || f[j].path[0] == '\0' || (f[j].output && j < i))
                continue;
            if (!f[j].output && !id[j].exists) /* a missing input: its reader says so */
                continue;
            if ((f[i].may_alias && strcmp(f[i].may_alias, f[j].opt) == 0) ||
                (f[j].may_alias && strcmp(f[j].may_alias, f[i].opt) == 0))
                continue;
            if (same_file(&id[i], &id[j]))
                rc = tdp_fail(err, TDP_EINPUT, "--%s %s and --%s %s are the same file: %s",
                              f[i].opt, f[i].path, f[j].opt, f[j].path,
                              f[j].output ? "each output needs a file of its own"
                                          : "an output must not overwrite an input");
        }
    }
    free(id);
    return rc;
}

/* The staged outputs (out_stage_begin .. out_stage_end). */
#define STAGE_MAX 16
static struct {
    int active, n;
    char *tmp[STAGE_MAX], *dst[STAGE_MAX];
    int slot[STAGE_MAX]; /* the temporary's tmpfiles slot */
} stage;

void out_stage_begin(void) {
    stage.active = 1;
    stage.n = 0;
}

/* Keep tmp (already written) to be renamed to path at the end of the stage. */
static int stage_add(const char *tmp, const char *path, int slot, tdp_err_t *err) {
    for (int i = 0; i < stage.n; i++)
        if (strcmp(stage.dst[i], path) == 0) { /* written again: the same temporary, new content */
            tmpfiles_forget(slot);
            return TDP_OK;
        }
    if (stage.n == STAGE_MAX)
        return tdp_fail(err, TDP_ERUNTIME, "cannot write %s: more than %d outputs", path,
                        STAGE_MAX);
    char *t = strdup(tmp), *d = strdup(path);
    if (t == NULL || d == NULL) {
        free(t);
        free(d);
        return tdp_fail_sys(err, __FILE__, __LINE__, 0, "out of memory");
    }
    stage.tmp[stage.n] = t;
    stage.dst[stage.n] = d;
    stage.slot[stage.n] = slot;
    stage.n++;
    return TDP_OK;
}

/* Make a rename durable: fsync the directory of path. */
static void sync_dir_of(const char *path) {
    char dirbuf[PATH_MAX];
    snprintf(dirbuf, sizeof dirbuf, "%s", path);
    int dfd = open(dirname(dirbuf), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
}

int out_stage_end(int rc, tdp_err_t *err) {
    int renamed = 0;
    for (int i = 0; i < stage.n; i++) {
        if (rc == TDP_OK && rename(stage.tmp[i], stage.dst[i]) != 0)
            rc = tdp_fail(err, TDP_ERUNTIME, "cannot write %s: %s", stage.dst[i], strerror(errno));
        if (rc != TDP_OK)
            unlink(stage.tmp[i]);
        else
            renamed = i + 1;
        tmpfiles_forget(stage.slot[i]);
    }
    for (int i = 0; i < stage.n; i++) {
        if (i < renamed)
            sync_dir_of(stage.dst[i]);
        free(stage.tmp[i]);
        free(stage.dst[i]);
    }
    stage.active = 0;
    stage.n = 0;
    return rc;
}

/* Finish the temporary file tmp written for path (complete, fsynced, closed; registered with
 * tmpfiles_remember as slot): rename it into place and fsync the directory, or, inside a stage,
 * keep it for out_stage_end. On failure tmp is removed. */
static int commit_tmp(const char *tmp, const char *path, int slot, tdp_err_t *err) {
    if (stage.active) { /* renamed with the other outputs by out_stage_end */
        int rc = stage_add(tmp, path, slot, err);
        if (rc != TDP_OK) {
            unlink(tmp);
            tmpfiles_forget(slot);
        }
        return rc;
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        tmpfiles_forget(slot);
        return tdp_fail(err, TDP_ERUNTIME, "cannot write %s: %s", path, strerror(e));
    }
    tmpfiles_forget(slot);
    sync_dir_of(path);
    return TDP_OK;
}

/* Write to a character device (/dev/null) in place: renaming a file over it would replace the
 * device. Opened without blocking, and refused unless it is still a character device. */
static int write_in_place(const char *path, const void *data, size_t len, tdp_err_t *err) {
    int fd = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return tdp_fail(err, TDP_ERUNTIME, "cannot write %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISCHR(st.st_mode)) {
        close(fd);
        return tdp_fail(err, TDP_ERUNTIME, "cannot write %s: not a character device any more",
                        path);
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
        int e = errno;
        close(fd);
        return tdp_fail_sys(err, __FILE__, __LINE__, e, "fcntl %s", path);
    }
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = errno;
            close(fd);
            return tdp_fail_sys(err, __FILE__, __LINE__, e, "writing %s", path);
        }
        p += w;
        len -= (size_t)w;
    }
    if (close(fd) != 0)
        return tdp_fail_sys(err, __FILE__, __LINE__, errno, "close %s", path);
    return TDP_OK;
}

int out_open(out_file_t *o, const char *path, tdp_err_t *err) {
    memset(o, 0, sizeof *o);
    o->fd = -1;
    o->slot = -1;
    o->path = path;
    if (snprintf(o->tmp, sizeof o->tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof o->tmp)
        return tdp_fail(err, TDP_ERUNTIME, "cannot write %s: path too long", path);
    /* the signal handlers learn the name before the file exists (a second Ctrl-C removes it) */
    o->slot = tmpfiles_remember(o->tmp);
    /* O_NONBLOCK | O_NOFOLLOW: whatever has taken the temporary's name (a FIFO, a link) is
     * refused instead of blocking or being followed */
    o->fd = open(o->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC, 0644);
    struct stat st;
    if (o->fd < 0 || fstat(o->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int e = o->fd < 0 ? errno : 0;
        if (o->fd >= 0)
            close(o->fd);
        tmpfiles_forget(o->slot); /* not created, or not ours: leave it */
        return e ? tdp_fail(err, TDP_ERUNTIME, "cannot write %s: %s", o->tmp, strerror(e))
                 : tdp_fail(err, TDP_ERUNTIME, "cannot write %s: not a regular file", o->tmp);
    }
    return TDP_OK;
}

void out_write(out_file_t *o, const void *data, size_t len) {
    const char *p = data;
    while (len > 0 && o->errno_value == 0) {
        ssize_t w = write(o->fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            o->errno_value = w < 0 ? errno : EIO;
            o->what = "writing";
            break;
        }
        p += w;
        len -= (size_t)w;
    }
}

int out_commit(out_file_t *o, tdp_err_t *err) {
    if (o->errno_value == 0 && fsync(o->fd) != 0) {
        o->errno_value = errno;
        o->what = "fsync";
    }
    if (close(o->fd) != 0 && o->errno_value == 0) {
        o->errno_value = errno;
        o->what = "close";
    }
    if (o->errno_value != 0) {
        unlink(o->tmp);
        tmpfiles_forget(o->slot);
        return tdp_fail_sys(err, __FILE__, __LINE__, o->errno_value, "%s %s", o->what, o->tmp);
    }
    return commit_tmp(o->tmp, o->path, o->slot, err);
}

int write_file_atomic(const char *path, const void *data, size_t len, tdp_err_t *err) {
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        if (S_ISCHR(st.st_mode))
            return write_in_place(path, data, len, err);
        return tdp_fail(err, TDP_ERUNTIME, "cannot write %s: not a regular file (%s)", path,
                        tdp_file_kind(st.st_mode));
    }
    out_file_t o;
    int rc = out_open(&o, path, err);
    if (rc != TDP_OK)
        return rc;
    out_write(&o, data, len);
    return out_commit(&o, err);
}
