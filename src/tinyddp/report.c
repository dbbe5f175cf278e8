/* report.c: the progress bar, the step lines, the per-epoch lines and the metrics records
 * (report.h). */
#include "report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "console.h"

void report_init(report_t *r, int enabled) {
    memset(r, 0, sizeof *r);
    r->enabled = enabled;
    r->out = stdout;
    /* under mpirun a rank's stdout is a pseudo-terminal even when mpirun's output is a pipe:
     * console.c looks at mpirun's */
    r->tty = enabled && console_is_terminal();
    r->t0 = r->win_t0 = tdp_now();
}

void report_configure(report_t *r, progress_t mode, long log_every, metrics_t *metrics) {
    if (mode == PROGRESS_BAR || mode == PROGRESS_OFF)
        r->tty = r->enabled && mode == PROGRESS_BAR;
    int lines = r->enabled && mode != PROGRESS_OFF && (log_every > 0 || mode == PROGRESS_LINES);
    if (mode == PROGRESS_LINES)
        r->tty = 0;
    r->line_every = lines ? log_every : 0;
    r->lines_default = lines && log_every <= 0;
    r->metrics = metrics;
    r->record_every = metrics ? log_every : 0;
}

/* "12s", "3m05s", "2h03m", "12d04h" */
static void format_eta(char *buf, size_t len, double s) {
    long t = (long)(s + 0.5);
    if (t < 60)
        snprintf(buf, len, "%lds", t);
    else if (t < 3600)
        snprintf(buf, len, "%ldm%02lds", t / 60, t % 60);
    else if (t < 86400)
        snprintf(buf, len, "%ldh%02ldm", t / 3600, t % 3600 / 60);
    else
        snprintf(buf, len, "%ldd%02ldh", t / 86400, t % 86400 / 3600);
}

void report_format_line(char *line, size_t len, const step_stats_t *s, double loss,
                        double samples_per_s, double comm_share, double eta) {
    char f[6][48], e[24] = "?";
    int n = 0;
    snprintf(f[n++], sizeof f[0], "step %ld/%ld", s->steps, s->planned);
    snprintf(f[n++], sizeof f[0], "epoch %d/%d", s->epoch, s->epochs);
    snprintf(f[n++], sizeof f[0], "loss %.4f", loss);
    snprintf(f[n++], sizeof f[0], "samples/s %.0f", samples_per_s);
    if (comm_share >= 0)
        snprintf(f[n++], sizeof f[0], "comm %.0f%%", 100.0 * comm_share);
    if (eta >= 0)
        format_eta(e, sizeof e, eta);
    snprintf(f[n++], sizeof f[0], "eta %s", e);
    /* two spaces between fields; one when that would not fit; cut at the width at worst */
    char buf[6 * 50];
    for (int sep = 2; sep >= 1; sep--) {
        size_t at = 0;
        for (int i = 0; i < n; i++)
            at += (size_t)snprintf(buf + at, sizeof buf - at, "%s%s",
                                   i ? (sep == 2 ? "  " : " ") : "", f[i]);
        if (at <= REPORT_COLUMNS)
            break;
    }
    size_t n_out = strlen(buf), cap = len < REPORT_COLUMNS + 1 ? len : REPORT_COLUMNS + 1;
    if (n_out >= cap)
        n_out = cap - 1;
    memcpy(line, buf, n_out);
    line[n_out] = '\0';
}

static void draw_bar(report_t *r, const step_stats_t *s, double now) {
    /* the epoch's last step: its end, or the run's when --max-steps ends it sooner */
    long step = s->step_in_epoch, total = s->steps_in_epoch;
    if (s->planned - s->steps < total - step)
        total = step + (s->planned - s->steps);
    if (step != total && now - r->last_draw < 0.1)
        return;
    r->last_draw = now;
    int width = 30, fill = total > 0 ? (int)((double)width * (double)step / (double)total) : 0;
    char bar[64], eta[24] = "?";
    for (int i = 0; i < width; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[width] = '\0';
    if (r->ran > 0)
        format_eta(eta, sizeof eta,
                   (now - r->t0) / (double)r->ran * (double)(s->planned - s->steps));
    fprintf(r->out, "\repoch %d [%s] %ld/%ld loss %.4f eta %s\033[K", s->epoch, bar, step, total,
            s->epoch_loss, eta);
    fflush(r->out);
}

/* The line and the record of the window that ends at this step. */
static void end_window(report_t *r, const step_stats_t *s, double now, int line, int record) {
    double dt = now - r->win_t0;
    double loss = r->win_samples > 0 ? r->win_loss / r->win_samples : 0.0;
    double sps = dt > 0 ? r->win_samples / dt : 0.0;
    double comm = s->comm_seconds >= 0 ? s->comm_seconds : 0.0;
    if (line) {
        double share = s->comm_seconds < 0 ? -1.0 : dt > 0 ? (comm - r->win_comm0) / dt : 0.0;
        double eta = (now - r->t0) / (double)r->ran * (double)(s->planned - s->steps);
        char text[REPORT_COLUMNS + 1];
        report_format_line(text, sizeof text, s, loss, sps, share, eta);
        fprintf(r->out, "%s%s\n", r->tty ? "\r\033[K" : "", text);
        fflush(r->out);
    }
    if (record)
        metrics_add(r->metrics, &(metrics_record_t){.kind = "step",
                                                    .step = s->steps,
                                                    .epoch = s->epoch,
                                                    .loss = loss,
                                                    .train_accuracy = NAN,
                                                    .test_accuracy = NAN,
                                                    .lr = s->lr,
                                                    .samples_per_s = sps,
                                                    .comm_seconds = comm,
                                                    .seconds = now - r->t0});
    r->win_loss = r->win_samples = 0.0;
    r->win_t0 = now;
    r->win_comm0 = comm;
}

void report_step(report_t *r, const step_stats_t *s) {
    if (!r->enabled && r->metrics == NULL)
        return;
    r->ran++;
    r->last_lr = s->lr;
    r->win_loss += s->loss_sum;
    r->win_samples += s->samples;
    if (r->lines_default) /* --progress lines alone: ten lines an epoch */
        r->line_every = s->steps_in_epoch >= 10 ? s->steps_in_epoch / 10 : 1;
    int line = r->line_every > 0 && s->steps % r->line_every == 0;
    int record = r->record_every > 0 && s->steps % r->record_every == 0;
    if (!line && !record && !r->tty)
        return;
    double now = tdp_now();
    if (line || record)
        end_window(r, s, now, line, record);
    if (r->tty)
        draw_bar(r, s, now);
}

void report_epoch(report_t *r, const epoch_stats_t *s) {
    if (r->metrics != NULL)
        metrics_add(r->metrics, &(metrics_record_t){.kind = "epoch",
                                                    .step = s->steps,
                                                    .epoch = s->epoch,
                                                    .loss = s->loss,
                                                    .train_accuracy = s->train_acc,
                                                    .test_accuracy = s->test_acc,
                                                    .lr = r->last_lr,
                                                    .samples_per_s = s->samples_per_s,
                                                    .comm_seconds = s->comm_seconds,
                                                    .seconds = s->elapsed});
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
