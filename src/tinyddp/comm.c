/* comm.c: the MPI session (see comm.h). */
#include "comm.h"

#include "runconfig.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int comm_fail(tdp_err_t *err, const char *file, int line, int rank, const char *call, int rc) {
    char msg[MPI_MAX_ERROR_STRING] = "unknown MPI error";
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    return tdp_fail(err, TDP_ERUNTIME, "rank %d: %s:%d: %.120s failed: %s", rank, file, line, call,
                    msg);
}

int comm_start(comm_t *c, int *argc, char ***argv, tdp_err_t *err) {
    memset(c, 0, sizeof *c);
    int provided;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return tdp_fail(err, TDP_ERUNTIME, "MPI_Init_thread failed");
    c->started = 1;
    return comm_open(c, MPI_COMM_WORLD, err);
}

/* The number of distinct processor names among the ranks. */
static int count_hosts(comm_t *c, tdp_err_t *err) {
    char name[MPI_MAX_PROCESSOR_NAME] = {0};
    int len = 0;
    TDP_MPI(MPI_Get_processor_name(name, &len), c->rank, err);
    char *all = calloc((size_t)c->size, MPI_MAX_PROCESSOR_NAME);
    if (all == NULL)
        return tdp_fail_sys(err, __FILE__, __LINE__, 0, "out of memory");
    int rc = MPI_Allgather(name, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, all, MPI_MAX_PROCESSOR_NAME,
                           MPI_CHAR, c->comm);
    if (rc != MPI_SUCCESS) {
        free(all);
        return comm_fail(err, __FILE__, __LINE__, c->rank, "MPI_Allgather(names)", rc);
    }
    c->hosts = 0;
    for (int i = 0; i < c->size; i++) {
        int seen = 0;
        for (int j = 0; j < i && !seen; j++)
            seen = strncmp(all + (size_t)i * MPI_MAX_PROCESSOR_NAME,
                           all + (size_t)j * MPI_MAX_PROCESSOR_NAME, MPI_MAX_PROCESSOR_NAME) == 0;
        c->hosts += !seen;
    }
    free(all);
    return TDP_OK;
}

int comm_open(comm_t *c, MPI_Comm comm, tdp_err_t *err) {
    int started = c->started;
    memset(c, 0, sizeof *c);
    c->started = started;
    c->comm = comm;
    TDP_MPI(MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN), -1, err);
    TDP_MPI(MPI_Comm_rank(comm, &c->rank), -1, err);
    TDP_MPI(MPI_Comm_size(comm, &c->size), c->rank, err);
    return count_hosts(c, err);
}

void comm_free(comm_t *c) {
    free(c->arrived);
    free(c->arr_req);
    free(c->noted);
    free(c->sent_to);
    free(c->note_req);
    c->arrived = c->noted = c->sent_to = NULL;
    c->arr_req = c->note_req = NULL;
}

void comm_finish(comm_t *c) {
    comm_free(c);
    MPI_Finalize();
}

int comm_agree(const comm_t *c, int rc, int *who, tdp_err_t *err) {
    struct {
        int rc, rank;
    } in = {rc, c->rank}, out = {rc, c->rank};
    int mrc = MPI_Allreduce(&in, &out, 1, MPI_2INT, MPI_MAXLOC, c->comm);
    if (mrc != MPI_SUCCESS) {
        *who = c->rank;
        return rc ? rc : comm_fail(err, __FILE__, __LINE__, c->rank, "MPI_Allreduce(status)", mrc);
    }
    *who = out.rank;
    return out.rc;
}

/* The longest configuration text the ranks exchange (it is about 1 KB). */
#define CONFIG_MAX 65536

/* Rank 0's configuration text to every rank, compared with this rank's. */
static int compare_config(const comm_t *c, const char *text, size_t len, tdp_err_t *err) {
    /* a static buffer: no allocation that could fail on one rank between two collectives */
    static char theirs[CONFIG_MAX];
    uint64_t n = len < CONFIG_MAX ? len : 0; /* 0: rank 0's text is unusable */
    int mrc = MPI_Bcast(&n, 1, MPI_UINT64_T, 0, c->comm);
    if (mrc == MPI_SUCCESS && n > 0) {
        if (c->rank == 0)
            memcpy(theirs, text, (size_t)n);
        mrc = MPI_Bcast(theirs, (int)n, MPI_CHAR, 0, c->comm);
    }
    char key[64], v0[160], mine[160];
    if (mrc != MPI_SUCCESS)
        return comm_fail(err, __FILE__, __LINE__, c->rank, "MPI_Bcast(configuration)", mrc);
    if (n == 0 || len >= CONFIG_MAX)
        return tdp_fail(err, TDP_ERUNTIME, "rank %d: the configuration text is too long to compare",
                        c->rank);
    if (runconfig_diff(theirs, (size_t)n, text, len, key, sizeof key, v0, sizeof v0, mine,
                       sizeof mine))
        return tdp_fail(err, TDP_EINPUT,
                        "ranks disagree on %s: rank 0 has %s, rank %d has %s: start every rank "
                        "with the same options, model and data",
                        key, v0, c->rank, mine);
    return TDP_OK;
}

int comm_agree_config(const comm_t *c, int rc, const char *text, size_t len, int *who,
                      tdp_err_t *err) {
    int worst = comm_agree(c, rc, who, NULL);
    if (worst != TDP_OK)
        return worst;
    rc = compare_config(c, text, len, err);
    worst = comm_agree(c, rc, who, NULL);
    if (worst == TDP_EINPUT) {
        /* every rank says why it stops (each may have a log of its own): the lowest rank that
         * found a difference tells the others */
        err->code = TDP_EINPUT;
        if (MPI_Bcast(err->msg, TDP_ERRLEN, MPI_CHAR, *who, c->comm) == MPI_SUCCESS) {
            err->msg[TDP_ERRLEN - 1] = '\0';
            *who = c->rank;
        }
    }
    return worst;
}

int comm_agree_range(const comm_t *c, int v, int *lo, int *hi) {
    int in[2] = {v, -v}, out[2];
    if (MPI_Allreduce(in, out, 2, MPI_INT, MPI_MAX, c->comm) != MPI_SUCCESS)
        return TDP_ERUNTIME;
    *hi = out[0];
    *lo = -out[1];
    return TDP_OK;
}

int comm_broadcast(const comm_t *c, float *params, size_t n, tdp_err_t *err) {
    /* in pieces below INT_MAX elements */
    for (size_t off = 0; off < n; off += (size_t)1 << 30) {
        size_t len = n - off < ((size_t)1 << 30) ? n - off : (size_t)1 << 30;
        TDP_MPI(MPI_Bcast(params + off, (int)len, MPI_FLOAT, 0, c->comm), c->rank, err);
    }
    return TDP_OK;
}

int comm_set_watchdog(comm_t *c, double timeout, double warn_after, tdp_err_t *err) {
    c->timeout = timeout;
    c->warn_after = warn_after > 0 ? warn_after : 0;
    if (c->size == 1)
        return TDP_OK;
    c->noted = calloc((size_t)c->size, sizeof *c->noted);
    c->sent_to = calloc((size_t)c->size, sizeof *c->sent_to);
    c->note_req = calloc((size_t)c->size, sizeof *c->note_req);
    if (c->noted == NULL || c->sent_to == NULL || c->note_req == NULL)
        return tdp_fail_sys(err, __FILE__, __LINE__, 0, "out of memory");
    for (int i = 0; i < c->size; i++)
        c->note_req[i] = MPI_REQUEST_NULL;
    if (timeout > 0) {
        c->arrived = calloc((size_t)c->size, sizeof *c->arrived);
        c->arr_req = calloc(2 * (size_t)c->size, sizeof *c->arr_req);
        if (c->arrived == NULL || c->arr_req == NULL)
            return tdp_fail_sys(err, __FILE__, __LINE__, 0, "out of memory");
        for (int i = 0; i < 2 * c->size; i++)
            c->arr_req[i] = MPI_REQUEST_NULL;
    }
    return TDP_OK;
}

#define ARRIVAL_TAG 7301
#define NOTE_TAG    7302
#define NOTE_FIRST  0.01 /* seconds of waiting before the first look at the census notes */
#define NOTE_EVERY  0.01 /* then between two looks */
#define NOTE_GRACE  1.0  /* seconds the census gives the waiting ranks to answer */

int comm_arrive(comm_t *c, tdp_err_t *err) {
    if (c->timeout <= 0 || c->size == 1)
        return TDP_OK;
    c->step_no++;
    for (int p = 0; p < c->size; p++) {
        if (p == c->rank)
            continue;
        TDP_MPI(MPI_Irecv(&c->arrived[p], 1, MPI_LONG, p, ARRIVAL_TAG, c->comm, &c->arr_req[p]),
                c->rank, err);
        TDP_MPI(
            MPI_Isend(&c->step_no, 1, MPI_LONG, p, ARRIVAL_TAG, c->comm, &c->arr_req[c->size + p]),
            c->rank, err);
    }
    return TDP_OK;
}

/* Whether rank p said it waits for communication now: in this wait, or in the one before or
 * after (a rank can finish a collective to which a stalled rank contributed before it stalled,
 * and wait in the next one; no rank can be further ahead or behind). */
static int waiting(const comm_t *c, int p) {
    return c->noted[p] >= c->wait_no - 1 && c->noted[p] <= c->wait_no + 1;
}

/* The ranks not known to have arrived, "1, 3" in missing; *lowest: the lowest rank known to
 * have arrived (this one included). With the watchdog, a rank arrived when its arrival note
 * came; without, when it said it waits (its census note). */
static size_t list_missing(comm_t *c, char *missing, size_t cap, int *lowest) {
    size_t len = 0;
    missing[0] = '\0';
    *lowest = c->rank;
    for (int p = 0; p < c->size; p++) {
        int got = 1;
        if (p != c->rank && c->timeout > 0 && c->arr_req[p] != MPI_REQUEST_NULL)
            MPI_Test(&c->arr_req[p], &got, MPI_STATUS_IGNORE);
        else if (p != c->rank && c->timeout <= 0)
            got = waiting(c, p);
        if (got && p < *lowest)
            *lowest = p;
        if (!got && len + 16 < cap)
            len += (size_t)snprintf(missing + len, cap - len, "%s%d", len ? ", " : "", p);
    }
    return len;
}

/* The watchdog gave up: name the ranks whose arrival note has not come. */
static int timed_out(comm_t *c, const char *what, long step, tdp_err_t *err) {
    char missing[256];
    int lowest;
    size_t len = c->size > 1 ? list_missing(c, missing, sizeof missing, &lowest) : 0;
    return tdp_fail(err, TDP_ERUNTIME,
                    "%s at step %ld did not complete within --comm-timeout %g s: %s%s", what, step,
                    c->timeout, len ? "rank(s) that did not arrive: " : "all ranks arrived; ",
                    len ? missing : "the transfer itself is stuck");
}

/* The stall warning, printed once per wait by the lowest rank that has arrived. */
static void warn_stall(comm_t *c, const char *what, long step, double waited) {
    char missing[256];
    int lowest;
    size_t len = list_missing(c, missing, sizeof missing, &lowest);
    if (lowest != c->rank)
        return;
    fprintf(stderr,
            "%s: warning: rank %d: %s at step %ld has waited %.0f s; %s%s (still waiting%s)\n",
            c->name ? c->name : "tinyddp", c->rank, what, step, waited,
            len ? "rank(s) that have not arrived: " : "all ranks arrived; ",
            len ? missing : "the transfer itself is slow or stuck",
            c->timeout > 0 ? "" : "; --comm-timeout SECONDS gives up");
    fflush(stderr);
}

/* Receive every census note that has come: the wait its sender is in. */
static int take_notes(comm_t *c, tdp_err_t *err) {
    for (;;) {
        int flag = 0;
        MPI_Status st;
        TDP_MPI(MPI_Iprobe(MPI_ANY_SOURCE, NOTE_TAG, c->comm, &flag, &st), c->rank, err);
        if (!flag)
            return TDP_OK;
        long v = 0;
        TDP_MPI(MPI_Recv(&v, 1, MPI_LONG, st.MPI_SOURCE, NOTE_TAG, c->comm, MPI_STATUS_IGNORE),
                c->rank, err);
        c->noted[st.MPI_SOURCE] = v;
        c->notes_got++;
    }
}

/* Tell every other rank that this rank waits in wait wait_no. */
static int send_notes(comm_t *c, tdp_err_t *err) {
    TDP_MPI(MPI_Waitall(c->size, c->note_req, MPI_STATUSES_IGNORE), c->rank, err);
    c->note = c->wait_no;
    for (int p = 0; p < c->size; p++) {
        if (p == c->rank)
            continue;
        TDP_MPI(MPI_Isend(&c->note, 1, MPI_LONG, p, NOTE_TAG, c->comm, &c->note_req[p]), c->rank,
                err);
        c->sent_to[p]++;
    }
    return TDP_OK;
}

/* Whether some other rank said it waits now (a census this rank answers). */
static int asked(const comm_t *c) {
    for (int p = 0; p < c->size; p++)
        if (p != c->rank && waiting(c, p))
            return 1;
    return 0;
}

/* No watchdog: wait as long as it takes; past warn_after, the census and the warning. */
static int wait_watched(comm_t *c, int n, MPI_Request *req, const char *what, long step,
                        tdp_err_t *err) {
    c->wait_no++;
    const double t0 = tdp_now(), grace = fmin(NOTE_GRACE, c->warn_after / 2);
    double look = t0 + NOTE_FIRST, sent = -1.0;
    int flag = 0, warned = 0, rc;
    for (;;) {
        TDP_MPI(MPI_Testall(n, req, &flag, MPI_STATUSES_IGNORE), c->rank, err);
        if (flag)
            return TDP_OK;
        double now = tdp_now();
        if (now < look)
            continue;
        look = now + NOTE_EVERY;
        if ((rc = take_notes(c, err)) != TDP_OK)
            return rc;
        if (sent < 0 && (now - t0 > c->warn_after || asked(c))) {
            if ((rc = send_notes(c, err)) != TDP_OK)
                return rc;
            sent = now;
        }
        if (!warned && sent >= 0 && now - t0 > c->warn_after && now - sent > grace) {
            warn_stall(c, what, step, now - t0);
            warned = 1;
        }
    }
}

int comm_wait(comm_t *c, int n, MPI_Request *req, const char *what, long step, tdp_err_t *err) {
    if (c->timeout <= 0 && c->warn_after > 0 && c->size > 1)
        return wait_watched(c, n, req, what, step, err);
    if (c->timeout <= 0) {
        TDP_MPI(MPI_Waitall(n, req, MPI_STATUSES_IGNORE), c->rank, err);
        return TDP_OK;
    }
    const double t0 = tdp_now(), deadline = t0 + c->timeout;
    int flag = 0, warned = c->warn_after <= 0 || c->warn_after >= c->timeout;
    for (;;) {
        TDP_MPI(MPI_Testall(n, req, &flag, MPI_STATUSES_IGNORE), c->rank, err);
        if (flag)
            break;
        double now = tdp_now();
        if (now > deadline)
            return timed_out(c, what, step, err);
        if (!warned && now - t0 > c->warn_after && c->size > 1) {
            warn_stall(c, what, step, now - t0);
            warned = 1;
        }
    }
    /* every rank took part, so their arrival notes are here or on their way */
    if (c->size > 1)
        TDP_MPI(MPI_Waitall(2 * c->size, c->arr_req, MPI_STATUSES_IGNORE), c->rank, err);
    return TDP_OK;
}

int comm_drain_notes(comm_t *c, tdp_err_t *err) {
    if (c->size == 1 || c->sent_to == NULL)
        return TDP_OK;
    long *to = malloc((size_t)c->size * sizeof *to);
    if (to == NULL)
        return tdp_fail_sys(err, __FILE__, __LINE__, 0, "out of memory");
    int mrc = MPI_Allreduce(c->sent_to, to, c->size, MPI_LONG, MPI_SUM, c->comm);
    long mine = to[c->rank];
    free(to);
    if (mrc != MPI_SUCCESS)
        return comm_fail(err, __FILE__, __LINE__, c->rank, "MPI_Allreduce(notes)", mrc);
    while (c->notes_got < mine) {
        long v;
        MPI_Status st;
        TDP_MPI(MPI_Recv(&v, 1, MPI_LONG, MPI_ANY_SOURCE, NOTE_TAG, c->comm, &st), c->rank, err);
        c->noted[st.MPI_SOURCE] = v;
        c->notes_got++;
    }
    TDP_MPI(MPI_Waitall(c->size, c->note_req, MPI_STATUSES_IGNORE), c->rank, err);
    return TDP_OK;
}

int comm_allsum(comm_t *c, double *v, int n, long step, tdp_err_t *err) {
    MPI_Request r;
    int rc = comm_arrive(c, err);
    if (rc != TDP_OK)
        return rc;
    TDP_MPI(MPI_Iallreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_SUM, c->comm, &r), c->rank, err);
    return comm_wait(c, 1, &r, "a metrics allreduce", step, err);
}

int comm_check_sync(comm_t *c, const float *params, size_t n, long step, tdp_err_t *err) {
    uint64_t h = tdp_fnv1a(TDP_FNV_INIT, params, n * sizeof(float));
    uint64_t *all = malloc((size_t)c->size * sizeof *all);
    if (all == NULL)
        return tdp_fail_sys(err, __FILE__, __LINE__, 0, "out of memory");
    MPI_Request r;
    int rc = comm_arrive(c, err);
    if (rc == TDP_OK) {
        int mrc = MPI_Iallgather(&h, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T, c->comm, &r);
        rc = mrc != MPI_SUCCESS
                 ? comm_fail(err, __FILE__, __LINE__, c->rank, "MPI_Iallgather(check-sync)", mrc)
                 : comm_wait(c, 1, &r, "the --check-sync hash exchange", step + 1, err);
    }
    for (int p = 1; rc == TDP_OK && p < c->size; p++)
        if (all[p] != all[0])
            rc = tdp_fail(err, TDP_ERUNTIME,
                          "--check-sync: the weights of rank %d differ from rank 0's after step "
                          "%ld (hash %016llx vs %016llx): the replicas have diverged",
                          p, step, (unsigned long long)all[p], (unsigned long long)all[0]);
    free(all);
    return rc;
}

/* Rank 0 writes the parts gathered from every rank (all: lens[i] bytes at displs[i]). */
static int write_parts(const comm_t *c, const char *path, char *all, const int *lens,
                       const int *displs, tdp_err_t *err) {
    char **parts = malloc((size_t)c->size * sizeof *parts);
    size_t *plens = malloc((size_t)c->size * sizeof *plens);
    int rc;
    if (parts && plens) {
        for (int i = 0; i < c->size; i++) {
            parts[i] = all + displs[i];
            plens[i] = (size_t)lens[i];
        }
        rc = trace_write(path, parts, plens, c->size, err);
    } else {
        rc = tdp_fail_sys(err, __FILE__, __LINE__, 0, "out of memory");
    }
    free(parts);
    free(plens);
    return rc;
}

int comm_write_trace(const comm_t *c, const trace_t *t, const char *path, tdp_err_t *err) {
    char *mine = NULL;
    size_t len = 0;
    int rc = trace_format(t, c->rank, &mine, &len, err);
    if (rc != TDP_OK)
        return rc;
    int ilen = (int)len, *lens = NULL, *displs = NULL;
    char *all = NULL;
    if (c->rank == 0) {
        lens = calloc((size_t)c->size, sizeof *lens);
        displs = calloc((size_t)c->size, sizeof *displs);
        if (!lens || !displs) {
            free(mine);
            free(lens);
            free(displs);
            return tdp_fail_sys(err, __FILE__, __LINE__, 0, "out of memory");
        }
    }
    rc = MPI_Gather(&ilen, 1, MPI_INT, lens, 1, MPI_INT, 0, c->comm);
    size_t total = 0;
    if (rc == MPI_SUCCESS && c->rank == 0) {
        for (int i = 0; i < c->size; i++) {
            displs[i] = (int)total;
            total += (size_t)lens[i];
        }
        all = malloc(total ? total : 1);
        if (all == NULL)
            rc = MPI_ERR_NO_MEM;
    }
    if (rc == MPI_SUCCESS)
        rc = MPI_Gatherv(mine, ilen, MPI_CHAR, all, lens, displs, MPI_CHAR, 0, c->comm);
    free(mine);
    int out = TDP_OK;
    if (rc != MPI_SUCCESS)
        out = comm_fail(err, __FILE__, __LINE__, c->rank, "MPI_Gatherv(trace)", rc);
    else if (c->rank == 0)
        out = write_parts(c, path, all, lens, displs, err);
    free(all);
    free(lens);
    free(displs);
    return out;
}
