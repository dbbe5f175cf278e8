/* fuzz_idx_file.c: libFuzzer harness for the IDX file reader, plain or gzip (the input is
 * written to an anonymous memory file and read back through its /proc path, so zlib's stream
 * handling, truncated and corrupted gzip included, is exercised). */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int fd = memfd_create("fuzz-idx", 0);
    if (fd < 0)
        return 0;
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(fd, data + off, size - off);
        if (w <= 0) {
            close(fd);
            return 0;
        }
        off += (size_t)w;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    idx_array_t a;
    tdp_err_t err;
    if (idx_read(path, &a, &err) == TDP_OK)
        idx_free(&a);
    close(fd);
    return 0;
}
