/*
 * keyward TLS helpers: a client's TLS identity (certificate chain + SE key)
 * in one call, and the check an application runs before it hands a
 * certificate and a key to Mbed TLS.
 */
#ifndef KEYWARD_TLS_H
#define KEYWARD_TLS_H

#include <stdint.h>

#include <psa/crypto.h>
#include "mbedtls/pk.h"
#include "mbedtls/ssl.h"
#include "mbedtls/x509_crt.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Does the certificate belong to the key?  Compares the certificate's public
 * key with the key's exported public key (both through PSA, so opaque SE
 * keys of every type are covered; mbedtls_pk_check_pair is not used because
 * it does not cover opaque RSA keys on Mbed TLS 4.x).
 *
 * [in] crt  the certificate (the first of the chain is checked)
 * [in] key  a key pair, software or in a keyward location
 *
 * Returns PSA_SUCCESS when they match;
 *   PSA_ERROR_INVALID_ARGUMENT when they do not (crt NULL, another key type
 *     or size, or another public key), keyward_last_error() says which;
 *   PSA_ERROR_NOT_SUPPORTED when PSA cannot hold the certificate's key;
 *   any status of psa_export_public_key() on the key (an SE that does not
 *     answer: PSA_ERROR_COMMUNICATION_FAILURE, ...). */
psa_status_t keyward_tls_check_pair(const mbedtls_x509_crt *crt, psa_key_id_t key);

/* Room for the cipher suite and signature algorithm lists an identity hands
 * to Mbed TLS (it keeps them: the configuration only points at them). */
#ifndef KEYWARD_TLS_MAX_SUITES
#define KEYWARD_TLS_MAX_SUITES 256
#endif
#define KEYWARD_TLS_MAX_SIG_ALGS 16

/* Which step of keyward_tls_identity_open() failed (id->failed_step), so
 * that a program can word its message. */
typedef enum {
    KEYWARD_TLS_STEP_NONE = 0,
    KEYWARD_TLS_STEP_CERT,  /* loading the certificate (keyward_cert_load) */
    KEYWARD_TLS_STEP_CHAIN, /* loading the intermediates */
    KEYWARD_TLS_STEP_KEY,   /* opening the key (keyward_key_open) */
    KEYWARD_TLS_STEP_PAIR,  /* the certificate is not the key's (keyward_tls_check_pair) */
    KEYWARD_TLS_STEP_WRAP,  /* Mbed TLS would not take the key */
} keyward_tls_step_t;

/* A client's TLS identity: the certificate chain and the key, with the
 * lists Mbed TLS is given.  Treat the fields as read-only; they stay valid
 * from a successful keyward_tls_identity_open() to
 * keyward_tls_identity_close(), and must outlive every mbedtls_ssl_config
 * (and SSL context) that uses them. */
typedef struct {
    mbedtls_x509_crt chain;             /* the end-entity certificate first, then intermediates */
    mbedtls_pk_context pk;              /* the key, as Mbed TLS signs with it */
    psa_key_id_t key;                   /* the PSA key keyward_key_open() made */
    int suites[KEYWARD_TLS_MAX_SUITES]; /* 0-terminated; suites[0] == 0: Mbed TLS's own */
    uint16_t sig_algs[KEYWARD_TLS_MAX_SIG_ALGS]; /* MBEDTLS_TLS1_3_SIG_NONE-terminated */
    keyward_tls_step_t failed_step;
} keyward_tls_identity_t;

/* Opens a TLS identity, everything checked before any connection:
 *  - loads the certificate (a CERTREF: file, pkcs11:...;type=cert,
 *    tpm2:nv=..., keyward/cert.h), then the intermediates from chainref
 *    (a CERTREF too, usually a PEM file; NULL: none);
 *  - opens the key (a KEYREF, keyward_key_open());
 *  - checks that the certificate's public key is the key's
 *    (keyward_tls_check_pair());
 *  - works out what the key can sign: a key whose policy cannot sign a
 *    SHA-384 hash (the ATECC608 signs SHA-256 only) gets no TLS 1.2
 *    SHA-384 suites (Mbed TLS signs a TLS 1.2 CertificateVerify with the
 *    suite's hash) and no signature algorithms of its own kind with a hash
 *    it cannot sign.
 * keyward_init() (psa_crypto_init) must have been called.
 * [out] id  opened; on failure everything is freed already (closing it again
 *           is harmless) and id->failed_step says which step failed.
 * Returns PSA_SUCCESS, or the failing step's status: keyward_cert_load's
 * (PSA_ERROR_DOES_NOT_EXIST, PSA_ERROR_DATA_INVALID ...), keyward_key_open's,
 * keyward_tls_check_pair's (PSA_ERROR_INVALID_ARGUMENT: not the key's
 * certificate), PSA_ERROR_NOT_SUPPORTED when Mbed TLS cannot use the key.
 * keyward_last_error() has the detail (never a PIN). */
psa_status_t keyward_tls_identity_open(keyward_tls_identity_t *id, const char *certref,
                                       const char *chainref, const char *keyref);

/* Gives conf the identity: own certificate and key, the RNG (PSA's, on
 * both Mbed TLS lines), and the cipher suites and signature algorithms the
 * key can sign.  Call it after mbedtls_ssl_config_defaults() (which resets
 * those lists).  Returns PSA_SUCCESS; PSA_ERROR_BAD_STATE for an identity
 * not open; PSA_ERROR_INSUFFICIENT_MEMORY when Mbed TLS cannot take it. */
psa_status_t keyward_tls_conf_identity(mbedtls_ssl_config *conf, keyward_tls_identity_t *id);

/* Frees the chain, the PK context and the key (keyward_key_close(), which
 * wipes the secrets kept for it) and zeroises id.  Safe on a failed or
 * already closed identity, and on one zeroed with memset/static storage. */
void keyward_tls_identity_close(keyward_tls_identity_t *id);

#ifdef __cplusplus
}
#endif
#endif
