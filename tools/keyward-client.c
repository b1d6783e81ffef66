/*
 * keyward-client: a curl-like mutual-TLS client whose private key may live in
 * a secure element.
 *
 *   keyward-client [-v] [--tls-max 1.2|1.3] [--tls-min 1.2|1.3] --cacert CA.pem
 *                  --cert CERTREF [--chain CHAIN.pem] --key KEYREF URL
 *
 * CERTREF: a file, or the certificate in the SE (pkcs11:...;type=cert,
 * tpm2:nv=0x01XXXXXX; include/keyward/cert.h); intermediates from --chain.
 *
 * URL: https://host:port/path (GET, body to stdout) or tls://host:port
 * (handshake only).  Exit status 0 only on success.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "keyward/cert.h"
#include "keyward/keyward.h"
#include "mbedtls/debug.h"
#include "mbedtls/error.h"
#include "mbedtls/net_sockets.h"
#include "mbedtls/pk.h"
#include "mbedtls/psa_util.h"
#include "mbedtls/ssl.h"
#include "mbedtls/ssl_ciphersuites.h"
#include "mbedtls/x509_crt.h"

typedef struct {
    int verbose;
    int tls_max, tls_min; /* 12 or 13, 0 = default */
    const char *cacert, *cert, *chain, *key, *url;
    char host[256], port[8], path[1024];
    int https;
    unsigned timeout_ms;
} opts_t;

static char tls13_sigalg[64];

static void usage(void)
{
    fprintf(stderr,
            "usage: keyward-client [-v] [--tls-max 1.2|1.3] [--tls-min 1.2|1.3] --cacert CA.pem\n"
            "                      --cert CERTREF [--chain CHAIN.pem] --key KEYREF URL\n"
            "  URL  https://host:port/path (GET, prints the body) or tls://host:port\n"
            "  KEYREF pkcs11:..., atecc608:slot=N, tpm2:handle=..|file=.., file:key.pem\n"
            "  CERTREF CERT.pem, pkcs11:...;type=cert, tpm2:nv=0x01XXXXXX\n");
}

static int parse_version(const char *s)
{
    if (strcmp(s, "1.2") == 0) {
        return 12;
    }
    if (strcmp(s, "1.3") == 0) {
        return 13;
    }
    return -1;
}

static int parse_url(opts_t *o)
{
    const char *p = o->url, *hs, *he, *ps;
    size_t n;

    if (strncmp(p, "https://", 8) == 0) {
        o->https = 1;
        p += 8;
    } else if (strncmp(p, "tls://", 6) == 0) {
        p += 6;
    } else {
        return -1;
    }
    hs = p;
    if (*p == '[') { /* [v6]:port */
        he = strchr(p, ']');
        if (he == NULL) {
            return -1;
        }
        hs = p + 1;
        p = he + 1;
    } else {
        he = p + strcspn(p, ":/");
        p = he;
    }
    n = (size_t)(he - hs);
    if (n == 0 || n >= sizeof(o->host)) {
        return -1;
    }
    memcpy(o->host, hs, n);
    o->host[n] = '\0';
    strcpy(o->port, "443");
    if (*p == ':') {
        ps = ++p;
        p += strspn(p, "0123456789");
        n = (size_t)(p - ps);
        if (n == 0 || n >= sizeof(o->port) || atoi(ps) > 65535) {
            return -1;
        }
        memcpy(o->port, ps, n);
        o->port[n] = '\0';
    }
    if (*p != '\0' && *p != '/') {
        return -1;
    }
    if (strlen(*p ? p : "/") >= sizeof(o->path)) {
        return -1;
    }
    strcpy(o->path, *p ? p : "/");
    return 0;
}

static void debug_cb(void *ctx, int level, const char *file, int line, const char *msg)
{
    static const char tag[] = "CertificateVerify signature with ";
    const char *p = strstr(msg, tag);
    (void)ctx;
    (void)level;
    (void)file;
    (void)line;
    if (p != NULL) {
        snprintf(tls13_sigalg, sizeof(tls13_sigalg), "%s", p + sizeof(tag) - 1);
        tls13_sigalg[strcspn(tls13_sigalg, "\r\n")] = '\0';
    }
}

/* TLS 1.2 clients in Mbed TLS 3.6 sign CertificateVerify with the key's
 * scheme and SHA-384 for SHA-384 suites, SHA-256 otherwise. */
static void tls12_sigalg(const mbedtls_ssl_context *ssl, const mbedtls_pk_context *pk, char *out,
                         size_t size)
{
    const char *suite = mbedtls_ssl_get_ciphersuite(ssl);
    const char *hash = (suite != NULL && strstr(suite, "SHA384") != NULL) ? "sha384" : "sha256";
    snprintf(out, size, "%s_%s", mbedtls_pk_can_do(pk, MBEDTLS_PK_ECKEY) ? "ecdsa" : "rsa_pkcs1",
             hash);
}

/* Can the key's policy sign a SHA-384 hash? */
static int key_signs_sha384(psa_key_id_t key)
{
    psa_key_attributes_t attr = PSA_KEY_ATTRIBUTES_INIT;
    psa_algorithm_t algs[2];
    int ok = 0;

    if (psa_get_key_attributes(key, &attr) != PSA_SUCCESS) {
        return 1;
    }
    algs[0] = psa_get_key_algorithm(&attr);
    algs[1] = psa_get_key_enrollment_algorithm(&attr);
    for (int i = 0; i < 2; i++) {
        psa_algorithm_t h = PSA_ALG_IS_SIGN_HASH(algs[i]) ? PSA_ALG_SIGN_GET_HASH(algs[i]) : 0;
        ok |= h == PSA_ALG_ANY_HASH || h == PSA_ALG_SHA_384;
    }
    psa_reset_key_attributes(&attr);
    return ok;
}

/* A TLS 1.2 client signs CertificateVerify with SHA-384 when the suite's
 * hash is SHA-384 (Mbed TLS 3.6).  A key that cannot (an ATECC608 signs
 * SHA-256 only) must not offer those suites, or the handshake would fail
 * after the server picked one. */
static void drop_sha384_suites(int *out, size_t out_size)
{
    const int *all = mbedtls_ssl_list_ciphersuites();
    size_t n = 0;

    for (size_t i = 0; all[i] != 0 && n + 1 < out_size; i++) {
        const char *name = mbedtls_ssl_get_ciphersuite_name(all[i]);
        if (strncmp(name, "TLS1-3-", 7) == 0 || strstr(name, "SHA384") == NULL) {
            out[n++] = all[i];
        }
    }
    out[n] = 0;
}

static int fail_tls(const char *what, int ret)
{
    char buf[200];
    mbedtls_strerror(ret, buf, sizeof(buf));
    fprintf(stderr, "keyward-client: %s failed: -0x%04x %s", what, (unsigned)-ret, buf);
    if (keyward_last_error()[0] != '\0') {
        fprintf(stderr, " (%s)", keyward_last_error());
    }
    fprintf(stderr, "\n");
    return 1;
}

int main(int argc, char **argv)
{
    opts_t o;
    int ret = 1, rc;
    psa_status_t status;
    psa_key_id_t key = 0;
    mbedtls_net_context net;
    mbedtls_ssl_context ssl;
    mbedtls_ssl_config conf;
    mbedtls_x509_crt ca, crt;
    mbedtls_pk_context pk;
    uint32_t flags;
    static int suites[256];

    memset(&o, 0, sizeof(o));
    o.timeout_ms = 10000;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-v") == 0) {
            o.verbose = 1;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage();
            return 0;
        } else if ((strcmp(a, "--tls-max") == 0 || strcmp(a, "--tls-min") == 0) && v != NULL) {
            int ver = parse_version(v);
            if (ver < 0) {
                fprintf(stderr, "keyward-client: %s takes 1.2 or 1.3, not '%s'\n", a, v);
                return 2;
            }
            *(strcmp(a, "--tls-max") == 0 ? &o.tls_max : &o.tls_min) = ver;
            i++;
        } else if (strcmp(a, "--cacert") == 0 && v != NULL) {
            o.cacert = v;
            i++;
        } else if (strcmp(a, "--cert") == 0 && v != NULL) {
            o.cert = v;
            i++;
        } else if (strcmp(a, "--chain") == 0 && v != NULL) {
            o.chain = v;
            i++;
        } else if (strcmp(a, "--key") == 0 && v != NULL) {
            o.key = v;
            i++;
        } else if (a[0] != '-' && o.url == NULL) {
            o.url = a;
        } else {
            fprintf(stderr, "keyward-client: unknown or incomplete option '%s'\n", a);
            usage();
            return 2;
        }
    }
    if (o.cacert == NULL || o.cert == NULL || o.key == NULL || o.url == NULL) {
        usage();
        return 2;
    }
    if (parse_url(&o) != 0) {
        fprintf(stderr, "keyward-client: bad URL '%s' (https://host:port/path or tls://host:port)\n",
                o.url);
        return 2;
    }

    mbedtls_net_init(&net);
    mbedtls_ssl_init(&ssl);
    mbedtls_ssl_config_init(&conf);
    mbedtls_x509_crt_init(&ca);
    mbedtls_x509_crt_init(&crt);
    mbedtls_pk_init(&pk);

    status = keyward_init();
    if (status != PSA_SUCCESS) {
        fprintf(stderr, "keyward-client: psa_crypto_init: %s\n", keyward_status_name(status));
        goto exit;
    }
    if ((rc = mbedtls_x509_crt_parse_file(&ca, o.cacert)) != 0) {
        fprintf(stderr, "keyward-client: cannot load CA certificate %s: -0x%04x\n", o.cacert,
                (unsigned)-rc);
        goto exit;
    }
    /* 58: certificate/key problem.  The CERTREF is not printed (pin-value). */
    if ((status = keyward_cert_load(&crt, o.cert)) != PSA_SUCCESS ||
        (o.chain != NULL && (status = keyward_cert_load(&crt, o.chain)) != PSA_SUCCESS)) {
        fprintf(stderr, "keyward-client: cannot load the client certificate%s: %s: %s\n",
                o.chain != NULL ? " or its chain" : "", keyward_status_name(status),
                keyward_last_error());
        ret = 58;
        goto exit;
    }
    status = keyward_key_open(o.key, &key);
    if (status != PSA_SUCCESS) {
        fprintf(stderr, "keyward-client: cannot open key %s: %s%s%s\n", o.key,
                keyward_status_name(status), keyward_last_error()[0] ? ": " : "",
                keyward_last_error());
        goto exit;
    }
    if ((rc = mbedtls_pk_setup_opaque(&pk, key)) != 0) {
        ret = fail_tls("mbedtls_pk_setup_opaque", rc);
        goto exit;
    }
    if ((rc = mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                          MBEDTLS_SSL_PRESET_DEFAULT)) != 0) {
        ret = fail_tls("mbedtls_ssl_config_defaults", rc);
        goto exit;
    }
    mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&conf, &ca, NULL);
    mbedtls_ssl_conf_rng(&conf, mbedtls_psa_get_random, MBEDTLS_PSA_RANDOM_STATE);
    mbedtls_ssl_conf_read_timeout(&conf, o.timeout_ms);
    if (o.tls_max != 0) {
        mbedtls_ssl_conf_max_tls_version(&conf, o.tls_max == 12 ? MBEDTLS_SSL_VERSION_TLS1_2
                                                                 : MBEDTLS_SSL_VERSION_TLS1_3);
    }
    if (o.tls_min != 0) {
        mbedtls_ssl_conf_min_tls_version(&conf, o.tls_min == 12 ? MBEDTLS_SSL_VERSION_TLS1_2
                                                                 : MBEDTLS_SSL_VERSION_TLS1_3);
    }
    if (!key_signs_sha384(key)) {
        drop_sha384_suites(suites, sizeof(suites) / sizeof(suites[0]));
        mbedtls_ssl_conf_ciphersuites(&conf, suites);
    }
    if ((rc = mbedtls_ssl_conf_own_cert(&conf, &crt, &pk)) != 0) {
        ret = fail_tls("mbedtls_ssl_conf_own_cert", rc);
        goto exit;
    }
    if (o.verbose) {
        mbedtls_ssl_conf_dbg(&conf, debug_cb, NULL);
        mbedtls_debug_set_threshold(2);
    }
    if ((rc = mbedtls_ssl_setup(&ssl, &conf)) != 0 ||
        (rc = mbedtls_ssl_set_hostname(&ssl, o.host)) != 0) {
        ret = fail_tls("mbedtls_ssl_setup", rc);
        goto exit;
    }
    if ((rc = mbedtls_net_connect(&net, o.host, o.port, MBEDTLS_NET_PROTO_TCP)) != 0) {
        fprintf(stderr, "keyward-client: cannot connect to %s port %s\n", o.host, o.port);
        goto exit;
    }
    {
        /* handshake records go out one write each: don't let Nagle hold them */
        int one = 1;
        setsockopt(net.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    mbedtls_ssl_set_bio(&ssl, &net, mbedtls_net_send, NULL, mbedtls_net_recv_timeout);
    while ((rc = mbedtls_ssl_handshake(&ssl)) != 0) {
        if (rc != MBEDTLS_ERR_SSL_WANT_READ && rc != MBEDTLS_ERR_SSL_WANT_WRITE) {
            ret = fail_tls("TLS handshake", rc);
            flags = mbedtls_ssl_get_verify_result(&ssl);
            if (flags != 0 && flags != (uint32_t)-1) {
                char vb[512];
                mbedtls_x509_crt_verify_info(vb, sizeof(vb), "  server certificate: ", flags);
                fputs(vb, stderr);
            }
            goto exit;
        }
    }
    if (o.verbose) {
        char sa[64];
        if (mbedtls_ssl_get_version_number(&ssl) == MBEDTLS_SSL_VERSION_TLS1_3) {
            snprintf(sa, sizeof(sa), "%s", tls13_sigalg[0] ? tls13_sigalg : "unknown");
        } else {
            tls12_sigalg(&ssl, &pk, sa, sizeof(sa));
        }
        fprintf(stderr, "* protocol: %s\n* ciphersuite: %s\n* client signature algorithm: %s\n",
                mbedtls_ssl_get_version(&ssl), mbedtls_ssl_get_ciphersuite(&ssl), sa);
    }
    if (o.https) {
        char req[1400];
        unsigned char buf[4096];
        int n = snprintf(req, sizeof(req),
                         "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: keyward-client\r\n\r\n",
                         o.path, o.host);
        size_t off = 0, hdr_done = 0;
        char tail[4] = {0};
        while (off < (size_t)n) {
            rc = mbedtls_ssl_write(&ssl, (const unsigned char *)req + off, (size_t)n - off);
            if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
                continue;
            }
            if (rc < 0) {
                ret = fail_tls("write", rc);
                goto exit;
            }
            off += (size_t)rc;
        }
        /* Print the body: everything after the first blank line. */
        for (;;) {
            rc = mbedtls_ssl_read(&ssl, buf, sizeof(buf));
            if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE ||
                rc == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET) {
                continue;
            }
            if (rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY ||
                rc == MBEDTLS_ERR_NET_CONN_RESET) {
                break;
            }
            if (rc < 0) {
                ret = fail_tls("read", rc);
                goto exit;
            }
            for (int i = 0; i < rc; i++) {
                if (hdr_done) {
                    putchar(buf[i]);
                    continue;
                }
                memmove(tail, tail + 1, 3);
                tail[3] = (char)buf[i];
                if (memcmp(tail, "\r\n\r\n", 4) == 0 || memcmp(tail + 2, "\n\n", 2) == 0) {
                    hdr_done = 1;
                }
            }
        }
        fflush(stdout);
    }
    mbedtls_ssl_close_notify(&ssl);
    ret = 0;
exit:
    mbedtls_net_free(&net);
    mbedtls_ssl_free(&ssl);
    mbedtls_ssl_config_free(&conf);
    mbedtls_x509_crt_free(&ca);
    mbedtls_x509_crt_free(&crt);
    mbedtls_pk_free(&pk);
    if (key != 0) {
        psa_destroy_key(key);
    }
    mbedtls_psa_crypto_free();
    return ret;
}
