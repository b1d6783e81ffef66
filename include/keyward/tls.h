/*
 * keyward TLS helpers: checks an application runs before it hands a
 * certificate and a key to Mbed TLS.
 */
#ifndef KEYWARD_TLS_H
#define KEYWARD_TLS_H

#include <psa/crypto.h>
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

#ifdef __cplusplus
}
#endif
#endif
