/*
 * The smallest keyward backend (docs/porting.md): a software "secure element"
 * holding one P-256 key pair, made with PSA's own software implementation the
 * first time it is named.  KEYREF: "example:key".  Built only in test builds
 * (tests/CMakeLists.txt adds this folder through KEYWARD_EXTRA_BACKEND_DIRS);
 * never shipped: a key in process memory is no secure element.
 */
#include <string.h>

#include "keyward/port/backend.h"
#include "keyward/port/locations.h"

static psa_key_id_t example_key; /* 0 until first use */

/* The one key, made on first use; a volatile key of PSA's local storage, so
 * the private part stays inside PSA as it would inside an SE. */
static psa_status_t the_key(psa_key_id_t *key)
{
    psa_status_t status = PSA_ERROR_CORRUPTION_DETECTED;
    psa_key_attributes_t attr = PSA_KEY_ATTRIBUTES_INIT;

    if (example_key == 0) {
        psa_set_key_type(&attr, PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1));
        psa_set_key_bits(&attr, 256);
        psa_set_key_usage_flags(&attr, PSA_KEY_USAGE_SIGN_HASH);
        psa_set_key_algorithm(&attr, PSA_ALG_ECDSA(PSA_ALG_ANY_HASH));
        status = psa_generate_key(&attr, &example_key);
        if (status != PSA_SUCCESS) {
            keyward_set_error("example: cannot make its key");
            goto exit;
        }
    }
    *key = example_key;
    status = PSA_SUCCESS;
exit:
    psa_reset_key_attributes(&attr);
    return status;
}

/* The ref is the KEYREF text; this SE has one key, named "example:key". */
static psa_status_t example_describe(const uint8_t *ref, size_t ref_len, psa_key_type_t *type,
                                     size_t *bits)
{
    psa_key_id_t key = 0;

    if (ref_len != strlen("example:key") || memcmp(ref, "example:key", ref_len) != 0) {
        keyward_set_error("example: the only key is example:key");
        return PSA_ERROR_DOES_NOT_EXIST;
    }
    *type = PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1);
    *bits = 256;
    return the_key(&key);
}

static psa_status_t example_sign_hash(const uint8_t *ref, size_t ref_len, psa_key_type_t type,
                                      size_t bits, psa_algorithm_t alg, const uint8_t *hash,
                                      size_t hash_len, uint8_t *sig, size_t sig_size,
                                      size_t *sig_len)
{
    psa_key_id_t key = 0;
    psa_status_t status = example_describe(ref, ref_len, &type, &bits);

    if (status == PSA_SUCCESS && !PSA_ALG_IS_ECDSA(alg)) {
        status = PSA_ERROR_NOT_SUPPORTED; /* an SE signs what it can, no more */
    }
    if (status == PSA_SUCCESS) {
        status = the_key(&key);
    }
    if (status == PSA_SUCCESS) {
        status = psa_sign_hash(key, alg, hash, hash_len, sig, sig_size, sig_len);
    }
    return status;
}

static psa_status_t example_export_public(const uint8_t *ref, size_t ref_len, psa_key_type_t type,
                                          size_t bits, uint8_t *out, size_t out_size,
                                          size_t *out_len)
{
    psa_key_id_t key = 0;
    psa_status_t status = example_describe(ref, ref_len, &type, &bits);

    if (status == PSA_SUCCESS) {
        status = the_key(&key);
    }
    if (status == PSA_SUCCESS) {
        status = psa_export_public_key(key, out, out_size, out_len);
    }
    return status;
}

/* keyward_deinit(): the key goes with the process's PSA state. */
static void example_shutdown(void)
{
    if (example_key != 0) {
        (void)psa_destroy_key(example_key);
        example_key = 0;
    }
}

const keyward_backend_t keyward_example_backend = {
    .scheme = "example",
    .id = KEYWARD_BACKEND_ID_EXAMPLE,     /* from its declaration (CMakeLists.txt) */
    .location = KEYWARD_LOCATION_EXAMPLE, /* likewise */
    .describe = example_describe,
    .sign_hash = example_sign_hash,
    .export_public = example_export_public,
    .shutdown = example_shutdown,
};
