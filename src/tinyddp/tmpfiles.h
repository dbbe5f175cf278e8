/* tmpfiles.h: the temporary files a process is writing right now, known to its signal handlers.
 * A writer registers its temporary path before creating the file and forgets it once the file
 * is renamed or removed; a handler about to end the process (a second Ctrl-C) removes every
 * registered file first, so that an interrupted write leaves nothing behind. */
#ifndef TDP_TMPFILES_H
#define TDP_TMPFILES_H

/* Remember path (copied). Returns a slot for tmpfiles_forget, or -1 when it cannot be
 * remembered (every slot in use, or the path too long): the write still proceeds. */
int tmpfiles_remember(const char *path);
/* The file of this slot is renamed or removed (slot -1: nothing). */
void tmpfiles_forget(int slot);
/* Remove every remembered file. Async-signal-safe: only unlink(2). */
void tmpfiles_unlink_all(void);

#endif
