/*
 * keyward: TLS client keys that stay inside a secure element, for Mbed TLS
 * 3.6 LTS and 4.x.  The application API: this header, errors.h, version.h,
 * cert.h and tls.h.  Ports and build integrations use keyward/port/.
 *
 * KEYREF grammar (one string names a key everywhere):
 *   pkcs11:<RFC 7512 path>[?<query>]   e.g. pkcs11:token=dev;object=id?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1234
 *   atecc608:slot=N[;bus=unix:PATH | ;bus=/dev/i2c-N;addr=0x60]
 *   tpm2:handle=0x81xxxxxx | tpm2:file=key.pem
 *   file:PATH                          a software key (PEM/DER), for comparison
 *
 * Secret attributes (pin-value, auth, parent-auth, ...) never reach a key
 * buffer, PSA storage or a message: keyward keeps them in process memory
 * until keyward_key_close() or keyward_deinit(), and masks them in every
 * text (keyward_keyref_redact).  Persistent keys take their secret from
 * pin-source or the environment instead ($KEYWARD_PKCS11_PIN,
 * $KEYWARD_TPM2_AUTH): a persistent import whose reference carries one is
 * PSA_ERROR_INVALID_ARGUMENT.
 */
#ifndef KEYWARD_H
#define KEYWARD_H

#include <psa/crypto.h>
#include "keyward/errors.h"
#include "keyward/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Initialises PSA (psa_crypto_init).  Safe to call more than once. */
psa_status_t keyward_init(void);

/* Makes a PSA key for KEYREF, ready for signing in TLS:
 *  - SE keys: imported as a volatile opaque key in the backend's location
 *    (the key data is the reference); policy SIGN_HASH|VERIFY_HASH with
 *    ECDSA(any hash), or for RSA PKCS#1 v1.5 (any hash) plus RSA-PSS
 *    (any hash) as second algorithm so TLS 1.2 and 1.3 both work;
 *  - file: keys: imported as software keys with the same policy.
 * Returns PSA_ERROR_INVALID_ARGUMENT for a malformed KEYREF,
 * PSA_ERROR_DOES_NOT_EXIST when the SE has no such key. */
psa_status_t keyward_key_open(const char *keyref, psa_key_id_t *key);

/* Destroys the PSA key made by keyward_key_open() or keyward_key_generate()
 * and wipes the secrets (PIN, auth value) keyward kept for it: PSA tells a
 * driver nothing when a key is destroyed, so psa_destroy_key() alone leaves
 * them in memory until keyward_deinit().  A builtin key (read-only) is only
 * purged from PSA's memory; its id stays declared.  Returns what
 * psa_destroy_key() returns (PSA_ERROR_INVALID_HANDLE for an unknown key;
 * the secrets are wiped anyway). */
psa_status_t keyward_key_close(psa_key_id_t key);

/* Releases what keyward holds (SE sessions, loaded objects, secrets kept in process memory, zeroised), then PSA. Safe to call more than once. */
void keyward_deinit(void);

/* Generates a key pair inside the SE named by keyref and opens it (volatile). */
psa_status_t keyward_key_generate(const char *keyref, psa_key_type_t type, size_t bits,
                                  psa_key_id_t *key);

/* Declares a builtin key: PSA key id (MBEDTLS_PSA_KEY_ID_BUILTIN_MIN..MAX)
 * -> SE reference, with its type, bits and policy.  An id already declared
 * is never replaced: PSA_ERROR_ALREADY_EXISTS (keyward_key_open() picks its
 * own ids among the free ones, from the top of the range).  Secret
 * attributes of the KEYREF are kept in process memory, bound to the id, and
 * the table keeps the KEYREF without them.  Thread-safe.  The key is then usable
 * by id, without import or open, persistence READ_ONLY.  The KEYREF is
 * copied, except in builds with KEYWARD_BUILTIN_KEYREF_BY_REFERENCE (MCU
 * profile), where it must be a string that lives for ever (a literal). */
psa_status_t keyward_builtin_add(psa_key_id_t id, const char *keyref, psa_key_type_t type,
                                 size_t bits, psa_key_usage_t usage, psa_algorithm_t alg,
                                 psa_algorithm_t alg2);

/* Another driver's builtin-key lookup, with the signature of Mbed TLS's
 * mbedtls_psa_platform_get_builtin_key(): for key_id, set *lifetime (its
 * persistence and its driver's location) and *slot_number and return
 * PSA_SUCCESS, or return PSA_ERROR_DOES_NOT_EXIST. */
typedef psa_status_t (*keyward_builtin_fallback_t)(mbedtls_svc_key_id_t key_id,
                                                   psa_key_lifetime_t *lifetime,
                                                   psa_drv_slot_number_t *slot_number);

/* Mbed TLS has one global mbedtls_psa_platform_get_builtin_key(), and
 * keyward defines it.  It answers for the ids declared with
 * keyward_builtin_add() and hands every other id to `fallback` (e.g. a vendor
 * driver's own lookup), so keyward can live beside another driver's builtin
 * keys.  Without a fallback (NULL, the default), other ids give
 * PSA_ERROR_DOES_NOT_EXIST.  Keyward's ids take precedence.  Set it once at
 * start-up, before the first PSA call that may use a builtin key; it is not
 * synchronised against concurrent key use. */
void keyward_builtin_set_fallback(keyward_builtin_fallback_t fallback);

/* The policy keyward_key_open gives a key of this type. */
void keyward_default_policy(psa_key_attributes_t *attr, psa_key_type_t type);

#ifdef __cplusplus
}
#endif
#endif
