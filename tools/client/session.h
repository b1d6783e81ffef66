/*
 * keyward-client's TLS session and what runs over it: the credentials
 * (credentials.c), configuration and handshake (tls.c), then tls://
 * (tls_check.c) or https:// (https.c).
 */
#ifndef KWC_SESSION_H
#define KWC_SESSION_H

#include "keyward/tls.h"
#include "mbedtls/ssl.h"
#include "mbedtls/x509_crt.h"
#include "net.h"
#include "options.h"

/* How long tls:// waits for the server's verdict on the certificate, then
 * for its answer to close_notify. */
#define KWC_VERDICT_WAIT_MS 1000
#define KWC_CLOSE_WAIT_MS 1000

typedef struct {
    mbedtls_ssl_context ssl;
    mbedtls_ssl_config conf;
    mbedtls_x509_crt ca;
    keyward_tls_identity_t id; /* --cert, --chain, --key */
    char shown_cert[512];
} client_t;

/* credentials.c: certificates, key, and whether the certificate belongs to
 * the key, before any connection. */
int kwc_load_credentials(const opts_t *o, client_t *cl);
/* tls.c */
int kwc_configure_tls(const opts_t *o, client_t *cl, kwc_conn_t *c);
int kwc_tls_handshake(client_t *cl, kwc_conn_t *c);
void kwc_print_session(const client_t *cl);
/* Why a connection that stopped after the handshake stopped, as a failure. */
int kwc_fail_after_handshake(const kwc_conn_t *c, int rc, const char *when);
/* tls_check.c: tls:// */
int kwc_tls_check_close(const opts_t *o, client_t *cl, kwc_conn_t *c);
/* https.c: https:// */
int kwc_https_get(const opts_t *o, client_t *cl, kwc_conn_t *c);

#endif
