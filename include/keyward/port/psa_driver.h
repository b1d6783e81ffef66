/*
 * keyward's PSA Crypto opaque-driver entry points.
 *
 * These have the signatures of the PSA Crypto driver interface
 * (docs/proposed/psa-driver-interface.md in Mbed TLS) and are called by
 * Mbed TLS's driver wrappers for keys whose location is a keyward location
 * (see locations.h).  Applications never call them directly.
 *
 * Status codes common to all entry points:
 *   PSA_ERROR_DATA_CORRUPT        the key buffer is not a valid keyward key buffer
 *   PSA_ERROR_NOT_SUPPORTED       the algorithm/key type is not one the SE can do
 *   PSA_ERROR_COMMUNICATION_FAILURE, PSA_ERROR_HARDWARE_FAILURE  SE faults
 */
#ifndef KEYWARD_PSA_DRIVER_H
#define KEYWARD_PSA_DRIVER_H

#include <psa/crypto.h>
#include "keyward/port/locations.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Size of the key buffer for a key with these attributes; 0 = unsupported. */
size_t keyward_psa_get_key_buffer_size(const psa_key_attributes_t *attributes);
size_t keyward_psa_get_key_buffer_size_from_key_data(const psa_key_attributes_t *attributes,
                                                     const uint8_t *data, size_t data_length);

/* data = a backend reference (e.g. "pkcs11:token=a;object=b"), never key
 * material.  The reference is checked against the SE: the key's type and
 * bits must match the attributes (bits 0 = take the SE's), else
 * PSA_ERROR_INVALID_ARGUMENT. */
psa_status_t keyward_psa_import_key(const psa_key_attributes_t *attributes, const uint8_t *data,
                                    size_t data_length, uint8_t *key_buffer, size_t key_buffer_size,
                                    size_t *key_buffer_length, size_t *bits);

/* Sets the place where the next psa_generate_key() in a keyward location,
 * in this thread, creates its key (a KEYREF; e.g. the PKCS#11 token and
 * label).  NULL clears it.  The string is NOT copied: it must stay valid
 * until psa_generate_key() returns (keyward_key_generate does all this). */
psa_status_t keyward_set_generate_target(const char *keyref);

/* Creates the key pair inside the SE at the target set with
 * keyward_set_generate_target(). */
psa_status_t keyward_psa_generate_key(const psa_key_attributes_t *attributes, uint8_t *key_buffer,
                                      size_t key_buffer_size, size_t *key_buffer_length);

psa_status_t keyward_psa_export_public_key(const psa_key_attributes_t *attributes,
                                           const uint8_t *key_buffer, size_t key_buffer_size,
                                           uint8_t *data, size_t data_size, size_t *data_length);

/* Always PSA_ERROR_NOT_PERMITTED: keyward locations hold key pairs only,
 * and the private key never leaves the SE (psa_export_public_key works). */
psa_status_t keyward_psa_export_key(const psa_key_attributes_t *attributes,
                                    const uint8_t *key_buffer, size_t key_buffer_size,
                                    uint8_t *data, size_t data_size, size_t *data_length);

psa_status_t keyward_psa_sign_hash(const psa_key_attributes_t *attributes,
                                   const uint8_t *key_buffer, size_t key_buffer_size,
                                   psa_algorithm_t alg, const uint8_t *hash, size_t hash_length,
                                   uint8_t *signature, size_t signature_size,
                                   size_t *signature_length);

/* Verifies in software with the SE key's public part. */
psa_status_t keyward_psa_verify_hash(const psa_key_attributes_t *attributes,
                                     const uint8_t *key_buffer, size_t key_buffer_size,
                                     psa_algorithm_t alg, const uint8_t *hash, size_t hash_length,
                                     const uint8_t *signature, size_t signature_length);

/* Removes every builtin key declared with keyward_builtin_add() (the table
 * is zeroised).  Not for applications (a declared id is never
 * replaced, by design, and the table is shared by the whole process): for
 * test harnesses that start each case from an empty table, and for a port
 * that re-provisions its slots at run time. */
void keyward_builtin_clear(void);

psa_status_t keyward_psa_get_builtin_key(psa_drv_slot_number_t slot_number,
                                         psa_key_attributes_t *attributes, uint8_t *key_buffer,
                                         size_t key_buffer_size, size_t *key_buffer_length);

#ifdef __cplusplus
}
#endif
#endif
