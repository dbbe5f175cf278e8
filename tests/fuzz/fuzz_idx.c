/* fuzz_idx.c: libFuzzer harness for the IDX parser (an image already in memory). */
#include <stddef.h>
#include <stdint.h>

#include "data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    idx_array_t a;
    tdp_err_t err;
    if (idx_parse(data, size, "fuzz", &a, &err) == TDP_OK) {
        /* a success must describe exactly the bytes it holds */
        size_t n = 1;
        for (int i = 0; i < a.ndims; i++)
            n *= a.dims[i];
        if (n != a.nbytes || (n && a.data == NULL))
            __builtin_trap();
        idx_free(&a);
    }
    return 0;
}
