/* data.c: datasets in memory, the synthetic set, epoch order and sharding (the IDX files
 * themselves: idx.c).
 *
 * Random streams (all splitmix64, rng.h) are derived from a seed by
 *     derive(s) = the first output of splitmix64 started at state s
 * (that is: rng_seed(&m, s); rng_seed(&r, rng_next(&m))), so that nearby seeds give unrelated
 * streams. */
#include "data.h"

#include <math.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rng.h"

/* ---- datasets ---- */

int dataset_from_idx(idx_array_t *images, idx_array_t *labels, int classes, const char *what,
                     dataset_t *out, tdp_err_t *err) {
    memset(out, 0, sizeof *out);
    if (classes < 1 || classes > 256)
        return tdp_fail(err, TDP_EINPUT, "%s: bad number of classes %d (must be 1..256)", what,
                        classes);
    if (images->ndims != 2 && images->ndims != 3)
        return tdp_fail(err, TDP_EINPUT,
                        "%s: images must have 2 or 3 dimensions (items x features or items x "
                        "rows x cols), got %d",
                        what, images->ndims);
    if (labels->ndims != 1)
        return tdp_fail(err, TDP_EINPUT, "%s: labels must have 1 dimension, got %d", what,
                        labels->ndims);
    size_t n = images->dims[0];
    size_t dim = images->dims[1];
    if (images->ndims == 3 && tdp_mul_size(dim, images->dims[2], &dim) != 0)
        dim = SIZE_MAX;
    if (n != labels->dims[0])
        return tdp_fail(err, TDP_EINPUT, "%s: %zu images but %u labels", what, n,
                        (unsigned)labels->dims[0]);
    if (n == 0)
        return tdp_fail(err, TDP_EINPUT, "%s: no samples", what);
    if (dim == 0)
        return tdp_fail(err, TDP_EINPUT, "%s: images have 0 features", what);
    if (dim > INT_MAX)
        return tdp_fail(err, TDP_EINPUT, "%s: %zu features per image is too many", what, dim);
    size_t want;
    if (tdp_mul_size(n, dim, &want) != 0 || want != images->nbytes || labels->nbytes != n ||
        images->data == NULL || labels->data == NULL)
        return tdp_fail(err, TDP_EINPUT, "%s: inconsistent IDX arrays", what);
    for (size_t i = 0; i < n; i++)
        if (labels->data[i] >= classes)
            return tdp_fail(err, TDP_EINPUT,
                            "%s: label %u at index %zu is out of range (must be < %d classes)",
                            what, (unsigned)labels->data[i], i, classes);
    out->n = n;
    out->dim = (int)dim;
    out->classes = classes;
    out->scale = 1.0f / 255.0f;
    out->offset = 0.0f;
    out->x = images->data;
    out->y = labels->data;
    images->data = NULL;
    images->nbytes = 0;
    labels->data = NULL;
    labels->nbytes = 0;
    return TDP_OK;
}

void dataset_free(dataset_t *d) {
    if (d == NULL)
        return;
    free(d->x);
    free(d->y);
    memset(d, 0, sizeof *d);
}

static const char *const dataset_names[DATASET_NFILES] = {
    "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte"};

int dataset_file(const char *dir, int i, char *path, size_t len) {
    struct stat st;
    int w = snprintf(path, len, "%s/%s", dir, dataset_names[i]);
    if (w < 0 || (size_t)w + 3 >= len)
        return -1;
    if (stat(path, &st) != 0 && errno == ENOENT)
        strcat(path, ".gz");
    return 0;
}

/* DIR/NAME or DIR/NAME.gz (dataset_file), which must exist; fills path. */
static int find_file(const char *dir, int i, char *path, size_t len, tdp_err_t *err) {
    struct stat st;
    if (dataset_file(dir, i, path, len) != 0)
        return tdp_fail(err, TDP_EINPUT, "%s: path too long", dir);
    if (stat(path, &st) == 0 || errno != ENOENT)
        return TDP_OK; /* exists, or cannot be examined: idx_read says why */
    return tdp_fail(err, TDP_EINPUT, "%s: missing %s (also tried %s.gz)", dir, dataset_names[i],
                    dataset_names[i]);
}

/* The images (file i) and labels (file i + 1) of one set. */
static int load_pair(const char *dir, int i, int classes, dataset_t *out, tdp_err_t *err) {
    char img_path[4096], lab_path[4096], what[8192 + 8];
    idx_array_t img = {0}, lab = {0};
    int rc = find_file(dir, i, img_path, sizeof img_path, err);
    if (rc == TDP_OK)
        rc = find_file(dir, i + 1, lab_path, sizeof lab_path, err);
    if (rc == TDP_OK)
        rc = idx_read(img_path, &img, err);
    if (rc == TDP_OK)
        rc = idx_read(lab_path, &lab, err);
    if (rc == TDP_OK) {
        snprintf(what, sizeof what, "%s and %s", img_path, lab_path);
        rc = dataset_from_idx(&img, &lab, classes, what, out, err);
    }
    idx_free(&img);
    idx_free(&lab);
    return rc;
}

int dataset_load_dir(const char *dir, int classes, dataset_t *train, dataset_t *test,
                     tdp_err_t *err) {
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    struct stat st;
    if (stat(dir, &st) != 0) {
        int e = errno;
        return tdp_fail(err, TDP_EINPUT, "%s: cannot open data directory: %s", dir, strerror(e));
    }
    if (!S_ISDIR(st.st_mode))
        return tdp_fail(err, TDP_EINPUT, "%s: not a directory", dir);
    int rc = load_pair(dir, 0, classes, train, err);
    if (rc == TDP_OK)
        rc = load_pair(dir, 2, classes, test, err);
    if (rc == TDP_OK && train->dim != test->dim)
        rc = tdp_fail(err, TDP_EINPUT, "%s: train images have %d features but test images have %d",
                      dir, train->dim, test->dim);
    if (rc != TDP_OK) {
        dataset_free(train);
        dataset_free(test);
    }
    return rc;
}

/* ---- synthetic set ----
 *
 * With derive(s) as at the top of this file and G = 0x9e3779b97f4a7c15:
 *   prototypes: r = derive(seed ^ 0x6a09e667f3bcc908); for c in [0, classes), k in [0, dim):
 *               proto[c][k] = rng_next(r) >> 56                      (uniform 0..255)
 *   train set:  r = derive(seed ^ 0xbb67ae8584caa73b); test set: r = derive(seed ^
 *               0x3c6ef372fe94f82b); for each sample i in order:
 *               y = rng_below(r, classes); then for k in [0, dim):
 *                 u = rng_next(r); s = sum of the four 16-bit fields of u       (0..262140)
 *                 noise = ((s * 104 + 32768) >> 16) - 208                       (-208..208)
 *                 x[i][k] = clamp(proto[y][k] + noise, 0, 255)
 * s is an Irwin-Hall sum of four uniforms, close to gaussian; the noise has mean ~0 and standard
 * deviation ~60. Integer arithmetic only, so the bytes are the same on every machine. */

static void rng_derive(tdp_rng_t *r, uint64_t s) {
    tdp_rng_t m;
    rng_seed(&m, s);
    rng_seed(r, rng_next(&m));
}

/* rng_next (rng.c) written out so that the compiler can inline and unroll the pixel loop: the
 * k-th output after state s only depends on s + k * G. test_data checks the result against
 * rng_next. */
static inline uint64_t splitmix_at(uint64_t state) {
    uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void synth_fill(tdp_rng_t *r, const uint8_t *proto, size_t n, int dim, int classes,
                       uint8_t *x, uint8_t *y) {
    const uint64_t G = 0x9e3779b97f4a7c15ULL;
    /* clamp_tab[t] = clamp(t - 208, 0, 255) for t = pixel + noise + 208 in 0..255 + 416 */
    uint8_t clamp_tab[256 + 417];
    for (int t = 0; t < (int)sizeof clamp_tab; t++)
        clamp_tab[t] = (uint8_t)(t < 208 ? 0 : t - 208 > 255 ? 255 : t - 208);
    for (size_t i = 0; i < n; i++) {
        uint32_t c = rng_below(r, (uint32_t)classes);
        const uint8_t *p = proto + (size_t)c * (size_t)dim;
        uint8_t *row = x + i * (size_t)dim;
        y[i] = (uint8_t)c;
        const uint64_t base = r->state;
        r->state = base + G * (uint64_t)dim;
        for (int k = 0; k < dim; k++) {
            uint64_t u = splitmix_at(base + G * (uint64_t)(k + 1));
            uint32_t s = (uint32_t)(u & 0xffff) + (uint32_t)((u >> 16) & 0xffff) +
                         (uint32_t)((u >> 32) & 0xffff) + (uint32_t)(u >> 48);
            /* clamp(p + noise, 0, 255) through a table, without unpredictable branches */
            row[k] = clamp_tab[(uint32_t)p[k] + ((s * 104u + 32768u) >> 16)];
        }
    }
}

int dataset_synthetic(uint64_t seed, size_t ntrain, size_t ntest, int dim, int classes,
                      dataset_t *train, dataset_t *test, tdp_err_t *err) {
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    if (dim <= 0)
        return tdp_fail(err, TDP_EINPUT, "synthetic data: bad dimension %d (must be > 0)", dim);
    if (classes < 2 || classes > 256)
        return tdp_fail(err, TDP_EINPUT,
                        "synthetic data: bad number of classes %d (must be 2..256)", classes);
    if (ntrain == 0)
        return tdp_fail(err, TDP_EINPUT, "synthetic data: no training samples");
    if (ntrain > UINT32_MAX || ntest > UINT32_MAX)
        return tdp_fail(err, TDP_EINPUT, "synthetic data: too many samples (at most %u)",
                        (unsigned)UINT32_MAX);
    size_t ptotal, xtrain, xtest;
    if (tdp_mul_size((size_t)classes, (size_t)dim, &ptotal) != 0 ||
        tdp_mul_size(ntrain, (size_t)dim, &xtrain) != 0 ||
        tdp_mul_size(ntest, (size_t)dim, &xtest) != 0)
        return tdp_fail(err, TDP_EINPUT, "synthetic data: %zu + %zu samples of %d overflow", ntrain,
                        ntest, dim);

    int rc = TDP_OK;
    uint8_t *proto = NULL;
    TDP_MALLOC_GOTO(proto, ptotal, err, rc, fail);
    TDP_MALLOC_GOTO(train->x, xtrain, err, rc, fail);
    TDP_MALLOC_GOTO(train->y, ntrain, err, rc, fail);
    TDP_MALLOC_GOTO(test->x, xtest ? xtest : 1, err, rc, fail);
    TDP_MALLOC_GOTO(test->y, ntest ? ntest : 1, err, rc, fail);

    tdp_rng_t r;
    rng_derive(&r, seed ^ 0x6a09e667f3bcc908ULL);
    for (size_t i = 0; i < ptotal; i++)
        proto[i] = (uint8_t)(rng_next(&r) >> 56);
    rng_derive(&r, seed ^ 0xbb67ae8584caa73bULL);
    synth_fill(&r, proto, ntrain, dim, classes, train->x, train->y);
    rng_derive(&r, seed ^ 0x3c6ef372fe94f82bULL);
    synth_fill(&r, proto, ntest, dim, classes, test->x, test->y);
    free(proto);

    train->n = ntrain;
    train->dim = dim;
    train->classes = classes;
    train->scale = test->scale = 1.0f / 255.0f;
    train->offset = test->offset = 0.0f;
    test->n = ntest;
    test->dim = dim;
    test->classes = classes;
    return TDP_OK;

fail:
    free(proto);
    dataset_free(train);
    dataset_free(test);
    return rc;
}

/* ---- epoch order and sharding ----
 *
 * epoch_order: r = derive(seed ^ (0x9e3779b97f4a7c15 * (epoch + 1) mod 2^64)), i.e.
 *     rng_seed(&m, seed ^ (0x9e3779b97f4a7c15ULL * ((uint64_t)epoch + 1)));
 *     rng_seed(&r, rng_next(&m));
 * then order = [0, 1, ..., n-1] shuffled by rng_shuffle_u32 (Fisher-Yates: for i = n-1 down to
 * 1, j = rng_below(r, i + 1) = ((rng_next(r) >> 32) * (i + 1)) >> 32, swap order[i], order[j]).
 * The extra derive step keeps consecutive epochs from sharing a shifted splitmix stream (which
 * seed ^ G * (epoch + 1) alone would give for seed 0). */
void epoch_order(uint64_t seed, int epoch, uint32_t *order, size_t n) {
    tdp_rng_t r;
    rng_derive(&r, seed ^ (0x9e3779b97f4a7c15ULL * ((uint64_t)(int64_t)epoch + 1)));
    for (size_t i = 0; i < n; i++)
        order[i] = (uint32_t)i;
    rng_shuffle_u32(&r, order, n);
}

size_t batches_per_epoch(size_t n, size_t global_batch) {
    return global_batch == 0 ? 0 : n / global_batch;
}

const uint32_t *batch_shard(const uint32_t *order, size_t b, size_t per_worker, int rank,
                            int world) {
    return order + b * per_worker * (size_t)world + (size_t)rank * per_worker;
}

void batch_prefetch(const dataset_t *d, const uint32_t *idx, size_t count) {
    const size_t dim = (size_t)d->dim;
    for (size_t i = 0; i < count; i++)
        for (size_t k = 0; k < dim; k += 64)
            __builtin_prefetch(d->x + (size_t)idx[i] * dim + k);
}

void batch_gather(const dataset_t *d, const uint32_t *idx, size_t count, float *x, int *y) {
    const size_t dim = (size_t)d->dim;
    const float scale = d->scale, offset = d->offset;
    /* rows are scattered over the whole set: fetch row i + AHEAD while converting row i */
    enum { AHEAD = 4 };
    for (size_t i = 0; i < count && i < AHEAD; i++)
        for (size_t k = 0; k < dim; k += 64)
            __builtin_prefetch(d->x + (size_t)idx[i] * dim + k);
    for (size_t i = 0; i < count; i++) {
        if (i + AHEAD < count)
            for (size_t k = 0; k < dim; k += 64)
                __builtin_prefetch(d->x + (size_t)idx[i + AHEAD] * dim + k);
        const uint8_t *restrict src = d->x + (size_t)idx[i] * dim;
        float *restrict dst = x + i * dim;
        for (size_t k = 0; k < dim; k++) {
            float v = (float)src[k] * scale;
            dst[k] = v + offset;
        }
        y[i] = d->y[idx[i]];
    }
}

void dataset_standardize(dataset_t *d, const dataset_t *ref) {
    /* exact integer sums: 255^2 * 2^40 samples x features fits in 64 bits */
    uint64_t s1 = 0, s2 = 0;
    size_t total = ref->n * (size_t)ref->dim;
    for (size_t i = 0; i < total; i++) {
        uint64_t p = ref->x[i];
        s1 += p;
        s2 += p * p;
    }
    if (total == 0)
        return;
    double n = (double)total;
    double mean = (double)s1 / (n * 255.0);
    double var = (double)s2 / (n * 255.0 * 255.0) - mean * mean;
    double std = var > 0 ? sqrt(var) : 0.0;
    if (std > 1e-6) {
        d->scale = (float)(1.0 / (255.0 * std));
        d->offset = (float)(-mean / std);
    } else {
        d->scale = 1.0f / 255.0f;
        d->offset = (float)-mean;
    }
}
