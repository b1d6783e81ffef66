/* DER helpers shared by backends (written with Mbed TLS's ASN.1 writer). */
#ifndef KEYWARD_DER_H
#define KEYWARD_DER_H

#include <stddef.h>
#include <stdint.h>
#include <psa/crypto.h>

/* RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
 * from big-endian unsigned n and e (PSA's RSA public-key export format). */
psa_status_t keyward_der_rsa_public(const uint8_t *n, size_t n_len, const uint8_t *e, size_t e_len,
                                    uint8_t *out, size_t out_size, size_t *out_len);

/* PKCS#1 v1.5 DigestInfo for hash_alg (a PSA hash algorithm) followed by
 * the hash, the input of a raw RSA PKCS#1 v1.5 signature (CKM_RSA_PKCS). */
psa_status_t keyward_der_digest_info(psa_algorithm_t hash_alg, const uint8_t *hash,
                                     size_t hash_len, uint8_t *out, size_t out_size,
                                     size_t *out_len);

/* Bits of a big-endian unsigned integer. */
size_t keyward_bitlen(const uint8_t *n, size_t n_len);

#endif
