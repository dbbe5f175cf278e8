/* sum.h: the notebook's count(n): res += n; n -= 1 until n is 0, so n (n + 1) / 2.
 *
 * The loop runs n iterations: an empty asm statement that claims to read and change res and n
 * stands between iterations, so the compiler can neither replace the loop by the closed form
 * nor vectorise it, and the time grows linearly with n (scripts/seed-table.sh shows it). */
#ifndef TDP_KERN_SUM_H
#define TDP_KERN_SUM_H

#include <stdint.h>

#include "lock.h"

/* n (n + 1) / 2 must fit 64 bits: n is at most this. */
#define KERN_SUM_MAX_N 6000000000ULL

/* Iterations between two lock check points. */
#define KERN_SUM_CHECK_EVERY 1024

/* count(n), calling kern_lock_check(lock) every KERN_SUM_CHECK_EVERY iterations. */
uint64_t kern_sum_count(uint64_t n, const kern_lock_t *lock);

#endif
