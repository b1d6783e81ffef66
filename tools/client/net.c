/* keyward-client: every wait bounded by the run's deadlines (client.h). */
#include "net.h"

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../signals.h"
#include "client.h"
#include "mbedtls/net_sockets.h"
#include "mbedtls/ssl.h"

/* Waits until fd is ready for events (fd -1: only waits), a deadline passes
 * or a signal comes.  Records which deadline expired in c->expired. */
int kwc_wait(kwc_conn_t *c, int fd, short events)
{
    for (;;) {
        struct pollfd p[2] = {{.fd = kw_signals_fd(), .events = POLLIN},
                              {.fd = fd, .events = events}};
        int64_t end = c->run_deadline < c->phase_deadline ? c->run_deadline : c->phase_deadline;
        int64_t left = end - kwc_now_ms();
        int n;

        if (kw_signals_caught() != 0) {
            c->interrupted = 1;
            return KWC_WAIT_SIGNAL;
        }
        if (left <= 0) {
            c->expired = c->run_deadline <= c->phase_deadline ? KWC_EXPIRED_RUN : KWC_EXPIRED_PHASE;
            return KWC_WAIT_TIMEOUT;
        }
        n = poll(p, fd >= 0 ? 2 : 1, left > INT_MAX ? INT_MAX : (int)left);
        if (n < 0 && errno != EINTR) {
            return KWC_WAIT_READY; /* the I/O call that follows reports the error */
        }
        if (n > 0 && (p[1].revents != 0) && kw_signals_caught() == 0) {
            return KWC_WAIT_READY;
        }
    }
}

/* Messages for an expired deadline or a signal; 0 if neither happened. */
int kwc_fail_wait(const kwc_conn_t *c, const char *during)
{
    if (c->interrupted || kw_signals_caught() != 0) {
        return kwc_fail_signal();
    }
    if (c->expired == KWC_EXPIRED_RUN) {
        return kwc_fail(KWC_EXIT_TIMEOUT, "timed out %s: --max-time %.3g s reached", during,
                        (double)c->max_time_ms / 1000.0);
    }
    if (c->expired == KWC_EXPIRED_PHASE) {
        return kwc_fail(KWC_EXIT_TIMEOUT, "timed out %s: %s reached", during, c->phase_name);
    }
    return 0;
}

/* ---- BIO callbacks */

/* Mbed TLS's own net callbacks either block without limit or restart their
 * timeout at every byte (a server trickling one byte every 2 s kept a
 * handshake going for minutes).  These wait on the run's deadlines. */
int kwc_bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    kwc_conn_t *c = ctx;
    if (len > INT_MAX) {
        len = INT_MAX;
    }
    for (;;) {
        ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0) {
            return (int)n;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int w = kwc_wait(c, c->fd, POLLOUT);
            if (w == KWC_WAIT_TIMEOUT) {
                return MBEDTLS_ERR_SSL_TIMEOUT;
            }
            if (w == KWC_WAIT_SIGNAL) {
                return MBEDTLS_ERR_NET_SEND_FAILED;
            }
            continue;
        }
        if (errno == EPIPE || errno == ECONNRESET) {
            c->reset = 1;
            return MBEDTLS_ERR_NET_CONN_RESET;
        }
        c->os_errno = errno;
        return MBEDTLS_ERR_NET_SEND_FAILED;
    }
}

int kwc_bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    kwc_conn_t *c = ctx;
    if (len > INT_MAX) {
        len = INT_MAX;
    }
    for (;;) {
        int w = kwc_wait(c, c->fd, POLLIN);
        ssize_t n;
        if (w == KWC_WAIT_TIMEOUT) {
            return MBEDTLS_ERR_SSL_TIMEOUT;
        }
        if (w == KWC_WAIT_SIGNAL) {
            return MBEDTLS_ERR_NET_RECV_FAILED;
        }
        n = recv(c->fd, buf, len, MSG_DONTWAIT);
        if (n >= 0) {
            return (int)n;
        }
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) {
            continue;
        }
        if (errno == ECONNRESET || errno == EPIPE) {
            c->reset = 1;
            return MBEDTLS_ERR_NET_CONN_RESET;
        }
        c->os_errno = errno;
        return MBEDTLS_ERR_NET_RECV_FAILED;
    }
}

/* ---- name lookup and connect */

/* getaddrinfo() has no timeout: it runs in a thread the run can walk away
 * from.  A job given up on stays referenced here (the thread still writes to
 * it) until the process exits. */
typedef struct {
    char host[256], port[8];
    struct addrinfo *res;
    int rc;
    int done[2];
} resolve_job_t;

static resolve_job_t *abandoned_job;

static void *resolve_thread(void *arg)
{
    resolve_job_t *j = arg;
    struct addrinfo hints;
    ssize_t n;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    j->rc = getaddrinfo(j->host, j->port, &hints, &j->res);
    n = write(j->done[1], "", 1);
    (void)n;
    return NULL;
}

static int resolve(kwc_conn_t *c, const char *host, const char *port, struct addrinfo **res)
{
    struct addrinfo hints;
    resolve_job_t *j;
    pthread_t th;
    int w, rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    if (getaddrinfo(host, port, &hints, res) == 0) {
        return 0; /* an address: nothing to look up */
    }
    j = calloc(1, sizeof(*j));
    if (j == NULL || pipe(j->done) != 0) {
        free(j);
        return kwc_fail(KWC_EXIT_FAILURE, "out of memory or descriptors");
    }
    snprintf(j->host, sizeof(j->host), "%s", host);
    snprintf(j->port, sizeof(j->port), "%s", port);
    if (pthread_create(&th, NULL, resolve_thread, j) != 0) {
        close(j->done[0]);
        close(j->done[1]);
        free(j);
        return kwc_fail(KWC_EXIT_FAILURE, "cannot start the resolver thread");
    }
    w = kwc_wait(c, j->done[0], POLLIN);
    if (w != KWC_WAIT_READY) {
        pthread_detach(th);
        abandoned_job = j;
        return kwc_fail_wait(c, "resolving the host name");
    }
    pthread_join(th, NULL);
    close(j->done[0]);
    close(j->done[1]);
    rc = j->rc;
    *res = j->res;
    free(j);
    if (rc != 0) {
        return kwc_fail(KWC_EXIT_RESOLVE, "cannot resolve %s: %s", host, gai_strerror(rc));
    }
    return 0;
}

/* Non-blocking connect to each address in turn, bounded by the deadlines. */
int kwc_connect(kwc_conn_t *c, const char *host, const char *port)
{
    struct addrinfo *res = NULL, *ai;
    int ret, last_errno = ECONNREFUSED;

    if ((ret = resolve(c, host, port, &res)) != 0) {
        return ret;
    }
    ret = KWC_EXIT_CONNECT;
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        int fd =
            socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        int err = 0, w;
        socklen_t len = sizeof(err);

        if (fd < 0) {
            last_errno = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            if (errno != EINPROGRESS) {
                last_errno = errno;
                close(fd);
                continue;
            }
            w = kwc_wait(c, fd, POLLOUT);
            if (w != KWC_WAIT_READY) {
                close(fd);
                ret = kwc_fail_wait(c, "connecting");
                goto exit;
            }
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
                err = errno;
            }
            if (err != 0) {
                last_errno = err;
                close(fd);
                continue;
            }
        }
        {
            /* handshake records go out one write each: don't let Nagle hold them */
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        }
        c->fd = fd;
        ret = 0;
        goto exit;
    }
    ret = kwc_fail(KWC_EXIT_CONNECT, "cannot connect to %s port %s: %s", host, port,
                   strerror(last_errno));
exit:
    freeaddrinfo(res);
    return ret;
}
