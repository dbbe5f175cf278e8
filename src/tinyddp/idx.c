/* idx.c: the IDX reader (plain or gzip).
 *
 * Reading: the file is opened without blocking, regular files only (tdp_open_input), then read
 * with read(2): a file that starts with the gzip magic (0x1f 0x8b) is decompressed with zlib's
 * inflate (one or more gzip members, as gunzip takes them), any other file is taken as it is.
 * inflate rather than gzread, because gzread ignores whatever follows the last member silently:
 * here bytes after the gzip stream are refused (gunzip warns of "trailing garbage"), as are a
 * truncated stream and corrupt data. The header is read and validated first, so that an absurd
 * size is refused before anything is allocated; the data buffer then grows with what the file
 * really holds, up to the size the header announced. */
#include "idx.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define IDX_TYPE_U8    0x08
#define IDX_MAX_HEADER 16 /* 4 + 3 * 4 */

/* ---- header ---- */

/* Validate the 4 magic bytes (h has `have` >= 4 bytes). Sets *ndims. */
static int check_magic(const uint8_t *h, const char *name, int *ndims, tdp_err_t *err) {
    if (h[0] != 0 || h[1] != 0)
        return tdp_fail(err, TDP_EINPUT,
                        "%s: not an IDX file: bad magic 0x%02x%02x%02x%02x (an IDX file starts "
                        "with two zero bytes)",
                        name, h[0], h[1], h[2], h[3]);
    if (h[2] != IDX_TYPE_U8)
        return tdp_fail(err, TDP_EINPUT,
                        "%s: unsupported IDX data type byte 0x%02x (only 0x08, unsigned byte, is "
                        "supported)",
                        name, h[2]);
    if (h[3] < 1 || h[3] > 3)
        return tdp_fail(err, TDP_EINPUT,
                        "%s: unsupported number of IDX dimensions %d (must be 1..3)", name, h[3]);
    *ndims = h[3];
    return TDP_OK;
}

static uint32_t be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

/* Decode the dimensions (p points at ndims * 4 bytes) and the checked data size. */
static int parse_dims(const uint8_t *p, int ndims, const char *name, uint32_t dims[3],
                      size_t *nbytes, tdp_err_t *err) {
    char shape[64];
    size_t used = 0;
    size_t prod = 1;
    int overflow = 0;
    dims[0] = dims[1] = dims[2] = 0;
    for (int i = 0; i < ndims; i++) {
        dims[i] = be32(p + 4 * (size_t)i);
        if (!overflow && tdp_mul_size(prod, dims[i], &prod) != 0)
            overflow = 1;
        int w =
            snprintf(shape + used, sizeof shape - used, "%s%u", i ? " x " : "", (unsigned)dims[i]);
        if (w > 0 && (size_t)w < sizeof shape - used)
            used += (size_t)w;
    }
    if (overflow)
        return tdp_fail(err, TDP_EINPUT, "%s: IDX dimensions %s overflow the size of memory", name,
                        shape);
    if (prod > IDX_MAX_BYTES)
        return tdp_fail(err, TDP_EINPUT,
                        "%s: IDX data size %zu bytes (%s) exceeds the limit of %zu bytes", name,
                        prod, shape, (size_t)IDX_MAX_BYTES);
    *nbytes = prod;
    return TDP_OK;
}

static int fail_short_header(const char *name, size_t want, size_t got, tdp_err_t *err) {
    if (got == 0)
        return tdp_fail(err, TDP_EINPUT, "%s: empty file", name);
    return tdp_fail(err, TDP_EINPUT, "%s: truncated header: expected %zu bytes, got %zu", name,
                    want, got);
}

static int fail_short_data(const char *name, size_t want, size_t got, tdp_err_t *err) {
    return tdp_fail(err, TDP_EINPUT,
                    "%s: truncated data: expected %zu bytes after the header, got %zu", name, want,
                    got);
}

/* ---- idx_parse ---- */

int idx_parse(const uint8_t *buf, size_t len, const char *name, idx_array_t *out, tdp_err_t *err) {
    memset(out, 0, sizeof *out);
    int ndims = 0;
    uint32_t dims[3];
    size_t nbytes = 0;
    if (len < 4)
        return fail_short_header(name, 4, len, err);
    int rc = check_magic(buf, name, &ndims, err);
    if (rc != TDP_OK)
        return rc;
    size_t hdr = 4 + 4 * (size_t)ndims;
    if (len < hdr)
        return fail_short_header(name, hdr, len, err);
    rc = parse_dims(buf + 4, ndims, name, dims, &nbytes, err);
    if (rc != TDP_OK)
        return rc;
    if (len - hdr < nbytes)
        return fail_short_data(name, nbytes, len - hdr, err);
    if (len - hdr > nbytes)
        return tdp_fail(err, TDP_EINPUT, "%s: %zu trailing bytes after the data", name,
                        len - hdr - nbytes);
    uint8_t *data;
    TDP_MALLOC(data, nbytes ? nbytes : 1, err);
    if (nbytes)
        memcpy(data, buf + hdr, nbytes);
    out->ndims = ndims;
    memcpy(out->dims, dims, sizeof dims);
    out->nbytes = nbytes;
    out->data = data;
    return TDP_OK;
}

void idx_free(idx_array_t *a) {
    if (a == NULL)
        return;
    free(a->data);
    memset(a, 0, sizeof *a);
}

/* ---- idx_read ---- */

#define READ_CHUNK ((size_t)1 << 17)

typedef struct {
    int fd;
    const char *path;
    size_t pos;    /* decompressed bytes read so far */
    int gzip;      /* the file starts with the gzip magic */
    int inflating; /* zs is initialised */
    int in_eof;    /* read(2) returned 0 */
    int ended;     /* gzip: the last member ended at the end of the file */
    uint64_t raw;  /* bytes read from the file */
    z_stream zs;
    uint8_t *in; /* [READ_CHUNK]: the file's bytes not yet used */
    size_t in_len;
    const uint8_t *in_next; /* plain files: where the unused bytes start */
} reader_t;

/* Read more of the file into r->in (after what is left of it). */
static int reader_fill(reader_t *r, tdp_err_t *err) {
    size_t keep = r->gzip ? r->zs.avail_in : r->in_len;
    const uint8_t *from = r->gzip ? r->zs.next_in : r->in_next;
    if (keep > 0 && from != r->in)
        memmove(r->in, from, keep);
    ssize_t n;
    do
        n = read(r->fd, r->in + keep, READ_CHUNK - keep);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return tdp_fail(err, TDP_ERUNTIME, "%s: read error: %s", r->path, strerror(errno));
    if (n == 0)
        r->in_eof = 1;
    r->raw += (uint64_t)n;
    if (r->gzip) {
        r->zs.next_in = r->in;
        r->zs.avail_in = (uInt)(keep + (size_t)n);
    } else {
        r->in_next = r->in;
        r->in_len = keep + (size_t)n;
    }
    return TDP_OK;
}

/* Open the reader on fd: gzip when the file starts with the gzip magic, else the bytes as they
 * are. */
static int reader_open(reader_t *r, int fd, const char *path, tdp_err_t *err) {
    memset(r, 0, sizeof *r);
    r->fd = fd;
    r->path = path;
    r->in = malloc(READ_CHUNK);
    if (r->in == NULL)
        return tdp_fail_sys(err, __FILE__, __LINE__, 0, "out of memory");
    r->in_next = r->in;
    while (r->in_len < 2 && !r->in_eof) {
        int rc = reader_fill(r, err);
        if (rc != TDP_OK)
            return rc;
    }
    if (r->in_len >= 2 && r->in[0] == 0x1f && r->in[1] == 0x8b) {
        r->gzip = 1;
        r->zs.next_in = r->in;
        r->zs.avail_in = (uInt)r->in_len;
        if (inflateInit2(&r->zs, 15 + 16) != Z_OK) /* gzip wrapper only */
            return tdp_fail(err, TDP_ERUNTIME, "%s: out of memory in zlib", r->path);
        r->inflating = 1;
    }
    return TDP_OK;
}

static void reader_close(reader_t *r) {
    if (r->inflating)
        inflateEnd(&r->zs);
    free(r->in);
    r->in = NULL;
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
}

/* A gzip member ended: another member may follow (as gzip and gunzip allow); anything else
 * after it is refused, as gunzip warns of "trailing garbage". */
static int reader_member_end(reader_t *r, tdp_err_t *err) {
    while (r->zs.avail_in < 2 && !r->in_eof) {
        int rc = reader_fill(r, err);
        if (rc != TDP_OK)
            return rc;
    }
    if (r->zs.avail_in == 0) {
        r->ended = 1;
        return TDP_OK;
    }
    if (r->zs.avail_in >= 2 && r->zs.next_in[0] == 0x1f && r->zs.next_in[1] == 0x8b) {
        if (inflateReset(&r->zs) != Z_OK)
            return tdp_fail(err, TDP_ERUNTIME, "%s: zlib error resetting the stream", r->path);
        return TDP_OK;
    }
    uint64_t at = r->raw - r->zs.avail_in;
    struct stat st;
    if (fstat(r->fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size > at)
        return tdp_fail(err, TDP_EINPUT,
                        "%s: %llu bytes of trailing garbage after the gzip stream (which ends at "
                        "byte %llu)",
                        r->path, (unsigned long long)((uint64_t)st.st_size - at),
                        (unsigned long long)at);
    return tdp_fail(err, TDP_EINPUT,
                    "%s: trailing garbage after the gzip stream (which ends at byte %llu)", r->path,
                    (unsigned long long)at);
}

/* Read up to len bytes; *got is what was read (less than len only at the end of the file).
 * Any zlib or system error, a truncated gzip stream and bytes after the gzip stream are errors. */
static int reader_read(reader_t *r, void *buf, size_t len, size_t *got, tdp_err_t *err) {
    uint8_t *p = buf;
    size_t done = 0;
    int rc = TDP_OK;
    while (done < len && rc == TDP_OK) {
        if (!r->gzip) {
            if (r->in_len == 0) {
                if (r->in_eof)
                    break;
                rc = reader_fill(r, err);
                continue;
            }
            size_t n = r->in_len < len - done ? r->in_len : len - done;
            memcpy(p + done, r->in_next, n);
            r->in_next += n;
            r->in_len -= n;
            done += n;
            continue;
        }
        if (r->ended)
            break;
        if (r->zs.avail_in == 0 && !r->in_eof) {
            rc = reader_fill(r, err);
            continue;
        }
        size_t chunk = len - done;
        if (chunk > ((size_t)1 << 30))
            chunk = (size_t)1 << 30;
        r->zs.next_out = p + done;
        r->zs.avail_out = (uInt)chunk;
        int z = inflate(&r->zs, Z_NO_FLUSH);
        done += chunk - r->zs.avail_out;
        if (z == Z_STREAM_END)
            rc = reader_member_end(r, err);
        else if (z == Z_DATA_ERROR || z == Z_NEED_DICT)
            rc = tdp_fail(err, TDP_EINPUT, "%s: corrupt gzip data: %s", r->path,
                          r->zs.msg ? r->zs.msg : "data error");
        else if (z == Z_MEM_ERROR)
            rc = tdp_fail(err, TDP_ERUNTIME, "%s: out of memory in zlib", r->path);
        else if (z == Z_BUF_ERROR && r->zs.avail_in == 0 && r->in_eof)
            rc = tdp_fail(err, TDP_EINPUT,
                          "%s: truncated gzip stream: unexpected end of file after %zu "
                          "decompressed bytes",
                          r->path, r->pos + done);
        else if (z != Z_OK && z != Z_BUF_ERROR)
            rc = tdp_fail(err, TDP_ERUNTIME, "%s: zlib error %d", r->path, z);
    }
    r->pos += done;
    *got = done;
    return rc;
}

int idx_read(const char *path, idx_array_t *out, tdp_err_t *err) {
    memset(out, 0, sizeof *out);
    int rc = TDP_OK;
    uint8_t *data = NULL;
    uint8_t *scratch = NULL;
    reader_t r;
    memset(&r, 0, sizeof r);
    r.fd = -1;

    int fd;
    if ((rc = tdp_open_input(NULL, path, &fd, err)) != TDP_OK) /* regular files only */
        return rc;
    rc = reader_open(&r, fd, path, err); /* the reader closes fd from now on */
    if (rc != TDP_OK)
        goto done;

    /* header */
    uint8_t hdr[IDX_MAX_HEADER];
    size_t got = 0;
    int ndims = 0;
    uint32_t dims[3];
    size_t nbytes = 0;
    rc = reader_read(&r, hdr, 4, &got, err);
    if (rc != TDP_OK)
        goto done;
    if (got < 4) {
        rc = fail_short_header(path, 4, got, err);
        goto done;
    }
    rc = check_magic(hdr, path, &ndims, err);
    if (rc != TDP_OK)
        goto done;
    size_t hlen = 4 + 4 * (size_t)ndims;
    rc = reader_read(&r, hdr + 4, hlen - 4, &got, err);
    if (rc != TDP_OK)
        goto done;
    if (got < hlen - 4) {
        rc = fail_short_header(path, hlen, 4 + got, err);
        goto done;
    }
    rc = parse_dims(hdr + 4, ndims, path, dims, &nbytes, err);
    if (rc != TDP_OK)
        goto done;

    /* data: the buffer grows with what the file holds, so that a short file claiming a huge
     * size costs no more than its real size */
    size_t cap = nbytes < ((size_t)64 << 20) ? nbytes : ((size_t)64 << 20);
    size_t have = 0;
    TDP_MALLOC_GOTO(data, cap ? cap : 1, err, rc, done);
    for (;;) {
        rc = reader_read(&r, data + have, cap - have, &got, err);
        if (rc != TDP_OK)
            goto done;
        have += got;
        if (have < cap || cap == nbytes)
            break;
        size_t ncap = cap > nbytes / 2 ? nbytes : cap * 2;
        uint8_t *nd = realloc(data, ncap);
        if (nd == NULL) {
            rc = tdp_fail_sys(err, __FILE__, __LINE__, 0, "out of memory allocating %zu bytes",
                              ncap);
            goto done;
        }
        data = nd;
        cap = ncap;
    }
    if (have < nbytes) {
        rc = fail_short_data(path, nbytes, have, err);
        goto done;
    }

    /* nothing may follow the data */
    size_t trailing = 0;
    const size_t scratch_len = (size_t)1 << 16;
    TDP_MALLOC_GOTO(scratch, scratch_len, err, rc, done);
    for (;;) {
        rc = reader_read(&r, scratch, scratch_len, &got, err);
        if (rc != TDP_OK)
            goto done;
        trailing += got;
        if (got < scratch_len || trailing > IDX_MAX_BYTES)
            break;
    }
    if (trailing > IDX_MAX_BYTES) {
        rc = tdp_fail(err, TDP_EINPUT, "%s: more than %zu trailing bytes after the data", path,
                      (size_t)IDX_MAX_BYTES);
        goto done;
    }
    if (trailing > 0) {
        rc = tdp_fail(err, TDP_EINPUT, "%s: %zu trailing bytes after the data", path, trailing);
        goto done;
    }

    out->ndims = ndims;
    memcpy(out->dims, dims, sizeof dims);
    out->nbytes = nbytes;
    out->data = data;
    data = NULL;

done:
    free(scratch);
    reader_close(&r);
    if (rc != TDP_OK) {
        free(data);
        idx_free(out);
    }
    return rc;
}
