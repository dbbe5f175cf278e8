/* ranktime.c: per-rank timing and stragglers (see ranktime.h). */
#include "ranktime.h"

#include <stdlib.h>
#include <string.h>

/* A straggler's compute must also exceed the median's by this much per step on average: below
 * it, scheduling noise on a loaded machine would be named. */
#define MIN_EXCESS 1e-3

#define ROW (RANKTIME_WINDOW + 1)

int ranktime_init(ranktime_t *rt, int rank, int size, double straggler_pct, tdp_err_t *err) {
    memset(rt, 0, sizeof *rt);
    rt->rank = rank;
    rt->size = size;
    rt->straggler_pct = straggler_pct;
    rt->first = 1;
    rt->notes = calloc((size_t)(size + 1) * ROW, sizeof *rt->notes); /* then all */
    rt->scratch = calloc(2 * (size_t)size, sizeof *rt->scratch);
    rt->r_compute = calloc(3 * (size_t)size, sizeof *rt->r_compute);
    if (!rt->notes || !rt->scratch || !rt->r_compute)
        return tdp_fail_sys(err, __FILE__, __LINE__, 0, "out of memory for the per-rank timing");
    rt->all = rt->notes + ROW;
    rt->r_comm = rt->r_compute + size;
    rt->r_wait = rt->r_comm + size;
    return TDP_OK;
}

void ranktime_free(ranktime_t *rt) {
    free(rt->notes); /* and all */
    free(rt->scratch);
    free(rt->r_compute);
    memset(rt, 0, sizeof *rt);
}

int ranktime_note(ranktime_t *rt, long step, double compute, double comm) {
    if (rt->n == 0)
        rt->first = step;
    if (rt->n == RANKTIME_WINDOW) /* not exchanged: the window's split is lost, not memory */
        rt->n--;
    rt->notes[rt->n++] = comm;
    rt->notes[RANKTIME_WINDOW] += compute;
    rt->compute += compute;
    rt->comm += comm;
    return rt->n == RANKTIME_WINDOW;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of v[0..n) (the mean of the middle two for an even n), through scratch. */
static double median(const double *v, int n, double *scratch) {
    memcpy(scratch, v, (size_t)n * sizeof *scratch);
    qsort(scratch, (size_t)n, sizeof *scratch, by_value);
    return n % 2 ? scratch[n / 2] : (scratch[n / 2 - 1] + scratch[n / 2]) / 2;
}

/* Rank 0 names every rank whose compute over the window exceeds the median rank's by more than
 * the threshold. Only whole windows after the first are judged: the first holds the warm-up
 * (first touches of memory, caches, the launcher's last processes), and a partial window at the
 * end is too short, both of which named healthy ranks on a loaded machine. */
static void warn_stragglers(ranktime_t *rt, const char *name) {
    if (rt->rank != 0 || rt->straggler_pct <= 0 || rt->size < 2 || rt->first == 1 ||
        rt->n < RANKTIME_WINDOW)
        return;
    double *c = rt->scratch + rt->size; /* the window's compute of each rank */
    for (int q = 0; q < rt->size; q++)
        c[q] = rt->all[(size_t)q * ROW + RANKTIME_WINDOW];
    const double med = median(c, rt->size, rt->scratch), steps = rt->n;
    for (int q = 0; q < rt->size; q++) {
        if (c[q] <= med * (1 + rt->straggler_pct / 100) || (c[q] - med) / steps < MIN_EXCESS)
            continue;
        fprintf(stderr,
                "%s: warning: straggler: rank %d computed %.2f ms per step in steps %ld-%ld, "
                "%.0f%% more than the median rank's %.2f ms (--straggler-pct %g)\n",
                name ? name : "tinyddp", q, 1e3 * c[q] / steps, rt->first, rt->first + rt->n - 1,
                med > 0 ? 100 * (c[q] / med - 1) : 100.0, 1e3 * med / steps, rt->straggler_pct);
        rt->warnings++;
    }
    fflush(stderr);
}

int ranktime_exchange(ranktime_t *rt, comm_t *c, tdp_err_t *err) {
    if (rt->n == 0)
        return TDP_OK;
    MPI_Request r;
    int rc = comm_arrive(c, err);
    if (rc != TDP_OK)
        return rc;
    TDP_MPI(MPI_Iallgather(rt->notes, ROW, MPI_DOUBLE, rt->all, ROW, MPI_DOUBLE, c->comm, &r),
            c->rank, err);
    rc = comm_wait(c, 1, &r, "the per-rank timing exchange", rt->first + rt->n - 1, err);
    if (rc != TDP_OK)
        return rc;
    /* the last rank to arrive waited for nobody: its exposed communication is the transfer */
    for (int s = 0; s < rt->n; s++) {
        double least = rt->notes[s];
        for (int q = 0; q < rt->size; q++)
            if (rt->all[(size_t)q * ROW + s] < least)
                least = rt->all[(size_t)q * ROW + s];
        rt->wait += rt->notes[s] - least;
    }
    warn_stragglers(rt, c->name);
    rt->n = 0;
    rt->notes[RANKTIME_WINDOW] = 0.0;
    return TDP_OK;
}

int ranktime_gather(ranktime_t *rt, comm_t *c, tdp_err_t *err) {
    int rc = ranktime_exchange(rt, c, err);
    if (rc != TDP_OK)
        return rc;
    double mine[3] = {rt->compute, rt->comm, rt->wait};
    TDP_MPI(MPI_Allgather(mine, 3, MPI_DOUBLE, rt->all, 3, MPI_DOUBLE, c->comm), c->rank, err);
    for (int q = 0; q < rt->size; q++) {
        rt->r_compute[q] = rt->all[3 * q];
        rt->r_comm[q] = rt->all[3 * q + 1];
        rt->r_wait[q] = rt->all[3 * q + 2];
    }
    rt->gathered = 1;
    return TDP_OK;
}

static void print_row(const ranktime_t *rt, FILE *f, const char *what, const double *v) {
    int hi = 0, lo = 0;
    for (int q = 1; q < rt->size; q++) {
        hi = v[q] > v[hi] ? q : hi;
        lo = v[q] < v[lo] ? q : lo;
    }
    double *scratch = rt->scratch;
    fprintf(f, "  %-26s %9.3f %9.3f %9.3f  %d\n", what, v[lo], median(v, rt->size, scratch), v[hi],
            hi);
}

void ranktime_print(const ranktime_t *rt, FILE *f) {
    if (!rt->gathered || rt->size < 2)
        return;
    char head[40];
    snprintf(head, sizeof head, "per-rank seconds, %d ranks", rt->size);
    fprintf(f, "%-28s %9s %9s %9s  %s\n", head, "min", "median", "max", "rank of max");
    print_row(rt, f, "compute", rt->r_compute);
    print_row(rt, f, "exposed communication", rt->r_comm);
    print_row(rt, f, "of it, wait for slowest", rt->r_wait);
    int slow = 0;
    for (int q = 1; q < rt->size; q++)
        slow = rt->r_compute[q] > rt->r_compute[slow] ? q : slow;
    double med = median(rt->r_compute, rt->size, rt->scratch);
    fprintf(f, "slowest rank: %d (compute %.0f%% above the median)\n", slow,
            med > 0 ? 100 * (rt->r_compute[slow] / med - 1) : 0.0);
}
