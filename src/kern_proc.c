/* kern_proc.c: fork, pipes and reaping for the process modes (see kern_proc.h). */
#include "kern_proc.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kern_check.h"

int kern_write_full(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

ssize_t kern_read_full(int fd, void *buf, size_t len) {
    char *p = buf;
    size_t got = 0;
    while (got < len) {
        ssize_t r = read(fd, p + got, len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

int kern_proc_spawn(kern_record_fn fn, void *ctx, uint64_t index, pid_t *pid, int *rfd,
                    tdp_err_t *err) {
    int fds[2];
    KERN_SYS(pipe(fds), err);
    /* what stdio holds now would otherwise be written twice, by the parent and by the child */
    fflush(stdout);
    fflush(stderr);
    pid_t p = fork();
    if (p == -1) {
        int e = errno;
        close(fds[0]);
        close(fds[1]);
        return tdp_fail_sys(err, __FILE__, __LINE__, e, "fork");
    }
    if (p == 0) {
        close(fds[0]);
        kern_record_t rec;
        memset(&rec, 0, sizeof rec);
        fn(ctx, index, &rec);
        int bad = kern_write_full(fds[1], &rec, sizeof rec) != 0;
        fflush(stdout);
        fflush(stderr);
        _exit(bad ? 1 : 0);
    }
    close(fds[1]);
    *pid = p;
    *rfd = fds[0];
    return TDP_OK;
}

int kern_proc_reap(pid_t pid, tdp_err_t *err) {
    int st = 0;
    pid_t r;
    do
        r = waitpid(pid, &st, 0);
    while (r == -1 && errno == EINTR);
    if (r == -1)
        return tdp_fail_sys(err, __FILE__, __LINE__, errno, "waitpid(%ld)", (long)pid);
    if (WIFSIGNALED(st))
        return tdp_fail_sys(err, __FILE__, __LINE__, 0, "worker process %ld killed by signal %d",
                            (long)pid, WTERMSIG(st));
    if (WIFEXITED(st) && WEXITSTATUS(st) != 0)
        return tdp_fail_sys(err, __FILE__, __LINE__, 0, "worker process %ld exited with status %d",
                            (long)pid, WEXITSTATUS(st));
    return TDP_OK;
}

int kern_proc_collect(pid_t pid, int rfd, kern_record_t *rec, tdp_err_t *err) {
    ssize_t got = kern_read_full(rfd, rec, sizeof *rec);
    int e = errno;
    close(rfd);
    int rc = kern_proc_reap(pid, err); /* a dead child explains a short record best */
    if (rc != TDP_OK)
        return rc;
    if (got < 0)
        return tdp_fail_sys(err, __FILE__, __LINE__, e, "reading the result of process %ld",
                            (long)pid);
    if ((size_t)got != sizeof *rec)
        return tdp_fail_sys(err, __FILE__, __LINE__, 0,
                            "process %ld exited without sending its result (%zd of %zu bytes)",
                            (long)pid, got, sizeof *rec);
    return TDP_OK;
}
