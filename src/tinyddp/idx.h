/* idx.h: the IDX reader, plain or gzip.
 *
 * IDX (LeCun): 2 zero bytes, a type byte (0x08 = unsigned byte is the only type accepted), a
 * dimension count (1..3), then one big-endian u32 per dimension, then the data. Everything is
 * validated: a malformed file is a TDP_EINPUT error naming the file and the problem; nothing is
 * ever partially read. */
#ifndef TDP_IDX_H
#define TDP_IDX_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* Largest file payload the reader accepts (bytes); larger is refused before allocating. */
#define IDX_MAX_BYTES ((size_t)1 << 32)

typedef struct {
    int ndims;        /* 1..3 */
    uint32_t dims[3]; /* dims[0] = item count */
    size_t nbytes;    /* product of dims */
    uint8_t *data;    /* [nbytes], malloc'ed */
} idx_array_t;

/* Read an IDX file, plain or gzip (detected by the gzip magic, not by the name). */
int idx_read(const char *path, idx_array_t *out, tdp_err_t *err);
/* Parse an IDX image already in memory (used by the fuzz harness and by idx_read). `name` is
 * used in messages. */
int idx_parse(const uint8_t *buf, size_t len, const char *name, idx_array_t *out, tdp_err_t *err);
void idx_free(idx_array_t *a);

#endif
