/* data.h: datasets in memory as uint8 (from IDX files: idx.h), the synthetic set, per-epoch
 * shuffling and sharding by (rank, world). */
#ifndef TDP_DATA_H
#define TDP_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "idx.h"
#include "util.h"

typedef struct {
    size_t n;     /* samples */
    int dim;      /* features per sample (rows * cols for images) */
    int classes;  /* labels are < classes */
    uint8_t *x;   /* [n][dim] pixels 0..255 */
    uint8_t *y;   /* [n] labels */
    float scale;  /* a feature is pixel * scale + offset: 1/255 and 0 when loaded, */
    float offset; /* the training set's standardisation after dataset_standardize */
} dataset_t;

/* Load DIR/{train-images-idx3-ubyte,train-labels-idx1-ubyte,t10k-images-idx3-ubyte,
 * t10k-labels-idx1-ubyte}, each with or without .gz. Checks that image and label counts agree
 * and that every label is < classes. */
int dataset_load_dir(const char *dir, int classes, dataset_t *train, dataset_t *test,
                     tdp_err_t *err);
/* The path of the i-th file (0..DATASET_NFILES-1: train images, train labels, test images, test
 * labels) dataset_load_dir reads from dir: DIR/NAME, or DIR/NAME.gz when DIR/NAME does not exist.
 * Returns -1 when the path does not fit in len. */
enum { DATASET_NFILES = 4 };
int dataset_file(const char *dir, int i, char *path, size_t len);
/* Pair an images array (ndims 2 or 3) and a labels array (ndims 1) into a dataset. Takes
 * ownership of both arrays' data on success. `what` names the pair in messages. */
int dataset_from_idx(idx_array_t *images, idx_array_t *labels, int classes, const char *what,
                     dataset_t *out, tdp_err_t *err);

/* Deterministic synthetic classification set: `classes` class prototypes in [0,255]^dim from
 * `seed`, each sample a prototype plus noise, clamped to 0..255. Same bytes on every machine. */
int dataset_synthetic(uint64_t seed, size_t ntrain, size_t ntest, int dim, int classes,
                      dataset_t *train, dataset_t *test, tdp_err_t *err);

void dataset_free(dataset_t *d);

/* Standardise d's features with the pixel statistics of ref (the training set), as torchvision's
 * Normalize((mean,), (std,)) after ToTensor does: feature = (pixel / 255 - mean) / std, applied
 * as pixel * scale + offset with, computed in double from exact integer sums over ref,
 *     mean = S1 / (N * 255),  std = sqrt(S2 / (N * 255^2) - mean^2),
 *     scale = (float)(1 / (255 * std)),  offset = (float)(-mean / std).
 * A constant ref (std 0) only centres: scale 1/255, offset -mean. */
void dataset_standardize(dataset_t *d, const dataset_t *ref);

/* The order of one epoch: identity permutation of [0, n) shuffled with an RNG seeded from
 * (seed, epoch); identical on every rank and machine. */
void epoch_order(uint64_t seed, int epoch, uint32_t *order, size_t n);

/* Global batches per epoch: the final partial global batch is dropped (drop_last). */
size_t batches_per_epoch(size_t n, size_t global_batch);

/* Shard of a global batch: worker `rank` of `world` takes the contiguous slice
 * [rank * per_worker, (rank + 1) * per_worker) of global batch `b` of the epoch order, as
 * PyTorch's DistributedSampler does per batch. Returns a pointer into `order`. */
const uint32_t *batch_shard(const uint32_t *order, size_t b, size_t per_worker, int rank,
                            int world);

/* Ask the cache for the pixel rows of samples idx[0..count) (the next batch, during this one). */
void batch_prefetch(const dataset_t *d, const uint32_t *idx, size_t count);

/* Convert the samples idx[0..count) to features x[i][k] = pixel * d->scale + d->offset (two
 * float roundings, no fused multiply-add) and labels. */
void batch_gather(const dataset_t *d, const uint32_t *idx, size_t count, float *x, int *y);

#endif
