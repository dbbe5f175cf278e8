/* report.c: progress, per-epoch lines, the JSON summary, atomic file writes. */
#include "report.h"

#include "blas.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

int report_check_output(const char *opt, const char *path, tdp_err_t *err) {
    if (path[0] == '\0')
        return TDP_OK;
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return tdp_fail(err, TDP_EINPUT, "--%s %s: is a directory", opt, path);
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    const char *dir = dirname(buf);
    if (access(dir, W_OK) != 0)
        return tdp_fail(err, TDP_EINPUT, "--%s %s: directory %s is not writable: %s", opt, path,
                        dir, strerror(errno));
    return TDP_OK;
}

/* Write to something that is not a regular file (/dev/null, a pipe) in place: renaming a file
 * over it would replace the device. */
static int write_in_place(const char *path, const void *data, size_t len, tdp_err_t *err) {
    int fd = open(path, O_WRONLY);
    if (fd < 0)
        return tdp_fail(err, TDP_EINPUT, "cannot write %s: %s", path, strerror(errno));
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = errno;
            close(fd);
            return tdp_fail_sys(err, __FILE__, __LINE__, e, "writing %s", path);
        }
        p += w;
        len -= (size_t)w;
    }
    if (close(fd) != 0)
        return tdp_fail_sys(err, __FILE__, __LINE__, errno, "close %s", path);
    return TDP_OK;
}

int write_file_atomic(const char *path, const void *data, size_t len, tdp_err_t *err) {
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        if (S_ISDIR(st.st_mode))
            return tdp_fail(err, TDP_EINPUT, "cannot write %s: is a directory", path);
        return write_in_place(path, data, len, err);
    }
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return tdp_fail(err, TDP_EINPUT, "%s: path too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return tdp_fail(err, TDP_EINPUT, "cannot write %s: %s", path, strerror(errno));
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            return tdp_fail_sys(err, __FILE__, __LINE__, e, "writing %s", tmp);
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return tdp_fail_sys(err, __FILE__, __LINE__, e, "fsync %s", tmp);
    }
    if (close(fd) != 0) {
        int e = errno;
        unlink(tmp);
        return tdp_fail_sys(err, __FILE__, __LINE__, e, "close %s", tmp);
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return tdp_fail(err, TDP_EINPUT, "cannot write %s: %s", path, strerror(e));
    }
    /* make the rename durable: fsync the directory */
    char dirbuf[4200];
    snprintf(dirbuf, sizeof dirbuf, "%s", path);
    int dfd = open(dirname(dirbuf), O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return TDP_OK;
}

/* Escape s as the inside of a JSON string into out (truncating safely). */
static void json_escape(const char *s, char *out, size_t len) {
    size_t o = 0;
    for (; *s != '\0' && o + 7 < len; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20) {
            o += (size_t)snprintf(out + o, len - o, "\\u%04x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
}

int report_write_json(const char *path, const run_summary_t *s, tdp_err_t *err) {
    char buf[16384], model[8192], blas[512];
    json_escape(s->model, model, sizeof model);
    json_escape(blas_config(), blas, sizeof blas);
    int n = snprintf(
        buf, sizeof buf,
        "{\n"
        "  \"mode\": \"%s\",\n  \"world_size\": %d,\n  \"workers\": %d,\n  \"hosts\": %d,\n"
        "  \"model\": \"%s\",\n  \"params\": %ld,\n  \"epochs\": %d,\n  \"steps\": %ld,\n"
        "  \"batch\": %d,\n  \"global_batch\": %d,\n  \"train_samples_per_s\": %.3f,\n"
        "  \"test_accuracy\": %.6f,\n  \"final_loss\": %.8g,\n  \"seconds\": %.6f,\n"
        "  \"replicated_bytes_total\": %.0f,\n  \"broadcast_bytes\": %.0f,\n"
        "  \"allreduce_bytes_per_step\": %.0f,\n  \"comm_seconds\": %.6f,\n"
        "  \"gil_wait_seconds\": %.6f,\n  \"replicate_seconds\": %.6f,\n"
        "  \"scatter_seconds\": %.6f,\n  \"compute_seconds\": %.6f,\n"
        "  \"gather_seconds\": %.6f,\n  \"optimizer_seconds\": %.6f,\n  \"blas\": \"%s\"\n}\n",
        s->mode, s->world_size, s->workers, s->hosts, model, s->params, s->epochs, s->steps,
        s->batch, s->global_batch, s->train_samples_per_s, s->test_accuracy, s->final_loss,
        s->seconds, s->replicated_bytes_total, s->broadcast_bytes, s->allreduce_bytes_per_step,
        s->comm_seconds, s->gil_wait_seconds, s->replicate_seconds, s->scatter_seconds,
        s->compute_seconds, s->gather_seconds, s->optimizer_seconds, blas);
    if (n < 0 || n >= (int)sizeof buf)
        return tdp_fail(err, TDP_ERUNTIME, "JSON summary too long");
    return write_file_atomic(path, buf, (size_t)n, err);
}
