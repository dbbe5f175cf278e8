/* util.c: error formatting, clocks, checked arithmetic, hashing. */
#define _POSIX_C_SOURCE 200809L
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int tdp_fail(tdp_err_t *err, int code, const char *fmt, ...) {
    if (err != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

int tdp_fail_sys(tdp_err_t *err, const char *file, int line, int errno_value, const char *fmt,
                 ...) {
    if (err != NULL) {
        char what[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof what, fmt, ap);
        va_end(ap);
        if (errno_value != 0)
            snprintf(err->msg, sizeof err->msg, "%s:%d: %s: %s", file, line, what,
                     strerror(errno_value));
        else
            snprintf(err->msg, sizeof err->msg, "%s:%d: %s", file, line, what);
        err->code = TDP_ERUNTIME;
    }
    return TDP_ERUNTIME;
}

void tdp_die(const char *file, int line, const char *what) {
    int e = errno;
    fprintf(stderr, "%s:%d: %s: %s\n", file, line, what, e ? strerror(e) : "failed");
    exit(1);
}

const char *tdp_file_kind(mode_t mode) {
    return S_ISREG(mode)    ? "a regular file"
           : S_ISDIR(mode)  ? "a directory"
           : S_ISFIFO(mode) ? "a FIFO"
           : S_ISCHR(mode)  ? "a character device"
           : S_ISBLK(mode)  ? "a block device"
           : S_ISSOCK(mode) ? "a socket"
           : S_ISLNK(mode)  ? "a symbolic link"
                            : "not a file";
}

static int open_failed(const char *what, const char *sp, const char *path, int e, tdp_err_t *err) {
    int code = (e == ENOMEM || e == EMFILE || e == ENFILE) ? TDP_ERUNTIME : TDP_EINPUT;
    return tdp_fail(err, code, "cannot open %s%s%s: %s", what, sp, path, strerror(e));
}

int tdp_open_input(const char *what, const char *path, int *fd, tdp_err_t *err) {
    const char *sp = what != NULL && what[0] != '\0' ? " " : "";
    if (what == NULL)
        what = "";
    if (fd != NULL)
        *fd = -1;
    struct stat st;
    if (stat(path, &st) != 0)
        return fd == NULL ? TDP_OK : open_failed(what, sp, path, errno, err);
    if (!S_ISREG(st.st_mode))
        return tdp_fail(err, TDP_EINPUT, "%s%s%s: not a regular file (%s)", what, sp, path,
                        tdp_file_kind(st.st_mode));
    if (fd == NULL)
        return TDP_OK;
    /* O_NONBLOCK: a FIFO put in its place since the stat opens at once instead of waiting for
     * a writer; the fstat below then refuses it */
    int f = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (f < 0)
        return open_failed(what, sp, path, errno, err);
    if (fstat(f, &st) != 0) {
        int e = errno;
        close(f);
        return tdp_fail_sys(err, __FILE__, __LINE__, e, "fstat %s", path);
    }
    if (!S_ISREG(st.st_mode)) {
        close(f);
        return tdp_fail(err, TDP_EINPUT, "%s%s%s: not a regular file (%s)", what, sp, path,
                        tdp_file_kind(st.st_mode));
    }
    int fl = fcntl(f, F_GETFL);
    if (fl < 0 || fcntl(f, F_SETFL, fl & ~O_NONBLOCK) != 0) {
        int e = errno;
        close(f);
        return tdp_fail_sys(err, __FILE__, __LINE__, e, "fcntl %s", path);
    }
    *fd = f;
    return TDP_OK;
}

uint64_t tdp_mem_available(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (f == NULL)
        return 0;
    char line[256];
    unsigned long long kb = 0;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
            break;
    fclose(f);
    return (uint64_t)kb * 1024;
}

double tdp_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int tdp_mul_size(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a)
        return -1;
    *out = a * b;
    return 0;
}

size_t tdp_floats_bytes(size_t n) {
    size_t bytes;
    if (tdp_mul_size(n, sizeof(float), &bytes) != 0 || bytes > SIZE_MAX - 63)
        return SIZE_MAX;
    bytes = (bytes + 63) & ~(size_t)63;
    return bytes ? bytes : 64;
}

float *tdp_floats_new(size_t n) {
    size_t bytes = tdp_floats_bytes(n);
    return bytes == SIZE_MAX ? NULL : aligned_alloc(64, bytes);
}

int tdp_add_size(size_t a, size_t b, size_t *out) {
    if (b > SIZE_MAX - a)
        return -1;
    *out = a + b;
    return 0;
}

uint64_t tdp_fnv1a(uint64_t h, const void *data, size_t len) {
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}
