/*
 * PKCS#11 backend, top layer: the backend operations, each in the file of
 * its concern, gathered into the ops table by pkcs11.c.
 */
#ifndef KEYWARD_PKCS11_OPS_H
#define KEYWARD_PKCS11_OPS_H

#include <stddef.h>
#include <stdint.h>

#include <psa/crypto.h>

/* pkcs11_key.c */
psa_status_t p11_describe(const uint8_t *ref, size_t ref_len, psa_key_type_t *type, size_t *bits);
psa_status_t p11_export_public(const uint8_t *ref, size_t ref_len, psa_key_type_t type, size_t bits,
                               uint8_t *out, size_t out_size, size_t *out_len);
/* pkcs11_sign.c */
psa_status_t p11_sign_hash(const uint8_t *ref, size_t ref_len, psa_key_type_t type, size_t bits,
                           psa_algorithm_t alg, const uint8_t *hash, size_t hash_len, uint8_t *sig,
                           size_t sig_size, size_t *sig_len);
/* pkcs11_keygen.c */
psa_status_t p11_generate(const char *target, psa_key_type_t type, size_t bits, uint8_t *ref,
                          size_t ref_size, size_t *ref_len);

#endif
