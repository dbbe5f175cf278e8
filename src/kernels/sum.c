/* sum.c: the notebook's summing loop (see sum.h). */
#include "sum.h"

uint64_t kern_sum_count(uint64_t n, const kern_lock_t *lock) {
    uint64_t res = 0;
    while (n > 0) {
        uint64_t stop = n > KERN_SUM_CHECK_EVERY ? n - KERN_SUM_CHECK_EVERY : 0;
        while (n > stop) {
            res += n;
            n -= 1;
            /* an optimisation barrier per iteration: res and n are "used and changed" here */
            __asm__ volatile("" : "+r"(res), "+r"(n));
        }
        kern_lock_check(lock);
    }
    return res;
}
