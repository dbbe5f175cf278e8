/* leak_probe.c: loses one block of memory after starting Open MPI, the way a bug in tinyddp
 * would. tests/san/test_leak_probe.sh expects LeakSanitizer to report it under the options and
 * suppressions of the AddressSanitizer test run: the check that those suppressions, which hide
 * Open MPI's own allocations, do not also hide the program's. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *volatile sink;

static __attribute__((noinline)) void tdp_leak_probe_lose(size_t bytes) {
    char *block = malloc(bytes);
    if (!block) {
        fprintf(stderr, "%s:%d: malloc(%zu) failed\n", __FILE__, __LINE__, bytes);
        exit(1);
    }
    memset(block, 1, bytes);
    sink = block;
    sink = NULL; /* the only pointer to the block is gone */
}

int main(int argc, char **argv) {
    int provided = 0;
    if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        fprintf(stderr, "%s:%d: MPI_Init_thread failed\n", __FILE__, __LINE__);
        return 1;
    }
    tdp_leak_probe_lose(4321);
    if (MPI_Finalize() != MPI_SUCCESS) {
        fprintf(stderr, "%s:%d: MPI_Finalize failed\n", __FILE__, __LINE__);
        return 1;
    }
    return 0;
}
