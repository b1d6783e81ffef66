/*
 * keyward-client: a curl-like mutual-TLS client whose private key may live in
 * a secure element.
 *
 *   keyward-client [-v] [--tls-max 1.2|1.3] [--tls-min 1.2|1.3] [--no-fail]
 *                  [--connect-timeout S] [--max-time S] --cacert CA.pem
 *                  --cert CERTREF [--chain CHAIN.pem] --key KEYREF URL
 *
 * CERTREF: a file, or the certificate in the SE (the CERTREF schemes of the
 * build's backends, --help; include/keyward/cert.h); intermediates from --chain.
 *
 * URL: https://host:port/path (GET, body to stdout) or tls://host:port
 * (handshake, then the server's verdict on the certificate and close_notify).
 * This file: main, in steps.  Modules (client/): options.c and url.c (the
 * command line), credentials.c, tls.c (configuration, handshake),
 * tls_check.c (tls://), https.c (https://), net.c (deadlines, lookup,
 * connect, BIO callbacks), http.c (the response parser), report.c
 * (messages).
 *
 * Exit status (curl's numbers where one fits; README "Exit status"):
 *   0 success, 1 other failure, 2 usage, 6 cannot resolve the host,
 *   7 cannot connect, 18 body shorter than its Content-Length,
 *   22 HTTP status not 2xx, 28 timeout, 35 TLS handshake failed or the
 *   server sent an alert / dropped the connection after the handshake,
 *   55 send failed, 56 receive failed (cut short with no length to go by),
 *   58 local certificate or key problem (unreadable, not a regular file,
 *   mismatched), 130/143 interrupted by SIGINT/SIGTERM.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "keyward/errors.h"
#include "keyward/keyward.h"
#include "client/client.h"
#include "client/net.h"
#include "client/options.h"
#include "client/session.h"
#include "signals.h"

/* ------------------------------------------------------------------ main */

static int run(const opts_t *o, client_t *cl, kwc_conn_t *c)
{
    int ret;

    if ((ret = kwc_load_credentials(o, cl)) != 0) {
        return ret;
    }
    if (kw_signals_caught() != 0) {
        return kwc_fail_signal();
    }
    if ((ret = kwc_configure_tls(o, cl, c)) != 0) {
        return ret;
    }
    c->phase_deadline = kwc_now_ms() + o->connect_timeout_ms;
    snprintf(c->phase_name, sizeof(c->phase_name), "--connect-timeout %.3g s",
             (double)o->connect_timeout_ms / 1000.0);
    if ((ret = kwc_connect(c, o->host, o->port)) != 0) {
        return ret;
    }
    if (o->verbose) {
        fprintf(stderr, "* connected to %s port %s\n", o->host, o->port);
    }
    if ((ret = kwc_tls_handshake(cl, c)) != 0) {
        return ret;
    }
    if (o->verbose) {
        kwc_print_session(cl);
    }
    return o->https ? kwc_https_get(o, cl, c) : kwc_tls_check_close(o, cl, c);
}

int main(int argc, char **argv)
{
    static opts_t o;
    static client_t cl;
    kwc_conn_t conn;
    psa_status_t status;
    int ret;

    ret = kwc_parse_args(argc, argv, &o);
    if (ret >= 0) {
        return ret;
    }
    if (kw_signals_install() != 0) {
        return kwc_fail(KWC_EXIT_FAILURE, "cannot install the signal handlers");
    }
    memset(&conn, 0, sizeof(conn));
    conn.fd = -1;
    conn.max_time_ms = o.max_time_ms;
    conn.run_deadline = kwc_now_ms() + o.max_time_ms;
    conn.phase_deadline = KWC_NO_DEADLINE;
    mbedtls_ssl_init(&cl.ssl);
    mbedtls_ssl_config_init(&cl.conf);
    mbedtls_x509_crt_init(&cl.ca);

    status = keyward_init();
    if (status != PSA_SUCCESS) {
        ret = kwc_fail(KWC_EXIT_FAILURE, "psa_crypto_init: %s", keyward_status_name(status));
    } else {
        ret = run(&o, &cl, &conn);
    }

    if (conn.fd >= 0) {
        close(conn.fd);
    }
    mbedtls_ssl_free(&cl.ssl);
    mbedtls_ssl_config_free(&cl.conf);
    mbedtls_x509_crt_free(&cl.ca);
    keyward_tls_identity_close(&cl.id);
    keyward_deinit();
    return ret;
}
