/* wcmp.c: compare two weight dumps (little-endian float32).
 *     wcmp A B [RTOL]    exit 0 when max|a - b| <= RTOL * max|b| (default 1e-5), else 1;
 *                        exit 2 when the files cannot be read or differ in size.
 * Prints the sizes, the max absolute and relative differences, and whether they are bitwise
 * identical. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static float *load(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) != 0) {
        perror(path);
        fclose(f);
        return NULL;
    }
    long len = ftell(f);
    rewind(f);
    if (len < 0 || len % 4 != 0) {
        fprintf(stderr, "%s: size %ld is not a whole number of floats\n", path, len);
        fclose(f);
        return NULL;
    }
    float *p = malloc((size_t)len + 4);
    if (p == NULL || fread(p, 1, (size_t)len, f) != (size_t)len) {
        fprintf(stderr, "%s: read failed\n", path);
        free(p);
        fclose(f);
        return NULL;
    }
    fclose(f);
    *n = (size_t)len / 4;
    return p;
}

int main(int argc, char **argv) {
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: wcmp A B [RTOL]\n");
        return 2;
    }
    double rtol = argc == 4 ? atof(argv[3]) : 1e-5;
    size_t na, nb;
    float *a = load(argv[1], &na), *b = load(argv[2], &nb);
    if (a == NULL || b == NULL || na != nb || na == 0) {
        if (a && b)
            fprintf(stderr, "wcmp: %zu floats vs %zu\n", na, nb);
        free(a);
        free(b);
        return 2;
    }
    double maxdiff = 0, maxb = 0;
    for (size_t i = 0; i < na; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= maxdiff))
            maxdiff = d; /* NaN propagates */
        if (fabs((double)b[i]) > maxb)
            maxb = fabs((double)b[i]);
    }
    int same = memcmp(a, b, na * 4) == 0;
    double rel = maxb > 0 ? maxdiff / maxb : maxdiff;
    printf("wcmp: %zu floats, max abs diff %.3g, relative %.3g (tolerance %.3g)%s\n", na, maxdiff,
           rel, rtol, same ? ", bitwise identical" : "");
    free(a);
    free(b);
    return rel <= rtol ? 0 : 1;
}
