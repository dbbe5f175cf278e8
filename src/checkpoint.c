/* checkpoint.c: writing and checking checkpoints. */
#include "checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "report.h"

_Static_assert(sizeof(ckpt_header_t) == 136, "checkpoint header layout changed");
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "checkpoints are written in the host's byte order, which must be little-endian"
#endif

#define HEADER_CRC_SPAN offsetof(ckpt_header_t, header_crc)

static uint32_t crc(const void *p, size_t n) {
    uLong c = crc32(0L, Z_NULL, 0);
    const Bytef *b = p;
    while (n > 0) { /* crc32 takes a uInt length */
        uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, b, chunk);
        b += chunk;
        n -= chunk;
    }
    return (uint32_t)c;
}

int ckpt_write(const char *path, const ckpt_header_t *h0, const float *params,
               const float *velocity, tdp_err_t *err) {
    size_t n = (size_t)h0->nparams, pay = 2 * n * sizeof(float);
    size_t total = sizeof(ckpt_header_t) + pay;
    uint8_t *buf;
    TDP_MALLOC(buf, total, err);
    ckpt_header_t h = *h0;
    memset(h.magic, 0, sizeof h.magic);
    memcpy(h.magic, CKPT_MAGIC, strlen(CKPT_MAGIC));
    h.version = CKPT_VERSION;
    h.header_size = sizeof h;
    h.payload_bytes = pay;
    memcpy(buf + sizeof h, params, n * sizeof(float));
    memcpy(buf + sizeof h + n * sizeof(float), velocity, n * sizeof(float));
    h.payload_crc = crc(buf + sizeof h, pay);
    h.header_crc = crc(&h, HEADER_CRC_SPAN);
    memcpy(buf, &h, sizeof h);
    int rc = write_file_atomic(path, buf, total, err);
    free(buf);
    return rc;
}

int ckpt_parse(const uint8_t *buf, size_t len, const char *name, const ckpt_expect_t *want,
               ckpt_header_t *out, float *params, float *velocity, tdp_err_t *err) {
    ckpt_header_t h;
    if (len == 0)
        return tdp_fail(err, TDP_EINPUT, "checkpoint %s: empty file", name);
    if (len < sizeof h)
        return tdp_fail(err, TDP_EINPUT,
                        "checkpoint %s: truncated header (%zu bytes, a header is %zu)", name, len,
                        sizeof h);
    memcpy(&h, buf, sizeof h);
    if (memcmp(h.magic, CKPT_MAGIC, sizeof CKPT_MAGIC) != 0)
        return tdp_fail(err, TDP_EINPUT, "checkpoint %s: not a tinyddp checkpoint (bad magic)",
                        name);
    if (h.version != CKPT_VERSION)
        return tdp_fail(err, TDP_EINPUT, "checkpoint %s: version %u, this program reads version %u",
                        name, h.version, CKPT_VERSION);
    if (h.header_size != sizeof h || crc(&h, HEADER_CRC_SPAN) != h.header_crc)
        return tdp_fail(err, TDP_EINPUT, "checkpoint %s: header CRC mismatch (corrupted header)",
                        name);
    if (h.nparams != want->nparams || h.shape_hash != want->shape_hash)
        return tdp_fail(err, TDP_EINPUT,
                        "checkpoint %s: another model (%llu parameters, this model has %llu)", name,
                        (unsigned long long)h.nparams, (unsigned long long)want->nparams);
    if (h.payload_bytes != 2 * h.nparams * sizeof(float) ||
        h.nparams > (SIZE_MAX - sizeof h) / (2 * sizeof(float)))
        return tdp_fail(err, TDP_EINPUT, "checkpoint %s: inconsistent payload size", name);
    if (len != sizeof h + h.payload_bytes)
        return tdp_fail(err, TDP_EINPUT, "checkpoint %s: %s (%zu bytes, expected %llu)", name,
                        len < sizeof h + h.payload_bytes ? "truncated" : "trailing bytes", len,
                        (unsigned long long)(sizeof h + h.payload_bytes));
    if (crc(buf + sizeof h, (size_t)h.payload_bytes) != h.payload_crc)
        return tdp_fail(err, TDP_EINPUT, "checkpoint %s: payload CRC mismatch (corrupted data)",
                        name);
    if (h.options_hash != want->options_hash)
        return tdp_fail(err, TDP_EINPUT,
                        "checkpoint %s: written with other training options (learning rate, "
                        "momentum, weight decay, schedule, seed, epochs or max-steps): resume "
                        "with the options of the run that wrote it",
                        name);
    if (h.mode != want->mode)
        return tdp_fail(err, TDP_EINPUT, "checkpoint %s: written in another mode", name);
    uint64_t g_file = (uint64_t)h.workers * h.batch * h.accum;
    uint64_t g_now = (uint64_t)want->workers * want->batch * want->accum;
    if (g_file != g_now)
        return tdp_fail(err, TDP_EINPUT,
                        "checkpoint %s: written with a global batch of %llu (%u workers x batch "
                        "%u x accum %u), this run has %llu (%u x %u x %u): choose --batch so "
                        "that the global batch is the same",
                        name, (unsigned long long)g_file, h.workers, h.batch, h.accum,
                        (unsigned long long)g_now, want->workers, want->batch, want->accum);
    const float *p = (const float *)(const void *)(buf + sizeof h);
    memcpy(params, p, (size_t)h.nparams * sizeof(float));
    memcpy(velocity, p + h.nparams, (size_t)h.nparams * sizeof(float));
    *out = h;
    return TDP_OK;
}

int ckpt_read(const char *path, const ckpt_expect_t *want, ckpt_header_t *h, float *params,
              float *velocity, tdp_err_t *err) {
    int fd;
    int rc = tdp_open_input("checkpoint", path, &fd, err); /* a regular file, without blocking */
    if (rc != TDP_OK)
        return rc;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return tdp_fail_sys(err, __FILE__, __LINE__, e, "fstat %s", path);
    }
    size_t len = (size_t)st.st_size, got = 0;
    uint8_t *buf = malloc(len ? len : 1);
    if (buf == NULL) {
        close(fd);
        return tdp_fail_sys(err, __FILE__, __LINE__, 0, "out of memory (%zu bytes)", len);
    }
    while (got < len) {
        ssize_t r = read(fd, buf + got, len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = r < 0 ? errno : 0;
            free(buf);
            close(fd);
            return e ? tdp_fail_sys(err, __FILE__, __LINE__, e, "read %s", path)
                     : tdp_fail(err, TDP_EINPUT, "checkpoint %s: shrank while reading", path);
        }
        got += (size_t)r;
    }
    close(fd);
    rc = ckpt_parse(buf, len, path, want, h, params, velocity, err);
    free(buf);
    return rc;
}
