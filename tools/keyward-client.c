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
 * Modules: client/net.c (deadlines, lookup, connect, BIO callbacks),
 * client/http.c (the response parser), client/report.c (messages).
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
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keyward/cert.h"
#include "keyward/keyward.h"
#include "keyward/port/backend.h"
#include "keyward/port/mbedtls_compat.h"
#include "keyward/tls.h"
#include "mbedtls/debug.h"
#include "mbedtls/error.h"
#include "mbedtls/pk.h"
#include "mbedtls/psa_util.h"
#include "mbedtls/ssl.h"
#include "mbedtls/ssl_ciphersuites.h"
#include "mbedtls/x509_crt.h"
#include "client/client.h"
#include "client/http.h"
#include "client/net.h"
#include "signals.h"

/* How long tls:// waits for the server's verdict on the certificate, then
 * for its answer to close_notify. */
#define KWC_VERDICT_WAIT_MS 1000
#define KWC_CLOSE_WAIT_MS 1000

typedef struct {
    int verbose;
    int no_fail;
    int tls_max, tls_min; /* 12 or 13, 0 = default */
    const char *cacert, *cert, *chain, *key, *url;
    char host[256], port[8], path[1024];
    int https;
    int64_t connect_timeout_ms, max_time_ms;
} opts_t;

typedef struct {
    mbedtls_ssl_context ssl;
    mbedtls_ssl_config conf;
    mbedtls_x509_crt ca;
    keyward_tls_identity_t id; /* --cert, --chain, --key */
    char shown_cert[512];
} client_t;

/* Filled from Mbed TLS's debug output, the only place 3.6 shows them. */
static char tls13_sigalg[64];
static int last_alert = -1;

/* ------------------------------------------------------------------ messages */

static const char *alert_name(int desc)
{
    static const struct {
        int desc;
        const char *name;
    } names[] = {
        {0, "close_notify"},
        {10, "unexpected_message"},
        {20, "bad_record_mac"},
        {22, "record_overflow"},
        {40, "handshake_failure"},
        {42, "bad_certificate"},
        {43, "unsupported_certificate"},
        {44, "certificate_revoked"},
        {45, "certificate_expired"},
        {46, "certificate_unknown"},
        {47, "illegal_parameter"},
        {48, "unknown_ca"},
        {49, "access_denied"},
        {50, "decode_error"},
        {51, "decrypt_error"},
        {70, "protocol_version"},
        {71, "insufficient_security"},
        {80, "internal_error"},
        {86, "inappropriate_fallback"},
        {90, "user_canceled"},
        {109, "missing_extension"},
        {110, "unsupported_extension"},
        {112, "unrecognized_name"},
        {116, "certificate_required"},
        {120, "no_application_protocol"},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (names[i].desc == desc) {
            return names[i].name;
        }
    }
    return "unknown";
}

/* Alerts a server sends when it does not accept the client certificate. */
static int alert_is_about_client_cert(int desc)
{
    return (desc >= 42 && desc <= 49) || desc == 51 || desc == 116;
}

static int fail_alert(const char *when)
{
    if (last_alert < 0) {
        return kwc_fail(KWC_EXIT_TLS, "the server sent a fatal alert %s", when);
    }
    return kwc_fail(KWC_EXIT_TLS, "the server sent the fatal alert %s (%d) %s%s",
                    alert_name(last_alert), last_alert, when,
                    alert_is_about_client_cert(last_alert) ? ": it rejected the client certificate"
                                                           : "");
}

static int fail_mbedtls(int code, const char *what, int ret)
{
    char buf[200];
    keyward_compat_strerror(ret, buf, sizeof(buf));
    fprintf(stderr, "keyward-client: %s failed: %s (-0x%04x)", what, buf, (unsigned)-ret);
    if (keyward_last_error()[0] != '\0') {
        fprintf(stderr, " (%s)", keyward_last_error());
    }
    fputc('\n', stderr);
    return code;
}

/* The KEYREF as messages show it: values of secret attributes (PINs, TPM
 * auth values) become "***".  Every message naming a KEYREF goes through
 * here. */
static const char *keyref_shown(const char *keyref, char *out, size_t size)
{
    (void)keyward_keyref_redact(keyref, out, size);
    return out;
}

/* ------------------------------------------------------------------ options */

static void usage(void)
{
    fprintf(stderr,
            "usage: keyward-client [-v] [--tls-max 1.2|1.3] [--tls-min 1.2|1.3] [--no-fail]\n"
            "                      [--connect-timeout S] [--max-time S] --cacert CA.pem\n"
            "                      --cert CERTREF [--chain CHAIN.pem] --key KEYREF URL\n"
            "  URL  https://host:port/path (GET, prints the body) or tls://host:port\n"
            "  KEYREF %s%sfile:key.pem\n"
            "  CERTREF CERT.pem%s%s\n"
            "  exit status: 0 ok, 2 usage, 6 resolve, 7 connect, 18 partial body, 22 HTTP error,\n"
            "               28 timeout, 35 TLS/alert, 56 receive, 58 certificate/key problem\n",
            /* the KEYREF and CERTREF forms of this build's backends (their declarations) */
            KEYWARD_KEYREF_HELP, KEYWARD_KEYREF_HELP[0] != '\0' ? ", " : "",
            KEYWARD_CERTREF_HELP[0] != '\0' ? ", " : "", KEYWARD_CERTREF_HELP);
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

/* Seconds, fractions allowed, as curl takes them: (0, 1e6]. */
static int parse_seconds(const char *s, int64_t *ms)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (end == s || *end != '\0' || errno != 0 || !isfinite(v) || v <= 0 || v > 1e6) {
        return -1;
    }
    *ms = (int64_t)(v * 1000.0 + 0.5);
    if (*ms == 0) {
        *ms = 1;
    }
    return 0;
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
        if (n == 0 || n >= sizeof(o->port) || atoi(ps) > 65535 || atoi(ps) == 0) {
            return -1;
        }
        memcpy(o->port, ps, n);
        o->port[n] = '\0';
    }
    if (*p != '\0' && *p != '/') {
        return -1;
    }
    if (strlen(*p ? p : "/") >= sizeof(o->path) || strpbrk(p, " \r\n") != NULL) {
        return -1;
    }
    strcpy(o->path, *p ? p : "/");
    return 0;
}

/* Returns -1 to go on, or the exit status (0 for --help, 2 for bad usage). */
static int parse_args(int argc, char **argv, opts_t *o)
{
    char shown[1024];

    memset(o, 0, sizeof(*o));
    o->connect_timeout_ms = 10000;
    o->max_time_ms = 60000;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-v") == 0) {
            o->verbose = 1;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage();
            return 0;
        } else if (strcmp(a, "--no-fail") == 0) {
            o->no_fail = 1;
        } else if ((strcmp(a, "--tls-max") == 0 || strcmp(a, "--tls-min") == 0) && v != NULL) {
            int ver = parse_version(v);
            if (ver < 0) {
                return kwc_fail(KWC_EXIT_USAGE, "%s takes 1.2 or 1.3, not '%s'", a, v);
            }
            *(strcmp(a, "--tls-max") == 0 ? &o->tls_max : &o->tls_min) = ver;
            i++;
        } else if ((strcmp(a, "--connect-timeout") == 0 || strcmp(a, "--max-time") == 0) &&
                   v != NULL) {
            int64_t *ms = strcmp(a, "--max-time") == 0 ? &o->max_time_ms : &o->connect_timeout_ms;
            if (parse_seconds(v, ms) != 0) {
                return kwc_fail(KWC_EXIT_USAGE, "%s takes seconds (> 0, at most 1000000), not '%s'",
                                a, v);
            }
            i++;
        } else if (strcmp(a, "--cacert") == 0 && v != NULL) {
            o->cacert = v;
            i++;
        } else if (strcmp(a, "--cert") == 0 && v != NULL) {
            o->cert = v;
            i++;
        } else if (strcmp(a, "--chain") == 0 && v != NULL) {
            o->chain = v;
            i++;
        } else if (strcmp(a, "--key") == 0 && v != NULL) {
            o->key = v;
            i++;
        } else if (a[0] != '-' && o->url == NULL) {
            o->url = a;
        } else {
            kwc_fail(KWC_EXIT_USAGE, "unknown or incomplete option '%s'",
                     keyref_shown(a, shown, sizeof(shown)));
            usage();
            return KWC_EXIT_USAGE;
        }
    }
    if (o->cacert == NULL || o->cert == NULL || o->key == NULL || o->url == NULL) {
        kwc_fail(KWC_EXIT_USAGE, "--cacert, --cert, --key and a URL are required");
        usage();
        return KWC_EXIT_USAGE;
    }
    if (o->tls_min != 0 && o->tls_max != 0 && o->tls_min > o->tls_max) {
        return kwc_fail(KWC_EXIT_USAGE, "--tls-min is above --tls-max");
    }
    if (parse_url(o) != 0) {
        return kwc_fail(KWC_EXIT_USAGE, "bad URL '%s' (https://host:port/path or tls://host:port)",
                        keyref_shown(o->url, shown, sizeof(shown)));
    }
    return -1;
}

/* ------------------------------------------------------------------ Mbed TLS version specifics */

/* The calls that differ between Mbed TLS 3.6 and 4.x, in one place (the key
 * and the RNG: keyward_tls_conf_identity). */
/* A TLS 1.3 NewSessionTicket tells tls:// that the server went on after the
 * client's Finished.  3.6 drops tickets silently unless asked to report
 * them (4.x always reports them). */
static void client_conf_report_tickets(mbedtls_ssl_config *conf)
{
#if MBEDTLS_VERSION_MAJOR == 3 && defined(MBEDTLS_SSL_SESSION_TICKETS) &&                          \
    defined(MBEDTLS_SSL_PROTO_TLS1_3)
    mbedtls_ssl_conf_tls13_enable_signal_new_session_tickets(
        conf, MBEDTLS_SSL_TLS1_3_SIGNAL_NEW_SESSION_TICKETS_ENABLED);
#else
    (void)conf;
#endif
}

/* ------------------------------------------------------------------ credentials */

/* Mbed TLS loads a file by seeking to its end: a directory makes it ask for
 * a 2^63-byte buffer, a FIFO blocks.  Only regular files go further. */
static int check_regular_file(const char *what, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        return kwc_fail(KWC_EXIT_LOCAL_CERT, "cannot load %s %s: %s", what, path, strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
        return kwc_fail(KWC_EXIT_LOCAL_CERT, "cannot load %s %s: not a regular file", what, path);
    }
    return 0;
}

static int load_cert_file(mbedtls_x509_crt *crt, const char *what, const char *path)
{
    char buf[160];
    int rc = check_regular_file(what, path);

    if (rc != 0) {
        return rc;
    }
    rc = mbedtls_x509_crt_parse_file(crt, path);
    if (rc != 0) {
        if (rc > 0) { /* some certificates of a bundle parsed, rc did not */
            return kwc_fail(KWC_EXIT_LOCAL_CERT,
                            "cannot load %s %s: %d certificate(s) in it unreadable", what, path,
                            rc);
        }
        keyward_compat_strerror(rc, buf, sizeof(buf));
        return kwc_fail(KWC_EXIT_LOCAL_CERT, "cannot load %s %s: %s", what, path, buf);
    }
    return 0;
}

/* An SE CERTREF: a scheme of this build's backends (the generated table),
 * or a scheme-shaped reference that names no file ("tpm2:nv=..." in a build
 * without that backend): the library refuses it with the scheme named. */
static int certref_is_se(const char *certref)
{
    const keyward_backend_t *be;
    struct stat st;

    if (strncmp(certref, "file:", 5) == 0 || keyward_ref_scheme_len(certref) == 0) {
        return 0;
    }
    be = keyward_backend_by_keyref(certref);
    if (be != NULL) {
        return be->cert_read != NULL; /* else a file, as any other name */
    }
    return stat(certref, &st) != 0;
}

/* A file CERTREF is parsed here first, and let go: the message then names
 * the file and says what is wrong with it, in Mbed TLS's words.  An SE
 * reference is not printed (it may carry a PIN): the identity reports it. */
static int check_certref_file(const char *what, const char *certref)
{
    mbedtls_x509_crt scratch;
    int rc;

    if (certref_is_se(certref)) {
        return 0;
    }
    mbedtls_x509_crt_init(&scratch);
    rc = load_cert_file(&scratch, what, strncmp(certref, "file:", 5) == 0 ? certref + 5 : certref);
    mbedtls_x509_crt_free(&scratch);
    return rc;
}

/* Certificates, key, and whether the certificate belongs to the key: all
 * checked before any connection is made (keyward_tls_identity_open). */
static int load_credentials(const opts_t *o, client_t *cl)
{
    psa_status_t status;
    char shown[512];
    const char *err;
    int rc;

    if ((rc = load_cert_file(&cl->ca, "CA certificate", o->cacert)) != 0 ||
        (rc = check_certref_file("client certificate", o->cert)) != 0 ||
        (o->chain != NULL && (rc = check_certref_file("certificate chain", o->chain)) != 0)) {
        return rc;
    }
    status = keyward_tls_identity_open(&cl->id, o->cert, o->chain, o->key);
    if (status == PSA_SUCCESS) {
        return 0;
    }
    err = keyward_last_error();
    switch (cl->id.failed_step) {
    case KEYWARD_TLS_STEP_KEY:
        return kwc_fail(KWC_EXIT_LOCAL_CERT, "cannot open key %s: %s%s%s",
                        keyref_shown(o->key, shown, sizeof(shown)), keyward_status_name(status),
                        err[0] ? ": " : "", err);
    case KEYWARD_TLS_STEP_PAIR:
        return kwc_fail(KWC_EXIT_LOCAL_CERT,
                        "the client certificate %s does not match the key %s: %s%s%s",
                        keyref_shown(o->cert, cl->shown_cert, sizeof(cl->shown_cert)),
                        keyref_shown(o->key, shown, sizeof(shown)), keyward_status_name(status),
                        err[0] ? ": " : "", err);
    default: /* the certificate, the chain, or a key Mbed TLS cannot use */
        return kwc_fail(KWC_EXIT_LOCAL_CERT, "client certificate/key: %s%s%s",
                        keyward_status_name(status), err[0] ? ": " : "", err);
    }
}

/* ------------------------------------------------------------------ TLS configuration */

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
        last_alert = (int)alert_desc;
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

static int configure_tls(const opts_t *o, client_t *cl, kwc_conn_t *c)
{
    int rc;

    if ((rc = mbedtls_ssl_config_defaults(&cl->conf, MBEDTLS_SSL_IS_CLIENT,
                                          MBEDTLS_SSL_TRANSPORT_STREAM,
                                          MBEDTLS_SSL_PRESET_DEFAULT)) != 0) {
        return fail_mbedtls(KWC_EXIT_FAILURE, "mbedtls_ssl_config_defaults", rc);
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
        return fail_mbedtls(KWC_EXIT_FAILURE, "mbedtls_ssl_setup", rc);
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
        return fail_alert("during the handshake");
    }
    if (rc == MBEDTLS_ERR_SSL_CONN_EOF || c->reset) {
        return kwc_fail(KWC_EXIT_TLS,
                        "the server %s the connection during the handshake: it may "
                        "have rejected the certificate",
                        c->reset ? "reset" : "closed");
    }
    ret = fail_mbedtls(KWC_EXIT_TLS, "TLS handshake", rc);
    flags = mbedtls_ssl_get_verify_result(&cl->ssl);
    if (flags != 0 && flags != (uint32_t)-1) {
        char vb[512];
        mbedtls_x509_crt_verify_info(vb, sizeof(vb), "  server certificate: ", flags);
        fputs(vb, stderr);
    }
    return ret;
}

static int tls_handshake(client_t *cl, kwc_conn_t *c)
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

static void print_session(const client_t *cl)
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

/* ------------------------------------------------------------------ tls:// */

/* Why a connection that stopped after the handshake stopped, as a failure. */
static int fail_after_handshake(const kwc_conn_t *c, int rc, const char *when)
{
    int ret = kwc_fail_wait(c, when);
    if (ret != 0) {
        return ret;
    }
    if (rc == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE) {
        return fail_alert("after the handshake");
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
    return fail_mbedtls(KWC_EXIT_TLS, when, rc);
}

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
static int tls_check_close(const opts_t *o, client_t *cl, kwc_conn_t *c)
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
        return fail_after_handshake(c, rc, "waiting for the server's verdict");
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
        return fail_after_handshake(c, rc, "sending close_notify");
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
    return fail_after_handshake(c, rc, "waiting for the server's close_notify");
}

/* ------------------------------------------------------------------ https:// */

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
            return fail_mbedtls(KWC_EXIT_SEND, "sending the request", rc);
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
        return fail_alert(r->head_len == 0 ? "after the request" : "during the response");
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

static int https_get(const opts_t *o, client_t *cl, kwc_conn_t *c)
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
            return fail_after_handshake(c, rc, "reading the response");
        }
        if (!kwc_http_complete(&resp)) {
            return fail_mbedtls(resp.content_length >= 0 ? KWC_EXIT_PARTIAL : KWC_EXIT_RECV,
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

/* ------------------------------------------------------------------ main */

static int run(const opts_t *o, client_t *cl, kwc_conn_t *c)
{
    int ret;

    if ((ret = load_credentials(o, cl)) != 0) {
        return ret;
    }
    if (kw_signals_caught() != 0) {
        return kwc_fail_signal();
    }
    if ((ret = configure_tls(o, cl, c)) != 0) {
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
    if ((ret = tls_handshake(cl, c)) != 0) {
        return ret;
    }
    if (o->verbose) {
        print_session(cl);
    }
    return o->https ? https_get(o, cl, c) : tls_check_close(o, cl, c);
}

int main(int argc, char **argv)
{
    static opts_t o;
    static client_t cl;
    kwc_conn_t conn;
    psa_status_t status;
    int ret;

    ret = parse_args(argc, argv, &o);
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
