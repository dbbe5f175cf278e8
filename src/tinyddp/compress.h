/* compress.h: 16-bit gradients on the wire (--grad-compress). A bucket of the fp32 gradient is
 * converted to bfloat16 or binary16 (halfprec.h), optionally with error feedback (the rounding's
 * residual added to the next step's gradient), and summed by MPI_Iallreduce with a user-defined
 * reduction on MPI_UINT16_T that adds each pair in fp32 and rounds the sum once; the result is
 * converted back in place. Deterministic runs allgather the 16-bit rows instead and sum them in
 * fp32 in rank order (the sum then loses nothing beyond the conversion). */
#ifndef TDP_COMPRESS_H
#define TDP_COMPRESS_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "halfprec.h"
#include "util.h"

typedef struct {
    half_kind_t kind; /* HALF_NONE: not compressed (nothing allocated) */
    MPI_Op op;        /* the fp32 sum of 16-bit values, rounded once */
    size_t n;         /* gradient floats */
    uint16_t *buf;    /* [n + 2 * extra] the 16-bit gradient in flight (then the extras) */
    float *resid;     /* [n] error feedback's residual, or NULL */
    uint16_t *rows;   /* deterministic: [ranks][n + 2 * extra] 16-bit rows, extras as fp32 bits */
    size_t extra;     /* fp32 slots after the gradient (deterministic rows carry them) */
} compress_t;

/* kind's name ("none", "bf16", "fp16"). */
const char *compress_name(half_kind_t kind);

/* Buffers and the reduction for n gradient floats (then `extra` fp32 slots) on `ranks` ranks. */
int compress_setup(compress_t *z, half_kind_t kind, int error_feedback, size_t n, size_t extra,
                   int ranks, int deterministic, tdp_err_t *err);
void compress_free(compress_t *z);

/* Convert g[off, off + len) and start its sum over comm. */
int compress_start(compress_t *z, const float *g, size_t off, size_t len, MPI_Comm comm,
                   MPI_Request *req);
/* The sum of g[off, off + len) has arrived: back to fp32 in g. */
void compress_finish(const compress_t *z, float *g, size_t off, size_t len);

/* Deterministic: convert g's n floats (and its extra slots, exactly) and start the allgather of
 * every rank's row. */
int compress_gather_start(compress_t *z, const float *g, MPI_Comm comm, MPI_Request *req);
/* Rank q's gathered row back to n + extra floats in out. */
void compress_gather_row(const compress_t *z, int q, float *out);

/* The bytes one rank contributes per step: n 16-bit values and the extra fp32 slots. */
double compress_bytes(const compress_t *z);

#endif
