/* zero.c: ZeRO-1's slices, reduce-scatter and allgather (zero.h). */
#include "zero.h"

#include "layers.h"

#include <stdlib.h>
#include <string.h>

/* Slices are whole 64-byte lines of floats, so that each rank's slice of an aligned arena starts
 * on a line of its own. */
#define LINE_FLOATS 16

void zero_slice(size_t n, int p, int r, size_t *lo, size_t *len) {
    size_t chunk = (n + (size_t)p - 1) / (size_t)p;
    chunk = (chunk + LINE_FLOATS - 1) / LINE_FLOATS * LINE_FLOATS;
    size_t a = (size_t)r * chunk;
    *lo = a < n ? a : n;
    *len = n - *lo < chunk ? n - *lo : chunk;
}

int zero_setup(zero_t *z, comm_t *c, size_t n, int nslots, int deterministic, tdp_err_t *err) {
    memset(z, 0, sizeof *z);
    const size_t p = (size_t)c->size;
    if (n > (size_t)0x7fffffff)
        return tdp_fail(err, TDP_EINPUT, "--zero: %zu parameters is more than MPI counts", n);
    z->c = c;
    z->on = 1;
    z->deterministic = deterministic;
    z->n = n;
    z->nslots = nslots;
    zero_slice(n, c->size, c->rank, &z->lo, &z->len);
    /* one block of counts and displacements, one of row pointers */
    TDP_MALLOC(z->counts, 4 * p * sizeof *z->counts, err);
    z->displs = z->counts + p;
    z->r_counts = z->counts + 2 * p;
    z->r_displs = z->counts + 3 * p;
    TDP_MALLOC(z->slot_row, 2 * p * sizeof *z->slot_row, err);
    z->row = z->slot_row + p;
    TDP_MALLOC(z->slots, p * (size_t)nslots * sizeof *z->slots, err);
    /* deterministic: every rank's part of this slice (one float more: never a 0-byte block) */
    if (deterministic)
        TDP_MALLOC(z->rows, p * z->len * sizeof *z->rows + 1, err);
    for (int q = 0; q < c->size; q++) {
        size_t lo, len;
        zero_slice(n, c->size, q, &lo, &len);
        z->counts[q] = (int)len;
        z->displs[q] = (int)lo;
        z->r_counts[q] = (int)z->len;
        z->r_displs[q] = q * (int)z->len;
        z->slot_row[q] = z->slots + (size_t)q * (size_t)nslots;
        z->row[q] = z->rows ? z->rows + (size_t)q * z->len : NULL;
    }
    return TDP_OK;
}

void zero_free(zero_t *z) {
    free(z->counts);   /* and displs, r_counts, r_displs */
    free(z->slot_row); /* and row */
    free(z->slots);
    free(z->rows);
    free(z->rows16);
    memset(z, 0, sizeof *z);
}

int zero_set_compress(zero_t *z, compress_t *h, tdp_err_t *err) {
    if (h->kind == HALF_NONE)
        return TDP_OK;
    z->half = h;
    if (z->deterministic) /* one value more: never a 0-byte block */
        TDP_MALLOC(z->rows16, ((size_t)z->c->size * z->len + 1) * sizeof *z->rows16, err);
    return TDP_OK;
}

/* Deterministic: every rank's gradient of this slice (its sum in rank order follows). */
static int slice_rows(zero_t *z, const float *g, MPI_Request *r, tdp_err_t *err) {
    if (z->half)
        TDP_MPI(MPI_Ialltoallv(z->half->buf, z->counts, z->displs, MPI_UINT16_T, z->rows16,
                               z->r_counts, z->r_displs, MPI_UINT16_T, z->c->comm, r),
                z->c->rank, err);
    else
        TDP_MPI(MPI_Ialltoallv(g, z->counts, z->displs, MPI_FLOAT, z->rows, z->r_counts,
                               z->r_displs, MPI_FLOAT, z->c->comm, r),
                z->c->rank, err);
    return TDP_OK;
}

/* Non-deterministic: the sum of this slice left at the start of g (or, compressed, of the
 * 16-bit buffer). */
static int slice_sum(zero_t *z, float *g, MPI_Request *r, tdp_err_t *err) {
    if (z->half)
        TDP_MPI(MPI_Ireduce_scatter(MPI_IN_PLACE, z->half->buf, z->counts, MPI_UINT16_T,
                                    z->half->op, z->c->comm, r),
                z->c->rank, err);
    else
        TDP_MPI(MPI_Ireduce_scatter(MPI_IN_PLACE, g, z->counts, MPI_FLOAT, MPI_SUM, z->c->comm, r),
                z->c->rank, err);
    return TDP_OK;
}

/* The slice's sum into g[0, len) once the collective is done. */
static void slice_finish(zero_t *z, float *g) {
    const int p = z->c->size;
    if (z->half && z->deterministic)
        for (int q = 0; q < p; q++)
            half_unpack(z->half->kind, z->rows + (size_t)q * z->len, z->rows16 + (size_t)q * z->len,
                        z->len);
    else if (z->half)
        half_unpack(z->half->kind, g, z->half->buf, z->len);
    if (z->deterministic)
        sum_in_order(g, z->row, p, z->len, 0);
}

int zero_combine(zero_t *z, float *g, long step, trace_t *trace, tdp_err_t *err) {
    double w0 = tdp_now();
    const int nslots = z->nslots;
    MPI_Request r[2];
    TDP_MPI(
        MPI_Iallgather(g + z->n, nslots, MPI_FLOAT, z->slots, nslots, MPI_FLOAT, z->c->comm, &r[0]),
        z->c->rank, err);
    if (z->half) /* converted once, with error feedback if asked */
        half_pack(z->half->kind, z->half->buf, g, z->half->resid, z->n);
    int rc = z->deterministic ? slice_rows(z, g, &r[1], err) : slice_sum(z, g, &r[1], err);
    if (rc == TDP_OK)
        rc = comm_wait(z->c, 2, r, "the gradient reduce-scatter", step, err);
    if (rc != TDP_OK)
        return rc;
    slice_finish(z, g);
    sum_in_order(g + z->n, z->slot_row, z->c->size, (size_t)nslots, 0);
    trace_add(trace, "reduce-scatter", -1, 1, w0, tdp_now());
    return TDP_OK;
}

int zero_allgather(zero_t *z, float *params, long step, trace_t *trace, tdp_err_t *err) {
    double w0 = tdp_now();
    MPI_Request r;
    TDP_MPI(MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, params, z->counts, z->displs,
                            MPI_FLOAT, z->c->comm, &r),
            z->c->rank, err);
    int rc = comm_wait(z->c, 1, &r, "the weights' allgather", step, err);
    if (rc != TDP_OK)
        return rc;
    trace_add(trace, "allgather weights", -1, 1, w0, tdp_now());
    return TDP_OK;
}

int zero_gather_state(void *self, const float *mine, float *whole, tdp_err_t *err) {
    zero_t *z = self;
    TDP_MPI(MPI_Gatherv(mine, (int)z->len, MPI_FLOAT, whole, z->counts, z->displs, MPI_FLOAT, 0,
                        z->c->comm),
            z->c->rank, err);
    return TDP_OK;
}
