/* The example backend (tests/example_backend) through keyward's application API: its key
 * opens by KEYREF, signs through PSA (verified with the public key it exports), and its
 * private part is refused to export, like any SE key. */
#include <string.h>

#include "keyward/keyward.h"
#include "keyward/port/locations.h"
#include "kwcheck.h"

int main(void)
{
    psa_key_attributes_t attr = PSA_KEY_ATTRIBUTES_INIT;
    psa_key_id_t key = 0, pub = 0;
    uint8_t hash[32] = {1, 2, 3}, sig[PSA_SIGNATURE_MAX_SIZE], pk[PSA_EXPORT_PUBLIC_KEY_MAX_SIZE];
    uint8_t priv[PSA_EXPORT_KEY_PAIR_MAX_SIZE];
    size_t sig_len = 0, pk_len = 0, priv_len = 0;

    CHECK_STATUS(keyward_init(), PSA_SUCCESS);
    CHECK_STATUS(keyward_key_open("example:nosuch", &key), PSA_ERROR_DOES_NOT_EXIST);
    CHECK_STATUS(keyward_key_open("example:key", &key), PSA_SUCCESS);
    CHECK_STATUS(psa_get_key_attributes(key, &attr), PSA_SUCCESS);
    CHECK(PSA_KEY_LIFETIME_GET_LOCATION(psa_get_key_lifetime(&attr)) == KEYWARD_LOCATION_EXAMPLE);
    CHECK(psa_get_key_bits(&attr) == 256);
    psa_reset_key_attributes(&attr);

    CHECK_STATUS(psa_sign_hash(key, PSA_ALG_ECDSA(PSA_ALG_SHA_256), hash, sizeof(hash), sig,
                               sizeof(sig), &sig_len),
                 PSA_SUCCESS);
    CHECK(sig_len == 64);
    CHECK_STATUS(psa_export_public_key(key, pk, sizeof(pk), &pk_len), PSA_SUCCESS);
    CHECK(pk_len == 65 && pk[0] == 0x04);
    CHECK_STATUS(psa_export_key(key, priv, sizeof(priv), &priv_len), PSA_ERROR_NOT_PERMITTED);

    /* the signature verifies with the exported public key, in PSA's own software */
    psa_set_key_type(&attr, PSA_KEY_TYPE_ECC_PUBLIC_KEY(PSA_ECC_FAMILY_SECP_R1));
    psa_set_key_usage_flags(&attr, PSA_KEY_USAGE_VERIFY_HASH);
    psa_set_key_algorithm(&attr, PSA_ALG_ECDSA(PSA_ALG_SHA_256));
    CHECK_STATUS(psa_import_key(&attr, pk, pk_len, &pub), PSA_SUCCESS);
    CHECK_STATUS(psa_verify_hash(pub, PSA_ALG_ECDSA(PSA_ALG_SHA_256), hash, sizeof(hash), sig,
                                 sig_len),
                 PSA_SUCCESS);
    hash[0] ^= 1;
    CHECK_STATUS(psa_verify_hash(pub, PSA_ALG_ECDSA(PSA_ALG_SHA_256), hash, sizeof(hash), sig,
                                 sig_len),
                 PSA_ERROR_INVALID_SIGNATURE);
    (void)psa_destroy_key(pub);
    CHECK_STATUS(keyward_key_close(key), PSA_SUCCESS);
    keyward_deinit();
    return kw_test_end("test_example_backend");
}
