/* version.c: the version and commit written by cmake/version.cmake at build time. */
#include "version.h"

#include "blas.h"
#include "version_info.h"

const char *tdp_version(void) {
    return TDP_COMMIT[0] ? TDP_VERSION " (commit " TDP_COMMIT ")" : TDP_VERSION;
}

void tdp_print_version(FILE *f, const char *prog) {
    fprintf(f, "%s %s\nblas: %s\n", prog, tdp_version(), blas_config());
}
