/*
 * keyward-client: the TLS session: configuration (versions, the identity,
 * the debug output read for the alert a server sent and the TLS 1.3
 * signature algorithm), the handshake, what -v prints of it, and why a
 * connection that stopped after the handshake stopped.
 */
#include <stdio.h>
#include <string.h>

#include "keyward/errors.h"
#include "keyward/port/mbedtls_compat.h"
#include "keyward/tls.h"
#include "mbedtls/debug.h"
#include "mbedtls/error.h"
#include "mbedtls/pk.h"
#include "mbedtls/ssl.h"
#include "mbedtls/ssl_ciphersuites.h"
#include "mbedtls/x509_crt.h"
#include "client.h"
#include "session.h"

/* Filled from Mbed TLS's debug output, the only place 3.6 shows it. */
static char tls13_sigalg[64];

/* ------------------------------------------------------------------ Mbed TLS version specifics */

/* The calls that differ between Mbed TLS 3.6 and 4.x, in one place (the key
 * and the RNG: keyward_tls_conf_identity). */
/* A TLS 1.3 NewSessionTicket tells tls:// that the server went on after the
 * client's Finished.  3.6 drops tickets silently unless asked to report
 * them (4.x always reports them). */
static void client_conf_report_tickets(mbedtls_ssl_config *conf)
{
#if MBEDTLS_VERSION_MAJOR == 3 && defined(MBEDTLS_SSL_SESSION_TICKETS) && \
    defined(MBEDTLS_SSL_PROTO_TLS1_3)
    mbedtls_ssl_conf_tls13_enable_signal_new_session_tickets(
        conf, MBEDTLS_SSL_TLS1_3_SIGNAL_NEW_SESSION_TICKETS_ENABLED);
#else
    (void)conf;
#endif
}

static void debug_cb(void *ctx, int level, const char *file, int line, const char *msg)
{
    static const char tag[] = "CertificateVerify signature with ";
    const char *p = strstr(msg, tag);
    unsigned alert_level, alert_desc;
    (void)ctx;
    (void)level;
    (void)file;
    (void)line;
    if (p != NULL) {
        snprintf(tls13_sigalg, sizeof(tls13_sigalg), "%s", p + sizeof(tag) - 1);
        tls13_sigalg[strcspn(tls13_sigalg, "\r\n")] = '\0';
    }
    p = strstr(msg, "got an alert message, type: [");
    if (p != NULL &&
        sscanf(p, "got an alert message, type: [%u:%u]", &alert_level, &alert_desc) == 2) {
        kwc_last_alert = (int)alert_desc;
    }
}

/* TLS 1.2 clients in Mbed TLS 3.6 sign CertificateVerify with the key's
 * scheme and SHA-384 for SHA-384 suites, SHA-256 otherwise. */
static void tls12_sigalg(const mbedtls_ssl_context *ssl, const mbedtls_pk_context *pk, char *out,
                         size_t size)
{
    const char *suite = mbedtls_ssl_get_ciphersuite(ssl);
    const char *hash = (suite != NULL && strstr(suite, "SHA384") != NULL) ? "sha384" : "sha256";
    snprintf(out, size, "%s_%s", keyward_compat_pk_is_ecc(pk) ? "ecdsa" : "rsa_pkcs1", hash);
}

int kwc_configure_tls(const opts_t *o, client_t *cl, kwc_conn_t *c)
{
    int rc;

    if ((rc = mbedtls_ssl_config_defaults(&cl->conf, MBEDTLS_SSL_IS_CLIENT,
                                          MBEDTLS_SSL_TRANSPORT_STREAM,
                                          MBEDTLS_SSL_PRESET_DEFAULT)) != 0) {
        return kwc_fail_mbedtls(KWC_EXIT_FAILURE, "mbedtls_ssl_config_defaults", rc);
    }
    mbedtls_ssl_conf_authmode(&cl->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&cl->conf, &cl->ca, NULL);
    client_conf_report_tickets(&cl->conf);
    if (o->tls_max != 0) {
        mbedtls_ssl_conf_max_tls_version(&cl->conf, o->tls_max == 12 ? MBEDTLS_SSL_VERSION_TLS1_2
                                                                     : MBEDTLS_SSL_VERSION_TLS1_3);
    }
    if (o->tls_min != 0) {
        mbedtls_ssl_conf_min_tls_version(&cl->conf, o->tls_min == 12 ? MBEDTLS_SSL_VERSION_TLS1_2
                                                                     : MBEDTLS_SSL_VERSION_TLS1_3);
    }
    /* Own certificate and key, the RNG, and only the suites and signature
     * algorithms the key can sign (an ATECC608 key: no SHA-384 suites). */
    if (keyward_tls_conf_identity(&cl->conf, &cl->id) != PSA_SUCCESS) {
        return kwc_fail(KWC_EXIT_LOCAL_CERT, "cannot configure the TLS identity: %s",
                        keyward_last_error());
    }
    if (o->verbose) {
        fprintf(stderr, "* built with %s\n", KEYWARD_MBEDTLS_VERSION_TEXT);
    }
    /* The debug output is read even without -v: it is where Mbed TLS 3.6
     * shows the alert a server sent. */
    mbedtls_ssl_conf_dbg(&cl->conf, debug_cb, NULL);
    mbedtls_debug_set_threshold(2);
    if ((rc = mbedtls_ssl_setup(&cl->ssl, &cl->conf)) != 0 ||
        (rc = mbedtls_ssl_set_hostname(&cl->ssl, o->host)) != 0) {
        return kwc_fail_mbedtls(KWC_EXIT_FAILURE, "mbedtls_ssl_setup", rc);
    }
    mbedtls_ssl_set_bio(&cl->ssl, c, kwc_bio_send, kwc_bio_recv, NULL);
    return 0;
}

/* ------------------------------------------------------------------ handshake */

static int tls_handshake_failed(client_t *cl, kwc_conn_t *c, int rc)
{
    int ret;
    uint32_t flags;

    if ((ret = kwc_fail_wait(c, "in the TLS handshake")) != 0) {
        return ret;
    }
    if (rc == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE) {
        return kwc_fail_alert("during the handshake");
    }
    if (rc == MBEDTLS_ERR_SSL_CONN_EOF || c->reset) {
        return kwc_fail(KWC_EXIT_TLS,
                        "the server %s the connection during the handshake: it may "
                        "have rejected the certificate",
                        c->reset ? "reset" : "closed");
    }
    ret = kwc_fail_mbedtls(KWC_EXIT_TLS, "TLS handshake", rc);
    flags = mbedtls_ssl_get_verify_result(&cl->ssl);
    if (flags != 0 && flags != (uint32_t)-1) {
        char vb[512];
        mbedtls_x509_crt_verify_info(vb, sizeof(vb), "  server certificate: ", flags);
        fputs(vb, stderr);
    }
    return ret;
}

int kwc_tls_handshake(client_t *cl, kwc_conn_t *c)
{
    int rc;

    while ((rc = mbedtls_ssl_handshake(&cl->ssl)) != 0) {
        if (rc != MBEDTLS_ERR_SSL_WANT_READ && rc != MBEDTLS_ERR_SSL_WANT_WRITE) {
            return tls_handshake_failed(cl, c, rc);
        }
    }
    /* The connect timeout covers DNS, TCP and the handshake (as curl's does). */
    c->phase_deadline = KWC_NO_DEADLINE;
    c->phase_name[0] = '\0';
    return 0;
}

void kwc_print_session(const client_t *cl)
{
    char sa[64];
    if (mbedtls_ssl_get_version_number(&cl->ssl) == MBEDTLS_SSL_VERSION_TLS1_3) {
        snprintf(sa, sizeof(sa), "%s", tls13_sigalg[0] ? tls13_sigalg : "unknown");
    } else {
        tls12_sigalg(&cl->ssl, &cl->id.pk, sa, sizeof(sa));
    }
    fprintf(stderr, "* protocol: %s\n* ciphersuite: %s\n* client signature algorithm: %s\n",
            mbedtls_ssl_get_version(&cl->ssl), mbedtls_ssl_get_ciphersuite(&cl->ssl), sa);
}

/* Why a connection that stopped after the handshake stopped, as a failure. */
int kwc_fail_after_handshake(const kwc_conn_t *c, int rc, const char *when)
{
    int ret = kwc_fail_wait(c, when);
    if (ret != 0) {
        return ret;
    }
    if (rc == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE) {
        return kwc_fail_alert("after the handshake");
    }
    if (c->reset) {
        return kwc_fail(KWC_EXIT_TLS, "the server reset the connection after the handshake: it "
                                      "probably rejected the certificate");
    }
    if (rc == 0 || rc == MBEDTLS_ERR_SSL_CONN_EOF) {
        return kwc_fail(KWC_EXIT_TLS, "the server closed the connection without close_notify: it "
                                      "probably rejected the certificate");
    }
    if (rc == MBEDTLS_ERR_SSL_INVALID_MAC) {
        /* A TLS 1.3 server that rejects the client's certificate sends its
         * alert under the handshake keys, which the client has left behind. */
        return kwc_fail(KWC_EXIT_TLS,
                        "the server sent a record the client cannot decrypt (an alert "
                        "under the handshake keys?): it probably rejected the "
                        "certificate");
    }
    return kwc_fail_mbedtls(KWC_EXIT_TLS, when, rc);
}
