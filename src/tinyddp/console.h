/* console.h: whether what this process prints reaches a person's terminal, through a launcher
 * or not (the progress bar's decision, report.c). */
#ifndef TDP_CONSOLE_H
#define TDP_CONSOLE_H

/* 1 when this process's stdout ends on a terminal: its own stdout is one and no launcher stands
 * between, or the launcher that started it (mpirun) writes to one. 0 otherwise, and whenever it
 * cannot tell. */
int console_is_terminal(void);

#endif
