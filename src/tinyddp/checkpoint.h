/* checkpoint.h: training state on disk.
 *
 * Layout (little-endian), version 2:
 *     header (ckpt_header_t, 152 bytes): magic "TDPCKPT\0", version, header size, the model
 *         (parameter count, shape hash), the run (mode, workers, batch per worker,
 *         accumulation), the position (optimizer steps done, epoch, next step in that epoch,
 *         planned steps of the schedule, seed), the epoch's running sums at that position (summed
 *         loss, correct predictions and steps counted, so that a resumed run reports the figures
 *         of the uninterrupted one), the sizes and CRC-32s of the option record and the payload,
 *         and the header's own CRC-32 (last field, over the bytes before it)
 *     option record: record_bytes of text, "key=value\n" lines (runconfig.h): the settings the
 *         weights depend on, integers as integers, so that a resume names the one that differs
 *     payload: parameters[n] then momentum[n], float32, in arena order
 *
 * A checkpoint at the end of an epoch has next_b = the epoch's step count (the epoch is done
 * but its summary line is not yet printed), never next_b = 0 of the next epoch.
 *
 * Written to PATH.tmp.PID (known to the signal handlers through tmpfiles.h), fsync'ed, renamed
 * over the old one, and the directory fsync'ed, so a crash at any moment leaves the previous
 * checkpoint whole. A file that fails any check is refused with a message saying which
 * (TDP_EINPUT), and nothing is loaded. */
#ifndef TDP_CHECKPOINT_H
#define TDP_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define CKPT_MAGIC   "TDPCKPT"
#define CKPT_VERSION 2u
/* The longest option record accepted. */
#define CKPT_MAX_RECORD 65536u

typedef struct {
    char magic[8];        /* "TDPCKPT\0" */
    uint32_t version;     /* CKPT_VERSION */
    uint32_t header_size; /* sizeof(ckpt_header_t) */
    uint64_t nparams;
    uint64_t shape_hash;   /* model_shape_hash */
    uint64_t record_bytes; /* the option record's length, <= CKPT_MAX_RECORD */
    uint32_t mode;         /* train_mode_t */
    uint32_t workers;      /* workers sharing a global batch (ranks x threads) */
    uint32_t batch;        /* per worker */
    uint32_t accum;
    uint64_t steps;         /* optimizer steps done */
    uint64_t epoch;         /* epoch of the next step (0-based) */
    uint64_t next_b;        /* index of the next step within that epoch (its step count: done) */
    uint64_t planned_steps; /* the learning-rate schedule's length */
    uint64_t seed;
    uint64_t payload_bytes; /* 2 x nparams x 4 */
    double ep_loss;         /* epoch `epoch` so far: the summed loss of its steps (all workers) */
    uint64_t ep_correct;    /* ... its correct training predictions (all workers) */
    uint64_t ep_steps;      /* ... its steps counted */
    uint32_t record_crc;    /* zlib crc32 of the option record */
    uint32_t payload_crc;   /* zlib crc32 of the payload */
    uint32_t reserved[3];
    uint32_t header_crc; /* crc32 of the header bytes before this field */
} ckpt_header_t;

/* What the current run expects; checked against the file on load. */
typedef struct {
    uint64_t nparams, shape_hash;
    const char *record; /* this run's option record (runconfig.h text), record_len bytes */
    size_t record_len;
    uint32_t mode, workers, batch, accum;
} ckpt_expect_t;

/* Write header + option record + params + velocity to path atomically (h's sizes, CRCs, magic
 * and version are filled in). Tests: TDP_TEST_CKPT_PAUSE=FILE (testhooks.h) makes
 * every write pause, with its temporary file created and partly written, until FILE exists
 * (polled every 10 ms, at most 120 s). */
int ckpt_write(const char *path, const ckpt_header_t *h, const char *record, size_t record_len,
               const float *params, const float *velocity, tdp_err_t *err);

/* Read and check path; on success fill *h, params[n] and velocity[n]. Refuses (TDP_EINPUT, a
 * message naming the file and the failed check) a missing, empty or truncated file, a directory,
 * wrong magic or version, a header, record or payload CRC mismatch, another model, a file whose
 * size is not the one its header implies (checked before anything past the header is read),
 * other options (naming the first that differs, with both values: "checkpoint F was written
 * with --lr 0.02, this run has --lr 0.05"), or another global batch. With params == NULL only
 * the header and the record are read and checked (the payload's size too, not its CRC). A different
 * number of workers with the same global batch (workers x batch x accum) is accepted: the sample
 * order depends only on the seed, the epoch and the global batch, so the shards are recut. */
int ckpt_read(const char *path, const ckpt_expect_t *want, ckpt_header_t *h, float *params,
              float *velocity, tdp_err_t *err);

/* Parse a whole checkpoint image already in memory, with the checks of ckpt_read (the fuzz
 * harness). */
int ckpt_parse(const uint8_t *buf, size_t len, const char *name, const ckpt_expect_t *want,
               ckpt_header_t *h, float *params, float *velocity, tdp_err_t *err);

#endif
