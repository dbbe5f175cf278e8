/* share.h: the notebook's shared-state demonstrations.
 *
 * The shared list (thread_share): thread 1 appends "Thread1-0".."Thread1-<n1-1>", sleeping
 * sleep_ms after each append; thread 2 appends "Thread2-0".."Thread2-<n2-1>" without sleeping.
 * Both hold the emulated interpreter lock while they run (list.append is atomic under the GIL)
 * and thread 1 releases it while it sleeps, as time.sleep does; the list shows how they
 * interleaved.
 *
 * The globals (res1 = count(n) in process_func1): kern_share_task computes count(n) like the sum
 * task and also stores it in this process's global slot i. Run by threads, the caller sees the
 * globals set; run by forked processes, the caller's globals stay unset (each child wrote its own
 * copy) while the results still come back through the pipes (or MPI). */
#ifndef TDP_KERN_SHARE_H
#define TDP_KERN_SHARE_H

#include <stddef.h>
#include <stdint.h>

#include "lock.h"
#include "util.h"

#define KERN_SHARE_MAX_ITEMS 64
#define KERN_SHARE_ITEM_LEN  32

typedef struct {
    char items[KERN_SHARE_MAX_ITEMS][KERN_SHARE_ITEM_LEN];
    size_t n;
    double seconds;
} kern_share_list_t;

/* n1 + n2 <= KERN_SHARE_MAX_ITEMS; switch_interval in seconds. */
int kern_share_list(int n1, int n2, int sleep_ms, double switch_interval, kern_share_list_t *out,
                    tdp_err_t *err);

/* The globals: two slots, like the notebook's res1 and res2. */
#define KERN_SHARE_NGLOBALS 2
void kern_share_reset_globals(void);
/* 1 and *value set when slot i was written in this process, else 0 (Python's None). */
int kern_share_global(size_t i, int64_t *value);

/* A task (modes.h) whose arg is a kern_sum_job_t: count(n) into *result and global i. */
int kern_share_task(const void *arg, size_t i, const kern_lock_t *lock, int64_t *result,
                    tdp_err_t *err);

#endif
