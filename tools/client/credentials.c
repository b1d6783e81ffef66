/*
 * keyward-client: the credentials, checked before any connection is made:
 * the CA file, the client certificate and chain (files, or references to
 * certificates in a secure element), the key, and that the certificate
 * belongs to the key (keyward_tls_identity_open).
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "keyward/errors.h"
#include "keyward/port/backend.h"
#include "keyward/port/mbedtls_compat.h"
#include "keyward/tls.h"
#include "mbedtls/x509_crt.h"
#include "client.h"
#include "session.h"

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
int kwc_load_credentials(const opts_t *o, client_t *cl)
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
                        kwc_keyref_shown(o->key, shown, sizeof(shown)), keyward_status_name(status),
                        err[0] ? ": " : "", err);
    case KEYWARD_TLS_STEP_PAIR:
        return kwc_fail(KWC_EXIT_LOCAL_CERT,
                        "the client certificate %s does not match the key %s: %s%s%s",
                        kwc_keyref_shown(o->cert, cl->shown_cert, sizeof(cl->shown_cert)),
                        kwc_keyref_shown(o->key, shown, sizeof(shown)), keyward_status_name(status),
                        err[0] ? ": " : "", err);
    default: /* the certificate, the chain, or a key Mbed TLS cannot use */
        return kwc_fail(KWC_EXIT_LOCAL_CERT, "client certificate/key: %s%s%s",
                        keyward_status_name(status), err[0] ? ": " : "", err);
    }
}
