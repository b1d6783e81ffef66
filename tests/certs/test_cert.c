/*
 * keyward_cert_load in one process that also uses an SE key:
 *   test_cert KEYREF CERTREF CERTFILE
 * - the key signs, then the certificate is loaded from the SE, then the key
 *   signs again: on a TPM without resource manager the NV read needs the
 *   connection the key side holds, and the key must keep working after;
 * - the certificate from the SE equals the one in CERTFILE (PEM);
 * - CERTFILE loads as PATH and as file:PATH;
 * - a failing load leaves the chain as it was;
 * - a missing file is PSA_ERROR_DOES_NOT_EXIST, an ATECC608 reference
 *   PSA_ERROR_NOT_SUPPORTED (no certificate storage), a PKCS#11 key URI
 *   (no type=cert) PSA_ERROR_INVALID_ARGUMENT.
 * Prints "ok ..." / "FAIL ..."; exit 0 only if all passed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyward/cert.h"
#include "keyward/keyward.h"

#include "kwcheck.h"

/* One counted check; a failure names keyward's last error (kw_check_detail). */
#define expect(cond, what) CHECK_TEXT(cond, what)

static int sign_once(psa_key_id_t key)
{
    uint8_t hash[32] = {1, 2, 3}, sig[PSA_SIGNATURE_MAX_SIZE];
    size_t len = 0;
    psa_key_attributes_t attr = PSA_KEY_ATTRIBUTES_INIT;
    psa_algorithm_t alg;

    if (psa_get_key_attributes(key, &attr) != PSA_SUCCESS) {
        return 0;
    }
    alg = PSA_KEY_TYPE_IS_ECC(psa_get_key_type(&attr)) ? PSA_ALG_ECDSA(PSA_ALG_SHA_256)
                                                       : PSA_ALG_RSA_PKCS1V15_SIGN(PSA_ALG_SHA_256);
    psa_reset_key_attributes(&attr);
    return psa_sign_hash(key, alg, hash, sizeof(hash), sig, sizeof(sig), &len) == PSA_SUCCESS;
}

static size_t count(const mbedtls_x509_crt *c)
{
    size_t n = 0;
    for (; c != NULL && c->raw.p != NULL; c = c->next) {
        n++;
    }
    return n;
}

int main(int argc, char **argv)
{
    mbedtls_x509_crt se, file, chain;
    psa_key_id_t key = 0;
    char ref[1024];

    kw_check_verbose = 1;
    kw_check_detail = keyward_last_error;
    if (argc != 4) {
        fprintf(stderr, "usage: test_cert KEYREF CERTREF CERTFILE\n");
        return 2;
    }
    mbedtls_x509_crt_init(&se);
    mbedtls_x509_crt_init(&file);
    mbedtls_x509_crt_init(&chain);
    expect(keyward_init() == PSA_SUCCESS, "keyward_init");
    expect(keyward_key_open(argv[1], &key) == PSA_SUCCESS, "key opens");
    expect(sign_once(key), "key signs before the certificate is read");
    expect(keyward_cert_load(&se, argv[2]) == PSA_SUCCESS && count(&se) == 1,
           "certificate loads from the SE while the key is in use");
    expect(sign_once(key), "key signs after the certificate was read");
    expect(keyward_cert_load(&file, argv[3]) == PSA_SUCCESS, "certificate file loads (PATH)");
    expect(se.raw.len == file.raw.len && memcmp(se.raw.p, file.raw.p, se.raw.len) == 0,
           "the SE's certificate equals the file's");
    snprintf(ref, sizeof(ref), "file:%s", argv[3]);
    expect(keyward_cert_load(&chain, ref) == PSA_SUCCESS && count(&chain) == 1,
           "certificate file loads (file:PATH)");
    expect(keyward_cert_load(&chain, "/nonexistent/cert.pem") == PSA_ERROR_DOES_NOT_EXIST,
           "a missing file: PSA_ERROR_DOES_NOT_EXIST");
    expect(keyward_cert_load(&chain, "/") == PSA_ERROR_INVALID_ARGUMENT &&
               strstr(keyward_last_error(), "not a regular file") != NULL,
           "a directory: PSA_ERROR_INVALID_ARGUMENT, not a regular file");
    if (getenv("TPM2TOOLS_TCTI") != NULL) { /* a TPM is there */
        expect(keyward_cert_load(&chain, "tpm2:nv=0x013FFFFF") == PSA_ERROR_DOES_NOT_EXIST,
               "an undefined NV index: PSA_ERROR_DOES_NOT_EXIST");
    }
    expect(keyward_cert_load(&chain, "atecc608:slot=0") == PSA_ERROR_NOT_SUPPORTED,
           "an ATECC608 reference: PSA_ERROR_NOT_SUPPORTED");
    expect(keyward_cert_load(&chain, "pkcs11:object=x") == PSA_ERROR_INVALID_ARGUMENT,
           "a PKCS#11 URI without type=cert: PSA_ERROR_INVALID_ARGUMENT");
    expect(count(&chain) == 1, "failed loads left the chain as it was");
    expect(keyward_cert_load(&chain, argv[2]) == PSA_SUCCESS && count(&chain) == 2,
           "a second load appends");
    expect(sign_once(key), "key still signs");
    psa_destroy_key(key);
    mbedtls_x509_crt_free(&se);
    mbedtls_x509_crt_free(&file);
    mbedtls_x509_crt_free(&chain);
    mbedtls_psa_crypto_free();
    return kw_test_end("test_cert");
}
