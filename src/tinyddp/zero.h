/* zero.h: ZeRO-1, DDP's sharded optimizer (--zero). The parameters are cut into one slice per
 * rank (zero_slice: slices of a whole number of 64-byte lines, the last rank takes what is left,
 * possibly nothing), and each rank holds the momentum of its own slice only: 1/P of plain DDP's.
 * Every step:
 *   - the gradient arena is reduce-scattered: each rank receives the sum of its slice, left at
 *     the start of the arena (where the trainer's SGD step reads it, train.h); with
 *     --deterministic, an alltoall of the slices summed in rank order instead, which is bitwise
 *     what plain --deterministic computes for those elements;
 *   - the loss and stop slots are gathered and summed in rank order (every rank the same);
 *   - the trainer updates the rank's slice of the weights and of its momentum;
 *   - the weights are allgathered (zero_allgather, after the step).
 * With --grad-compress (zero_set_compress) the gradient is converted to 16 bits once (with error
 * feedback if asked) and reduce-scattered as 16-bit values with compress.h's fp32-summing
 * reduction (one rounding of the sum with 2 ranks, one per hop beyond), then widened into the
 * slice; --deterministic alltoalls the 16-bit slices and sums them widened, in rank order: bitwise
 * what plain --deterministic --grad-compress computes. The weights' allgather stays fp32.
 * Accumulation and hybrid ranks x threads combine locally first, as in plain DDP; the
 * reduce-scatter is one blocking collective after backward (no overlap). A checkpoint gathers the
 * whole momentum on rank 0 (it is the same file as plain DDP's); a resume keeps each rank's slice.
 */
#ifndef TDP_ZERO_H
#define TDP_ZERO_H

#include <stddef.h>

#include "comm.h"
#include "compress.h"
#include "trace.h"
#include "util.h"

typedef struct {
    comm_t *c;
    int on;
    int deterministic;
    size_t n;                 /* parameters */
    size_t lo, len;           /* this rank's slice */
    int *counts, *displs;     /* [size] every rank's slice */
    float *rows;              /* deterministic: [size][len] every rank's gradient of this slice */
    const float **row;        /* deterministic: [size] pointers into rows */
    int *r_counts, *r_displs; /* [size] where each rank's part of this slice lands */
    int nslots;               /* floats after the parameters in the gradient arena */
    float *slots;             /* [size][nslots] every rank's loss and stop slots */
    const float **slot_row;
    compress_t *half; /* --grad-compress: the 16-bit conversion and sum (NULL: fp32) */
    uint16_t *rows16; /* deterministic and compressed: [size][len] every rank's 16-bit part */
} zero_t;

/* Rank r's slice of n parameters among p ranks: [*lo, *lo + *len). */
void zero_slice(size_t n, int p, int r, size_t *lo, size_t *len);

/* Slices and buffers on session c for n parameters (nslots floats after them travel with the
 * gradient). */
int zero_setup(zero_t *z, comm_t *c, size_t n, int nslots, int deterministic, tdp_err_t *err);
void zero_free(zero_t *z);

/* The gradient goes as 16-bit values through h (set up for the n parameters, not
 * deterministic: the rank-order rows are the slice's, here); h must outlive z. */
int zero_set_compress(zero_t *z, compress_t *h, tdp_err_t *err);

/* The step's gradient g[n + nslots] (this rank's, loss in its slot): leaves the sum of the
 * rank's slice in g[0, len) and the summed slots in g[n, n + nslots). step: for the watchdog. */
int zero_combine(zero_t *z, float *g, long step, trace_t *trace, tdp_err_t *err);

/* After the SGD step on the slice: every rank's slice of params[n] to every rank. */
int zero_allgather(zero_t *z, float *params, long step, trace_t *trace, tdp_err_t *err);

/* Every rank calls it: the whole momentum into whole[n] on rank 0 (whole unused elsewhere);
 * mine: this rank's slice. */
int zero_gather_state(void *self, const float *mine, float *whole, tdp_err_t *err);

#endif
