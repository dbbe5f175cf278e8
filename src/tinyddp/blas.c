/* blas.c: thin wrappers over cblas. OpenBLAS is the default; with another CBLAS (built with
 * -DBLA_VENDOR=...) the thread count is the library's own and the configuration says which
 * library it is. */
#include "blas.h"

#include <cblas.h>
#include <stdio.h>

void blas_sgemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                const float *b, int ldb, float beta, float *c, int ldc) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
                k, alpha, a, lda, b, ldb, beta, c, ldc);
}

#ifdef TDP_OPENBLAS
void blas_set_threads(int n) {
    openblas_set_num_threads(n);
}

int blas_get_threads(void) {
    return openblas_get_num_threads();
}

const char *blas_config(void) {
    static char buf[256];
    if (buf[0] == '\0') {
        /* what OpenBLAS runs: its build, and the kernels it picked for this processor (or that
         * OPENBLAS_CORETYPE forced) */
        const char *cfg = openblas_get_config(), *core = openblas_get_corename();
        snprintf(buf, sizeof buf, "%s, core %s", cfg ? cfg : "OpenBLAS (no config)",
                 core ? core : "unknown");
    }
    return buf;
}
#else
void blas_set_threads(int n) {
    (void)n; /* a generic CBLAS has no portable thread control: its own default applies */
}

int blas_get_threads(void) {
    return 1;
}

const char *blas_config(void) {
    return "CBLAS (not OpenBLAS; " TDP_BLAS_NAME ")";
}
#endif
