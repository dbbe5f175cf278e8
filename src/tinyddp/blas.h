/* blas.h: the one place that calls cblas. Row-major single precision only. */
#ifndef TDP_BLAS_H
#define TDP_BLAS_H

/* C[m][n] = alpha * op(A) * op(B) + beta * C, row-major; ta/tb non-zero = transpose. lda, ldb
 * and ldc are the row strides of A, B and C as stored. */
void blas_sgemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                const float *b, int ldb, float beta, float *c, int ldc);

/* Threads OpenBLAS may use in this process (1 per rank or worker thread); with another CBLAS
 * (-DBLA_VENDOR=...) a no-op, and blas_get_threads says 1. */
void blas_set_threads(int n);
int blas_get_threads(void);
/* What BLAS runs: OpenBLAS's build description and the core whose kernels it picked (read from
 * OpenBLAS, never from OPENBLAS_CORETYPE), for the configuration printout and the JSON. */
const char *blas_config(void);

#endif
