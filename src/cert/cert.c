/*
 * Certificates from files or from the secure element (include/keyward/cert.h).
 *
 * The SE side is the backends' cert_read / cert_write (keyward/port/backend.h);
 * this file only dispatches by scheme and checks with Mbed TLS's X.509
 * parser that what comes back is a certificate.  It lives outside the
 * backends' object library because it needs libmbedx509, which the PSA
 * driver (inside libmbedcrypto) must not.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "keyward/port/backend.h"
#include "keyward/cert.h"
#include "keyward/port/mbedtls_compat.h"
#include "mbedtls/error.h"
#include "mbedtls/platform_util.h"

/* name: a file path, or "" (an SE reference may carry a PIN). */
static void set_mbedtls_error(const char *what, const char *name, int rc)
{
    char buf[128] = "";
#if defined(MBEDTLS_ERROR_C)
    keyward_compat_strerror(rc, buf, sizeof(buf));
#endif
    keyward_set_error("%s%s%s: %s (-0x%04x)", what, name[0] ? " " : "", name, buf, (unsigned)-rc);
}

/* A reference in the shape of an SE scheme ("tpm2:nv=...") that no backend of
 * this build takes, and that is no file either (a file may be named
 * "a:b.pem"): refused with the scheme named, not as a missing file. */
static int certref_no_backend(const char *certref)
{
    struct stat st;

    return certref != NULL && keyward_ref_scheme_len(certref) > 0 &&
           strncmp(certref, "file:", 5) != 0 && keyward_backend_by_keyref(certref) == NULL &&
           stat(certref, &st) != 0;
}

/* The backend whose scheme starts certref, with cert_read or cert_write;
 * NULL and *status set if certref names an SE without that; NULL and
 * *status PSA_SUCCESS if certref names a file. */
static const keyward_backend_t *se_of(const char *certref, int write, psa_status_t *status)
{
    const keyward_backend_t *be = keyward_backend_by_keyref(certref);

    *status = PSA_SUCCESS;
    if (be != NULL) {
        if (write ? be->cert_write == NULL : be->cert_read == NULL) {
            keyward_set_error("the %s backend keeps no certificates", be->scheme);
            *status = PSA_ERROR_NOT_SUPPORTED;
            return NULL;
        }
        return be;
    }
    if (certref_no_backend(certref)) {
        keyward_set_error("no backend for scheme '%.*s' (this build keeps certificates in: %s)",
                          (int)keyward_ref_scheme_len(certref), certref,
                          KEYWARD_CERT_SCHEMES[0] != '\0' ? KEYWARD_CERT_SCHEMES : "none");
        *status = PSA_ERROR_NOT_SUPPORTED;
        return NULL;
    }
    return NULL;
}

/* The status for a reference se_of() did not take: its own refusal, or
 * "not an SE reference" when it is not one at all (a file). */
static psa_status_t se_refused(psa_status_t status)
{
    if (status == PSA_SUCCESS) {
        keyward_set_error("not an SE certificate reference (this build: %s)",
                          KEYWARD_CERT_SCHEMES[0] != '\0' ? KEYWARD_CERT_SCHEMES : "none");
        status = PSA_ERROR_INVALID_ARGUMENT;
    }
    return status;
}

psa_status_t keyward_cert_read(const char *certref, uint8_t *der, size_t der_size, size_t *der_len)
{
    psa_status_t status = PSA_ERROR_CORRUPTION_DETECTED;
    const keyward_backend_t *be;

    if (certref == NULL || der == NULL || der_len == NULL) {
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    be = se_of(certref, 0, &status);
    if (be == NULL) {
        return se_refused(status);
    }
    return be->cert_read(certref, der, der_size, der_len);
}

psa_status_t keyward_cert_load(mbedtls_x509_crt *chain, const char *certref)
{
    psa_status_t status = PSA_ERROR_CORRUPTION_DETECTED;
    mbedtls_x509_crt tmp;
    mbedtls_x509_crt *last;
    uint8_t *der = NULL;
    size_t der_len = 0;
    int rc;

    if (chain == NULL || certref == NULL) {
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    /* Parsed into a chain of its own first: on failure the caller's chain
     * is left as it was. */
    mbedtls_x509_crt_init(&tmp);
    if (se_of(certref, 0, &status) != NULL) {
        der = malloc(KEYWARD_CERT_MAX);
        if (der == NULL) {
            status = PSA_ERROR_INSUFFICIENT_MEMORY;
            goto exit;
        }
        status = keyward_cert_read(certref, der, KEYWARD_CERT_MAX, &der_len);
        if (status != PSA_SUCCESS) {
            goto exit;
        }
        rc = mbedtls_x509_crt_parse_der(&tmp, der, der_len);
        if (rc != 0) {
            set_mbedtls_error("what the SE holds there is not a DER X.509 certificate", "", rc);
            status = PSA_ERROR_DATA_INVALID;
            goto exit;
        }
    } else if (status == PSA_SUCCESS) {
        const char *path = strncmp(certref, "file:", 5) == 0 ? certref + 5 : certref;
        struct stat st;
        FILE *fp;
        /* Mbed TLS sizes its buffer by seeking to the end: a directory gives a
         * 2^63-byte request, a FIFO blocks (opening it already does).  Only
         * regular files go further. */
        if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
            keyward_set_error("cannot load certificate file %s: not a regular file", path);
            status = PSA_ERROR_INVALID_ARGUMENT;
            goto exit;
        }
        fp = fopen(path, "rb");
        if (fp == NULL) {
            keyward_set_error("cannot open certificate file %s", path);
            status = PSA_ERROR_DOES_NOT_EXIST;
            goto exit;
        }
        fclose(fp);
        rc = mbedtls_x509_crt_parse_file(&tmp, path);
        if (rc != 0) {
            if (rc > 0) {
                keyward_set_error("certificate file %s: %d certificate(s) in it do not parse", path,
                                  rc);
            } else {
                set_mbedtls_error("cannot load certificate file", path, rc);
            }
            status = PSA_ERROR_DATA_INVALID;
            goto exit;
        }
    } else {
        goto exit;
    }
    /* Append tmp's certificates: parse again into chain from their DER
     * (mbedtls_x509_crt has no "move"), which cannot fail now but for
     * memory. */
    for (last = &tmp; last != NULL && last->raw.p != NULL; last = last->next) {
        rc = mbedtls_x509_crt_parse_der(chain, last->raw.p, last->raw.len);
        if (rc != 0) {
            set_mbedtls_error("cannot add the certificate", "", rc);
            status = rc == MBEDTLS_ERR_X509_ALLOC_FAILED ? PSA_ERROR_INSUFFICIENT_MEMORY
                                                         : PSA_ERROR_DATA_INVALID;
            goto exit;
        }
    }
    status = PSA_SUCCESS;
exit:
    mbedtls_x509_crt_free(&tmp);
    free(der);
    return status;
}

psa_status_t keyward_cert_store(const char *certref, const uint8_t *data, size_t data_len,
                                int overwrite)
{
    psa_status_t status = PSA_ERROR_CORRUPTION_DETECTED;
    const keyward_backend_t *be;
    mbedtls_x509_crt crt;
    int rc;

    if (certref == NULL || data == NULL) {
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    be = se_of(certref, 1, &status);
    if (be == NULL) {
        return se_refused(status);
    }
    /* Only a certificate goes in, always as DER (the SE-side format that
     * pkcs11-tool, tpm2_nvread and EK-certificate readers expect). */
    mbedtls_x509_crt_init(&crt);
    rc = mbedtls_x509_crt_parse(&crt, data, data_len);
    if (rc < 0 || crt.raw.p == NULL) {
        set_mbedtls_error("not a certificate (PEM or DER)", "", rc);
        status = PSA_ERROR_DATA_INVALID;
    } else if (crt.raw.len > KEYWARD_CERT_MAX) {
        keyward_set_error("certificate of %u bytes: more than %u", (unsigned)crt.raw.len,
                          (unsigned)KEYWARD_CERT_MAX);
        status = PSA_ERROR_INVALID_ARGUMENT;
    } else {
        status = be->cert_write(certref, crt.raw.p, crt.raw.len, overwrite);
    }
    mbedtls_x509_crt_free(&crt);
    return status;
}
