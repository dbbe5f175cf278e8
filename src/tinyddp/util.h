/* util.h: error reporting, check macros and clocks shared by the library and the programs.
 *
 * Library functions return an int status (TDP_OK, TDP_EINPUT for bad user input such as a
 * malformed file or option, TDP_ERUNTIME for failures of the system) and describe the problem in
 * a tdp_err_t. Programs decide what to do with it: exit status 2 for TDP_EINPUT, 1 otherwise.
 */
#ifndef TDP_UTIL_H
#define TDP_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum { TDP_OK = 0, TDP_ERUNTIME = 1, TDP_EINPUT = 2 };

#define TDP_ERRLEN 512

typedef struct {
    int code;             /* TDP_OK, TDP_EINPUT or TDP_ERUNTIME */
    char msg[TDP_ERRLEN]; /* one line, no trailing newline */
} tdp_err_t;

/* Fill err (may be NULL) with a formatted message; return code. */
int tdp_fail(tdp_err_t *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Like tdp_fail with code TDP_ERUNTIME, prefixed by the source file and line and followed by
 * strerror(errno_value) when errno_value is non-zero. Used by the check macros below. */
int tdp_fail_sys(tdp_err_t *err, const char *file, int line, int errno_value, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Check macros for library code: on failure they fill `err` (a tdp_err_t *) and return from the
 * calling function with TDP_ERUNTIME. The caller must not leak: use them before acquiring other
 * resources, or use the _GOTO forms that jump to a cleanup label with `rc` set. */
#define TDP_MALLOC(ptr, bytes, err)                                                                \
    do {                                                                                           \
        (ptr) = malloc(bytes);                                                                     \
        if ((ptr) == NULL && (bytes) != 0)                                                         \
            return tdp_fail_sys((err), __FILE__, __LINE__, 0,                                      \
                                "out of memory allocating %zu bytes", (size_t)(bytes));            \
    } while (0)

#define TDP_MALLOC_GOTO(ptr, bytes, err, rc, label)                                                \
    do {                                                                                           \
        (ptr) = malloc(bytes);                                                                     \
        if ((ptr) == NULL && (bytes) != 0) {                                                       \
            (rc) = tdp_fail_sys((err), __FILE__, __LINE__, 0,                                      \
                                "out of memory allocating %zu bytes", (size_t)(bytes));            \
            goto label;                                                                            \
        }                                                                                          \
    } while (0)

/* For pthread_* calls, which return the error number instead of setting errno. */
#define TDP_PTHREAD(call, err)                                                                     \
    do {                                                                                           \
        int tdp_rc_ = (call);                                                                      \
        if (tdp_rc_ != 0)                                                                          \
            return tdp_fail_sys((err), __FILE__, __LINE__, tdp_rc_, "%s", #call);                  \
    } while (0)

/* Program-side check: print "file:line: what: strerror" and exit(1). For programs only. */
#define TDP_DIE_IF(cond, what)                                                                     \
    do {                                                                                           \
        if (cond)                                                                                  \
            tdp_die(__FILE__, __LINE__, (what));                                                   \
    } while (0)
void tdp_die(const char *file, int line, const char *what) __attribute__((noreturn));

/* What kind of file a st_mode is, for messages: "a FIFO", "a directory", "a character device"... */
const char *tdp_file_kind(mode_t mode);

/* Open an input file for reading without ever blocking. Only a regular file is accepted: a FIFO,
 * a directory, a device or a socket is refused (TDP_EINPUT, "WHAT PATH: not a regular file (a
 * FIFO)") before anything could block: stat first, then open with O_NONBLOCK and fstat the
 * descriptor (the file may have been replaced in between), then clear O_NONBLOCK. A file that
 * cannot be opened gives "cannot open WHAT PATH: strerror" (TDP_EINPUT; TDP_ERUNTIME when the
 * system is out of memory or descriptors). WHAT names the file's role ("--model", "checkpoint")
 * and may be NULL. On success *fd is the open descriptor (O_RDONLY | O_CLOEXEC, blocking).
 * With fd NULL it only checks: an existing file that is not a regular file is refused, and a
 * missing or unreadable one is left to the open that follows. */
int tdp_open_input(const char *what, const char *path, int *fd, tdp_err_t *err);

/* Bytes of memory available to a new allocation (MemAvailable of /proc/meminfo); 0 if unknown. */
uint64_t tdp_mem_available(void);

/* Monotonic wall clock in seconds. */
double tdp_now(void);

/* Overflow-checked size arithmetic: return 0 and set *out, or return -1 on overflow. */
int tdp_mul_size(size_t a, size_t b, size_t *out);

/* n floats as one block of whole 64-byte cache lines, 64-byte aligned (SIMD loads; workers'
 * buffers share no line): tdp_floats_bytes is the size of such a block (0 floats take one line;
 * SIZE_MAX when it overflows), tdp_floats_new allocates one, uninitialised (NULL when out of
 * memory; free with free). The one aligned allocation of the library and the programs. */
size_t tdp_floats_bytes(size_t n);
float *tdp_floats_new(size_t n);
int tdp_add_size(size_t a, size_t b, size_t *out);

/* FNV-1a 64-bit hash, chainable through `h` (start with TDP_FNV_INIT). */
#define TDP_FNV_INIT 0xcbf29ce484222325ULL
uint64_t tdp_fnv1a(uint64_t h, const void *data, size_t len);

#endif
