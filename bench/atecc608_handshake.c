/*
 * What a TLS handshake costs on the ATECC608's bus: wakes, commands, bus
 * transactions and bytes, polls, and the time, measured from the
 * emulator's counters.  Client and server run in this process over an
 * in-memory transport (Mbed TLS both sides); the client's key is slot 0 of
 * an emulated chip running at the nominal 608 execution times
 * (--time-scale 1), the server's a software key.  Each handshake is a full
 * one (no resumption).
 *
 *   atecc608_handshake [N]   (needs KW_EMU = path of keyward-atecc608-emu,
 *                            KW_TOOL = path of keyward-tool)
 */
#include <string.h>
#include <time.h>

#include "bench_emu.h"
#include "keyward/keyward.h"
#include "keyward/port/mbedtls_compat.h"
#include "mbedtls/pk.h"
#include "mbedtls/psa_util.h"
#include "mbedtls/ssl.h"
#include "mbedtls/x509_crt.h"

typedef struct {
    unsigned char buf[65536];
    size_t len;
} pipe_t;

static pipe_t c2s, s2c;

typedef struct {
    pipe_t *in, *out;
} ends_t;

static int bio_send(void *ctx, const unsigned char *p, size_t n)
{
    pipe_t *o = ((ends_t *)ctx)->out;
    if (n > sizeof(o->buf) - o->len) {
        n = sizeof(o->buf) - o->len;
    }
    if (n == 0) {
        return MBEDTLS_ERR_SSL_WANT_WRITE;
    }
    memcpy(o->buf + o->len, p, n);
    o->len += n;
    return (int)n;
}

static int bio_recv(void *ctx, unsigned char *p, size_t n)
{
    pipe_t *i = ((ends_t *)ctx)->in;
    if (i->len == 0) {
        return MBEDTLS_ERR_SSL_WANT_READ;
    }
    if (n > i->len) {
        n = i->len;
    }
    memcpy(p, i->buf, n);
    memmove(i->buf, i->buf + n, i->len - n);
    i->len -= n;
    return (int)n;
}

static psa_key_id_t soft_key(void)
{
    psa_key_attributes_t a = PSA_KEY_ATTRIBUTES_INIT;
    psa_key_id_t id = 0;
    psa_set_key_type(&a, PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1));
    psa_set_key_bits(&a, 256);
    psa_set_key_usage_flags(&a, PSA_KEY_USAGE_SIGN_HASH | PSA_KEY_USAGE_VERIFY_HASH);
    psa_set_key_algorithm(&a, PSA_ALG_ECDSA(PSA_ALG_ANY_HASH));
    CHECK(psa_generate_key(&a, &id) == PSA_SUCCESS);
    return id;
}

/* Issues a certificate for subject_key, signed by issuer_key, into chain. */
static void issue(mbedtls_pk_context *subject_key, const char *subject,
                  mbedtls_pk_context *issuer_key, const char *issuer, int ca,
                  mbedtls_x509_crt *chain)
{
    mbedtls_x509write_cert w;
    unsigned char der[2048], serial[8];
    int n;

    mbedtls_x509write_crt_init(&w);
    mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
    mbedtls_x509write_crt_set_subject_key(&w, subject_key);
    mbedtls_x509write_crt_set_issuer_key(&w, issuer_key);
    CHECK(mbedtls_x509write_crt_set_subject_name(&w, subject) == 0);
    CHECK(mbedtls_x509write_crt_set_issuer_name(&w, issuer) == 0);
    psa_generate_random(serial, sizeof(serial));
    serial[0] &= 0x7F;
    serial[0] |= 0x01;
    CHECK(mbedtls_x509write_crt_set_serial_raw(&w, serial, sizeof(serial)) == 0);
    CHECK(mbedtls_x509write_crt_set_validity(&w, "20240101000000", "20991231235959") == 0);
    CHECK(mbedtls_x509write_crt_set_basic_constraints(&w, ca, -1) == 0);
    n = keyward_compat_x509write_crt_der(&w, der, sizeof(der));
    CHECK(n > 0);
    CHECK(mbedtls_x509_crt_parse_der(chain, der + sizeof(der) - n, (size_t)n) == 0);
    mbedtls_x509write_crt_free(&w);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int handshake(mbedtls_ssl_config *cc, mbedtls_ssl_config *sc)
{
    mbedtls_ssl_context c, s;
    ends_t ce = {&s2c, &c2s}, se = {&c2s, &s2c};
    int rc = 0;

    c2s.len = s2c.len = 0;
    mbedtls_ssl_init(&c);
    mbedtls_ssl_init(&s);
    CHECK(mbedtls_ssl_setup(&c, cc) == 0 && mbedtls_ssl_setup(&s, sc) == 0);
    CHECK(mbedtls_ssl_set_hostname(&c, "localhost") == 0);
    mbedtls_ssl_set_bio(&c, &ce, bio_send, bio_recv, NULL);
    mbedtls_ssl_set_bio(&s, &se, bio_send, bio_recv, NULL);
    for (int i = 0;
         i < 1000 && !(mbedtls_ssl_is_handshake_over(&c) && mbedtls_ssl_is_handshake_over(&s));
         i++) {
        int a = mbedtls_ssl_is_handshake_over(&c) ? 0 : mbedtls_ssl_handshake_step(&c);
        int b = mbedtls_ssl_is_handshake_over(&s) ? 0 : mbedtls_ssl_handshake_step(&s);
        if ((a != 0 && a != MBEDTLS_ERR_SSL_WANT_READ && a != MBEDTLS_ERR_SSL_WANT_WRITE) ||
            (b != 0 && b != MBEDTLS_ERR_SSL_WANT_READ && b != MBEDTLS_ERR_SSL_WANT_WRITE)) {
            fprintf(stderr, "handshake failed: client -0x%04x server -0x%04x %s\n", (unsigned)-a,
                    (unsigned)-b, keyward_last_error());
            rc = -1;
            break;
        }
    }
    if (rc == 0 && (!mbedtls_ssl_is_handshake_over(&c) || mbedtls_ssl_get_peer_cert(&s) == NULL)) {
        rc = -1; /* the server must have verified the client's certificate */
    }
    mbedtls_ssl_free(&c);
    mbedtls_ssl_free(&s);
    return rc;
}

static void conf(mbedtls_ssl_config *cfg, int endpoint, mbedtls_ssl_protocol_version v,
                 mbedtls_x509_crt *ca, mbedtls_x509_crt *own, mbedtls_pk_context *key)
{
    mbedtls_ssl_config_init(cfg);
    CHECK(mbedtls_ssl_config_defaults(cfg, endpoint, MBEDTLS_SSL_TRANSPORT_STREAM,
                                      MBEDTLS_SSL_PRESET_DEFAULT) == 0);
    keyward_compat_ssl_conf_rng(cfg);
    mbedtls_ssl_conf_min_tls_version(cfg, v);
    mbedtls_ssl_conf_max_tls_version(cfg, v);
    mbedtls_ssl_conf_authmode(cfg, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(cfg, ca, NULL);
    CHECK(mbedtls_ssl_conf_own_cert(cfg, own, key) == 0);
#if defined(MBEDTLS_SSL_SESSION_TICKETS)
    if (endpoint == MBEDTLS_SSL_IS_CLIENT) {
        mbedtls_ssl_conf_session_tickets(cfg, MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
    }
#endif
}

int main(int argc, char **argv)
{
    static const char *const args[] = {"--time-scale", "1", NULL};
    int n = argc > 1 ? atoi(argv[1]) : 10;
    bench_emu_t emu;
    static char stats[8192];
    char keyref[400], chip[400];
    psa_key_id_t se_key, gen, ca_id, srv_id;
    mbedtls_pk_context ca_pk, srv_pk, cli_pk;
    mbedtls_x509_crt ca, srv, cli;
    static const char *names[] = {"wakes",        "commands",      "cmd_random",      "cmd_nonce",
                                  "cmd_sign",     "cmd_genkey",    "cmd_read",        "idles",
                                  "transactions", "bytes_to_chip", "bytes_from_chip", "bytes",
                                  "polls"};
    const size_t nn = sizeof(names) / sizeof(names[0]);

    if (n <= 0) {
        n = 10;
    }
    bench_emu_start(&emu, args);
    CHECK(keyward_init() == PSA_SUCCESS);
    snprintf(chip, sizeof(chip), "atecc608:bus=%s", emu.bus);
    snprintf(keyref, sizeof(keyref), "atecc608:slot=0;bus=%s", emu.bus);
    CHECK(bench_tool("provision", chip) == 0);
    CHECK(keyward_key_generate(keyref, PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1), 256,
                               &gen) == PSA_SUCCESS);
    psa_destroy_key(gen);
    CHECK(keyward_key_open(keyref, &se_key) == PSA_SUCCESS);

    ca_id = soft_key();
    srv_id = soft_key();
    mbedtls_pk_init(&ca_pk);
    mbedtls_pk_init(&srv_pk);
    mbedtls_pk_init(&cli_pk);
    CHECK(keyward_compat_pk_wrap_psa(&ca_pk, ca_id) == 0);
    CHECK(keyward_compat_pk_wrap_psa(&srv_pk, srv_id) == 0);
    CHECK(keyward_compat_pk_wrap_psa(&cli_pk, se_key) == 0);
    mbedtls_x509_crt_init(&ca);
    mbedtls_x509_crt_init(&srv);
    mbedtls_x509_crt_init(&cli);
    issue(&ca_pk, "CN=bench CA", &ca_pk, "CN=bench CA", 1, &ca);
    issue(&srv_pk, "CN=localhost", &ca_pk, "CN=bench CA", 0, &srv);
    issue(&cli_pk, "CN=atecc608 client", &ca_pk, "CN=bench CA", 0, &cli);

    printf("ATECC608 emulator at nominal 608 timing (--time-scale 1); %d full handshakes per "
           "version; mutual auth, ECDHE-ECDSA P-256; counters per handshake:\n\n",
           n);
    printf("| TLS | ms/handshake |");
    for (size_t i = 0; i < nn; i++) {
        printf(" %s |", names[i]);
    }
    printf("\n|---|---|");
    for (size_t i = 0; i < nn; i++) {
        printf("---|");
    }
    printf("\n");
    for (int v = 0; v < 2; v++) {
        mbedtls_ssl_config cc, sc;
        mbedtls_ssl_protocol_version ver =
            v == 0 ? MBEDTLS_SSL_VERSION_TLS1_2 : MBEDTLS_SSL_VERSION_TLS1_3;
        double t0;
        conf(&cc, MBEDTLS_SSL_IS_CLIENT, ver, &ca, &cli, &cli_pk);
        conf(&sc, MBEDTLS_SSL_IS_SERVER, ver, &ca, &srv, &srv_pk);
        CHECK(handshake(&cc, &sc) == 0); /* warm-up (public key already cached) */
        bench_emu_ctl(&emu, "stats reset", stats, sizeof(stats));
        t0 = now_ms();
        for (int i = 0; i < n; i++) {
            CHECK(handshake(&cc, &sc) == 0);
        }
        printf("| 1.%d | %.1f |", v == 0 ? 2 : 3, (now_ms() - t0) / n);
        bench_emu_ctl(&emu, "stats", stats, sizeof(stats));
        for (size_t i = 0; i < nn; i++) {
            printf(" %.1f |", (double)bench_emu_stat(stats, names[i]) / n);
        }
        printf("\n");
        mbedtls_ssl_config_free(&cc);
        mbedtls_ssl_config_free(&sc);
    }
    mbedtls_x509_crt_free(&ca);
    mbedtls_x509_crt_free(&srv);
    mbedtls_x509_crt_free(&cli);
    mbedtls_pk_free(&ca_pk);
    mbedtls_pk_free(&srv_pk);
    mbedtls_pk_free(&cli_pk);
    psa_destroy_key(ca_id);
    psa_destroy_key(srv_id);
    mbedtls_psa_crypto_free();
    return 0;
}
