/* test_data.c: the IDX reader on valid and malformed files (plain and gzip), datasets from
 * directories, the synthetic set, epoch order, sharding and batch gathering. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "data.h"
#include "rng.h"
#include "util.h"

/* ---- temp files: every path made here is registered and removed at the end ---- */

static char tmpdir[64];
static char *made[256];
static int nmade;

static const char *tmp_path(const char *name) {
    size_t len = strlen(tmpdir) + strlen(name) + 2;
    char *p = malloc(len);
    TDP_DIE_IF(p == NULL, "malloc");
    snprintf(p, len, "%s/%s", tmpdir, name);
    TDP_DIE_IF(nmade >= (int)(sizeof made / sizeof made[0]), "too many temp files");
    made[nmade++] = p;
    return p;
}

static void cleanup(void) {
    for (int i = nmade - 1; i >= 0; i--) {
        remove(made[i]); /* files and (empty, since made later ones go first) directories */
        free(made[i]);
    }
    nmade = 0;
    if (tmpdir[0] && rmdir(tmpdir) != 0)
        fprintf(stderr, "warning: cannot remove %s: %s\n", tmpdir, strerror(errno));
}

static void write_file(const char *path, const void *buf, size_t len) {
    FILE *f = fopen(path, "wb");
    TDP_DIE_IF(f == NULL, path);
    TDP_DIE_IF(len && fwrite(buf, 1, len, f) != len, path);
    TDP_DIE_IF(fclose(f) != 0, path);
}

static void write_gz(const char *path, const void *buf, size_t len) {
    gzFile g = gzopen(path, "wb");
    TDP_DIE_IF(g == NULL, path);
    TDP_DIE_IF(len && gzwrite(g, buf, (unsigned)len) != (int)len, path);
    TDP_DIE_IF(gzclose(g) != Z_OK, path);
}

static uint8_t *read_whole(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    TDP_DIE_IF(f == NULL, path);
    TDP_DIE_IF(fseek(f, 0, SEEK_END) != 0, path);
    long n = ftell(f);
    TDP_DIE_IF(n < 0, path);
    rewind(f);
    uint8_t *buf = malloc((size_t)n + 1);
    TDP_DIE_IF(buf == NULL, "malloc");
    TDP_DIE_IF(fread(buf, 1, (size_t)n, f) != (size_t)n, path);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* An IDX image in memory: header for `ndims` dims, then `ndata` bytes of data (pattern). */
static uint8_t *make_idx(uint8_t type, int ndims, const uint32_t *dims, size_t ndata, size_t *len) {
    size_t hdr = 4 + 4 * (size_t)ndims;
    uint8_t *b = malloc(hdr + ndata + 1);
    TDP_DIE_IF(b == NULL, "malloc");
    b[0] = 0;
    b[1] = 0;
    b[2] = type;
    b[3] = (uint8_t)ndims;
    for (int i = 0; i < ndims; i++) {
        b[4 + 4 * i] = (uint8_t)(dims[i] >> 24);
        b[5 + 4 * i] = (uint8_t)(dims[i] >> 16);
        b[6 + 4 * i] = (uint8_t)(dims[i] >> 8);
        b[7 + 4 * i] = (uint8_t)dims[i];
    }
    for (size_t i = 0; i < ndata; i++)
        b[hdr + i] = (uint8_t)(i * 7 + 3);
    *len = hdr + ndata;
    return b;
}

/* Both idx_read on the file and idx_parse on its bytes must fail with `code` and a message that
 * starts with the name and contains `needle` (and `needle2` when non-NULL); *out is zeroed. */
static void expect_fail_bytes(const char *name, const uint8_t *buf, size_t len, int code,
                              const char *needle, const char *needle2) {
    const char *path = tmp_path(name);
    write_file(path, buf, len);
    for (int mode = 0; mode < 2; mode++) {
        idx_array_t a;
        memset(&a, 0xAB, sizeof a);
        tdp_err_t err = {0};
        int rc = mode == 0 ? idx_read(path, &a, &err) : idx_parse(buf, len, path, &a, &err);
        CHECK_MSG(rc == code, "%s (%s): rc %d, expected %d (%s)", name, mode ? "parse" : "read", rc,
                  code, err.msg);
        CHECK(err.code == code);
        CHECK_MSG(strncmp(err.msg, path, strlen(path)) == 0, "\"%s\" does not start with %s",
                  err.msg, path);
        CHECK_CONTAINS(err.msg, needle);
        if (needle2)
            CHECK_CONTAINS(err.msg, needle2);
        CHECK(a.data == NULL && a.nbytes == 0 && a.ndims == 0 && a.dims[0] == 0);
    }
}

/* idx_read on an existing path must fail. */
static void expect_read_fail(const char *path, int code, const char *needle, const char *needle2) {
    idx_array_t a;
    memset(&a, 0xAB, sizeof a);
    tdp_err_t err = {0};
    int rc = idx_read(path, &a, &err);
    CHECK_MSG(rc == code, "%s: rc %d, expected %d (%s)", path, rc, code, err.msg);
    CHECK_MSG(strncmp(err.msg, path, strlen(path)) == 0, "\"%s\" does not start with %s", err.msg,
              path);
    CHECK_CONTAINS(err.msg, needle);
    if (needle2)
        CHECK_CONTAINS(err.msg, needle2);
    CHECK(a.data == NULL && a.nbytes == 0 && a.ndims == 0);
}

static void test_malformed(void) {
    size_t len;
    uint8_t *b;
    uint32_t d3[3] = {10, 28, 28};

    /* truncated header: 2 bytes; cut inside the dims */
    b = make_idx(0x08, 3, d3, 0, &len);
    expect_fail_bytes("short2", b, 2, TDP_EINPUT, "truncated header", "got 2");
    expect_fail_bytes("shortdims", b, 9, TDP_EINPUT, "truncated header", "expected 16 bytes");
    free(b);

    /* truncated data */
    uint32_t big[3] = {1000, 28, 28};
    b = make_idx(0x08, 3, big, 1000, &len);
    expect_fail_bytes("shortdata", b, len, TDP_EINPUT, "truncated data",
                      "expected 784000 bytes after the header, got 1000");
    free(b);

    /* wrong magic: non-zero first bytes */
    b = make_idx(0x08, 1, d3, 10, &len);
    b[0] = 0x12;
    b[1] = 0x34;
    expect_fail_bytes("badmagic", b, len, TDP_EINPUT, "not an IDX file", "magic");
    free(b);

    /* wrong type byte: 0x0D (float) */
    b = make_idx(0x0D, 1, d3, 10, &len);
    expect_fail_bytes("float", b, len, TDP_EINPUT, "type byte 0x0d", "unsupported");
    free(b);

    /* 0 and 4 dimensions */
    uint32_t d4[4] = {1, 1, 1, 1};
    b = make_idx(0x08, 0, d4, 1, &len);
    expect_fail_bytes("dims0", b, len, TDP_EINPUT, "dimensions 0", "1..3");
    free(b);
    b = make_idx(0x08, 4, d4, 1, &len);
    expect_fail_bytes("dims4", b, len, TDP_EINPUT, "dimensions 4", "1..3");
    free(b);

    /* dims whose product overflows size_t, and one over IDX_MAX_BYTES */
    uint32_t huge[3] = {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu};
    b = make_idx(0x08, 3, huge, 16, &len);
    expect_fail_bytes("overflow", b, len, TDP_EINPUT, "overflow",
                      "4294967295 x 4294967295 x 4294967295");
    free(b);
    uint32_t over[2] = {65536, 65537}; /* 4295032832 bytes > 2^32 */
    b = make_idx(0x08, 2, over, 16, &len);
    expect_fail_bytes("toobig", b, len, TDP_EINPUT, "4295032832 bytes", "exceeds the limit");
    free(b);

    /* a non-IDX file, an empty file, trailing bytes */
    const char *hello = "hello world\n";
    expect_fail_bytes("hello", (const uint8_t *)hello, strlen(hello), TDP_EINPUT, "not an IDX file",
                      NULL);
    expect_fail_bytes("empty", (const uint8_t *)"", 0, TDP_EINPUT, "empty file", NULL);
    uint32_t d1[1] = {5};
    b = make_idx(0x08, 1, d1, 8, &len);
    expect_fail_bytes("trailing", b, len, TDP_EINPUT, "3 trailing bytes", NULL);
    free(b);

    /* a directory and a missing file */
    const char *dir = tmp_path("adir");
    TDP_DIE_IF(mkdir(dir, 0700) != 0, dir);
    expect_read_fail(dir, TDP_EINPUT, "not a regular file", "directory");
    /* a FIFO is refused without blocking (no writer ever comes) */
    const char *fifo = tmp_path("afifo");
    TDP_DIE_IF(mkfifo(fifo, 0600) != 0, fifo);
    expect_read_fail(fifo, TDP_EINPUT, "not a regular file", "a FIFO");
    const char *missing = tmp_path("nonexistent");
    idx_array_t a;
    tdp_err_t err = {0};
    CHECK(idx_read(missing, &a, &err) == TDP_EINPUT && a.data == NULL);
    CHECK_CONTAINS(err.msg, "cannot open");
    CHECK_CONTAINS(err.msg, missing);
    CHECK_CONTAINS(err.msg, "No such file or directory");
}

static void test_gzip_malformed(void) {
    /* incompressible data so that the gzip stream is long and a cut lands inside the deflate
     * data */
    uint32_t dims[3] = {50, 20, 20};
    size_t len;
    uint8_t *b = make_idx(0x08, 3, dims, 20000, &len);
    tdp_rng_t r;
    rng_seed(&r, 7);
    for (size_t i = 16; i < len; i++)
        b[i] = (uint8_t)(rng_next(&r) >> 56);
    const char *full = tmp_path("full.gz");
    write_gz(full, b, len);

    size_t glen;
    uint8_t *g = read_whole(full, &glen);
    CHECK(glen > 10000 && g[0] == 0x1f && g[1] == 0x8b);

    /* sanity: the full file reads back */
    idx_array_t a;
    tdp_err_t err = {0};
    CHECK_MSG(idx_read(full, &a, &err) == TDP_OK, "%s", err.msg);
    CHECK(a.nbytes == 20000 && memcmp(a.data, b + 16, 20000) == 0);
    idx_free(&a);

    /* cut off the last 4 bytes (the size in the trailer) and the last 8 (CRC and size): all data
     * decompresses, only the trailer is missing */
    const char *cut4 = tmp_path("cut4.gz");
    write_file(cut4, g, glen - 4);
    expect_read_fail(cut4, TDP_EINPUT, "truncated gzip", NULL);
    const char *cut8 = tmp_path("cut8.gz");
    write_file(cut8, g, glen - 8);
    expect_read_fail(cut8, TDP_EINPUT, "truncated gzip", NULL);
    /* cut in the middle */
    const char *half = tmp_path("half.gz");
    write_file(half, g, glen / 2);
    expect_read_fail(half, TDP_EINPUT, "truncated gzip", NULL);
    /* only the gzip header */
    const char *head = tmp_path("head.gz");
    write_file(head, g, 12);
    expect_read_fail(head, TDP_EINPUT, "truncated gzip", NULL);

    /* a flipped byte in the middle: corrupt data or a CRC mismatch */
    g[glen / 2] ^= 0x55;
    const char *flip = tmp_path("flip.gz");
    write_file(flip, g, glen);
    expect_read_fail(flip, TDP_EINPUT, "corrupt gzip", NULL);
    g[glen / 2] ^= 0x55;

    /* bytes after the gzip stream (gunzip: "trailing garbage ignored"): refused, naming the file
     * and where the stream ends; another gzip member after it is part of the stream */
    uint8_t *tg = malloc(2 * glen + 8);
    TDP_DIE_IF(tg == NULL, "malloc");
    memcpy(tg, g, glen);
    memcpy(tg + glen, "garbage", 7);
    const char *garbage = tmp_path("garbage.gz");
    write_file(garbage, tg, glen + 7);
    char want[160];
    snprintf(want, sizeof want,
             "7 bytes of trailing garbage after the gzip stream (which ends at "
             "byte %zu)",
             glen);
    expect_read_fail(garbage, TDP_EINPUT, garbage, want);
    memset(tg + glen, 0, 512); /* zeros, as a tape block pads it */
    write_file(garbage, tg, glen + 512);
    expect_read_fail(garbage, TDP_EINPUT, "512 bytes of trailing garbage", NULL);
    tg[glen] = 0x1f; /* the first byte of a gzip magic only */
    write_file(garbage, tg, glen + 1);
    expect_read_fail(garbage, TDP_EINPUT, "1 bytes of trailing garbage", NULL);
    free(tg);
    /* two members: the IDX image split in two, each compressed on its own */
    const char *two = tmp_path("two.gz");
    write_gz(two, b, 1000);
    size_t l1;
    uint8_t *m1 = read_whole(two, &l1);
    write_gz(two, b + 1000, len - 1000);
    size_t l2;
    uint8_t *m2 = read_whole(two, &l2);
    uint8_t *both = malloc(l1 + l2);
    TDP_DIE_IF(both == NULL, "malloc");
    memcpy(both, m1, l1);
    memcpy(both + l1, m2, l2);
    write_file(two, both, l1 + l2);
    CHECK_MSG(idx_read(two, &a, &err) == TDP_OK, "%s", err.msg);
    CHECK(a.nbytes == 20000 && memcmp(a.data, b + 16, 20000) == 0);
    idx_free(&a);
    write_file(two, both, l1 + l2 - 3); /* the second member cut short */
    expect_read_fail(two, TDP_EINPUT, "truncated gzip", NULL);
    free(m1);
    free(m2);
    free(both);
    free(g);

    /* a complete gzip whose content is malformed: short data, trailing bytes, bad type */
    const char *shortgz = tmp_path("short.gz");
    write_gz(shortgz, b, len - 100);
    expect_read_fail(shortgz, TDP_EINPUT, "truncated data",
                     "expected 20000 bytes after the header, got 19900");
    uint8_t *t = malloc(len + 5);
    TDP_DIE_IF(t == NULL, "malloc");
    memcpy(t, b, len);
    memset(t + len, 0, 5);
    const char *trailgz = tmp_path("trail.gz");
    write_gz(trailgz, t, len + 5);
    expect_read_fail(trailgz, TDP_EINPUT, "5 trailing bytes", NULL);
    t[2] = 0x0B;
    const char *typegz = tmp_path("type.gz");
    write_gz(typegz, t, len);
    expect_read_fail(typegz, TDP_EINPUT, "type byte 0x0b", NULL);
    free(t);
    free(b);
}

static void test_roundtrip(void) {
    uint32_t dims[3] = {3, 2, 4};
    size_t len;
    uint8_t *b = make_idx(0x08, 3, dims, 24, &len);
    b[16] = 0;
    b[17] = 255;
    const char *plain = tmp_path("rt.idx");
    const char *gz = tmp_path("rt.idx.gz");
    const char *gzplainname = tmp_path("gz_named_plain"); /* gzip detected by content */
    write_file(plain, b, len);
    write_gz(gz, b, len);
    write_gz(gzplainname, b, len);
    const char *paths[3] = {plain, gz, gzplainname};
    for (int i = 0; i < 3; i++) {
        idx_array_t a;
        tdp_err_t err = {0};
        int rc = idx_read(paths[i], &a, &err);
        CHECK_MSG(rc == TDP_OK, "%s: %s", paths[i], err.msg);
        if (rc != TDP_OK)
            continue;
        CHECK(a.ndims == 3);
        CHECK(a.dims[0] == 3 && a.dims[1] == 2 && a.dims[2] == 4);
        CHECK(a.nbytes == 24);
        CHECK(a.data[0] == 0 && a.data[1] == 255);
        CHECK(a.data[5] == (uint8_t)(5 * 7 + 3) && a.data[23] == (uint8_t)(23 * 7 + 3));
        CHECK(memcmp(a.data, b + 16, 24) == 0);
        idx_free(&a);
        CHECK(a.data == NULL && a.nbytes == 0);
    }
    /* idx_parse on the same bytes */
    idx_array_t a;
    tdp_err_t err = {0};
    CHECK(idx_parse(b, len, "mem", &a, &err) == TDP_OK);
    CHECK(a.ndims == 3 && a.nbytes == 24 && memcmp(a.data, b + 16, 24) == 0);
    idx_free(&a);
    free(b);

    /* 1-dim labels, and a 0-item array is a valid IDX file */
    uint32_t d1[1] = {4};
    b = make_idx(0x08, 1, d1, 4, &len);
    const char *lab = tmp_path("lab.idx");
    write_file(lab, b, len);
    CHECK(idx_read(lab, &a, &err) == TDP_OK);
    CHECK(a.ndims == 1 && a.dims[0] == 4 && a.nbytes == 4 && a.data[3] == 24);
    idx_free(&a);
    free(b);
    uint32_t d0[2] = {0, 784};
    b = make_idx(0x08, 2, d0, 0, &len);
    const char *zero = tmp_path("zero.idx");
    write_file(zero, b, len);
    CHECK(idx_read(zero, &a, &err) == TDP_OK);
    CHECK(a.ndims == 2 && a.dims[0] == 0 && a.nbytes == 0);
    idx_free(&a);
    free(b);
}

/* Build in-memory arrays for dataset_from_idx. */
static void mem_array(idx_array_t *a, int ndims, uint32_t d0, uint32_t d1, uint32_t d2,
                      uint8_t fill) {
    memset(a, 0, sizeof *a);
    a->ndims = ndims;
    a->dims[0] = d0;
    a->dims[1] = d1;
    a->dims[2] = d2;
    a->nbytes = d0;
    if (ndims >= 2)
        a->nbytes *= d1;
    if (ndims >= 3)
        a->nbytes *= d2;
    a->data = malloc(a->nbytes ? a->nbytes : 1);
    TDP_DIE_IF(a->data == NULL, "malloc");
    memset(a->data, fill, a->nbytes);
}

static void expect_pair_fail(idx_array_t *img, idx_array_t *lab, int classes, const char *n1,
                             const char *n2) {
    dataset_t d;
    memset(&d, 0xAB, sizeof d);
    tdp_err_t err = {0};
    int rc = dataset_from_idx(img, lab, classes, "pairname", &d, &err);
    CHECK_MSG(rc == TDP_EINPUT, "rc %d (%s)", rc, err.msg);
    CHECK(strncmp(err.msg, "pairname: ", 10) == 0);
    CHECK_CONTAINS(err.msg, n1);
    if (n2)
        CHECK_CONTAINS(err.msg, n2);
    CHECK(d.x == NULL && d.y == NULL && d.n == 0);
    CHECK(img->data != NULL && lab->data != NULL); /* not taken on failure */
    idx_free(img);
    idx_free(lab);
}

static void test_from_idx(void) {
    idx_array_t img, lab;
    /* count mismatch names both counts */
    mem_array(&img, 3, 5, 2, 2, 1);
    mem_array(&lab, 1, 4, 0, 0, 1);
    expect_pair_fail(&img, &lab, 10, "5 images", "4 labels");
    /* label >= classes names the index and the value */
    mem_array(&img, 3, 5, 2, 2, 1);
    mem_array(&lab, 1, 5, 0, 0, 1);
    lab.data[3] = 10;
    expect_pair_fail(&img, &lab, 10, "label 10 at index 3", "10 classes");
    /* wrong ndims */
    mem_array(&img, 1, 5, 0, 0, 1);
    mem_array(&lab, 1, 5, 0, 0, 1);
    expect_pair_fail(&img, &lab, 10, "images must have 2 or 3 dimensions", "got 1");
    mem_array(&img, 2, 5, 4, 0, 1);
    mem_array(&lab, 2, 5, 1, 0, 1);
    expect_pair_fail(&img, &lab, 10, "labels must have 1 dimension", "got 2");
    /* no samples, no features */
    mem_array(&img, 2, 0, 4, 0, 1);
    mem_array(&lab, 1, 0, 0, 0, 1);
    expect_pair_fail(&img, &lab, 10, "no samples", NULL);
    mem_array(&img, 3, 3, 4, 0, 1);
    mem_array(&lab, 1, 3, 0, 0, 1);
    expect_pair_fail(&img, &lab, 10, "0 features", NULL);

    /* success takes ownership */
    mem_array(&img, 3, 3, 2, 2, 9);
    mem_array(&lab, 1, 3, 0, 0, 0);
    lab.data[2] = 9;
    dataset_t d;
    tdp_err_t err = {0};
    CHECK_MSG(dataset_from_idx(&img, &lab, 10, "ok", &d, &err) == TDP_OK, "%s", err.msg);
    CHECK(d.n == 3 && d.dim == 4 && d.classes == 10);
    CHECK(d.x[11] == 9 && d.y[2] == 9 && d.y[0] == 0);
    CHECK(img.data == NULL && lab.data == NULL);
    idx_free(&img);
    idx_free(&lab);
    dataset_free(&d);
    CHECK(d.x == NULL && d.n == 0);
}

static void put_idx(const char *dir, const char *name, int gz, int ndims, const uint32_t *dims,
                    const uint8_t *data) {
    size_t n = 1;
    for (int i = 0; i < ndims; i++)
        n *= dims[i];
    size_t len;
    uint8_t *b = make_idx(0x08, ndims, dims, n, &len);
    memcpy(b + 4 + 4 * ndims, data, n);
    char name2[256];
    snprintf(name2, sizeof name2, "%s/%s%s", dir, name, gz ? ".gz" : "");
    const char *p = tmp_path(name2);
    if (gz)
        write_gz(p, b, len);
    else
        write_file(p, b, len);
    free(b);
}

static void test_load_dir(void) {
    const char *dir = tmp_path("mnist");
    TDP_DIE_IF(mkdir(dir, 0700) != 0, dir);
    uint8_t px[6 * 12], ytr[6] = {0, 1, 2, 0, 1, 2}, yte[4] = {2, 2, 1, 0};
    for (size_t i = 0; i < sizeof px; i++)
        px[i] = (uint8_t)(i * 3);
    uint32_t dtr[3] = {6, 3, 4}, dte[3] = {4, 3, 4}, ltr[1] = {6}, lte[1] = {4};
    put_idx("mnist", "train-images-idx3-ubyte", 0, 3, dtr, px);
    put_idx("mnist", "train-labels-idx1-ubyte", 1, 1, ltr, ytr);
    put_idx("mnist", "t10k-images-idx3-ubyte", 1, 3, dte, px + 12);
    /* the test labels are missing for now */
    dataset_t tr, te;
    tdp_err_t err = {0};
    int rc = dataset_load_dir(dir, 3, &tr, &te, &err);
    CHECK(rc == TDP_EINPUT);
    CHECK(strncmp(err.msg, dir, strlen(dir)) == 0);
    CHECK_CONTAINS(err.msg, "missing t10k-labels-idx1-ubyte");
    CHECK(tr.x == NULL && te.x == NULL && tr.n == 0);

    put_idx("mnist", "t10k-labels-idx1-ubyte", 0, 1, lte, yte);
    rc = dataset_load_dir(dir, 3, &tr, &te, &err);
    CHECK_MSG(rc == TDP_OK, "%s", err.msg);
    if (rc == TDP_OK) {
        CHECK(tr.n == 6 && tr.dim == 12 && tr.classes == 3);
        CHECK(te.n == 4 && te.dim == 12 && te.classes == 3);
        CHECK(memcmp(tr.x, px, 72) == 0 && memcmp(te.x, px + 12, 48) == 0);
        CHECK(memcmp(tr.y, ytr, 6) == 0 && memcmp(te.y, yte, 4) == 0);
        dataset_free(&tr);
        dataset_free(&te);
    }

    /* a label out of range for 2 classes: the error names the files */
    rc = dataset_load_dir(dir, 2, &tr, &te, &err);
    CHECK(rc == TDP_EINPUT);
    CHECK_CONTAINS(err.msg, "train-labels-idx1-ubyte.gz");
    CHECK_CONTAINS(err.msg, "label 2 at index 2");
    CHECK(tr.x == NULL && te.x == NULL);

    /* train and test dims differ */
    const char *dir2 = tmp_path("mnist2");
    TDP_DIE_IF(mkdir(dir2, 0700) != 0, dir2);
    uint32_t dte2[3] = {4, 2, 4};
    put_idx("mnist2", "train-images-idx3-ubyte", 1, 3, dtr, px);
    put_idx("mnist2", "train-labels-idx1-ubyte", 0, 1, ltr, ytr);
    put_idx("mnist2", "t10k-images-idx3-ubyte", 0, 3, dte2, px);
    put_idx("mnist2", "t10k-labels-idx1-ubyte", 1, 1, lte, yte);
    rc = dataset_load_dir(dir2, 3, &tr, &te, &err);
    CHECK(rc == TDP_EINPUT);
    CHECK_CONTAINS(err.msg, "train images have 12 features but test images have 8");
    CHECK(tr.x == NULL && te.x == NULL);

    /* a count mismatch in the test pair */
    const char *dir3 = tmp_path("mnist3");
    TDP_DIE_IF(mkdir(dir3, 0700) != 0, dir3);
    put_idx("mnist3", "train-images-idx3-ubyte", 0, 3, dtr, px);
    put_idx("mnist3", "train-labels-idx1-ubyte", 0, 1, ltr, ytr);
    put_idx("mnist3", "t10k-images-idx3-ubyte", 0, 3, dte, px);
    put_idx("mnist3", "t10k-labels-idx1-ubyte", 0, 1, ltr, ytr);
    rc = dataset_load_dir(dir3, 3, &tr, &te, &err);
    CHECK(rc == TDP_EINPUT);
    CHECK_CONTAINS(err.msg, "4 images but 6 labels");

    /* a missing directory, and a file given as the directory */
    const char *nodir = tmp_path("nodir");
    rc = dataset_load_dir(nodir, 3, &tr, &te, &err);
    CHECK(rc == TDP_EINPUT);
    CHECK_CONTAINS(err.msg, "No such file or directory");
    char notdir[256];
    snprintf(notdir, sizeof notdir, "%s/mnist/t10k-labels-idx1-ubyte", tmpdir);
    rc = dataset_load_dir(notdir, 3, &tr, &te, &err);
    CHECK(rc == TDP_EINPUT);
    CHECK_CONTAINS(err.msg, "not a directory");
}

/* The documented synthetic formula, written out again to pin it. */
static void synth_reference(uint64_t seed, size_t n, int dim, int classes, uint64_t stream,
                            uint8_t *x, uint8_t *y) {
    tdp_rng_t m, r;
    uint8_t proto[16 * 16];
    rng_seed(&m, seed ^ 0x6a09e667f3bcc908ULL);
    rng_seed(&r, rng_next(&m));
    for (int i = 0; i < classes * dim; i++)
        proto[i] = (uint8_t)(rng_next(&r) >> 56);
    rng_seed(&m, seed ^ stream);
    rng_seed(&r, rng_next(&m));
    for (size_t i = 0; i < n; i++) {
        uint32_t c = (uint32_t)(((rng_next(&r) >> 32) * (uint64_t)classes) >> 32);
        y[i] = (uint8_t)c;
        for (int k = 0; k < dim; k++) {
            uint64_t u = rng_next(&r);
            long s = (long)(u & 0xffff) + (long)((u >> 16) & 0xffff) + (long)((u >> 32) & 0xffff) +
                     (long)(u >> 48);
            long v = proto[c * (uint32_t)dim + (uint32_t)k] + (s * 104 + 32768) / 65536 - 208;
            x[i * (size_t)dim + (size_t)k] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
}

static void test_synthetic(void) {
    dataset_t a, b, at, bt;
    tdp_err_t err = {0};
    CHECK(dataset_synthetic(42, 3000, 500, 64, 10, &a, &at, &err) == TDP_OK);
    CHECK(dataset_synthetic(42, 3000, 500, 64, 10, &b, &bt, &err) == TDP_OK);
    CHECK(a.n == 3000 && a.dim == 64 && a.classes == 10 && at.n == 500 && at.dim == 64);
    CHECK(memcmp(a.x, b.x, 3000 * 64) == 0 && memcmp(a.y, b.y, 3000) == 0);
    CHECK(memcmp(at.x, bt.x, 500 * 64) == 0 && memcmp(at.y, bt.y, 500) == 0);
    CHECK(memcmp(a.x, at.x, 500 * 64) != 0); /* train and test differ */
    dataset_free(&b);
    dataset_free(&bt);
    CHECK(dataset_synthetic(43, 3000, 500, 64, 10, &b, &bt, &err) == TDP_OK);
    CHECK(memcmp(a.x, b.x, 3000 * 64) != 0 && memcmp(a.y, b.y, 3000) != 0);
    dataset_free(&b);
    dataset_free(&bt);

    int counts[10] = {0}, bad = 0, lo = 0, hi = 0;
    for (size_t i = 0; i < a.n; i++) {
        if (a.y[i] >= 10)
            bad++;
        else
            counts[a.y[i]]++;
    }
    for (size_t i = 0; i < a.n * 64; i++) {
        lo += a.x[i] == 0;
        hi += a.x[i] == 255;
    }
    CHECK(bad == 0);
    for (int c = 0; c < 10; c++)
        CHECK_MSG(counts[c] > 200 && counts[c] < 400, "class %d: %d samples", c, counts[c]);
    CHECK(lo > 0 && hi > 0); /* clamping happens, but not everywhere */
    CHECK(lo < 3000 * 64 / 10 && hi < 3000 * 64 / 10);

    /* learnable: nearest class mean (from train) classifies most test samples; not trivial: the
     * noise around the class mean has a standard deviation of about 60 */
    static double mean[10][64];
    memset(mean, 0, sizeof mean);
    for (size_t i = 0; i < a.n; i++)
        for (int k = 0; k < 64; k++)
            mean[a.y[i]][k] += a.x[i * 64 + (size_t)k] / (double)counts[a.y[i]];
    double var = 0;
    size_t nvar = 0;
    for (size_t i = 0; i < a.n; i++)
        for (int k = 0; k < 64; k++) {
            double m = mean[a.y[i]][k];
            if (m > 70 && m < 185) { /* away from the clamps */
                double dd = a.x[i * 64 + (size_t)k] - m;
                var += dd * dd;
                nvar++;
            }
        }
    double sd = nvar ? sqrt(var / (double)nvar) : 0;
    CHECK_MSG(sd > 55 && sd < 65, "noise sd %.2f", sd);
    int correct = 0;
    for (size_t i = 0; i < at.n; i++) {
        double best = 1e300;
        int arg = -1;
        for (int c = 0; c < 10; c++) {
            double dist = 0;
            for (int k = 0; k < 64; k++) {
                double dd = at.x[i * 64 + (size_t)k] - mean[c][k];
                dist += dd * dd;
            }
            if (dist < best) {
                best = dist;
                arg = c;
            }
        }
        correct += arg == at.y[i];
    }
    CHECK_MSG(correct > 400, "nearest mean: %d / 500", correct);
    dataset_free(&a);
    dataset_free(&at);

    /* the documented formula */
    uint8_t x[7 * 9], y[7], rx[7 * 9], ry[7];
    CHECK(dataset_synthetic(5, 7, 7, 9, 3, &a, &at, &err) == TDP_OK);
    synth_reference(5, 7, 9, 3, 0xbb67ae8584caa73bULL, rx, ry);
    CHECK(memcmp(a.x, rx, sizeof rx) == 0 && memcmp(a.y, ry, sizeof ry) == 0);
    synth_reference(5, 7, 9, 3, 0x3c6ef372fe94f82bULL, x, y);
    CHECK(memcmp(at.x, x, sizeof x) == 0 && memcmp(at.y, y, sizeof y) == 0);
    dataset_free(&a);
    dataset_free(&at);

    /* bad arguments */
    CHECK(dataset_synthetic(1, 10, 10, 0, 10, &a, &at, &err) == TDP_EINPUT);
    CHECK_CONTAINS(err.msg, "dimension");
    CHECK(dataset_synthetic(1, 10, 10, 4, 1, &a, &at, &err) == TDP_EINPUT);
    CHECK_CONTAINS(err.msg, "classes");
    CHECK(dataset_synthetic(1, 10, 10, 4, 257, &a, &at, &err) == TDP_EINPUT);
    CHECK(dataset_synthetic(1, 0, 10, 4, 10, &a, &at, &err) == TDP_EINPUT);
    CHECK(a.x == NULL && at.x == NULL);

    /* fast: the size of MNIST */
    double t0 = tdp_now();
    CHECK(dataset_synthetic(1, 60000, 10000, 784, 10, &a, &at, &err) == TDP_OK);
    double dt = tdp_now() - t0;
    printf("synthetic 60000+10000 x 784: %.3f s\n", dt);
    CHECK_MSG(dt < 5.0, "%.3f s", dt); /* generous: sanitizer and valgrind builds are slower */
    CHECK(a.n == 60000 && at.n == 10000 && a.x[60000 * 784 - 1] == a.x[60000 * 784 - 1]);
    dataset_free(&a);
    dataset_free(&at);
}

static void test_epoch_order(void) {
    enum { N = 1000 };
    static uint32_t o1[N], o2[N], o3[N], o4[N];
    static unsigned char seen[N];
    epoch_order(123, 0, o1, N);
    epoch_order(123, 0, o2, N);
    epoch_order(123, 1, o3, N);
    epoch_order(124, 0, o4, N);
    memset(seen, 0, sizeof seen);
    int perm = 1;
    for (int i = 0; i < N; i++) {
        if (o1[i] >= N || seen[o1[i]])
            perm = 0;
        else
            seen[o1[i]] = 1;
    }
    CHECK(perm);
    CHECK(memcmp(o1, o2, sizeof o1) == 0);
    CHECK(memcmp(o1, o3, sizeof o1) != 0);
    CHECK(memcmp(o1, o4, sizeof o1) != 0);
    int fixed = 0;
    for (int i = 0; i < N; i++)
        fixed += o1[i] == (uint32_t)i;
    CHECK(fixed < 10); /* shuffled */

    /* epochs with seed 0 are not shifted copies of each other */
    epoch_order(0, 0, o1, N);
    epoch_order(0, 1, o3, N);
    int same_shift = 0;
    for (int i = 0; i + 1 < N; i++)
        same_shift += o1[i] == o3[i + 1] || o1[i + 1] == o3[i];
    CHECK(same_shift < 20);

    /* the documented formula */
    uint32_t ref[N];
    tdp_rng_t m, r;
    for (int epoch = 0; epoch < 3; epoch++) {
        rng_seed(&m, 99ULL ^ (0x9e3779b97f4a7c15ULL * (uint64_t)(epoch + 1)));
        rng_seed(&r, rng_next(&m));
        for (uint32_t i = 0; i < N; i++)
            ref[i] = i;
        for (uint32_t i = N - 1; i >= 1; i--) {
            uint32_t j = (uint32_t)(((rng_next(&r) >> 32) * (uint64_t)(i + 1)) >> 32);
            uint32_t t = ref[i];
            ref[i] = ref[j];
            ref[j] = t;
        }
        epoch_order(99, epoch, o1, N);
        CHECK(memcmp(o1, ref, sizeof ref) == 0);
    }
    /* printed so that the Python reference can be checked against it */
    epoch_order(42, 0, o1, 10);
    printf("epoch_order(42, 0, 10) =");
    for (int i = 0; i < 10; i++)
        printf(" %u", (unsigned)o1[i]);
    printf("\n");
    epoch_order(5, 0, o1, 1); /* n = 1 and n = 0 are fine */
    CHECK(o1[0] == 0);
    epoch_order(5, 0, o1, 0);
}

static void test_batches(void) {
    CHECK(batches_per_epoch(10, 4) == 2);
    CHECK(batches_per_epoch(8, 4) == 2);
    CHECK(batches_per_epoch(3, 4) == 0);
    CHECK(batches_per_epoch(60000, 256) == 234);
    CHECK(batches_per_epoch(10, 0) == 0);

    uint32_t order[24];
    for (uint32_t i = 0; i < 24; i++)
        order[i] = 100 + i;
    /* global batch 8 = 4 workers x 2 */
    const uint32_t *s = batch_shard(order, 1, 2, 2, 4);
    CHECK(s == order + 12 && s[0] == 112 && s[1] == 113);
    CHECK(batch_shard(order, 0, 2, 0, 4) == order);
    CHECK(batch_shard(order, 2, 2, 3, 4) == order + 22);
    CHECK(batch_shard(order, 2, 8, 0, 1) == order + 16);
    /* the shards of a batch tile it exactly */
    int covered[24] = {0};
    for (size_t b = 0; b < batches_per_epoch(24, 6); b++)
        for (int rank = 0; rank < 3; rank++) {
            const uint32_t *p = batch_shard(order, b, 2, rank, 3);
            for (int k = 0; k < 2; k++)
                covered[p[k] - 100]++;
        }
    int all_once = 1;
    for (int i = 0; i < 24; i++)
        all_once &= covered[i] == 1;
    CHECK(all_once);
}

static void test_standardize(void) {
    /* pixels 0 and 255 in equal numbers: mean 0.5, std 0.5, so 0 -> -1 and 255 -> +1 */
    uint8_t x[4] = {0, 255, 255, 0}, y[2] = {0, 1};
    dataset_t d = {2, 2, 2, x, y, 1.0f / 255.0f, 0.0f};
    dataset_t other = d;
    dataset_standardize(&other, &d);
    uint32_t idx[2] = {0, 1};
    float fx[4];
    int fy[2];
    batch_gather(&other, idx, 2, fx, fy);
    CHECK(fabsf(fx[0] + 1.0f) < 1e-6f && fabsf(fx[1] - 1.0f) < 1e-6f);
    CHECK(fabsf(fx[2] - 1.0f) < 1e-6f && fabsf(fx[3] + 1.0f) < 1e-6f);
    /* the reference's pixels, not d's own, decide */
    uint8_t flat[4] = {7, 7, 7, 7};
    dataset_t c = {2, 2, 2, flat, y, 1.0f / 255.0f, 0.0f};
    dataset_standardize(&c, &d);
    CHECK(c.scale == other.scale && c.offset == other.offset);
    /* a constant reference only centres */
    dataset_standardize(&d, &c);
    CHECK(d.scale == 1.0f / 255.0f && fabsf(d.offset + 7.0f / 255.0f) < 1e-7f);
}

static void test_gather(void) {
    uint8_t x[3 * 5] = {0, 255, 51, 1, 128, 10, 20, 30, 40, 50, 255, 255, 255, 255, 255};
    uint8_t y[3] = {7, 8, 9};
    dataset_t d = {3, 5, 10, x, y, 1.0f / 255.0f, 0.0f};
    uint32_t idx[4] = {2, 0, 0, 1};
    float fx[4 * 5];
    int fy[4];
    batch_gather(&d, idx, 4, fx, fy);
    CHECK(fy[0] == 9 && fy[1] == 7 && fy[2] == 7 && fy[3] == 8);
    for (int k = 0; k < 5; k++)
        CHECK(fx[k] == 1.0f);
    CHECK(fx[5] == 0.0f && fx[6] == 1.0f);
    CHECK(fx[7] > 0.19999f && fx[7] < 0.20001f);
    CHECK(fx[8] == 1.0f / 255.0f);
    CHECK(memcmp(fx + 5, fx + 10, 5 * sizeof(float)) == 0);
    CHECK(fx[19] == 50 * (1.0f / 255.0f));
    for (int v = 0; v < 256; v++) { /* every pixel value lands in [0, 1] */
        uint8_t px = (uint8_t)v, py = 0;
        dataset_t one = {1, 1, 10, &px, &py, 1.0f / 255.0f, 0.0f};
        uint32_t i0 = 0;
        float f;
        int l;
        batch_gather(&one, &i0, 1, &f, &l);
        CHECK(f >= 0.0f && f <= 1.0f && (v == 0 || f > 0.0f));
    }
}

static void test_fashion_mnist(void) {
    const char *dir = "/usr/share/datasets/fashion-mnist";
    struct stat st;
    if (stat(dir, &st) != 0) {
        printf("skipping Fashion-MNIST: %s not found\n", dir);
        return;
    }
    dataset_t tr, te;
    tdp_err_t err = {0};
    double t0 = tdp_now();
    int rc = dataset_load_dir(dir, 10, &tr, &te, &err);
    CHECK_MSG(rc == TDP_OK, "%s", err.msg);
    if (rc != TDP_OK)
        return;
    printf("Fashion-MNIST loaded in %.3f s, first train label %d\n", tdp_now() - t0, tr.y[0]);
    CHECK(tr.n == 60000 && te.n == 10000);
    CHECK(tr.dim == 784 && te.dim == 784 && tr.classes == 10);
    CHECK(tr.y[0] < 10);
    int ctr[10] = {0}, cte[10] = {0}, bad = 0;
    for (size_t i = 0; i < tr.n; i++)
        tr.y[i] < 10 ? ctr[tr.y[i]]++ : bad++;
    for (size_t i = 0; i < te.n; i++)
        te.y[i] < 10 ? cte[te.y[i]]++ : bad++;
    CHECK(bad == 0);
    for (int c = 0; c < 10; c++) {
        CHECK_MSG(ctr[c] == 6000, "train class %d: %d", c, ctr[c]);
        CHECK_MSG(cte[c] == 1000, "test class %d: %d", c, cte[c]);
    }
    dataset_free(&tr);
    dataset_free(&te);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_data.XXXXXX");
    TDP_DIE_IF(mkdtemp(tmpdir) == NULL, "mkdtemp");
    test_malformed();
    test_gzip_malformed();
    test_roundtrip();
    test_from_idx();
    test_load_dir();
    test_synthetic();
    test_epoch_order();
    test_batches();
    test_gather();
    test_standardize();
    test_fashion_mnist();
    cleanup();
    return check_summary();
}
