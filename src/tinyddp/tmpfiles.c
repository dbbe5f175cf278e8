/* tmpfiles.c: a fixed table of temporary paths that a signal handler may read at any moment.
 * A slot's path is written completely before the slot is marked in use, and the mark is cleared
 * before the path could change, so a handler never reads a half-written path. */
#include "tmpfiles.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#define TMPFILES_SLOTS 8
#define TMPFILES_PATH  4352

static char paths[TMPFILES_SLOTS][TMPFILES_PATH];
static volatile sig_atomic_t in_use[TMPFILES_SLOTS];

int tmpfiles_remember(const char *path) {
    size_t len = strlen(path);
    if (len >= TMPFILES_PATH)
        return -1;
    for (int i = 0; i < TMPFILES_SLOTS; i++) {
        if (in_use[i])
            continue;
        memcpy(paths[i], path, len + 1);
        __atomic_signal_fence(__ATOMIC_SEQ_CST); /* the path before the mark */
        in_use[i] = 1;
        return i;
    }
    return -1;
}

void tmpfiles_forget(int slot) {
    if (slot >= 0 && slot < TMPFILES_SLOTS) {
        in_use[slot] = 0;
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
    }
}

void tmpfiles_unlink_all(void) {
    for (int i = 0; i < TMPFILES_SLOTS; i++)
        if (in_use[i])
            unlink(paths[i]);
}
