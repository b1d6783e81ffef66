/*
 * Full mutual-TLS handshakes against a local server, alternating between
 * client keys (e.g. a secure-element key and a software key) so that every
 * key sees the same server and machine state.  Prints each key's median
 * handshake time and its ratio to the last key given (the reference).
 *
 *   bench-handshake HOST PORT CA.pem 1.2|1.3 N  CERT1 KEYREF1  [CERT2 KEYREF2 ...]
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "bench_util.h"
#include "keyward/keyward.h"
#include "keyward/port/mbedtls_compat.h"
#include "mbedtls/net_sockets.h"
#include "mbedtls/pk.h"
#include "mbedtls/psa_util.h"
#include "mbedtls/ssl.h"
#include "mbedtls/x509_crt.h"

#define MAX_KEYS 4

typedef struct {
    const char *keyref;
    mbedtls_x509_crt crt;
    mbedtls_pk_context pk;
    psa_key_id_t key;
    mbedtls_ssl_config conf;
    double *t;
} client_t;

static int handshake(client_t *c, const char *host, const char *port)
{
    mbedtls_net_context net;
    mbedtls_ssl_context ssl;
    int rc;

    mbedtls_net_init(&net);
    mbedtls_ssl_init(&ssl);
    rc = mbedtls_ssl_setup(&ssl, &c->conf);
    if (rc == 0) {
        rc = mbedtls_ssl_set_hostname(&ssl, "localhost");
    }
    if (rc == 0) {
        rc = mbedtls_net_connect(&net, host, port, MBEDTLS_NET_PROTO_TCP);
    }
    if (rc == 0) {
        /* Mbed TLS writes each handshake record separately: without NODELAY,
         * Nagle + delayed ACK add ~40 ms to TLS 1.2 and measure the kernel. */
        int one = 1;
        setsockopt(net.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        mbedtls_ssl_set_bio(&ssl, &net, mbedtls_net_send, mbedtls_net_recv, NULL);
        do {
            rc = mbedtls_ssl_handshake(&ssl);
        } while (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE);
    }
    if (rc == 0) {
        mbedtls_ssl_close_notify(&ssl);
    }
    mbedtls_net_free(&net);
    mbedtls_ssl_free(&ssl);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 8 || (argc - 6) % 2 != 0 || (argc - 6) / 2 > MAX_KEYS) {
        fprintf(stderr, "usage: %s HOST PORT CA.pem 1.2|1.3 N CERT KEYREF [CERT KEYREF ...]\n",
                argv[0]);
        return 2;
    }
    const char *host = argv[1], *port = argv[2], *ca_file = argv[3];
    int tls13 = strcmp(argv[4], "1.3") == 0;
    size_t n = (size_t)atoi(argv[5]), nk = (size_t)(argc - 6) / 2;
    client_t c[MAX_KEYS];
    mbedtls_x509_crt ca;
    int rc = 1;

    if (n == 0 || keyward_init() != PSA_SUCCESS) {
        return 1;
    }
    mbedtls_x509_crt_init(&ca);
    if (mbedtls_x509_crt_parse_file(&ca, ca_file) != 0) {
        fprintf(stderr, "cannot read %s\n", ca_file);
        return 1;
    }
    for (size_t k = 0; k < nk; k++) {
        client_t *cl = &c[k];
        psa_status_t s;
        cl->keyref = argv[7 + 2 * k];
        mbedtls_x509_crt_init(&cl->crt);
        mbedtls_pk_init(&cl->pk);
        mbedtls_ssl_config_init(&cl->conf);
        cl->t = calloc(n, sizeof(double));
        if (mbedtls_x509_crt_parse_file(&cl->crt, argv[6 + 2 * k]) != 0) {
            fprintf(stderr, "cannot read %s\n", argv[6 + 2 * k]);
            return 1;
        }
        s = keyward_key_open(cl->keyref, &cl->key);
        if (s != PSA_SUCCESS) {
            fprintf(stderr, "cannot open %s: %s %s\n", cl->keyref, keyward_status_name(s),
                    keyward_last_error());
            return 1;
        }
        keyward_compat_pk_wrap_psa(&cl->pk, cl->key);
        mbedtls_ssl_config_defaults(&cl->conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                    MBEDTLS_SSL_PRESET_DEFAULT);
        mbedtls_ssl_conf_authmode(&cl->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
        mbedtls_ssl_conf_ca_chain(&cl->conf, &ca, NULL);
        keyward_compat_ssl_conf_rng(&cl->conf);
        mbedtls_ssl_conf_min_tls_version(&cl->conf, tls13 ? MBEDTLS_SSL_VERSION_TLS1_3
                                                          : MBEDTLS_SSL_VERSION_TLS1_2);
        mbedtls_ssl_conf_max_tls_version(&cl->conf, tls13 ? MBEDTLS_SSL_VERSION_TLS1_3
                                                          : MBEDTLS_SSL_VERSION_TLS1_2);
        mbedtls_ssl_conf_own_cert(&cl->conf, &cl->crt, &cl->pk);
    }
    for (size_t i = 0; i < n + 2; i++) { /* two warm-up rounds */
        for (size_t k = 0; k < nk; k++) {
            double t0 = kw_now_us();
            int r = handshake(&c[k], host, port);
            if (r != 0) {
                fprintf(stderr, "handshake with %s failed: -0x%04x %s\n", c[k].keyref, (unsigned)-r,
                        keyward_last_error());
                goto exit;
            }
            if (i >= 2) {
                c[k].t[i - 2] = kw_now_us() - t0;
            }
        }
    }
    {
        double ref = kw_median(c[nk - 1].t, n);
        for (size_t k = 0; k < nk; k++) {
            double m = kw_median(c[k].t, n);
            /* the KEYREF without its query (no PIN in the output) */
            int len = (int)strcspn(c[k].keyref, "?");
            printf("TLS %s  n=%zu  %-44.*s median %8.1f us  ratio %.3f\n", tls13 ? "1.3" : "1.2", n,
                   len, c[k].keyref, m, m / ref);
        }
    }
    rc = 0;
exit:
    for (size_t k = 0; k < nk; k++) {
        mbedtls_ssl_config_free(&c[k].conf);
        mbedtls_pk_free(&c[k].pk);
        mbedtls_x509_crt_free(&c[k].crt);
        psa_destroy_key(c[k].key);
        free(c[k].t);
    }
    mbedtls_x509_crt_free(&ca);
    mbedtls_psa_crypto_free();
    return rc;
}
