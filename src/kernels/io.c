/* io.c: HTTP GETs with libcurl and the local HTTP server (see io.h). */
#include "io.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#define REQUEST_MAX       8192 /* bytes of request head read at most */
#define REQUEST_TIMEOUT_S 10   /* a client that sends nothing is dropped after this */
#define CONN_STACK_BYTES  (256 * 1024)

struct kern_server {
    int listen_fd;
    int wake[2]; /* written once by close: the accepting thread's signal to stop */
    int port;
    int latency_ms;
    pthread_t acceptor;
    int acceptor_started;
    pthread_mutex_t mu;
    pthread_cond_t stop_cv; /* broadcast when stopping (monotonic clock) */
    int stopping;
    pthread_t *conns; /* connection threads, joined at close */
    size_t nconns, cap;
    int in_flight, max_in_flight;
    unsigned long served, errors;
    char first_error[256];
};

typedef struct {
    kern_server_t *s;
    int fd;
} conn_t;

/* Record a failure of the serving side; mu held. */
static void note_error_locked(kern_server_t *s, const char *file, int line, int e,
                              const char *what) {
    if (s->errors++ == 0)
        snprintf(s->first_error, sizeof s->first_error, "%s:%d: server: %s%s%s", file, line, what,
                 e ? ": " : "", e ? strerror(e) : "");
}

static void note_error(kern_server_t *s, const char *file, int line, int e, const char *what) {
    pthread_mutex_lock(&s->mu);
    note_error_locked(s, file, line, e, what);
    pthread_mutex_unlock(&s->mu);
}

static struct timespec deadline_ms(int ms) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long ns = ts.tv_nsec + (long)(ms % 1000) * 1000000L;
    ts.tv_sec += ms / 1000 + ns / 1000000000L;
    ts.tv_nsec = ns % 1000000000L;
    return ts;
}

/* Read the request head (up to the blank line); 0, or -1 when the client sent no whole head. */
static int read_head(int fd, char *buf, size_t cap) {
    size_t got = 0;
    while (got + 1 < cap) {
        ssize_t r = recv(fd, buf + got, cap - 1 - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        got += (size_t)r;
        buf[got] = '\0';
        if (strstr(buf, "\r\n\r\n") != NULL)
            return 0;
    }
    return -1;
}

static void *conn_main(void *arg) {
    conn_t *c = arg;
    kern_server_t *s = c->s;
    int fd = c->fd;
    free(c);
    char req[REQUEST_MAX];
    struct timeval tv = {.tv_sec = REQUEST_TIMEOUT_S, .tv_usec = 0};
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == -1) {
        note_error(s, __FILE__, __LINE__, errno, "setsockopt(SO_RCVTIMEO)");
        close(fd);
        return NULL;
    }
    if (read_head(fd, req, sizeof req) != 0) {
        note_error(s, __FILE__, __LINE__, 0, "a client sent no complete request");
        close(fd);
        return NULL;
    }
    char path[256] = "/";
    int ok = sscanf(req, "GET %255s HTTP/1.", path) == 1;

    /* the latency: a timed wait that closing the server cuts short */
    pthread_mutex_lock(&s->mu);
    s->in_flight++;
    if (s->in_flight > s->max_in_flight)
        s->max_in_flight = s->in_flight;
    struct timespec dl = deadline_ms(s->latency_ms);
    while (!s->stopping && pthread_cond_timedwait(&s->stop_cv, &s->mu, &dl) != ETIMEDOUT)
        ;
    int stopped = s->stopping;
    /* the wait is over: the request is no longer in flight once its answer goes out (a client
     * that sends its next request on receipt must not see it counted twice) */
    s->in_flight--;
    pthread_mutex_unlock(&s->mu);

    int sent = 0;
    if (!stopped) {
        char body[320], resp[640];
        int blen = snprintf(body, sizeof body, "tinyddp kernels server: %s\n", path);
        int len = snprintf(resp, sizeof resp,
                           "HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                           "Connection: close\r\n\r\n%s",
                           ok ? "200 OK" : "400 Bad Request", blen, body);
        size_t off = 0;
        while (off < (size_t)len) {
            ssize_t w = send(fd, resp + off, (size_t)len - off, MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                note_error(s, __FILE__, __LINE__, errno, "send");
                break;
            }
            off += (size_t)w;
        }
        sent = off == (size_t)len;
        shutdown(fd, SHUT_WR);
    }
    close(fd);
    pthread_mutex_lock(&s->mu);
    s->served += (unsigned long)sent;
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* Start a thread for a connection; mu held. */
static void spawn_conn_locked(kern_server_t *s, int fd, const pthread_attr_t *attr) {
    if (s->nconns == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        pthread_t *t = realloc(s->conns, cap * sizeof *t);
        if (t == NULL) {
            note_error_locked(s, __FILE__, __LINE__, 0, "out of memory for a connection");
            close(fd);
            return;
        }
        s->conns = t;
        s->cap = cap;
    }
    conn_t *c = malloc(sizeof *c);
    if (c == NULL) {
        note_error_locked(s, __FILE__, __LINE__, 0, "out of memory for a connection");
        close(fd);
        return;
    }
    *c = (conn_t){.s = s, .fd = fd};
    int e = pthread_create(&s->conns[s->nconns], attr, conn_main, c);
    if (e != 0) {
        note_error_locked(s, __FILE__, __LINE__, e, "pthread_create (connection)");
        free(c);
        close(fd);
        return;
    }
    s->nconns++;
}

static void *acceptor_main(void *arg) {
    kern_server_t *s = arg;
    pthread_attr_t attr;
    int e = pthread_attr_init(&attr);
    if (e == 0)
        e = pthread_attr_setstacksize(&attr, CONN_STACK_BYTES);
    if (e != 0) {
        note_error(s, __FILE__, __LINE__, e, "pthread_attr");
        return NULL;
    }
    for (;;) {
        struct pollfd p[2] = {{.fd = s->listen_fd, .events = POLLIN},
                              {.fd = s->wake[0], .events = POLLIN}};
        int r = poll(p, 2, -1);
        if (r == -1 && errno == EINTR)
            continue;
        if (r == -1) {
            note_error(s, __FILE__, __LINE__, errno, "poll");
            break;
        }
        if (p[1].revents != 0)
            break; /* closing */
        if (p[0].revents == 0)
            continue;
        int fd = accept(s->listen_fd, NULL, NULL);
        if (fd == -1) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EAGAIN)
                continue;
            note_error(s, __FILE__, __LINE__, errno, "accept");
            break;
        }
        pthread_mutex_lock(&s->mu);
        if (s->stopping)
            close(fd);
        else
            spawn_conn_locked(s, fd, &attr);
        pthread_mutex_unlock(&s->mu);
    }
    pthread_attr_destroy(&attr);
    return NULL;
}

int kern_server_open(int latency_ms, kern_server_t **out, tdp_err_t *err) {
    int rc = TDP_OK;
    kern_server_t *s = NULL;
    TDP_MALLOC(s, sizeof *s, err);
    *s = (kern_server_t){.listen_fd = -1, .wake = {-1, -1}, .latency_ms = latency_ms};
    int have_mu = 0, have_cv = 0;
    pthread_condattr_t ca;
    KERN_PT_GOTO(pthread_mutex_init(&s->mu, NULL), err, rc, fail);
    have_mu = 1;
    KERN_PT_GOTO(pthread_condattr_init(&ca), err, rc, fail);
    int e = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (e == 0)
        e = pthread_cond_init(&s->stop_cv, &ca);
    pthread_condattr_destroy(&ca);
    KERN_PT_GOTO(e, err, rc, fail);
    have_cv = 1;
    KERN_SYS_GOTO(pipe(s->wake), err, rc, fail);
    KERN_SYS_GOTO(s->listen_fd = socket(AF_INET, SOCK_STREAM, 0), err, rc, fail);
    int one = 1;
    KERN_SYS_GOTO(setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), err, rc,
                  fail);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0; /* the kernel picks a free port */
    KERN_SYS_GOTO(bind(s->listen_fd, (struct sockaddr *)&a, sizeof a), err, rc, fail);
    KERN_SYS_GOTO(listen(s->listen_fd, 1024), err, rc, fail);
    socklen_t alen = sizeof a;
    KERN_SYS_GOTO(getsockname(s->listen_fd, (struct sockaddr *)&a, &alen), err, rc, fail);
    s->port = ntohs(a.sin_port);
    *out = s;
    return TDP_OK;
fail:
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    if (s->wake[0] >= 0) {
        close(s->wake[0]);
        close(s->wake[1]);
    }
    if (have_cv)
        pthread_cond_destroy(&s->stop_cv);
    if (have_mu)
        pthread_mutex_destroy(&s->mu);
    free(s);
    return rc;
}

int kern_server_port(const kern_server_t *s) {
    return s->port;
}

int kern_server_start(kern_server_t *s, tdp_err_t *err) {
    int rc = TDP_OK;
    KERN_PT_GOTO(pthread_create(&s->acceptor, NULL, acceptor_main, s), err, rc, done);
    s->acceptor_started = 1;
done:
    return rc;
}

int kern_server_close(kern_server_t *s, kern_server_stats_t *stats, tdp_err_t *err) {
    int rc = TDP_OK;
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    pthread_cond_broadcast(&s->stop_cv);
    pthread_mutex_unlock(&s->mu);
    char byte = 'x';
    ssize_t w;
    do
        w = write(s->wake[1], &byte, 1);
    while (w == -1 && errno == EINTR);
    if (w != 1)
        rc = tdp_fail_sys(err, __FILE__, __LINE__, errno, "write(wake)");
    if (s->acceptor_started)
        pthread_join(s->acceptor, NULL); /* after this, no connection thread is started */
    for (size_t i = 0; i < s->nconns; i++)
        pthread_join(s->conns[i], NULL);
    close(s->listen_fd);
    close(s->wake[0]);
    close(s->wake[1]);
    if (stats != NULL)
        *stats = (kern_server_stats_t){
            .served = s->served, .max_in_flight = s->max_in_flight, .errors = s->errors};
    if (s->errors != 0 && rc == TDP_OK)
        rc = tdp_fail(err, TDP_ERUNTIME, "%s", s->first_error);
    pthread_cond_destroy(&s->stop_cv);
    pthread_mutex_destroy(&s->mu);
    free(s->conns);
    free(s);
    return rc;
}

/* ---- the client ---- */

#define KERN_CURL_GOTO(call, err, rc, label)                                                       \
    do {                                                                                           \
        CURLcode kern_c_ = (call);                                                                 \
        if (kern_c_ != CURLE_OK) {                                                                 \
            (rc) = tdp_fail_sys((err), __FILE__, __LINE__, 0, "%s: %s", #call,                     \
                                curl_easy_strerror(kern_c_));                                      \
            goto label;                                                                            \
        }                                                                                          \
    } while (0)

int kern_http_global_init(tdp_err_t *err) {
    CURLcode c = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (c != CURLE_OK)
        return tdp_fail_sys(err, __FILE__, __LINE__, 0, "curl_global_init: %s",
                            curl_easy_strerror(c));
    return TDP_OK;
}

void kern_http_global_cleanup(void) {
    curl_global_cleanup();
}

/* The body is not needed, only the status (as the notebook prints only response.status_code). */
static size_t discard(char *data, size_t size, size_t nmemb, void *user) {
    (void)data;
    (void)user;
    return size * nmemb;
}

int kern_http_get(const char *url, long timeout_ms, const kern_lock_t *lock, long *status,
                  tdp_err_t *err) {
    int rc = TDP_OK;
    char errbuf[CURL_ERROR_SIZE];
    errbuf[0] = '\0';
    CURL *c = curl_easy_init();
    if (c == NULL)
        return tdp_fail_sys(err, __FILE__, __LINE__, 0, "curl_easy_init failed");
    KERN_CURL_GOTO(curl_easy_setopt(c, CURLOPT_URL, url), err, rc, done);
    KERN_CURL_GOTO(curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf), err, rc, done);
    KERN_CURL_GOTO(curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L), err, rc, done);
    KERN_CURL_GOTO(curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms), err, rc, done);
    KERN_CURL_GOTO(curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L), err, rc, done);
    KERN_CURL_GOTO(curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L), err, rc, done);
    /* the local server is never reached through a proxy the environment may name */
    KERN_CURL_GOTO(curl_easy_setopt(c, CURLOPT_NOPROXY, "127.0.0.1,localhost,::1"), err, rc, done);
    KERN_CURL_GOTO(curl_easy_setopt(c, CURLOPT_USERAGENT, "tinyddp-kernels/1"), err, rc, done);
    KERN_CURL_GOTO(curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard), err, rc, done);

    kern_lock_release(lock); /* Py_BEGIN_ALLOW_THREADS */
    CURLcode r = curl_easy_perform(c);
    kern_lock_reacquire(lock); /* Py_END_ALLOW_THREADS */
    if (r != CURLE_OK) {
        rc = tdp_fail_sys(err, __FILE__, __LINE__, 0, "GET %s: %s", url,
                          errbuf[0] ? errbuf : curl_easy_strerror(r));
        goto done;
    }
    KERN_CURL_GOTO(curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status), err, rc, done);
done:
    curl_easy_cleanup(c);
    return rc;
}
