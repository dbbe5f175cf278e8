/* version.h: what build this is, for --version and the records a run writes. */
#ifndef TDP_VERSION_H
#define TDP_VERSION_H

#include <stdio.h>

/* "0.1.0 (commit 5fc3241abcde)", or "0.1.0" when built outside a git checkout; the commit ends
 * in "-dirty" when tracked files differed from it. */
const char *tdp_version(void);

/* Print "PROG VERSION" and the BLAS library's description to f. */
void tdp_print_version(FILE *f, const char *prog);

#endif
