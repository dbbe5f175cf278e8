/* memcheck.c: the up-front memory check (memcheck.h).
 *
 * How close the estimate is: peak resident memory (/usr/bin/time -f %M, VmHWM) against the
 * estimate this file prints (TDP_TEST_MEM_AVAILABLE=1 shows it), on the 2-core EPYC machine with
 * OpenBLAS 0.3.21 and Open MPI 4.1, synthetic data, --max-steps 2 or 3, OPENBLAS_NUM_THREADS=1:
 *     serial tiny                                 peak   25 MB, estimate   29 MB
 *     serial wide                                         59               62
 *     serial wide --batch 2048                            79               86
 *     dp --workers 16 fashion-mlp                         75               90
 *     dp --workers 64 wide (also --dp-pool --dp-cache)  1140             1160
 *     dp --workers 256 wide --batch 8                   3975             4120
 *     dp --workers 16 wide --batch 512                   480              506
 *     ddp --workers 8 wide (hybrid, one rank)            145              173
 *     ddp --workers 32 wide --batch 16                   334              371
 *     ddp wide, one rank                                  70               95
 *     mpirun -np 2: ddp wide, per rank                    75               95 (x2 on the host)
 *     mpirun -np 2: ddp wide --deterministic              85              110
 * so an upper bound by 2 to 35 %, the most where MPI's allowance dominates a small run. A run
 * with many workers is dominated by the replicas (dp) or the threads' gradients (hybrid), which
 * are exact; the rest per thread (stack, OpenBLAS's buffers) is a measured allowance (dp.c). */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "memcheck.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "dp.h"
#include "testhooks.h"
#include "train.h"
#include "zero.h"

/* MPI's own resident memory per rank (Open MPI 4.1: its libraries' data, the shared-memory
 * transport's segments, the collectives' free lists): 11 to 13 MB per rank measured at 2 and 4
 * ranks on one host (the peak less everything else counted here), counted twice over. */
#define MPI_RANK_BYTES (24.0 * 1024 * 1024)
static double arena(size_t floats) {
    return (double)tdp_floats_bytes(floats);
}

void mem_need(const model_t *m, const mem_plan_t *p, mem_need_t *out) {
    memset(out, 0, sizeof *out);
    const size_t n = m->nparams;
    const int eval = p->batch > TRAIN_EVAL_BATCH ? p->batch : TRAIN_EVAL_BATCH;
    /* trainer_init: weights, gradient (with TRAIN_EXTRA), velocity, a workspace at the larger of
     * the batch and the evaluation batch, the epoch order; and what the main thread's BLAS calls
     * touch at that batch */
    const int ranks = p->world > 1 ? p->world : 1;
    size_t v_lo, v_len = n; /* the momentum: --zero, rank 0's slice (the largest) */
    if (p->mode == MODE_DDP && p->zero)
        zero_slice(n, ranks, 0, &v_lo, &v_len);
    out->trainer = arena(n) + arena(v_len) + arena(n + TRAIN_EXTRA) + dp_workspace_bytes(m, eval) +
                   (double)p->train_n * sizeof(uint32_t) + dp_thread_bytes(m, eval);
    out->resident = p->resident;
    out->local_ranks = 1;
    if (p->mode == MODE_DP) {
        out->workers = dp_memory_bytes(m, p->workers, p->batch);
    } else if (p->mode == MODE_DDP) {
        /* hybrid: ddp_setup's team (workspaces, threads) and one gradient buffer per thread */
        if (p->workers > 1)
            out->workers = team_memory_bytes(m, p->workers, p->batch, arena(n + TRAIN_EXTRA));
        /* ddp.c: the deterministic allgather's buffer holds every rank's gradient; MPI's
         * allreduce may copy one gradient into temporaries of its own */
        double grad = (double)(n + TRAIN_EXTRA) * sizeof(float);
        out->comm = MPI_RANK_BYTES + grad;
        if (p->deterministic) /* --zero: every rank's part of this rank's slice */
            out->comm += p->zero ? arena(v_len) * ranks : grad * ranks;
        if (p->zero && p->whole_state) /* the whole momentum, gathered or read */
            out->comm += arena(n);
        if (p->compress && ranks > 1) { /* compress.c, zero.c: what compress_setup allocates */
            double half = (double)(n + 2 * TRAIN_EXTRA + 1) * sizeof(uint16_t);
            out->comm += half; /* the row this rank sends */
            if (p->error_feedback)
                out->comm += (double)n * sizeof(float);
            if (p->deterministic) /* every rank's 16-bit row (--zero: its slices of them) */
                out->comm += p->zero ? (double)v_len * sizeof(uint16_t) * ranks : half * ranks;
        }
        out->local_ranks = p->local_ranks > 1 ? p->local_ranks : 1;
    }
    out->per_rank = out->resident + out->trainer + out->workers + out->comm;
    out->total = out->per_rank * out->local_ranks;
}

static double read_status_kb(const char *key) {
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return -1;
    char line[256];
    double kb = -1;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            kb = strtod(line + kl + 1, NULL);
            break;
        }
    fclose(f);
    return kb;
}

/* A cgroup file's number; -1 when absent or "max" (no limit). */
static double read_cgroup_number(const char *dir, const char *file) {
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    char buf[64] = "";
    int got = fgets(buf, sizeof buf, f) != NULL;
    fclose(f);
    if (!got || strncmp(buf, "max", 3) == 0)
        return -1;
    double v = strtod(buf, NULL);
    return v >= 4.0e18 ? -1 : v; /* v1 writes "no limit" as a page-rounded 2^63 */
}

/* The least of limit - usage over the memory cgroup of this process and the ones above it (v2,
 * or v1's memory controller); -1 when no limit is set. */
static double cgroup_room(void) {
    FILE *f = fopen("/proc/self/cgroup", "r");
    if (f == NULL)
        return -1;
    char line[4200], v2[4096] = "", v1[4096] = "";
    int have_v2 = 0, have_v1 = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (c2 == NULL)
            continue;
        *c2 = '\0';
        const char *ctrl = c1 + 1, *path = c2 + 1;
        if (strncmp(line, "0", 1) == 0 && c1 == line + 1 && *ctrl == '\0') {
            snprintf(v2, sizeof v2, "%s", path);
            have_v2 = 1;
        } else if (strstr(ctrl, "memory") != NULL) {
            snprintf(v1, sizeof v1, "%s", path);
            have_v1 = 1;
        }
    }
    fclose(f);
    double room = -1;
    for (int pass = 0; pass < 2; pass++) {
        if (!(pass == 0 ? have_v2 : have_v1))
            continue;
        const char *root = pass == 0 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/memory";
        const char *lim = pass == 0 ? "memory.max" : "memory.limit_in_bytes";
        const char *use = pass == 0 ? "memory.current" : "memory.usage_in_bytes";
        char rel[4096];
        snprintf(rel, sizeof rel, "%s", pass == 0 ? v2 : v1);
        for (;;) { /* this cgroup, then each one above it up to the mount's root */
            char dir[4400];
            snprintf(dir, sizeof dir, "%s%s", root, rel);
            double l = read_cgroup_number(dir, lim), u = read_cgroup_number(dir, use);
            if (l >= 0 && u >= 0 && (room < 0 || l - u < room))
                room = l > u ? l - u : 0;
            char *slash = strrchr(rel, '/');
            if (slash == NULL || rel[0] == '\0')
                break;
            *slash = '\0';
        }
    }
    return room;
}

/* What the host (MemAvailable, the cgroup) and this process (its resource limits) may still
 * use; -1 where unknown or unlimited. */
static void available(double *host, const char **host_what, double *proc, const char **proc_what) {
    *host = -1;
    *proc = -1;
    *host_what = *proc_what = "";
    const testhooks_t *test = testhooks();
    if (test->mem_set) {
        *host = test->mem_available;
        *host_what = "TDP_TEST_MEM_AVAILABLE";
    } else {
        uint64_t a = tdp_mem_available();
        if (a > 0) {
            *host = (double)a;
            *host_what = "MemAvailable";
        }
    }
    double cg = cgroup_room();
    if (cg >= 0 && (*host < 0 || cg < *host)) {
        *host = cg;
        *host_what = "the memory cgroup's limit";
    }
    static const struct {
        int res;
        const char *status, *name;
    } lims[] = {{RLIMIT_AS, "VmSize", "RLIMIT_AS, ulimit -v"},
                {RLIMIT_DATA, "VmData", "RLIMIT_DATA, ulimit -d"}};
    for (size_t i = 0; i < sizeof lims / sizeof lims[0]; i++) {
        struct rlimit rl;
        if (getrlimit(lims[i].res, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
            continue;
        double used = read_status_kb(lims[i].status) * 1024.0;
        double room = (double)rl.rlim_cur - (used > 0 ? used : 0);
        if (room < 0)
            room = 0;
        if (*proc < 0 || room < *proc) {
            *proc = room;
            *proc_what = lims[i].name;
        }
    }
}

double mem_available(const char **what) {
    double host, proc;
    const char *hw, *pw;
    available(&host, &hw, &proc, &pw);
    if (proc >= 0 && (host < 0 || proc < host)) {
        *what = pw;
        return proc;
    }
    *what = hw;
    return host < 0 ? 0 : host;
}

void mem_launcher_ranks(int *world, int *local) {
    const char *w = getenv("OMPI_COMM_WORLD_SIZE"), *l = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    if (w == NULL)
        w = getenv("PMI_SIZE");
    if (l == NULL)
        l = getenv("MPI_LOCALNRANKS");
    *world = w ? atoi(w) : 1;
    *local = l ? atoi(l) : 1;
    if (*world < 1)
        *world = 1;
    if (*local < 1)
        *local = 1;
}

static const char *size_text(double bytes, char *buf, size_t len) {
    if (bytes >= 1e9)
        snprintf(buf, len, "%.2f GB", bytes / 1e9);
    else
        snprintf(buf, len, "%.0f MB", bytes / 1e6);
    return buf;
}

double mem_resident(void) {
    double kb = read_status_kb("VmRSS");
    return kb > 0 ? kb * 1024.0 : 0.0;
}

int mem_check(const model_t *m, const mem_plan_t *p, const char *model_path, tdp_err_t *err) {
    const double resident = p->resident;
    mem_need_t need;
    mem_need(m, p, &need);
    double host, proc;
    const char *hw, *pw;
    available(&host, &hw, &proc, &pw);
    /* the host's room is shared by this run's ranks on it; a resource limit is per process */
    double have = -1, want = 0;
    const char *what = "";
    if (host >= 0 && need.total > host + resident) {
        have = host + resident;
        want = need.total;
        what = hw;
    } else if (proc >= 0 && need.per_rank > proc + resident) {
        have = proc + resident;
        want = need.per_rank;
        what = pw;
    }
    if (have < 0)
        return TDP_OK;
    char run[160], parts[256], a[32], b[32], c[32], d[32], e[32], f[32];
    if (p->mode == MODE_SERIAL)
        snprintf(run, sizeof run, "--mode serial");
    else if (p->mode == MODE_DP)
        snprintf(run, sizeof run, "--mode dp --workers %d", p->workers);
    else if (p->workers > 1)
        snprintf(run, sizeof run, "--mode ddp --workers %d", p->workers);
    else
        snprintf(run, sizeof run, "--mode ddp");
    if (p->mode == MODE_SERIAL) {
        snprintf(parts, sizeof parts, "in use %s, model and optimizer %s",
                 size_text(need.resident, a, sizeof a), size_text(need.trainer, b, sizeof b));
    } else if (p->mode == MODE_DP) {
        snprintf(parts, sizeof parts,
                 "in use %s, model and optimizer %s, %d replicas and workspaces %s",
                 size_text(need.resident, a, sizeof a), size_text(need.trainer, b, sizeof b),
                 p->workers, size_text(need.workers, c, sizeof c));
    } else {
        char threads[64] = "";
        if (p->workers > 1)
            snprintf(threads, sizeof threads, ", %d threads' buffers %s", p->workers,
                     size_text(need.workers, d, sizeof d));
        snprintf(parts, sizeof parts,
                 "%d rank%s on this host, each: in use %s, model and optimizer %s%s, MPI %s",
                 need.local_ranks, need.local_ranks > 1 ? "s" : "",
                 size_text(need.resident, a, sizeof a), size_text(need.trainer, b, sizeof b),
                 threads, size_text(need.comm, c, sizeof c));
    }
    return tdp_fail(err, TDP_EINPUT, "%s with %s needs %s of memory (%s), %s is available (%s)",
                    run, model_path, size_text(want, e, sizeof e), parts,
                    size_text(have, f, sizeof f), what);
}
