/* check.h: check macros for the kernels' system calls, in the error convention of util.h.
 *
 * Each macro evaluates a call once; on failure it fills `err` (a tdp_err_t *) with the file, the
 * line, the call's text and the system's reason, and either returns TDP_ERUNTIME from the calling
 * function or (the _GOTO forms) sets `rc` and jumps to a cleanup label. */
#ifndef TDP_KERN_CHECK_H
#define TDP_KERN_CHECK_H

#include <errno.h>

#include "util.h"

/* Calls that return -1 and set errno (fork, pipe, socket, bind, ...). */
#define KERN_SYS(call, err)                                                                        \
    do {                                                                                           \
        if ((call) == -1)                                                                          \
            return tdp_fail_sys((err), __FILE__, __LINE__, errno, "%s", #call);                    \
    } while (0)

#define KERN_SYS_GOTO(call, err, rc, label)                                                        \
    do {                                                                                           \
        if ((call) == -1) {                                                                        \
            (rc) = tdp_fail_sys((err), __FILE__, __LINE__, errno, "%s", #call);                    \
            goto label;                                                                            \
        }                                                                                          \
    } while (0)

/* pthread_* calls, which return the error number. */
#define KERN_PT_GOTO(call, err, rc, label)                                                         \
    do {                                                                                           \
        int kern_e_ = (call);                                                                      \
        if (kern_e_ != 0) {                                                                        \
            (rc) = tdp_fail_sys((err), __FILE__, __LINE__, kern_e_, "%s", #call);                  \
            goto label;                                                                            \
        }                                                                                          \
    } while (0)

/* calloc with the size check of util.h's TDP_MALLOC (zeroed memory, overflow-checked count). */
#define KERN_CALLOC_GOTO(ptr, count, err, rc, label)                                               \
    do {                                                                                           \
        size_t kern_n_ = (size_t)(count);                                                          \
        (ptr) = calloc(kern_n_ ? kern_n_ : 1, sizeof *(ptr));                                      \
        if ((ptr) == NULL) {                                                                       \
            (rc) = tdp_fail_sys((err), __FILE__, __LINE__, 0,                                      \
                                "out of memory allocating %zu x %zu", kern_n_, sizeof *(ptr));     \
            goto label;                                                                            \
        }                                                                                          \
    } while (0)

#endif
