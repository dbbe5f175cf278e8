/* blas.c: thin wrappers over OpenBLAS's cblas. */
#include "blas.h"

#include <cblas.h>

void blas_sgemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                const float *b, int ldb, float beta, float *c, int ldc) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
                k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void blas_set_threads(int n) {
    openblas_set_num_threads(n);
}

int blas_get_threads(void) {
    return openblas_get_num_threads();
}

const char *blas_config(void) {
    return openblas_get_config();
}
