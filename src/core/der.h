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
psa_status_t keyward_der_digest_info(psa_algorithm_t hash_alg, const uint8_t *hash, size_t hash_len,
                                     uint8_t *out, size_t out_size, size_t *out_len);

/* DER contents (no tag, no length) of the OIDs keyward writes or matches.
 * keyward keeps its own small table: Mbed TLS 4.x made its OID module
 * private to X.509, and 3.6's mbedtls_oid_get_oid_by_md is gone there. */
#define KEYWARD_OID_SECP256R1 "\x2a\x86\x48\xce\x3d\x03\x01\x07" /* 1.2.840.10045.3.1.7 */
#define KEYWARD_OID_SECP384R1 "\x2b\x81\x04\x00\x22"             /* 1.3.132.0.34 */
#define KEYWARD_OID_SECP521R1 "\x2b\x81\x04\x00\x23"             /* 1.3.132.0.35 */

/* The OID of a PSA hash algorithm (SHA-1, SHA-2, SHA-3), for a DigestInfo;
 * PSA_ERROR_NOT_SUPPORTED for any other. */
psa_status_t keyward_der_hash_oid(psa_algorithm_t hash_alg, const char **oid, size_t *oid_len);

/* Bits of a big-endian unsigned integer. */
size_t keyward_bitlen(const uint8_t *n, size_t n_len);

#endif
