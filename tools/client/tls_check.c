/*
 * keyward-client: tls:// -- after the handshake, the server's verdict on the
 * client certificate, then close_notify, each waited for a bounded time.
 */
#include <stdio.h>

#include "mbedtls/ssl.h"
#include "client.h"
#include "session.h"

/* tls:// — in TLS 1.3 the server judges the client certificate after the
 * client's Finished, so a completed handshake proves nothing: a rejection
 * comes later, as an alert or a dropped connection (in TLS 1.2 a server may
 * also drop the connection after judging the certificate itself).
 *  1. The verdict: read for a bounded time.  An alert, EOF without
 *     close_notify or a reset is a rejection; a TLS 1.3 NewSessionTicket (or
 *     any data) means the server took the Finished and went on; silence with
 *     the connection open counts as acceptance.
 *  2. Send close_notify and read the answer for a bounded time: the server's
 *     close_notify, silence, or a plain close (nginx answers close_notify with
 *     EOF alone) end well; an alert or a reset does not. */
int kwc_tls_check_close(const opts_t *o, client_t *cl, kwc_conn_t *c)
{
    unsigned char buf[1024];
    int rc, went_on = 0;

    c->phase_deadline = kwc_now_ms() + KWC_VERDICT_WAIT_MS;
    snprintf(c->phase_name, sizeof(c->phase_name), "the %d ms verdict wait", KWC_VERDICT_WAIT_MS);
    for (;;) {
        rc = mbedtls_ssl_read(&cl->ssl, buf, sizeof(buf));
        if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
            continue;
        }
        went_on = rc > 0 || rc == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET;
        break;
    }
    if (!went_on && !(rc == MBEDTLS_ERR_SSL_TIMEOUT && c->expired == KWC_EXPIRED_PHASE)) {
        return kwc_fail_after_handshake(c, rc, "waiting for the server's verdict");
    }
    if (o->verbose && went_on) {
        fprintf(stderr, "* the server went on after the handshake\n");
    } else if (o->verbose) {
        fprintf(stderr, "* the server kept the connection open for %d ms\n", KWC_VERDICT_WAIT_MS);
    }
    c->expired = 0;
    c->phase_deadline = kwc_now_ms() + KWC_CLOSE_WAIT_MS;
    snprintf(c->phase_name, sizeof(c->phase_name), "the %d ms close_notify wait",
             KWC_CLOSE_WAIT_MS);
    rc = mbedtls_ssl_close_notify(&cl->ssl);
    if (rc != 0) {
        return kwc_fail_after_handshake(c, rc, "sending close_notify");
    }
    for (;;) {
        rc = mbedtls_ssl_read(&cl->ssl, buf, sizeof(buf));
        if (rc > 0 || rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE ||
            rc == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET) {
            continue; /* data sent before the server saw close_notify */
        }
        break;
    }
    if (rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || rc == 0 || rc == MBEDTLS_ERR_SSL_CONN_EOF ||
        (rc == MBEDTLS_ERR_SSL_TIMEOUT && c->expired == KWC_EXPIRED_PHASE)) {
        if (o->verbose) {
            fprintf(stderr, "* the server answered close_notify with %s\n",
                    rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY ? "close_notify"
                    : rc == MBEDTLS_ERR_SSL_TIMEOUT         ? "silence"
                                                            : "a plain close");
        }
        return 0;
    }
    return kwc_fail_after_handshake(c, rc, "waiting for the server's close_notify");
}
