/*
 * keyward/port/mbedtls_compat.h: the few application-side calls that differ
 * between Mbed TLS 3.6 LTS and Mbed TLS 4.x (TF-PSA-Crypto 1.x), bridged in
 * one place so that keyward's programs, tests and benchmarks (and an
 * application that wants to build on both lines) need no #if of their own.
 *
 * Header-only (static inline): nothing here is part of libkeyward's ABI, and
 * keyward's own API (keyward.h) is the same on both lines.
 *
 *   what                         3.6                              4.x
 *   PK context over a PSA key    mbedtls_pk_setup_opaque()        mbedtls_pk_wrap_psa()
 *   RNG of TLS / writers / parse f_rng, p_rng arguments           none (PSA's RNG is used)
 *   before any Mbed TLS call     psa_crypto_init() for PSA keys   psa_crypto_init(), always
 *
 * On 4.x, psa_crypto_init() (or keyward_init()) must come before anything
 * else of Mbed TLS, certificate parsing included.
 */
#ifndef KEYWARD_MBEDTLS_COMPAT_H
#define KEYWARD_MBEDTLS_COMPAT_H

#include "mbedtls/build_info.h"
#include "mbedtls/error.h"
#include "mbedtls/pk.h"
#include "mbedtls/psa_util.h"
#include "mbedtls/ssl.h"
#include "mbedtls/x509_crt.h"
#include "mbedtls/x509_csr.h"
#include <psa/crypto.h>
#include <stdio.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#if MBEDTLS_VERSION_MAJOR >= 4
#define KEYWARD_MBEDTLS_4 1
/* "Mbed TLS 4.0.0 (TF-PSA-Crypto 1.0.0)": the line keyward was built with. */
#define KEYWARD_MBEDTLS_VERSION_TEXT \
    MBEDTLS_VERSION_STRING_FULL " (" TF_PSA_CRYPTO_VERSION_STRING_FULL ")"
#else
#define KEYWARD_MBEDTLS_VERSION_TEXT MBEDTLS_VERSION_STRING_FULL
#endif

/* A PK context that signs with the PSA key `key` (opaque or not). */
static inline int keyward_compat_pk_wrap_psa(mbedtls_pk_context *pk, mbedtls_svc_key_id_t key)
{
#if defined(KEYWARD_MBEDTLS_4)
    return mbedtls_pk_wrap_psa(pk, key);
#else
    return mbedtls_pk_setup_opaque(pk, key);
#endif
}

/* Is the key of pk an elliptic-curve key?  (mbedtls_pk_can_do and the
 * MBEDTLS_PK_* types are private in 4.x; the PSA attributes say it on both.) */
static inline int keyward_compat_pk_is_ecc(const mbedtls_pk_context *pk)
{
    psa_key_attributes_t attr = PSA_KEY_ATTRIBUTES_INIT;
    int ecc = mbedtls_pk_get_psa_attributes(pk, PSA_KEY_USAGE_SIGN_HASH, &attr) == 0 &&
              PSA_KEY_TYPE_IS_ECC(psa_get_key_type(&attr));

    psa_reset_key_attributes(&attr);
    return ecc;
}

/* mbedtls_strerror, also for the key-parsing (PK) codes that 4.x's
 * mbedtls_strerror no longer names (they belong to TF-PSA-Crypto, which
 * keeps the codes but not their texts): a certificate whose key Mbed TLS
 * cannot parse then still says why. */
static inline void keyward_compat_strerror(int rc, char *buf, size_t size)
{
    mbedtls_strerror(rc, buf, size);
#if defined(KEYWARD_MBEDTLS_4)
    if (size > 0 && strncmp(buf, "UNKNOWN ERROR CODE", 18) == 0) {
        static const struct {
            int code;
            const char *text;
        } pk[] = {
            {MBEDTLS_ERR_PK_TYPE_MISMATCH, "key of the wrong type"},
            {MBEDTLS_ERR_PK_FILE_IO_ERROR, "cannot read the key file"},
            {MBEDTLS_ERR_PK_KEY_INVALID_VERSION, "unsupported key version"},
            {MBEDTLS_ERR_PK_KEY_INVALID_FORMAT, "malformed key"},
            {MBEDTLS_ERR_PK_UNKNOWN_PK_ALG, "public key algorithm not supported"},
            {MBEDTLS_ERR_PK_PASSWORD_REQUIRED, "the key is encrypted: password needed"},
            {MBEDTLS_ERR_PK_PASSWORD_MISMATCH, "wrong password for the key"},
            {MBEDTLS_ERR_PK_INVALID_PUBKEY, "malformed public key"},
            {MBEDTLS_ERR_PK_INVALID_ALG, "malformed key algorithm identifier"},
            {MBEDTLS_ERR_PK_UNKNOWN_NAMED_CURVE, "elliptic curve not supported"},
        };
        for (size_t i = 0; i < sizeof(pk) / sizeof(pk[0]); i++) {
            if (pk[i].code == rc) {
                snprintf(buf, size, "PK - %s (-0x%04X)", pk[i].text, (unsigned)-pk[i].code);
                return;
            }
        }
    }
#endif
}

/* Gives the TLS configuration PSA's random generator (3.6 needs it said;
 * 4.x always uses it). */
static inline void keyward_compat_ssl_conf_rng(mbedtls_ssl_config *conf)
{
#if defined(KEYWARD_MBEDTLS_4)
    (void)conf;
#else
    mbedtls_ssl_conf_rng(conf, mbedtls_psa_get_random, MBEDTLS_PSA_RANDOM_STATE);
#endif
}

/* mbedtls_pk_parse_keyfile without RNG arguments (3.6 wants them for
 * blinding; 4.x uses PSA's). */
#if defined(MBEDTLS_FS_IO)
static inline int keyward_compat_pk_parse_keyfile(mbedtls_pk_context *pk, const char *path,
                                                  const char *password)
{
#if defined(KEYWARD_MBEDTLS_4)
    return mbedtls_pk_parse_keyfile(pk, path, password);
#else
    return mbedtls_pk_parse_keyfile(pk, path, password, mbedtls_psa_get_random,
                                    MBEDTLS_PSA_RANDOM_STATE);
#endif
}
#endif

#if defined(MBEDTLS_X509_CSR_WRITE_C) && defined(MBEDTLS_PEM_WRITE_C)
/* mbedtls_x509write_csr_pem without RNG arguments. */
static inline int keyward_compat_x509write_csr_pem(mbedtls_x509write_csr *csr, unsigned char *buf,
                                                   size_t size)
{
#if defined(KEYWARD_MBEDTLS_4)
    return mbedtls_x509write_csr_pem(csr, buf, size);
#else
    return mbedtls_x509write_csr_pem(csr, buf, size, mbedtls_psa_get_random,
                                     MBEDTLS_PSA_RANDOM_STATE);
#endif
}
#endif

#if defined(MBEDTLS_X509_CRT_WRITE_C)
/* mbedtls_x509write_crt_der without RNG arguments. */
static inline int keyward_compat_x509write_crt_der(mbedtls_x509write_cert *crt, unsigned char *buf,
                                                   size_t size)
{
#if defined(KEYWARD_MBEDTLS_4)
    return mbedtls_x509write_crt_der(crt, buf, size);
#else
    return mbedtls_x509write_crt_der(crt, buf, size, mbedtls_psa_get_random,
                                     MBEDTLS_PSA_RANDOM_STATE);
#endif
}
#endif

#ifdef __cplusplus
}
#endif
#endif
