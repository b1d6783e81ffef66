/*
 * keyward-client's internals shared by its modules: exit statuses, messages,
 * the clock (report.c).  (tools/keyward-client.c: main; options.c, url.c:
 * the command line; credentials.c, tls.c, tls_check.c, https.c: the TLS
 * session and what runs over it (session.h); net.c: deadlines, name lookup,
 * connect, BIO callbacks; http.c: the HTTP/1.0 response parser.)
 */
#ifndef KWC_CLIENT_H
#define KWC_CLIENT_H

#include <stddef.h>
#include <stdint.h>

/* Exit statuses: curl's numbers where one fits (README "keyward-client's
 * exit status"). */
enum {
    KWC_EXIT_OK = 0,
    KWC_EXIT_FAILURE = 1,
    KWC_EXIT_USAGE = 2,
    KWC_EXIT_RESOLVE = 6,
    KWC_EXIT_CONNECT = 7,
    KWC_EXIT_PARTIAL = 18,
    KWC_EXIT_HTTP = 22,
    KWC_EXIT_TIMEOUT = 28,
    KWC_EXIT_TLS = 35,
    KWC_EXIT_SEND = 55,
    KWC_EXIT_RECV = 56,
    KWC_EXIT_LOCAL_CERT = 58,
};

/* Prints "keyward-client: <message>" on one line of stderr; returns code. */
int kwc_fail(int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* "interrupted by SIGTERM"; returns 128 + the signal number. */
int kwc_fail_signal(void);

/* The last alert the server sent (-1: none), read from Mbed TLS's debug
 * output by tls.c. */
extern int kwc_last_alert;
/* "the server sent the fatal alert NAME (N) <when>"; returns KWC_EXIT_TLS. */
int kwc_fail_alert(const char *when);
/* "<what> failed: <Mbed TLS message> (-0xNNNN) (<keyward_last_error>)";
 * returns code. */
int kwc_fail_mbedtls(int code, const char *what, int ret);
/* The KEYREF as messages show it: values of secret attributes (PINs, TPM
 * auth values) become "***".  Every message naming a KEYREF goes through
 * here.  Returns out. */
const char *kwc_keyref_shown(const char *keyref, char *out, size_t size);

/* Monotonic milliseconds. */
int64_t kwc_now_ms(void);

#endif
