/* compress.c: 16-bit gradients on the wire (compress.h). */
#include "compress.h"

#include <stdlib.h>
#include <string.h>

const char *compress_name(half_kind_t kind) {
    return kind == HALF_BF16 ? "bf16" : kind == HALF_FP16 ? "fp16" : "none";
}

/* The reductions MPI calls on pieces of a bucket (commutative: the fp32 sum of two values is). */
static void sum_bf16(void *in, void *inout, int *len, MPI_Datatype *type) {
    (void)type;
    half_sum(HALF_BF16, in, inout, (size_t)*len);
}

static void sum_fp16(void *in, void *inout, int *len, MPI_Datatype *type) {
    (void)type;
    half_sum(HALF_FP16, in, inout, (size_t)*len);
}

int compress_setup(compress_t *z, half_kind_t kind, int error_feedback, size_t n, size_t extra,
                   int ranks, int deterministic, tdp_err_t *err) {
    memset(z, 0, sizeof *z);
    z->op = MPI_OP_NULL;
    z->kind = kind;
    z->n = n;
    z->extra = extra;
    if (kind == HALF_NONE)
        return TDP_OK;
    if (MPI_Op_create(kind == HALF_BF16 ? sum_bf16 : sum_fp16, 1, &z->op) != MPI_SUCCESS)
        return tdp_fail(err, TDP_ERUNTIME, "MPI_Op_create (the 16-bit sum) failed");
    TDP_MALLOC(z->buf, (n + 2 * extra + 1) * sizeof *z->buf, err); /* the row a rank sends */
    if (error_feedback) {
        TDP_MALLOC(z->resid, (n ? n : 1) * sizeof *z->resid, err);
        memset(z->resid, 0, (n ? n : 1) * sizeof *z->resid);
    }
    if (deterministic) {
        size_t row = n + 2 * extra, bytes;
        if (tdp_mul_size(row * sizeof *z->rows, (size_t)ranks, &bytes) != 0)
            return tdp_fail(err, TDP_EINPUT, "16-bit gather buffer size overflows");
        TDP_MALLOC(z->rows, bytes, err);
    }
    return TDP_OK;
}

void compress_free(compress_t *z) {
    if (z->kind != HALF_NONE && z->op != MPI_OP_NULL) /* a zeroed z has no op */
        MPI_Op_free(&z->op);
    free(z->buf);
    free(z->resid);
    free(z->rows);
    z->buf = z->rows = NULL;
    z->resid = NULL;
    z->kind = HALF_NONE;
}

int compress_start(compress_t *z, const float *g, size_t off, size_t len, MPI_Comm comm,
                   MPI_Request *req) {
    half_pack(z->kind, z->buf + off, g + off, z->resid ? z->resid + off : NULL, len);
    return MPI_Iallreduce(MPI_IN_PLACE, z->buf + off, (int)len, MPI_UINT16_T, z->op, comm, req);
}

void compress_finish(const compress_t *z, float *g, size_t off, size_t len) {
    half_unpack(z->kind, g + off, z->buf + off, len);
}

int compress_gather_start(compress_t *z, const float *g, MPI_Comm comm, MPI_Request *req) {
    const int row = (int)(z->n + 2 * z->extra);
    half_pack(z->kind, z->buf, g, z->resid, z->n);
    /* the extras ride as raw fp32 bits: the rank-order sum adds them exactly */
    memcpy(z->buf + z->n, g + z->n, z->extra * sizeof(float));
    return MPI_Iallgather(z->buf, row, MPI_UINT16_T, z->rows, row, MPI_UINT16_T, comm, req);
}

void compress_gather_row(const compress_t *z, int q, float *out) {
    const uint16_t *row = z->rows + (size_t)q * (z->n + 2 * z->extra);
    half_unpack(z->kind, out, row, z->n);
    memcpy(out + z->n, row + z->n, z->extra * sizeof(float));
}

double compress_bytes(const compress_t *z) {
    return (double)z->n * sizeof(uint16_t) + (double)z->extra * sizeof(float);
}
