/* keyward-client: messages (failures, alerts, KEYREFs shown redacted) and
 * the clock (client.h). */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "../signals.h"
#include "client.h"
#include "keyward/errors.h"
#include "keyward/port/mbedtls_compat.h"

/* Filled from Mbed TLS's debug output (tls.c), the only place 3.6 shows it. */
int kwc_last_alert = -1;

int kwc_fail(int code, const char *fmt, ...)
{
    va_list ap;
    fputs("keyward-client: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

int kwc_fail_signal(void)
{
    int sig = kw_signals_caught();
    return kwc_fail(kw_signals_exit_status(sig), "interrupted by %s",
                    sig == SIGINT    ? "SIGINT"
                    : sig == SIGTERM ? "SIGTERM"
                                     : "a signal");
}

int64_t kwc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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

int kwc_fail_alert(const char *when)
{
    if (kwc_last_alert < 0) {
        return kwc_fail(KWC_EXIT_TLS, "the server sent a fatal alert %s", when);
    }
    return kwc_fail(KWC_EXIT_TLS, "the server sent the fatal alert %s (%d) %s%s",
                    alert_name(kwc_last_alert), kwc_last_alert, when,
                    alert_is_about_client_cert(kwc_last_alert)
                        ? ": it rejected the client certificate"
                        : "");
}

int kwc_fail_mbedtls(int code, const char *what, int ret)
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
const char *kwc_keyref_shown(const char *keyref, char *out, size_t size)
{
    (void)keyward_keyref_redact(keyref, out, size);
    return out;
}
