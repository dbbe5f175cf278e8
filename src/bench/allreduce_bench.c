/* allreduce_bench.c: a plain MPI_Allreduce microbenchmark in the manner of nccl-tests and the
 * OSU benchmarks: for each size, validate the result, warm up, then time; print a table with
 * units, the time per call, algbw = bytes / time and busbw = algbw * 2 (n - 1) / n, and a
 * pass/fail footer.
 *
 *     mpirun -np 2 allreduce_bench [--sizes-kb 4,64,940] [--iters N] [--warmup N]
 */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "argnum.h"
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

/* One size: validate (rank r contributes r + 1 + i % 7; the sum is exact in float), warm up,
 * then time; rank 0 prints the row. *bad: some rank had a wrong result. */
static int run_size(const comm_t *c, float *buf, size_t count, int iters, int warmup, int *bad,
                    tdp_err_t *err) {
    const int rank = c->rank, size = c->size;
    for (size_t i = 0; i < count; i++)
        buf[i] = (float)(rank + 1 + (int)(i % 7));
    TDP_MPI(MPI_Allreduce(MPI_IN_PLACE, buf, (int)count, MPI_FLOAT, MPI_SUM, c->comm), rank, err);
    int wrong = 0;
    for (size_t i = 0; i < count; i++) {
        float want = (float)(size * (size + 1) / 2 + size * (int)(i % 7));
        wrong += buf[i] != want;
    }
    TDP_MPI(MPI_Allreduce(&wrong, bad, 1, MPI_INT, MPI_SUM, c->comm), rank, err);
    for (int i = 0; i < warmup; i++)
        TDP_MPI(MPI_Allreduce(MPI_IN_PLACE, buf, (int)count, MPI_FLOAT, MPI_SUM, c->comm), rank,
                err);
    TDP_MPI(MPI_Barrier(c->comm), rank, err);
    double t0 = tdp_now();
    for (int i = 0; i < iters; i++)
        TDP_MPI(MPI_Allreduce(MPI_IN_PLACE, buf, (int)count, MPI_FLOAT, MPI_SUM, c->comm), rank,
                err);
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

int main(int argc, char **argv) {
    comm_t c;
    tdp_err_t cerr;
    if (comm_start(&c, &argc, &argv, &cerr) != TDP_OK)
        die(&c, cerr.msg);
    const int rank = c.rank, size = c.size;
    char sizes_arg[1024] = "4,64,256,940,1024,4096,7455";
    int iters = 200, warmup = 20;
    for (int i = 1; i < argc; i++) {
        long long v = 0;
        tdp_err_t err;
        int bad = 0;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0 ||
            strcmp(argv[i], "--version") == 0) {
            if (rank == 0 && argv[i][2] == 'v')
                tdp_print_version(stdout, "allreduce_bench");
            else if (rank == 0)
                printf("Usage: mpirun -np P allreduce_bench [options]\n"
                       "A plain MPI_Allreduce of float32 sums, validated, warmed up, then timed.\n"
                       "  --sizes-kb K,K,...  message sizes in KB [%s]\n"
                       "  --iters N           timed iterations per size [%d]\n"
                       "  --warmup N          untimed iterations first [%d]\n"
                       "  --version           the version and the commit\n",
                       sizes_arg, iters, warmup);
            comm_finish(&c);
            return 0;
        } else if (strcmp(argv[i], "--sizes-kb") == 0 && i + 1 < argc)
            snprintf(sizes_arg, sizeof sizes_arg, "%s", argv[++i]);
        else if (strcmp(argv[i], "--iters") == 0 && i + 1 < argc) {
            bad = argnum_int("--iters", argv[++i], 1, 1e8, &v, &err) != TDP_OK;
            iters = (int)v;
        } else if (strcmp(argv[i], "--warmup") == 0 && i + 1 < argc) {
            bad = argnum_int("--warmup", argv[++i], 0, 1e8, &v, &err) != TDP_OK;
            warmup = (int)v;
        } else {
            snprintf(err.msg, sizeof err.msg, "unexpected argument '%s' (see --help)", argv[i]);
            bad = 1;
        }
        if (bad) {
            if (rank == 0)
                fprintf(stderr, "allreduce_bench: %s\n", err.msg);
            comm_finish(&c);
            return 2;
        }
    }
    if (iters < 1 || warmup < 0) {
        if (rank == 0)
            fprintf(stderr, "allreduce_bench: --iters must be >= 1 and --warmup >= 0\n");
        comm_finish(&c);
        return 2;
    }
    if (rank == 0) {
        printf("# MPI_Allreduce float32 sum, %d ranks, %d iterations after %d warm-up\n", size,
               iters, warmup);
        printf("%12s %12s %12s %12s %12s %6s\n", "size(B)", "count", "time(us)", "algbw(GB/s)",
               "busbw(GB/s)", "check");
    }
    int failures = 0;
    char *tok = strtok(sizes_arg, ",");
    while (tok != NULL) {
        long kb = atol(tok);
        tok = strtok(NULL, ",");
        if (kb <= 0)
            continue;
        size_t count = (size_t)kb * 1024 / sizeof(float);
        float *buf = malloc(count * sizeof *buf);
        if (buf == NULL)
            die(&c, "out of memory");
        int any_bad = 0;
        int rc = run_size(&c, buf, count, iters, warmup, &any_bad, &cerr);
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
