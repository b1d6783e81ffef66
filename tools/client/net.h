/*
 * keyward-client's connection: a socket and the deadlines every wait on it
 * is bounded by.  Mbed TLS's own net callbacks either block without limit or
 * restart their timeout at every byte (a server trickling one byte every 2 s
 * kept a handshake going for minutes); these wait on absolute deadlines and
 * end at once on SIGINT/SIGTERM (tools/signals.h).
 */
#ifndef KWC_NET_H
#define KWC_NET_H

#include <stddef.h>
#include <stdint.h>

#define KWC_NO_DEADLINE INT64_MAX

typedef struct {
    int fd;                 /* -1 until connected */
    int64_t max_time_ms;    /* --max-time, for messages */
    int64_t run_deadline;   /* --max-time, counted from the start */
    int64_t phase_deadline; /* --connect-timeout, then tls://'s waits; KWC_NO_DEADLINE */
    char phase_name[48];    /* what phase_deadline is, for messages */
    int expired;            /* which deadline passed: KWC_EXPIRED_RUN / _PHASE */
    int interrupted;        /* a signal ended a wait */
    int reset;              /* ECONNRESET / EPIPE seen */
    int os_errno;           /* another socket error */
} kwc_conn_t;

enum { KWC_EXPIRED_RUN = 1, KWC_EXPIRED_PHASE = 2 };
enum { KWC_WAIT_READY, KWC_WAIT_TIMEOUT, KWC_WAIT_SIGNAL };

/* Waits until fd is ready for events, a deadline passes (c->expired says
 * which) or a signal comes (c->interrupted).  KWC_WAIT_*. */
int kwc_wait(kwc_conn_t *c, int fd, short events);

/* After a failed call: the message and exit status for an expired deadline
 * (28) or a signal (130/143), or 0 when neither happened. */
int kwc_fail_wait(const kwc_conn_t *c, const char *during);

/* Looks host up (in a thread, so the deadlines hold) and connects to its
 * addresses in turn without blocking.  Sets c->fd; returns 0 or the exit
 * status, message printed (6, 7, 28, 130/143). */
int kwc_connect(kwc_conn_t *c, const char *host, const char *port);

/* Mbed TLS BIO callbacks (ctx: the kwc_conn_t).  A deadline gives
 * MBEDTLS_ERR_SSL_TIMEOUT, a reset MBEDTLS_ERR_NET_CONN_RESET (c->reset),
 * EOF 0. */
int kwc_bio_send(void *ctx, const unsigned char *buf, size_t len);
int kwc_bio_recv(void *ctx, unsigned char *buf, size_t len);

#endif
