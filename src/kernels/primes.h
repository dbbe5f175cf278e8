/* primes.h: the notebook's prime counting, by trial division up to sqrt(n).
 *
 *   is_prime(n): n <= 1 is not prime; otherwise no i in [2, floor(sqrt(n))] divides n.
 *   count_primes_in_range(start, end): primes n with start <= n < end.
 *   chunks: [0, limit) split into P contiguous pieces of limit / P numbers, the last one taking
 *   the remainder (count_primes_parallel's ranges). Later chunks hold larger numbers, which cost
 *   more divisions each, so the chunks are unequal work. */
#ifndef TDP_KERN_PRIMES_H
#define TDP_KERN_PRIMES_H

#include <stdint.h>

#include "lock.h"

/* Numbers are tested as 32-bit unsigned integers: limit is at most this. */
#define KERN_PRIMES_MAX_LIMIT 4294967296ULL

int kern_is_prime(uint32_t n);

/* Primes in [start, end), end <= KERN_PRIMES_MAX_LIMIT. Calls kern_lock_check(lock) after each
 * number tested (lock may be NULL). */
uint64_t kern_count_primes_range(uint64_t start, uint64_t end, const kern_lock_t *lock);

/* Chunk i of p (0 <= i < p) of [0, limit): [*start, *end). */
void kern_primes_chunk(uint64_t limit, uint64_t p, uint64_t i, uint64_t *start, uint64_t *end);

#endif
