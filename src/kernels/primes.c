/* primes.c: prime counting by trial division (see primes.h). */
#include "primes.h"

int kern_is_prime(uint32_t n) {
    if (n <= 1)
        return 0;
    /* i <= sqrt(n) as i * i <= n, in 64 bits so that i * i cannot wrap */
    for (uint32_t i = 2; (uint64_t)i * i <= n; i++)
        if (n % i == 0)
            return 0;
    return 1;
}

uint64_t kern_count_primes_range(uint64_t start, uint64_t end, const kern_lock_t *lock) {
    uint64_t count = 0;
    if (end > KERN_PRIMES_MAX_LIMIT)
        end = KERN_PRIMES_MAX_LIMIT;
    for (uint64_t n = start; n < end; n++) {
        count += (uint64_t)kern_is_prime((uint32_t)n);
        kern_lock_check(lock);
    }
    return count;
}

void kern_primes_chunk(uint64_t limit, uint64_t p, uint64_t i, uint64_t *start, uint64_t *end) {
    uint64_t step = limit / p;
    *start = i * step;
    *end = i == p - 1 ? limit : (i + 1) * step;
}
