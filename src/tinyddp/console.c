/* console.c: does stdout reach a terminal (console.h).
 *
 * Without a launcher, isatty(stdout) says it. Under Open MPI 4.1's mpirun it does not: mpirun
 * gives every local rank a pseudo-terminal of its own for stdout (and pipes for stdin and
 * stderr) and copies what the rank writes to its own stdout, whatever that is, so a rank's
 * stdout is a terminal even in `mpirun ... | tee log`. No variable of the launcher says where
 * mpirun's stdout goes either (OMPI_COMM_WORLD_* and OMPI_MCA_* describe the job only). What
 * does: the launcher is this process's parent (mpirun forks the ranks of its own node; orted
 * those of the other nodes), and /proc/PID/fd/1 is its stdout. So: walk up the ancestors to
 * the first launcher (mpirun, orterun, orted, prterun, prted: a wrapper such as timeout or a
 * shell may stand between) and ask whether its stdout is a terminal (opened through /proc and
 * checked with isatty: /dev/null is a character device too). A remote node's orted writes to
 * no terminal: no bar there. Under srun, a task's stdout is a terminal only with --pty
 * (SLURM_PTY_PORT set), else a pipe to the job's log. Under a launcher this cannot recognise,
 * with a terminal for stdout, the answer is no (the launcher may be forwarding it anywhere). */
#include "console.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* The parent of pid and its command name, from /proc/PID/stat ("pid (comm) state ppid ..."). */
static int parent_of(pid_t pid, pid_t *ppid, char *comm, size_t len) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *open = strchr(buf, '('), *close = strrchr(buf, ')');
    long p;
    if (open == NULL || close == NULL || close < open || sscanf(close + 1, " %*c %ld", &p) != 1)
        return -1;
    size_t m = (size_t)(close - open - 1);
    if (m >= len)
        m = len - 1;
    memcpy(comm, open + 1, m);
    comm[m] = '\0';
    *ppid = (pid_t)p;
    return 0;
}

static int is_launcher(const char *comm) {
    static const char *const names[] = {"mpirun",  "mpiexec", "orterun", "orted",
                                        "prterun", "prted",   NULL};
    for (int i = 0; names[i]; i++)
        if (strcmp(comm, names[i]) == 0)
            return 1;
    return 0;
}

/* Whether process pid's stdout is a terminal. */
static int stdout_of_is_tty(pid_t pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/fd/1", (long)pid);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISCHR(st.st_mode))
        return 0; /* a pipe, a file, or not ours to see */
    int fd = open(path, O_WRONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return 0;
    int tty = isatty(fd);
    close(fd);
    return tty;
}

/* The nearest launcher among this process's ancestors (0: none within 8 generations). */
static pid_t launcher_ancestor(void) {
    pid_t pid = getpid();
    char comm[64];
    for (int depth = 0; depth < 8 && pid > 1; depth++) {
        pid_t ppid;
        if (parent_of(pid, &ppid, comm, sizeof comm) != 0)
            return 0;
        if (depth > 0 && is_launcher(comm))
            return pid;
        pid = ppid;
    }
    return 0;
}

int console_is_terminal(void) {
    if (!isatty(fileno(stdout)))
        return 0;
    if (getenv("OMPI_COMM_WORLD_SIZE") == NULL && getenv("PMIX_RANK") == NULL &&
        getenv("PMI_SIZE") == NULL)
        return 1; /* no launcher: the terminal is the user's */
    pid_t launcher = launcher_ancestor();
    if (launcher > 0)
        return stdout_of_is_tty(launcher);
    return getenv("SLURM_PTY_PORT") != NULL; /* srun --pty; any other launcher: cannot tell */
}
