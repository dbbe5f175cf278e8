/* allreduce_bench.c: an MPI_Allreduce microbenchmark in the manner of nccl-tests and the
 * OSU benchmarks: for each size, validate the result, warm up, then time; print a table with
 * units, the time per message, algbw = bytes / time and busbw = algbw * 2 (n - 1) / n, and a
 * pass/fail footer. By default one blocking in-place MPI_Allreduce per message; --call
 * iallreduce --bucket-kb 256 times the message as DDP sends it (ddp.c): cut into 256 KB buckets,
 * each an in-place MPI_Iallreduce, all started, then MPI_Waitall.
 *
 *     mpirun -np 2 allreduce_bench [--sizes-kb 4,64,940] [--iters N] [--warmup N]
 *                                  [--call allreduce|iallreduce] [--bucket-kb B]
 */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "argnum.h"
#include "cmdline.h"
#include "comm.h"
#include "util.h"
#include "version.h"

/* A failure ends every rank. */
static void die(const comm_t *c, const char *msg) {
    fprintf(stderr, "allreduce_bench: %s\n", msg);
    if (c->started)
        MPI_Abort(MPI_COMM_WORLD, 1);
    exit(1);
}

enum { CALL_ALLREDUCE, CALL_IALLREDUCE };
static const char *const CALLS[] = {"allreduce", "iallreduce", NULL};

#define MAX_SIZES 64

typedef struct {
    long sizes_kb[MAX_SIZES];
    int nsizes;
    int iters, warmup;
    int call;       /* CALL_* */
    long bucket_kb; /* 0: one call per message */
    int help, version;
} opts_t;

/* One whole message of count floats summed in place across the ranks, in o's shape: one call,
 * or buckets of o->bucket_kb, blocking one after the other or all started then waited. req:
 * room for every bucket's request. Returns an MPI error code. */
static int reduce_all(const opts_t *o, MPI_Comm comm, float *buf, size_t count, MPI_Request *req) {
    size_t per = o->bucket_kb ? (size_t)o->bucket_kb * 1024 / sizeof(float) : count;
    int k = 0, rc = MPI_SUCCESS;
    for (size_t off = 0; off < count && rc == MPI_SUCCESS; off += per, k++) {
        int len = (int)(count - off < per ? count - off : per);
        if (o->call == CALL_ALLREDUCE)
            rc = MPI_Allreduce(MPI_IN_PLACE, buf + off, len, MPI_FLOAT, MPI_SUM, comm);
        else
            rc = MPI_Iallreduce(MPI_IN_PLACE, buf + off, len, MPI_FLOAT, MPI_SUM, comm, &req[k]);
    }
    if (o->call == CALL_IALLREDUCE && rc == MPI_SUCCESS)
        rc = MPI_Waitall(k, req, MPI_STATUSES_IGNORE);
    return rc;
}

/* The requests one message needs: its number of buckets. */
static size_t nbuckets(const opts_t *o, size_t count) {
    size_t per = o->bucket_kb ? (size_t)o->bucket_kb * 1024 / sizeof(float) : count;
    return count ? (count + per - 1) / per : 1;
}

/* One size: validate (rank r contributes r + 1 + i % 7; the sum is exact in float), warm up,
 * then time; rank 0 prints the row. *bad: some rank had a wrong result. */
static int run_size(const opts_t *o, const comm_t *c, float *buf, MPI_Request *req, size_t count,
                    int *bad, tdp_err_t *err) {
    const int rank = c->rank, size = c->size, iters = o->iters, warmup = o->warmup;
    for (size_t i = 0; i < count; i++)
        buf[i] = (float)(rank + 1 + (int)(i % 7));
    TDP_MPI(reduce_all(o, c->comm, buf, count, req), rank, err);
    int wrong = 0;
    for (size_t i = 0; i < count; i++) {
        float want = (float)(size * (size + 1) / 2 + size * (int)(i % 7));
        wrong += buf[i] != want;
    }
    TDP_MPI(MPI_Allreduce(&wrong, bad, 1, MPI_INT, MPI_SUM, c->comm), rank, err);
    for (int i = 0; i < warmup; i++)
        TDP_MPI(reduce_all(o, c->comm, buf, count, req), rank, err);
    TDP_MPI(MPI_Barrier(c->comm), rank, err);
    double t0 = tdp_now();
    for (int i = 0; i < iters; i++)
        TDP_MPI(reduce_all(o, c->comm, buf, count, req), rank, err);
    double el = (tdp_now() - t0) / iters, slowest = 0;
    TDP_MPI(MPI_Reduce(&el, &slowest, 1, MPI_DOUBLE, MPI_MAX, 0, c->comm), rank, err);
    if (rank == 0) {
        double bytes = (double)count * sizeof(float);
        double algbw = bytes / slowest * 1e-9;
        double busbw = algbw * 2.0 * (size - 1) / size;
        printf("%12.0f %12zu %12.1f %12.2f %12.2f %6s\n", bytes, count, slowest * 1e6, algbw, busbw,
               *bad ? "FAIL" : "ok");
    }
    return TDP_OK;
}

/* --sizes-kb K,K,...: each K a number of KB by argnum.h's rule */
static int set_sizes(void *opts, const char *v, tdp_err_t *err) {
    opts_t *o = opts;
    o->nsizes = 0;
    for (const char *p = v;; p++) {
        char k[64];
        long long x = 0;
        size_t len = strcspn(p, ",");
        if (len >= sizeof k || o->nsizes == MAX_SIZES)
            return tdp_fail(err, TDP_EINPUT, "--sizes-kb: %s",
                            len >= sizeof k ? "a size too long" : "too many sizes");
        snprintf(k, sizeof k, "%.*s", (int)len, p);
        if (argnum_int("--sizes-kb", k, 1, 1048576, &x, err) != TDP_OK)
            return TDP_EINPUT;
        o->sizes_kb[o->nsizes++] = (long)x;
        p += len;
        if (*p == '\0')
            return TDP_OK;
    }
}

static const cmdline_opt_t SPECS[] = {
    CMDLINE_OPT("sizes-kb", CMDLINE_CUSTOM, 0, 0, 0, "K,K,...", "message sizes in KB",
                .set = set_sizes, .def = "4,64,256,940,1024,4096,7455"),
    CMDLINE_OPT("iters", CMDLINE_INT, offsetof(opts_t, iters), 1, 1e8, "N",
                "timed iterations per size"),
    CMDLINE_OPT("warmup", CMDLINE_INT, offsetof(opts_t, warmup), 0, 1e8, "N",
                "untimed iterations first"),
    CMDLINE_OPT("call", CMDLINE_CHOICE, offsetof(opts_t, call), 0, 0, "allreduce|iallreduce",
                "blocking MPI_Allreduce, or MPI_Iallreduce then wait (DDP's call)",
                .choices = CALLS, .def = "allreduce"),
    CMDLINE_OPT("bucket-kb", CMDLINE_LONG, offsetof(opts_t, bucket_kb), 0, 1048576, "B",
                "cut each message into B KB buckets, each its own call (0: one call)"),
    CMDLINE_INFO(opts_t),
};
static const opts_t DEFAULTS = {.sizes_kb = {4, 64, 256, 940, 1024, 4096, 7455},
                                .nsizes = 7,
                                .iters = 200,
                                .warmup = 20,
                                .call = CALL_ALLREDUCE,
                                .bucket_kb = 0};
static const cmdline_prog_t PROG = {
    "allreduce_bench",
    "Usage: mpirun -np P allreduce_bench [options]\n"
    "In-place MPI_Allreduce (or MPI_Iallreduce in buckets, as DDP calls it) of float32 sums,\n"
    "validated, warmed up, then timed.\n",
    CMDLINE_TABLE(SPECS), &DEFAULTS};

int main(int argc, char **argv) {
    comm_t c;
    tdp_err_t cerr;
    if (comm_start(&c, &argc, &argv, &cerr) != TDP_OK)
        die(&c, cerr.msg);
    const int rank = c.rank, size = c.size;
    opts_t o = DEFAULTS;
    int st = cmdline_program(&PROG, argc, argv, &o, rank == 0); /* --help: rank 0 prints it */
    if (st != TDP_OK) {
        comm_finish(&c);
        return cmdline_exit_code(st);
    }
    const int iters = o.iters, warmup = o.warmup;
    if (rank == 0) {
        char shape[96] = "one call per message";
        if (o.bucket_kb)
            snprintf(shape, sizeof shape, "%ld KB buckets, %s", o.bucket_kb,
                     o.call == CALL_ALLREDUCE ? "one after the other" : "all started then waited");
        if (o.call == CALL_ALLREDUCE && o.bucket_kb == 0)
            printf("# MPI_Allreduce float32 sum, %d ranks, %d iterations after %d warm-up\n", size,
                   iters, warmup);
        else
            printf("# %s(MPI_IN_PLACE) float32 sum, %s, %d ranks, %d iterations after %d warm-up\n",
                   o.call == CALL_ALLREDUCE ? "MPI_Allreduce" : "MPI_Iallreduce", shape, size,
                   iters, warmup);
        printf("%12s %12s %12s %12s %12s %6s\n", "size(B)", "count", "time(us)", "algbw(GB/s)",
               "busbw(GB/s)", "check");
    }
    int failures = 0;
    for (int k = 0; k < o.nsizes; k++) {
        size_t count = (size_t)o.sizes_kb[k] * 1024 / sizeof(float);
        float *buf = malloc(count * sizeof *buf);
        MPI_Request *req = malloc(nbuckets(&o, count) * sizeof *req);
        if (buf == NULL || req == NULL)
            die(&c, "out of memory");
        int any_bad = 0;
        int rc = run_size(&o, &c, buf, req, count, &any_bad, &cerr);
        free(req);
        free(buf);
        if (rc != TDP_OK)
            die(&c, cerr.msg);
        failures += any_bad != 0;
    }
    if (rank == 0)
        printf("# %s: %d size(s) with wrong results\n", failures ? "FAILED" : "PASSED", failures);
    comm_finish(&c);
    return failures ? 1 : 0;
}
