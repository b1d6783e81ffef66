/*
 * keyward-client: https:// -- one GET over the TLS session, the response
 * through the HTTP parser (http.c), and the verdict on how it ended.
 */
#include <stdio.h>

#include "mbedtls/ssl.h"
#include "client.h"
#include "http.h"
#include "session.h"

static int https_send_request(const opts_t *o, client_t *cl, kwc_conn_t *c)
{
    char req[1400];
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: keyward-client\r\n\r\n", o->path,
                     o->host);
    size_t off = 0;

    while (off < (size_t)n) {
        int rc = mbedtls_ssl_write(&cl->ssl, (const unsigned char *)req + off, (size_t)n - off);
        if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
            continue;
        }
        if (rc < 0) {
            int ret = kwc_fail_wait(c, "sending the request");
            if (ret != 0) {
                return ret;
            }
            if (c->reset) {
                return kwc_fail(KWC_EXIT_TLS, "the server reset the connection before the request "
                                              "was sent: it probably rejected the certificate");
            }
            return kwc_fail_mbedtls(KWC_EXIT_SEND, "sending the request", rc);
        }
        off += (size_t)rc;
    }
    return 0;
}

/* How the response ended, once read. */
static int https_verdict(const kwc_conn_t *c, const kwc_http_resp_t *r, int rc)
{
    int clean = rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || kwc_http_complete(r);
    const char *how = rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY ? "closed the connection"
                      : c->reset                              ? "reset the connection"
                      : rc == MBEDTLS_ERR_SSL_CONN_EOF
                          ? "closed the connection without close_notify"
                          : "broke off the connection";

    if (r->out == stderr && r->body_len > 0 && r->last_byte != '\n') {
        fputc('\n', stderr);
    }
    fflush(stdout);
    if (rc == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE) {
        return kwc_fail_alert(r->head_len == 0 ? "after the request" : "during the response");
    }
    if (!r->head_done) {
        if (r->head_len == 0 && rc != MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
            return kwc_fail(KWC_EXIT_TLS,
                            "the server %s before answering: it probably rejected "
                            "the certificate",
                            how);
        }
        return kwc_fail(KWC_EXIT_RECV, "the server %s %s", how,
                        r->head_len == 0 ? "without an answer"
                                         : "in the middle of the response header");
    }
    if (r->content_length >= 0 && r->body_len < r->content_length) {
        return kwc_fail(KWC_EXIT_PARTIAL,
                        "the server %s after %lld of %lld body bytes (Content-Length)", how,
                        r->body_len, r->content_length);
    }
    if (!clean) {
        return kwc_fail(KWC_EXIT_RECV,
                        "the server %s and sent no Content-Length: the body may be cut "
                        "short",
                        how);
    }
    if (r->out == stderr) {
        return kwc_fail(KWC_EXIT_HTTP, "the server answered HTTP %d %s", r->status, r->reason);
    }
    if (r->status < 200 || r->status >= 300) {
        fprintf(stderr, "keyward-client: the server answered HTTP %d %s (--no-fail)\n", r->status,
                r->reason);
    }
    return 0;
}

int kwc_https_get(const opts_t *o, client_t *cl, kwc_conn_t *c)
{
    static kwc_http_resp_t resp;
    unsigned char buf[4096];
    int rc, ret;

    if ((ret = https_send_request(o, cl, c)) != 0) {
        return ret;
    }
    kwc_http_init(&resp, o->verbose, o->no_fail);
    for (;;) {
        rc = mbedtls_ssl_read(&cl->ssl, buf, sizeof(buf));
        if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE ||
            rc == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET) {
            continue;
        }
        if (rc <= 0) {
            break;
        }
        if (kwc_http_feed(&resp, buf, (size_t)rc) != 0) {
            return KWC_EXIT_RECV;
        }
        if (kwc_http_complete(&resp)) {
            break; /* all of the body: no need to wait for the server to close */
        }
    }
    if (rc == 0) {
        rc = MBEDTLS_ERR_SSL_CONN_EOF; /* what mbedtls_ssl_read says for it */
    }
    if (rc < 0 && rc != MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY && rc != MBEDTLS_ERR_SSL_CONN_EOF &&
        rc != MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE && !c->reset) {
        fflush(stdout);
        if ((ret = kwc_fail_wait(c, "reading the response")) != 0) {
            return ret;
        }
        if (resp.head_len == 0) {
            return kwc_fail_after_handshake(c, rc, "reading the response");
        }
        if (!kwc_http_complete(&resp)) {
            return kwc_fail_mbedtls(resp.content_length >= 0 ? KWC_EXIT_PARTIAL : KWC_EXIT_RECV,
                                    "reading the response", rc);
        }
    }
    ret = https_verdict(c, &resp, rc);
    if (rc > 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
        /* Best effort, bounded: the answer is in. */
        c->phase_deadline = kwc_now_ms() + KWC_CLOSE_WAIT_MS;
        snprintf(c->phase_name, sizeof(c->phase_name), "the close_notify send");
        mbedtls_ssl_close_notify(&cl->ssl);
    }
    return ret;
}
