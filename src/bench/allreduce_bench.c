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

#include "cmdline.h"
#include "util.h"
#include "version.h"

static int check(int rc, const char *what) {
    if (rc != MPI_SUCCESS) {
        char msg[MPI_MAX_ERROR_STRING];
        int len;
        MPI_Error_string(rc, msg, &len);
        fprintf(stderr, "allreduce_bench: %s: %s\n", what, msg);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    return rc;
}

typedef struct {
    char sizes_kb[1024];
    int iters, warmup;
    int help, version;
} opts_t;

#define OFF(f) offsetof(opts_t, f)
static const cmdline_opt_t SPECS[] = {
    {.name = "sizes-kb",
     .kind = CMDLINE_STRING,
     .size = sizeof(((opts_t *)0)->sizes_kb),
     .off = OFF(sizes_kb),
     .arg = "K,K,...",
     .help = "message sizes in KB"},
    {.name = "iters",
     .kind = CMDLINE_INT,
     .off = OFF(iters),
     .lo = 1,
     .hi = 1e8,
     .arg = "N",
     .help = "timed iterations per size"},
    {.name = "warmup",
     .kind = CMDLINE_INT,
     .off = OFF(warmup),
     .lo = 0,
     .hi = 1e8,
     .arg = "N",
     .help = "untimed iterations first"},
    {.name = "help", .kind = CMDLINE_FLAG, .off = OFF(help), .help = "this text (also -h)"},
    {.name = "version",
     .kind = CMDLINE_FLAG,
     .off = OFF(version),
     .help = "the version, the commit and the BLAS library"},
};
static const cmdline_t TABLE = {SPECS, sizeof SPECS / sizeof SPECS[0]};

static void set_defaults(opts_t *o) {
    *o = (opts_t){.sizes_kb = "4,64,256,940,1024,4096,7455", .iters = 200, .warmup = 20};
}

static void usage(void) {
    opts_t d;
    set_defaults(&d);
    printf("Usage: mpirun -np P allreduce_bench [options]\n"
           "A plain MPI_Allreduce of float32 sums, validated, warmed up, then timed.\n\n"
           "Options (default in brackets):\n");
    cmdline_print_options(stdout, &TABLE, &d, &(cmdline_layout_t){.width = 18});
    cmdline_print_exit_status(stdout);
}

/* The options, or the status to end with (--help and --version: RUN_DONE, printed by rank 0). */
static int parse(int argc, char **argv, int rank, opts_t *o) {
    uint64_t given = 0;
    tdp_err_t err;
    set_defaults(o);
    if (cmdline_parse(&TABLE, argc, argv, 1, NULL, o, &given, &err) != TDP_OK) {
        if (rank == 0)
            fprintf(stderr, "allreduce_bench: %s\n", err.msg);
        return TDP_EINPUT;
    }
    if (rank == 0 && o->help)
        usage();
    else if (rank == 0 && o->version)
        tdp_print_version(stdout, "allreduce_bench");
    return o->help || o->version ? RUN_DONE : TDP_OK;
}

int main(int argc, char **argv) {
    check(MPI_Init(&argc, &argv), "MPI_Init");
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    int rank, size;
    check(MPI_Comm_rank(MPI_COMM_WORLD, &rank), "MPI_Comm_rank");
    check(MPI_Comm_size(MPI_COMM_WORLD, &size), "MPI_Comm_size");
    opts_t o;
    int st = parse(argc, argv, rank, &o);
    if (st != TDP_OK) {
        MPI_Finalize();
        return cmdline_exit_code(st);
    }
    const int iters = o.iters, warmup = o.warmup;
    if (rank == 0) {
        printf("# MPI_Allreduce float32 sum, %d ranks, %d iterations after %d warm-up\n", size,
               iters, warmup);
        printf("%12s %12s %12s %12s %12s %6s\n", "size(B)", "count", "time(us)", "algbw(GB/s)",
               "busbw(GB/s)", "check");
    }
    int failures = 0;
    char *tok = strtok(o.sizes_kb, ",");
    while (tok != NULL) {
        long kb = atol(tok);
        tok = strtok(NULL, ",");
        if (kb <= 0)
            continue;
        size_t count = (size_t)kb * 1024 / sizeof(float);
        float *buf = malloc(count * sizeof *buf);
        if (buf == NULL) {
            fprintf(stderr, "allreduce_bench: out of memory\n");
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        /* validate: rank r contributes r + 1 + i % 7; the sum is exact in float */
        for (size_t i = 0; i < count; i++)
            buf[i] = (float)(rank + 1 + (int)(i % 7));
        check(MPI_Allreduce(MPI_IN_PLACE, buf, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD),
              "MPI_Allreduce");
        int bad = 0;
        for (size_t i = 0; i < count; i++) {
            float want = (float)(size * (size + 1) / 2 + size * (int)(i % 7));
            bad += buf[i] != want;
        }
        int any_bad = 0;
        check(MPI_Allreduce(&bad, &any_bad, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD), "check");
        failures += any_bad != 0;
        for (int i = 0; i < warmup; i++)
            check(MPI_Allreduce(MPI_IN_PLACE, buf, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD),
                  "MPI_Allreduce");
        check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
        double t0 = tdp_now();
        for (int i = 0; i < iters; i++)
            check(MPI_Allreduce(MPI_IN_PLACE, buf, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD),
                  "MPI_Allreduce");
        double el = (tdp_now() - t0) / iters, slowest = 0;
        check(MPI_Reduce(&el, &slowest, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD), "reduce");
        if (rank == 0) {
            double bytes = (double)count * sizeof(float);
            double algbw = bytes / slowest * 1e-9;
            double busbw = algbw * 2.0 * (size - 1) / size;
            printf("%12.0f %12zu %12.1f %12.2f %12.2f %6s\n", bytes, count, slowest * 1e6, algbw,
                   busbw, any_bad ? "FAIL" : "ok");
        }
        free(buf);
    }
    if (rank == 0)
        printf("# %s: %d size(s) with wrong results\n", failures ? "FAILED" : "PASSED", failures);
    MPI_Finalize();
    return failures ? 1 : 0;
}
