/* proc.c: fork, pipes and reaping for the process modes (see proc.h). */
#include "proc.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

/* ---- the family: the workers alive, their group, the parent's handlers meanwhile ---- */

/* The signals that end the parent and its workers, then those of job control. */
static const int STOP_SIGS[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT};
static const char *const STOP_NAMES[] = {"SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT"};
#define NSTOP  (sizeof STOP_SIGS / sizeof STOP_SIGS[0])
#define NSIGS  (NSTOP + 2)
#define I_TSTP NSTOP
#define I_CONT (NSTOP + 1)

static int sig_at(size_t i) {
    return i < NSTOP ? STOP_SIGS[i] : i == I_TSTP ? SIGTSTP : SIGCONT;
}

/* Written by the forking thread with the signals of the family blocked; read by the handlers. */
static volatile sig_atomic_t family_pgid;   /* the workers' process group; 0: none alive */
static volatile sig_atomic_t family_live;   /* workers forked and not yet reaped */
static volatile sig_atomic_t family_ending; /* a stop handler is ending the process */
static struct sigaction saved[NSIGS];       /* the dispositions before the first worker */
static int installed[NSIGS];                /* ours replaced saved[i] */

static void family_sigset(sigset_t *set) {
    sigemptyset(set);
    for (size_t i = 0; i < NSIGS; i++)
        sigaddset(set, sig_at(i));
}

static void say(const char *s) {
    ssize_t w = write(STDERR_FILENO, s, strlen(s));
    (void)w; /* nothing more can be done about stderr in a handler */
}

/* SIGTERM, SIGINT, SIGHUP, SIGQUIT while workers are alive: kill and reap the whole group, then
 * end by the same signal, default action. Async-signal-safe calls only. */
static void on_stop(int sig) {
    family_ending = 1;
    pid_t g = (pid_t)family_pgid;
    if (g > 0) {
        kill(-g, SIGKILL);
        while (waitpid(-g, NULL, 0) > 0 || errno == EINTR)
            ;
    }
    const char *name = "a signal";
    for (size_t i = 0; i < NSTOP; i++)
        if (STOP_SIGS[i] == sig)
            name = STOP_NAMES[i];
    say("kernels: stopped by ");
    say(name);
    say(g > 0 ? "; its worker processes were killed\n" : "\n");
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    raise(sig);
    /* SIGQUIT and the others end the process by default; a parent that changed that is not ours:
     * end as the shell would report the signal */
    _exit(128 + sig);
}

/* Ctrl-Z: the workers stop with the parent (they are not in the terminal's process group). */
static void on_tstp(int sig) {
    int e = errno;
    pid_t g = (pid_t)family_pgid;
    if (g > 0)
        kill(-g, SIGSTOP);
    struct sigaction dfl, act;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, &act); /* the default action, stop, while we raise it */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    raise(sig); /* stopped here until SIGCONT */
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    sigaction(sig, &act, NULL);
    errno = e;
}

static void on_cont(int sig) {
    (void)sig;
    int e = errno;
    pid_t g = (pid_t)family_pgid;
    if (g > 0)
        kill(-g, SIGCONT);
    errno = e;
}

/* Our handlers, except where this process inherited a signal as ignored; signals blocked. */
static int family_install(tdp_err_t *err) {
    struct sigaction act;
    memset(&act, 0, sizeof act);
    family_sigset(&act.sa_mask); /* no handler of the family interrupts another */
    for (size_t i = 0; i < NSIGS; i++) {
        int sig = sig_at(i);
        KERN_SYS(sigaction(sig, NULL, &saved[i]), err);
        installed[i] = 0;
        if (saved[i].sa_handler == SIG_IGN)
            continue;
        act.sa_handler = i < NSTOP ? on_stop : i == I_TSTP ? on_tstp : on_cont;
        act.sa_flags = i < NSTOP ? 0 : SA_RESTART;
        KERN_SYS(sigaction(sig, &act, NULL), err);
        installed[i] = 1;
    }
    return TDP_OK;
}

/* The dispositions from before the first worker (in the parent when the last worker is reaped,
 * in a new worker at once). */
static void family_restore(void) {
    for (size_t i = 0; i < NSIGS; i++)
        if (installed[i]) {
            sigaction(sig_at(i), &saved[i], NULL);
            installed[i] = 0;
        }
}

/* A parent that is stopping is ended by its handler, in whichever thread it runs: the reaping
 * thread must not report the workers killed there, or exit first. */
static void hold_if_ending(void) {
    while (family_ending)
        pause();
}

/* The new worker, signals of the family blocked: join the group, die with the parent. */
static void worker_setup(pid_t parent, pid_t group, const sigset_t *mask) {
    family_restore();
    family_pgid = 0;
    family_live = 0;
    struct sigaction ign;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    const char *fail = NULL;
    if (sigaction(SIGTTOU, &ign, NULL) == -1)
        fail = "sigaction(SIGTTOU)";
    else if (setpgid(0, group) == -1)
        fail = "setpgid";
    else if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == -1)
        fail = "prctl(PR_SET_PDEATHSIG)";
    if (fail != NULL) {
        fprintf(stderr, "%s:%d: worker %ld: %s: %s\n", __FILE__, __LINE__, (long)getpid(), fail,
                strerror(errno));
        fflush(stderr);
        _exit(1);
    }
    if (getppid() != parent)
        _exit(1); /* the parent died before the death signal was asked for: nobody waits */
    pthread_sigmask(SIG_SETMASK, mask, NULL);
}

int kern_proc_fork(pid_t *pid, tdp_err_t *err) {
    sigset_t block, old;
    family_sigset(&block);
    int e = pthread_sigmask(SIG_BLOCK, &block, &old);
    if (e != 0)
        return tdp_fail_sys(err, __FILE__, __LINE__, e, "pthread_sigmask");
    int rc = TDP_OK;
    if (family_live == 0 && (rc = family_install(err)) != TDP_OK) {
        family_restore();
        goto done;
    }
    pid_t parent = getpid(), group = (pid_t)family_pgid;
    /* what stdio holds now would otherwise be written twice, by the parent and by the child */
    fflush(stdout);
    fflush(stderr);
    pid_t p = fork();
    if (p == -1) {
        rc = tdp_fail_sys(err, __FILE__, __LINE__, errno, "fork");
        if (family_live == 0)
            family_restore();
        goto done;
    }
    if (p == 0) {
        worker_setup(parent, group, &old);
        *pid = 0;
        return TDP_OK;
    }
    /* the worker does the same: whichever runs first, the group is set before either goes on */
    if (group == 0)
        group = p;
    (void)setpgid(p, group); /* a failure is the worker's to report: it leaves at once */
    family_pgid = group;
    family_live++;
    *pid = p;
done:
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

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
    pid_t p;
    if (kern_proc_fork(&p, err) != TDP_OK) {
        close(fds[0]);
        close(fds[1]);
        return TDP_ERUNTIME;
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
    hold_if_ending();
    /* wait with the signals free (a worker may compute for long), without reaping: the group
     * must not be left empty while family_pgid still names it */
    siginfo_t info;
    int r;
    do
        r = waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT);
    while (r == -1 && errno == EINTR);
    hold_if_ending();
    sigset_t block, old;
    family_sigset(&block);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    int st = 0;
    pid_t w;
    do
        w = waitpid(pid, &st, 0);
    while (w == -1 && errno == EINTR);
    int e = errno;
    if (w == pid && family_live > 0 && --family_live == 0) {
        family_pgid = 0;
        family_restore();
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (w == -1) {
        /* a stop handler on another thread (the io server's) may have reaped the whole group
         * meanwhile: it ends the process, so wait for it instead of reporting its work */
        hold_if_ending();
        return tdp_fail_sys(err, __FILE__, __LINE__, e, "waitpid(%ld)", (long)pid);
    }
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
