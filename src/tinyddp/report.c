/* report.c: the progress bar and the per-epoch lines (report.h). */
#include "report.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void report_init(report_t *r, int enabled) {
    memset(r, 0, sizeof *r);
    r->enabled = enabled;
    r->out = stdout;
    /* under mpirun a rank's stdout is a pseudo-terminal even when mpirun's output is a pipe */
    r->tty = enabled && isatty(fileno(stdout)) && getenv("OMPI_COMM_WORLD_SIZE") == NULL &&
             getenv("PMI_SIZE") == NULL;
}

void report_progress(report_t *r, int epoch, long step, long total, double loss) {
    if (!r->enabled || !r->tty)
        return;
    double now = tdp_now();
    if (step != total && now - r->last_draw < 0.1)
        return;
    r->last_draw = now;
    int width = 30, fill = total > 0 ? (int)((double)width * (double)step / (double)total) : 0;
    char bar[64];
    for (int i = 0; i < width; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[width] = '\0';
    fprintf(r->out, "\repoch %d [%s] %ld/%ld loss %.4f", epoch, bar, step, total, loss);
    fflush(r->out);
}

void report_epoch(report_t *r, const epoch_stats_t *s) {
    if (!r->enabled)
        return;
    if (r->tty)
        fprintf(r->out, "\r\033[K");
    fprintf(r->out,
            "epoch %3d/%d  steps %7ld  loss %.4f  train_acc %.4f  test_acc %.4f  "
            "samples/s %9.0f  elapsed %.1fs%s%s\n",
            s->epoch, s->epochs, s->steps, s->loss, s->train_acc, s->test_acc, s->samples_per_s,
            s->elapsed, s->note[0] ? "  " : "", s->note);
    fflush(r->out);
}
