/* checkpoint.c: writing and checking checkpoints. */
#include "checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "outfile.h"
#include "runconfig.h"
#include "testhooks.h"

_Static_assert(sizeof(ckpt_header_t) == 152, "checkpoint header layout changed");
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "checkpoints are written in the host's byte order, which must be little-endian"
#endif

#define HEADER_CRC_SPAN offsetof(ckpt_header_t, header_crc)

static uint32_t crc_more(uint32_t c, const void *p, size_t n) {
    const Bytef *b = p;
    while (n > 0) { /* crc32 takes a uInt length */
        uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = (uint32_t)crc32(c, b, chunk);
        b += chunk;
        n -= chunk;
    }
    return c;
}

static uint32_t crc(const void *p, size_t n) {
    return crc_more((uint32_t)crc32(0L, Z_NULL, 0), p, n);
}

/* Tests: pause inside the write until the file named by TDP_TEST_CKPT_PAUSE exists. */
static void test_pause(void) {
    const char *pause_file = testhooks()->ckpt_pause;
    if (pause_file == NULL)
        return;
    for (int i = 0; i < 12000 && access(pause_file, F_OK) != 0; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

int ckpt_write(const char *path, const ckpt_header_t *h0, const char *record, size_t record_len,
               const float *params, const float *velocity, tdp_err_t *err) {
    size_t n = (size_t)h0->nparams;
    if (record_len > CKPT_MAX_RECORD)
        return tdp_fail(err, TDP_ERUNTIME, "checkpoint %s: option record too long (%zu bytes)",
                        path, record_len);
    ckpt_header_t h = *h0;
    memset(h.magic, 0, sizeof h.magic);
    memcpy(h.magic, CKPT_MAGIC, strlen(CKPT_MAGIC));
    h.version = CKPT_VERSION;
    h.header_size = sizeof h;
    h.record_bytes = record_len;
    h.payload_bytes = 2 * (uint64_t)n * sizeof(float);
    h.record_crc = crc(record, record_len);
    h.payload_crc = crc_more(crc(params, n * sizeof(float)), velocity, n * sizeof(float));
    memset(h.reserved, 0, sizeof h.reserved);
    h.header_crc = crc(&h, HEADER_CRC_SPAN);

    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return tdp_fail(err, TDP_ERUNTIME, "cannot write checkpoint %s: not a regular file", path);
    out_file_t o;
    int rc = out_open(&o, path, err);
    if (rc != TDP_OK)
        return rc;
    out_write(&o, &h, sizeof h);
    out_write(&o, record, record_len);
    test_pause();
    out_write(&o, params, n * sizeof(float));
    out_write(&o, velocity, n * sizeof(float));
    return out_commit(&o, err); /* renamed, or staged with the run's outputs */
}

/* The header's own checks, and the file's size against the one the header implies. */
static int check_header(const ckpt_header_t *h, uint64_t file_size, const char *name,
                        const ckpt_expect_t *want, tdp_err_t *err) {
    if (memcmp(h->magic, CKPT_MAGIC, sizeof CKPT_MAGIC) != 0)
        return tdp_fail(err, TDP_EINPUT, "checkpoint %s: not a tinyddp checkpoint (bad magic)",
                        name);
    if (h->version != CKPT_VERSION)
        return tdp_fail(err, TDP_EINPUT, "checkpoint %s: version %u, this program reads version %u",
                        name, h->version, CKPT_VERSION);
    if (h->header_size != sizeof *h || crc(h, HEADER_CRC_SPAN) != h->header_crc)
        return tdp_fail(err, TDP_EINPUT, "checkpoint %s: header CRC mismatch (corrupted header)",
                        name);
    if (h->nparams != want->nparams || h->shape_hash != want->shape_hash)
        return tdp_fail(err, TDP_EINPUT,
                        "checkpoint %s: another model (%llu parameters, this model has %llu)", name,
                        (unsigned long long)h->nparams, (unsigned long long)want->nparams);
    if (h->nparams > (SIZE_MAX / 4 - sizeof *h - CKPT_MAX_RECORD) / (2 * sizeof(float)) ||
        h->payload_bytes != 2 * h->nparams * sizeof(float) || h->record_bytes > CKPT_MAX_RECORD)
        return tdp_fail(err, TDP_EINPUT, "checkpoint %s: inconsistent payload size", name);
    uint64_t expect = sizeof *h + h->record_bytes + h->payload_bytes;
    if (file_size != expect)
        return tdp_fail(err, TDP_EINPUT, "checkpoint %s: %s (%llu bytes, its header says %llu)",
                        name, file_size < expect ? "truncated" : "trailing bytes",
                        (unsigned long long)file_size, (unsigned long long)expect);
    return TDP_OK;
}

/* The option record against this run's, then what the header says of the run. */
static int check_run(const ckpt_header_t *h, const char *record, const char *name,
                     const ckpt_expect_t *want, tdp_err_t *err) {
    size_t rlen = (size_t)h->record_bytes;
    if (crc(record, rlen) != h->record_crc || !runconfig_valid(record, rlen))
        return tdp_fail(err, TDP_EINPUT,
                        "checkpoint %s: option record CRC mismatch (corrupted record)", name);
    char key[64], was[96], now[96];
    if (runconfig_diff(record, rlen, want->record, want->record_len, key, sizeof key, was,
                       sizeof was, now, sizeof now))
        return tdp_fail(err, TDP_EINPUT,
                        "checkpoint %s was written with %s %s, this run has %s %s: resume with "
                        "the options of the run that wrote it",
                        name, key, was, key, now);
    if (h->mode != want->mode)
        return tdp_fail(err, TDP_EINPUT, "checkpoint %s: written in another mode", name);
    /* each factor below 2^20 (far above any option's range): their product cannot wrap */
    if (h->workers == 0 || h->batch == 0 || h->accum == 0 || h->workers >= (1u << 20) ||
        h->batch >= (1u << 20) || h->accum >= (1u << 20))
        return tdp_fail(err, TDP_EINPUT,
                        "checkpoint %s: implausible global batch (%u workers x batch %u x accum "
                        "%u)",
                        name, h->workers, h->batch, h->accum);
    uint64_t g_file = (uint64_t)h->workers * h->batch * h->accum;
    uint64_t g_now = (uint64_t)want->workers * want->batch * want->accum;
    if (g_file != g_now)
        return tdp_fail(err, TDP_EINPUT,
                        "checkpoint %s: written with a global batch of %llu (%u workers x batch "
                        "%u x accum %u), this run has %llu (%u x %u x %u): choose --batch so "
                        "that the global batch is the same",
                        name, (unsigned long long)g_file, h->workers, h->batch, h->accum,
                        (unsigned long long)g_now, want->workers, want->batch, want->accum);
    return TDP_OK;
}

/* A file of size bytes can hold a header (checked before the header is read). */
static int check_size(uint64_t size, const char *name, tdp_err_t *err) {
    if (size == 0)
        return tdp_fail(err, TDP_EINPUT, "checkpoint %s: empty file", name);
    if (size < sizeof(ckpt_header_t))
        return tdp_fail(err, TDP_EINPUT,
                        "checkpoint %s: truncated header (%llu bytes, a header is %zu)", name,
                        (unsigned long long)size, sizeof(ckpt_header_t));
    return TDP_OK;
}

/* The payload (weights, then momentum) into params and velocity if its CRC is right: nothing is
 * loaded otherwise. */
static int load_payload(const ckpt_header_t *h, const uint8_t *pay, const char *name, float *params,
                        float *velocity, tdp_err_t *err) {
    const size_t nb = (size_t)h->nparams * sizeof(float);
    if (crc(pay, 2 * nb) != h->payload_crc)
        return tdp_fail(err, TDP_EINPUT, "checkpoint %s: payload CRC mismatch (corrupted data)",
                        name);
    memcpy(params, pay, nb);
    memcpy(velocity, pay + nb, nb);
    return TDP_OK;
}

int ckpt_parse(const uint8_t *buf, size_t len, const char *name, const ckpt_expect_t *want,
               ckpt_header_t *out, float *params, float *velocity, tdp_err_t *err) {
    ckpt_header_t h;
    int rc = check_size(len, name, err);
    if (rc != TDP_OK)
        return rc;
    memcpy(&h, buf, sizeof h);
    rc = check_header(&h, len, name, want, err);
    if (rc != TDP_OK)
        return rc;
    const uint8_t *rec = buf + sizeof h, *pay = rec + h.record_bytes;
    if ((rc = check_run(&h, (const char *)rec, name, want, err)) != TDP_OK)
        return rc;
    if ((rc = load_payload(&h, pay, name, params, velocity, err)) != TDP_OK)
        return rc;
    *out = h;
    return TDP_OK;
}

/* Read exactly len bytes at the file's current offset. */
static int read_exact(int fd, void *dst, size_t len, const char *path, tdp_err_t *err) {
    size_t got = 0;
    while (got < len) {
        ssize_t r = read(fd, (char *)dst + got, len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 ? tdp_fail_sys(err, __FILE__, __LINE__, errno, "read %s", path)
                         : tdp_fail(err, TDP_EINPUT, "checkpoint %s: shrank while reading", path);
        got += (size_t)r;
    }
    return TDP_OK;
}

/* The header, the size check and the record, then (params != NULL) the payload. */
static int read_checked(int fd, uint64_t size, const char *path, const ckpt_expect_t *want,
                        ckpt_header_t *out, float *params, float *velocity, tdp_err_t *err) {
    ckpt_header_t h;
    int rc = check_size(size, path, err);
    if (rc == TDP_OK)
        rc = read_exact(fd, &h, sizeof h, path, err);
    if (rc == TDP_OK)
        rc = check_header(&h, size, path, want, err);
    if (rc != TDP_OK)
        return rc;
    char *record = malloc(h.record_bytes + 1);
    if (record == NULL)
        return tdp_fail_sys(err, __FILE__, __LINE__, 0, "out of memory");
    rc = read_exact(fd, record, (size_t)h.record_bytes, path, err);
    if (rc == TDP_OK)
        rc = check_run(&h, record, path, want, err);
    free(record);
    if (rc != TDP_OK || params == NULL) {
        if (rc == TDP_OK)
            *out = h;
        return rc;
    }
    /* the payload into a buffer of its own: nothing is loaded unless all of it is right */
    size_t nb = (size_t)h.nparams * sizeof(float);
    uint8_t *pay = malloc(nb > 0 ? 2 * nb : 1);
    if (pay == NULL)
        return tdp_fail_sys(err, __FILE__, __LINE__, 0, "out of memory (%zu bytes)", 2 * nb);
    rc = read_exact(fd, pay, 2 * nb, path, err);
    if (rc == TDP_OK)
        rc = load_payload(&h, pay, path, params, velocity, err);
    if (rc == TDP_OK)
        *out = h;
    free(pay);
    return rc;
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
    rc = read_checked(fd, (uint64_t)st.st_size, path, want, h, params, velocity, err);
    close(fd);
    return rc;
}
