/*
 * TPM 2.0 backend, layer 6: the backend entry points in their own files,
 * gathered into the ops table by tpm2.c.
 */
#ifndef KEYWARD_TPM2_OPS_H
#define KEYWARD_TPM2_OPS_H

#include "tpm2_key.h"

/* tpm2_sign.c / tpm2_keygen.c: the backend entry points ------------------- */

psa_status_t kw_tpm2_sign_hash(const uint8_t *ref, size_t ref_len, psa_key_type_t type, size_t bits,
                               psa_algorithm_t alg, const uint8_t *hash, size_t hash_len,
                               uint8_t *sig, size_t sig_size, size_t *sig_len);
psa_status_t kw_tpm2_generate(const char *target, psa_key_type_t type, size_t bits, uint8_t *ref,
                              size_t ref_size, size_t *ref_len);

#endif
