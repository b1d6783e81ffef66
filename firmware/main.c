/*
 * keyward QEMU firmware: Mbed TLS 3.6 or 4.x + keyward on a Cortex-M4F
 * (qemu-system-arm -M mps2-an386), the client key in an ATECC608.
 *
 *   UART0  the I2C bus: keyward-atecc608-emu's socket (i2c_uart.c)
 *   UART1  the TLS connection: QEMU bridges it to the server's TCP port
 *   semihosting: console, fw-ca.pem and fw-client.pem from QEMU's working
 *   directory (stand-ins for a flash region), the clock, the exit status
 *
 * Boot: chip Info and serial number; PSA init, the DRBG seeded by the
 * chip's Random; slot 0 declared a builtin key; one sign + verify as a
 * self-test; mutual TLS (1.2 or 1.3, as the server offers), GET /, the
 * answer printed between "---- response ----" markers; then the heap peak
 * of the handshake and the stack high-water mark.  The exit status says
 * which step failed (FW_EXIT_*, also printed as text).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "board.h"
#include "i2c_uart.h"
#include "keyward/port/atecc608.h"
#include "keyward/port/atecc608_admin.h" /* the boot check: Info, serial, lock bytes */
#include "keyward/keyward.h"
/* The calls that differ between 3.6 and 4.x (PK over a PSA key, TLS RNG). */
#include "keyward/port/mbedtls_compat.h"
#include "mbedtls/error.h"
#include "mbedtls/memory_buffer_alloc.h"
#include "mbedtls/pk.h"
#include "mbedtls/platform.h"
#include "mbedtls/platform_time.h"
#include "mbedtls/platform_util.h"
#include "mbedtls/psa_util.h"
#include "mbedtls/ssl.h"
#include "mbedtls/x509_crt.h"
#include "psa/crypto.h"

enum {
    FW_EXIT_OK = 0,
    FW_EXIT_FILES = 2,         /* certificate files missing or unparsable */
    FW_EXIT_NO_CHIP = 3,       /* the chip does not answer */
    FW_EXIT_CHIP_COMM = 4,     /* it answers, but garbled (CRC / communication error) */
    FW_EXIT_UNPROVISIONED = 5, /* config zone unlocked / no key in slot 0 */
    FW_EXIT_KEY = 6,           /* the key would not sign */
    FW_EXIT_TLS = 7,           /* handshake failed */
    FW_EXIT_HTTP = 8,          /* no answer to the request */
    FW_EXIT_INIT = 9,          /* anything else at start-up */
};

#define KEY_ID ((psa_key_id_t)MBEDTLS_PSA_KEY_ID_BUILTIN_MIN)
#define KEYREF "atecc608:slot=0"
#define SERVER_NAME "localhost"
#define NET_TIMEOUT_MS 20000u
/* The emulator answers every transfer at once (a busy chip answers NAK, it
 * does not keep the bus waiting): no reply within this is a dead bus. */
#define BUS_TIMEOUT_MS 500u

/* Mbed TLS's heap: a static pool, so the peak is measured, not guessed. */
static unsigned char heap_pool[64 * 1024];

static fw_i2c_uart_t bus = {.uart = FW_UART0, .timeout_ms = BUS_TIMEOUT_MS};
static keyward_atecc608_t chip;

mbedtls_ms_time_t mbedtls_ms_time(void)
{
    return (mbedtls_ms_time_t)board_millis();
}

/* The statuses the firmware can meet, by name; others as numbers.  (Not
 * keyward_status_name: its full table is 1.2 KB of flash that the figures
 * would then count as keyward's.) */
static const char *psa_name(psa_status_t st)
{
    switch (st) {
    case PSA_SUCCESS:
        return "PSA_SUCCESS";
    case PSA_ERROR_COMMUNICATION_FAILURE:
        return "PSA_ERROR_COMMUNICATION_FAILURE";
    case PSA_ERROR_INSUFFICIENT_ENTROPY:
        return "PSA_ERROR_INSUFFICIENT_ENTROPY";
    case PSA_ERROR_DOES_NOT_EXIST:
        return "PSA_ERROR_DOES_NOT_EXIST";
    case PSA_ERROR_NOT_PERMITTED:
        return "PSA_ERROR_NOT_PERMITTED";
    case PSA_ERROR_HARDWARE_FAILURE:
        return "PSA_ERROR_HARDWARE_FAILURE";
    case PSA_ERROR_INVALID_SIGNATURE:
        return "PSA_ERROR_INVALID_SIGNATURE";
    default:
        return "another PSA error (see psa/crypto_values.h)";
    }
}

static int fail(int code, const char *what)
{
    printf("fw: FAIL %s\n", what);
    printf("fw: exit %d\n", code);
    return code;
}

/* Exit status for a chip-layer return code. */
static int chip_exit(int rc)
{
    if (rc == KEYWARD_ATECC608_E_CRC || rc == KEYWARD_ATECC608_E_LENGTH ||
        rc == KEYWARD_ATECC608_STATUS_COMM) {
        return FW_EXIT_CHIP_COMM;
    }
    if (rc < 0) {
        return FW_EXIT_NO_CHIP;
    }
    return FW_EXIT_INIT;
}

static const char *chip_rc_text(int rc)
{
    switch (rc) {
    case KEYWARD_ATECC608_E_NAK:
        return "no answer within the command's time (NAK)";
    case KEYWARD_ATECC608_E_CRC:
        return "response CRC wrong";
    case KEYWARD_ATECC608_E_LENGTH:
        return "response of a wrong length";
    case KEYWARD_ATECC608_E_WAKE:
        return "no valid wake reply";
    case KEYWARD_ATECC608_E_BUS:
        return "bus error (no reply on the wire)";
    case KEYWARD_ATECC608_STATUS_COMM:
        return "chip status 0xFF (CRC/communication error)";
    case KEYWARD_ATECC608_STATUS_WATCHDOG:
        return "chip status 0xEE (watchdog)";
    case KEYWARD_ATECC608_STATUS_EXECUTION:
        return "chip status 0x0F (execution error)";
    default:
        return "chip error";
    }
}

/* Step 1: wake the chip, Info, serial number and lock bytes; idle. */
static int step_chip(void)
{
    keyward_atecc608_ident_t id;
    int rc;

    keyward_atecc608_init(&chip, &fw_i2c_uart_class, &bus, KEYWARD_ATECC608_ADDR_DEFAULT);
    keyward_atecc608_attach(&chip);
    rc = keyward_atecc608_admin_identify(&chip, &id);
    if (rc != 0) {
        printf("fw: chip: %s (rc %d, %d attempts, %lu bus timeouts)\n", chip_rc_text(rc), rc,
               id.attempts, (unsigned long)bus.timeouts);
        return fail(chip_exit(rc), "chip does not answer properly");
    }
    printf("fw: chip: ATECC608 revision %02x%02x%02x%02x serial "
           "%02x%02x%02x%02x%02x%02x%02x%02x%02x config %s data %s\n",
           id.revision[0], id.revision[1], id.revision[2], id.revision[3], id.config0[0],
           id.config0[1], id.config0[2], id.config0[3], id.config0[8], id.config0[9],
           id.config0[10], id.config0[11], id.config0[12], id.locks[3] == 0 ? "locked" : "UNLOCKED",
           id.locks[2] == 0 ? "locked" : "UNLOCKED");
    return FW_EXIT_OK;
}

/* Step 2: PSA (DRBG seeded by the chip's RNG) and the builtin key. */
static int step_psa(void)
{
    psa_status_t status = keyward_init();

    if (status != PSA_SUCCESS) {
        /* Ask the entropy source itself why it gave nothing. */
        uint8_t probe[32];
        psa_status_t why = keyward_atecc608_entropy(probe, sizeof(probe));
        mbedtls_platform_zeroize(probe, sizeof(probe));
        printf("fw: psa_crypto_init: %s (%d); entropy source: %s\n", psa_name(status), (int)status,
               why == PSA_SUCCESS ? "ok" : psa_name(why));
        if (why == PSA_ERROR_BAD_STATE) {
            return fail(FW_EXIT_UNPROVISIONED, "chip not provisioned (configuration zone unlocked: "
                                               "its RNG gives a fixed pattern)");
        }
        return fail(FW_EXIT_INIT, "no entropy from the chip");
    }
    printf("fw: entropy: DRBG seeded from the ATECC608 Random command\n");
    status = keyward_builtin_add(KEY_ID, KEYREF, PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1),
                                 256, PSA_KEY_USAGE_SIGN_HASH | PSA_KEY_USAGE_VERIFY_HASH,
                                 PSA_ALG_ECDSA(PSA_ALG_SHA_256), 0);
    if (status != PSA_SUCCESS) {
        printf("fw: keyward_builtin_add: %s (%d)\n", psa_name(status), (int)status);
        return fail(FW_EXIT_INIT, "builtin key");
    }
    return FW_EXIT_OK;
}

/* Step 3: sign a digest in the chip and verify it (with the public key the
 * chip computes for the slot): the key is there and usable. */
static int step_selftest(void)
{
    static const uint8_t digest[32] = "keyward firmware self-test 0123";
    uint8_t sig[64];
    size_t sig_len = 0;
    psa_status_t status;
    uint32_t t0 = board_millis();

    status = psa_sign_hash(KEY_ID, PSA_ALG_ECDSA(PSA_ALG_SHA_256), digest, sizeof(digest), sig,
                           sizeof(sig), &sig_len);
    if (status == PSA_SUCCESS) {
        status = psa_verify_hash(KEY_ID, PSA_ALG_ECDSA(PSA_ALG_SHA_256), digest, sizeof(digest),
                                 sig, sig_len);
    }
    if (status != PSA_SUCCESS) {
        printf("fw: key %s: sign/verify: %s (%d)\n", KEYREF, psa_name(status), (int)status);
        if (status == PSA_ERROR_DOES_NOT_EXIST || status == PSA_ERROR_NOT_PERMITTED) {
            return fail(FW_EXIT_UNPROVISIONED, "no usable key in slot 0");
        }
        if (status == PSA_ERROR_COMMUNICATION_FAILURE) {
            return fail(FW_EXIT_KEY, "signing: the chip stopped answering mid-sequence");
        }
        return fail(FW_EXIT_KEY, "signing");
    }
    printf("fw: key %s: ECDSA P-256 sign + verify ok (%lu ms)\n", KEYREF,
           (unsigned long)(board_millis() - t0));
    return FW_EXIT_OK;
}

/* Reads a whole PEM file through semihosting (at most 8 KiB) and parses it. */
#define CRT_FILE_MAX 8192
static int load_crt(mbedtls_x509_crt *crt, const char *path)
{
    FILE *f = fopen(path, "r");
    unsigned char *buf = NULL;
    size_t n = 0, r;
    int rc = -1;

    if (f == NULL) {
        printf("fw: cannot open %s (semihosting)\n", path);
        return -1;
    }
    buf = mbedtls_calloc(1, CRT_FILE_MAX + 1);
    if (buf == NULL) {
        printf("fw: %s: out of memory\n", path);
        goto exit;
    }
    while (n < CRT_FILE_MAX && (r = fread(buf + n, 1, CRT_FILE_MAX - n, f)) > 0) {
        n += r;
    }
    if (n == 0 || n == CRT_FILE_MAX) {
        printf("fw: %s: empty, unreadable or over %d bytes\n", path, CRT_FILE_MAX);
        goto exit;
    }
    buf[n] = '\0';
    rc = mbedtls_x509_crt_parse(crt, buf, n + 1);
    if (rc != 0) {
        printf("fw: %s: mbedtls_x509_crt_parse -0x%04x\n", path, (unsigned)-rc);
        rc = -1;
    }
exit:
    fclose(f);
    mbedtls_free(buf);
    return rc;
}

static int net_send(void *ctx, const unsigned char *buf, size_t len)
{
    uart_write((uint32_t)(uintptr_t)ctx, buf, len);
    return (int)len;
}

static int net_recv_timeout(void *ctx, unsigned char *buf, size_t len, uint32_t timeout)
{
    uint32_t base = (uint32_t)(uintptr_t)ctx;
    size_t n = 0;
    int c;

    if (len == 0) {
        return 0;
    }
    /* The first byte may take the whole timeout; the rest of what has
     * arrived is taken as long as it keeps coming. */
    c = uart_getc(base, timeout != 0 ? timeout : NET_TIMEOUT_MS);
    if (c == FW_UART_TIMEOUT) {
        return MBEDTLS_ERR_SSL_TIMEOUT;
    }
    buf[n++] = (unsigned char)c;
    while (n < len && (c = uart_getc(base, 1)) != FW_UART_TIMEOUT) {
        buf[n++] = (unsigned char)c;
    }
    return (int)n;
}

static void tls_fail(const char *what, int rc)
{
    printf("fw: %s: -0x%04x", what, (unsigned)-rc);
    if (keyward_last_error()[0] != '\0') {
        printf(" (%s)", keyward_last_error());
    }
    printf("\n");
}

/* Step 4: mutual TLS over UART1, GET /, print the answer. */
static int step_tls(mbedtls_x509_crt *ca, mbedtls_x509_crt *own)
{
    static const int suites[] = {
        MBEDTLS_TLS1_3_AES_128_GCM_SHA256,
        MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        0,
    };
    static const char request[] = "GET / HTTP/1.0\r\nHost: " SERVER_NAME "\r\n\r\n";
    mbedtls_ssl_config conf;
    mbedtls_ssl_context ssl;
    mbedtls_pk_context pk;
    unsigned char buf[512];
    size_t cur_heap = 0, cur_blocks = 0, peak_heap = 0, peak_blocks = 0;
    uint32_t t0;
    int rc, ret = FW_EXIT_TLS, got = 0;

    mbedtls_ssl_config_init(&conf);
    mbedtls_ssl_init(&ssl);
    mbedtls_pk_init(&pk);
    mbedtls_memory_buffer_alloc_max_reset();
    if ((rc = keyward_compat_pk_wrap_psa(&pk, KEY_ID)) != 0 ||
        (rc =
             mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                         MBEDTLS_SSL_PRESET_DEFAULT)) != 0) {
        tls_fail("TLS set-up", rc);
        goto exit;
    }
    mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&conf, ca, NULL);
    keyward_compat_ssl_conf_rng(&conf);
    mbedtls_ssl_conf_read_timeout(&conf, NET_TIMEOUT_MS);
    /* SHA-256 suites only: the chip signs ECDSA with SHA-256, and a TLS 1.2
     * CertificateVerify is hashed with the suite's hash. */
    mbedtls_ssl_conf_ciphersuites(&conf, suites);
    if ((rc = mbedtls_ssl_conf_own_cert(&conf, own, &pk)) != 0 ||
        (rc = mbedtls_ssl_setup(&ssl, &conf)) != 0 ||
        (rc = mbedtls_ssl_set_hostname(&ssl, SERVER_NAME)) != 0) {
        tls_fail("TLS set-up", rc);
        goto exit;
    }
    mbedtls_ssl_set_bio(&ssl, (void *)(uintptr_t)FW_UART1, net_send, NULL, net_recv_timeout);
    t0 = board_millis();
    while ((rc = mbedtls_ssl_handshake(&ssl)) != 0) {
        if (rc != MBEDTLS_ERR_SSL_WANT_READ && rc != MBEDTLS_ERR_SSL_WANT_WRITE) {
            uint32_t flags = mbedtls_ssl_get_verify_result(&ssl);
            tls_fail("handshake failed", rc);
            if (rc == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
                printf("fw: server certificate rejected: flags 0x%lx%s%s%s\n", (unsigned long)flags,
                       (flags & MBEDTLS_X509_BADCERT_EXPIRED) ? ", expired" : "",
                       (flags & MBEDTLS_X509_BADCERT_FUTURE) ? ", not yet valid" : "",
                       (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED) ? ", not trusted" : "");
            }
            goto exit;
        }
    }
    mbedtls_memory_buffer_alloc_max_get(&peak_heap, &peak_blocks);
    mbedtls_memory_buffer_alloc_cur_get(&cur_heap, &cur_blocks);
    printf("fw: handshake ok: %s %s, %lu ms\n", mbedtls_ssl_get_version(&ssl),
           mbedtls_ssl_get_ciphersuite(&ssl), (unsigned long)(board_millis() - t0));
    printf("fw: heap peak during the handshake: %lu bytes in %lu blocks (after: %lu bytes)\n",
           (unsigned long)peak_heap, (unsigned long)peak_blocks, (unsigned long)cur_heap);
    ret = FW_EXIT_HTTP;
    do {
        rc = mbedtls_ssl_write(&ssl, (const unsigned char *)request, sizeof(request) - 1);
    } while (rc == MBEDTLS_ERR_SSL_WANT_WRITE || rc == MBEDTLS_ERR_SSL_WANT_READ);
    if (rc < 0) {
        tls_fail("write", rc);
        goto exit;
    }
    printf("---- response ----\n");
    for (;;) {
        rc = mbedtls_ssl_read(&ssl, buf, sizeof(buf) - 1);
        if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE ||
            rc == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET) {
            continue;
        }
        if (rc <= 0) {
            break;
        }
        buf[rc] = '\0';
        fputs((const char *)buf, stdout);
        got += rc;
    }
    printf("\n---- end of response (%d bytes) ----\n", got);
    if (got == 0) {
        tls_fail("read", rc);
        goto exit;
    }
    if (rc != MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY && rc != 0) {
        printf("fw: note: the response ended with -0x%04x, not close_notify\n", (unsigned)-rc);
    }
    (void)mbedtls_ssl_close_notify(&ssl);
    ret = FW_EXIT_OK;
exit:
    mbedtls_ssl_free(&ssl);
    mbedtls_ssl_config_free(&conf);
    mbedtls_pk_free(&pk);
    return ret;
}

/* Certificate validity is checked against this clock: newlib's time() is
 * semihosting SYS_TIME, the host's clock. */
static void print_clock(void)
{
    time_t now = time(NULL);
    struct tm tm;

    if (now == (time_t)-1 || gmtime_r(&now, &tm) == NULL) {
        printf("fw: clock: unavailable (semihosting SYS_TIME failed)\n");
        return;
    }
    printf("fw: clock (semihosting): %04d-%02d-%02d %02d:%02d:%02d UTC\n", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

int main(void)
{
    mbedtls_x509_crt ca, own;
    int ret;

    board_init();
    uart_init(FW_UART0);
    uart_init(FW_UART1);
    /* "Mbed TLS 3.6.6" or "Mbed TLS 4.0.0 (TF-PSA-Crypto 1.0.0)": tests/mcu
     * checks that the image runs the host build's line. */
    printf("fw: keyward firmware on %s, %s\n", "mps2-an386 (Cortex-M4F)",
           KEYWARD_MBEDTLS_VERSION_TEXT);
    mbedtls_memory_buffer_alloc_init(heap_pool, sizeof(heap_pool));
    print_clock();
    mbedtls_x509_crt_init(&ca);
    mbedtls_x509_crt_init(&own);

    ret = step_chip();
    if (ret == FW_EXIT_OK) {
        ret = step_psa();
    }
    if (ret == FW_EXIT_OK) {
        ret = step_selftest();
    }
    if (ret == FW_EXIT_OK &&
        (load_crt(&ca, "fw-ca.pem") != 0 || load_crt(&own, "fw-client.pem") != 0)) {
        ret = fail(FW_EXIT_FILES, "certificate files");
    }
    if (ret == FW_EXIT_OK) {
        ret = step_tls(&ca, &own);
        if (ret != FW_EXIT_OK) {
            fail(ret, ret == FW_EXIT_TLS ? "TLS handshake" : "HTTP request");
        }
    }
    mbedtls_x509_crt_free(&ca);
    mbedtls_x509_crt_free(&own);
    printf("fw: stack high-water mark: %lu of %lu bytes\n",
           (unsigned long)(board_stack_size() - board_stack_unused()),
           (unsigned long)board_stack_size());
    if (ret == FW_EXIT_OK) {
        printf("fw: done\n");
    }
    return ret;
}
