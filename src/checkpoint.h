/* checkpoint.h: training state on disk.
 *
 * Layout (little-endian), version 1:
 *     header (ckpt_header_t, 136 bytes): magic "TDPCKPT\0", version, header size, the model
 *         (parameter count, shape hash), the run (mode, workers, batch per worker, accumulation,
 *         hash of the options the weights depend on), the position (optimizer steps done, epoch,
 *         next step in that epoch, planned steps of the schedule, seed), the payload's size and
 *         CRC-32, and the header's own CRC-32 (last field, over the bytes before it)
 *     payload: parameters[n] then momentum[n], float32, in arena order
 *
 * Written with write_file_atomic (temporary file, fsync, rename over the old one, fsync of the
 * directory), so a crash at any moment leaves the previous checkpoint whole. A file that fails
 * any check is refused with a message saying which (TDP_EINPUT), and nothing is loaded. */
#ifndef TDP_CHECKPOINT_H
#define TDP_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define CKPT_MAGIC   "TDPCKPT"
#define CKPT_VERSION 1u

typedef struct {
    char magic[8];        /* "TDPCKPT\0" */
    uint32_t version;     /* CKPT_VERSION */
    uint32_t header_size; /* sizeof(ckpt_header_t) */
    uint64_t nparams;
    uint64_t shape_hash;   /* model_shape_hash */
    uint64_t options_hash; /* lr, momentum, weight decay, schedule, seed, epochs, max-steps */
    uint32_t mode;         /* train_mode_t */
    uint32_t workers;      /* workers sharing a global batch (ranks x threads) */
    uint32_t batch;        /* per worker */
    uint32_t accum;
    uint64_t steps;         /* optimizer steps done */
    uint64_t epoch;         /* epoch of the next step (0-based) */
    uint64_t next_b;        /* index of the next step within that epoch */
    uint64_t planned_steps; /* the learning-rate schedule's length */
    uint64_t seed;
    uint64_t payload_bytes; /* 2 x nparams x 4 */
    uint32_t payload_crc;   /* zlib crc32 of the payload */
    uint32_t reserved[5];
    uint32_t pad;
    uint32_t header_crc; /* crc32 of the header bytes before this field */
} ckpt_header_t;

/* What the current run expects; checked against the file on load. */
typedef struct {
    uint64_t nparams, shape_hash, options_hash;
    uint32_t mode, workers, batch, accum;
} ckpt_expect_t;

/* Write header + params + velocity to path atomically. */
int ckpt_write(const char *path, const ckpt_header_t *h, const float *params, const float *velocity,
               tdp_err_t *err);

/* Read and check path; on success fill *h, params[n] and velocity[n]. Refuses (TDP_EINPUT, a
 * message naming the file and the failed check) a missing, empty or truncated file, a directory,
 * wrong magic or version, a header or payload CRC mismatch, another model, other options, or
 * another global batch. A different number of workers with the same global batch
 * (workers x batch x accum) is accepted: the sample order depends only on the seed, the epoch
 * and the global batch, so the shards are recut. */
int ckpt_read(const char *path, const ckpt_expect_t *want, ckpt_header_t *h, float *params,
              float *velocity, tdp_err_t *err);

/* Parse a checkpoint image already in memory (used by ckpt_read and the fuzz harness). */
int ckpt_parse(const uint8_t *buf, size_t len, const char *name, const ckpt_expect_t *want,
               ckpt_header_t *h, float *params, float *velocity, tdp_err_t *err);

#endif
