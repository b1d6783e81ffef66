/*
 * keyward-tool cert-store / cert-get: certificates kept in the SE.
 *
 *   keyward-tool cert-store CERTREF cert.pem [--force]   PEM or DER in, DER into the SE
 *   keyward-tool cert-get CERTREF                        PEM to stdout
 *
 * CERTREF: a certificate reference of one of the build's backends that keep
 * certificates (CERT_SCHEMES of its declaration; include/keyward/cert.h).  Exit 0 on success, 1 on failure, 2 on bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyward-tool.h"
#include "keyward/cert.h"
#include "keyward/keyward.h"
#include "keyward/port/backends_build.h" /* KEYWARD_CERTREF_HELP */
#include "mbedtls/pem.h"

#define PEM_BEGIN "-----BEGIN CERTIFICATE-----\n"
#define PEM_END "-----END CERTIFICATE-----\n"

/* The CERTREF is not printed: it may carry a PIN (pin-value=). */
static int cert_error(const char *what, psa_status_t status)
{
    fprintf(stderr, "keyward-tool: %s: %s%s%s\n", what, keyward_status_name(status),
            keyward_last_error()[0] ? ": " : "", keyward_last_error());
    return 1;
}

/* The whole file; NULL (message printed) if unreadable or over max bytes. */
static unsigned char *read_file(const char *path, size_t max, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    unsigned char *buf = NULL;

    if (fp == NULL) {
        perror(path);
        return NULL;
    }
    buf = malloc(max + 1);
    if (buf != NULL) {
        *len = fread(buf, 1, max + 1, fp);
        if (ferror(fp) || *len == 0 || *len > max) {
            fprintf(stderr, "keyward-tool: %s is empty, unreadable or larger than %u bytes\n", path,
                    (unsigned)max);
            free(buf);
            buf = NULL;
        } else {
            buf[*len] = '\0'; /* mbedtls_x509_crt_parse wants PEM NUL-terminated */
            (*len)++;
        }
    }
    fclose(fp);
    return buf;
}

static int cert_store(const char *certref, const char *file, int force)
{
    size_t len = 0;
    unsigned char *data = read_file(file, 4 * KEYWARD_CERT_MAX, &len);
    psa_status_t status;

    if (data == NULL) {
        return 1;
    }
    /* DER must not carry the NUL added for PEM. */
    if (data[0] == 0x30) {
        len--;
    }
    status = keyward_cert_store(certref, data, len, force);
    free(data);
    return status == PSA_SUCCESS ? 0 : cert_error("cannot store the certificate", status);
}

static int cert_get(const char *certref)
{
    unsigned char *der = malloc(KEYWARD_CERT_MAX);
    unsigned char *pem = malloc(2 * KEYWARD_CERT_MAX);
    size_t der_len = 0, pem_len = 0;
    mbedtls_x509_crt crt;
    psa_status_t status;
    int ret = 1;

    mbedtls_x509_crt_init(&crt);
    if (der == NULL || pem == NULL) {
        fprintf(stderr, "keyward-tool: out of memory\n");
        goto exit;
    }
    status = keyward_cert_read(certref, der, KEYWARD_CERT_MAX, &der_len);
    if (status != PSA_SUCCESS) {
        ret = cert_error("cannot read the certificate", status);
        goto exit;
    }
    /* Printed only if it is a certificate: "cert-get | openssl" must not
     * turn garbage into a PEM block. */
    if (mbedtls_x509_crt_parse_der(&crt, der, der_len) != 0) {
        fprintf(stderr, "keyward-tool: what the SE holds there is not a DER X.509 certificate\n");
        goto exit;
    }
    if (mbedtls_pem_write_buffer(PEM_BEGIN, PEM_END, der, der_len, pem, 2 * KEYWARD_CERT_MAX,
                                 &pem_len) != 0) {
        fprintf(stderr, "keyward-tool: cannot write PEM\n");
        goto exit;
    }
    fputs((const char *)pem, stdout);
    ret = fflush(stdout) == 0 ? 0 : 1;
exit:
    mbedtls_x509_crt_free(&crt);
    free(der);
    free(pem);
    return ret;
}

int keyward_tool_cert(int argc, char **argv)
{
    const char *cmd = argv[1], *certref = argc > 2 ? argv[2] : NULL, *file = NULL;
    int force = 0, ret;
    psa_status_t status;

    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--force") == 0 && strcmp(cmd, "cert-store") == 0) {
            force = 1;
        } else if (argv[i][0] != '-' && file == NULL && strcmp(cmd, "cert-store") == 0) {
            file = argv[i];
        } else {
            char shown[512]; /* a stray KEYREF keeps its PIN masked */
            (void)keyward_keyref_redact(argv[i], shown, sizeof(shown));
            fprintf(stderr, "keyward-tool: %s: unexpected argument '%s'\n", cmd, shown);
            certref = NULL;
        }
    }
    if (certref == NULL || (strcmp(cmd, "cert-store") == 0 && file == NULL)) {
        fprintf(stderr,
                "usage: keyward-tool cert-store CERTREF cert.pem [--force]\n"
                "       keyward-tool cert-get CERTREF\n"
                "  CERTREF %s\n",
                /* this build's CERTREF forms (the backends' declarations) */
                KEYWARD_CERTREF_HELP[0] != '\0' ? KEYWARD_CERTREF_HELP
                                                : "(no backend of this build keeps certificates)");
        return 2;
    }
    status = keyward_init();
    if (status != PSA_SUCCESS) {
        fprintf(stderr, "keyward-tool: psa_crypto_init: %s\n", keyward_status_name(status));
        return 1;
    }
    ret = strcmp(cmd, "cert-store") == 0 ? cert_store(certref, file, force) : cert_get(certref);
    mbedtls_psa_crypto_free();
    return ret;
}
