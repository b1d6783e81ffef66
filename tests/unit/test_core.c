/* Builtin-key table, KEYREF dispatch, driver entry points fed bad buffers,
 * DER helpers.  No secure element needed. */
#include <string.h>

#include "core/core.h"
#include "core/der.h"
#include "core/keybuf.h"
#include "keyward/keyward.h"
#include "keyward/port/psa_driver.h"
#include "kwcheck.h"
#include "mbedtls/build_info.h"
#include "psa/crypto_extra.h"

static void builtin_table(void)
{
    psa_key_lifetime_t lifetime = 0;
    psa_drv_slot_number_t slot = 99;
    const psa_key_type_t ec = PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1);
    const psa_algorithm_t alg = PSA_ALG_ECDSA(PSA_ALG_ANY_HASH);

    keyward_builtin_clear();
    CHECK_STATUS(keyward_builtin_add(MBEDTLS_PSA_KEY_ID_BUILTIN_MIN - 1, "pkcs11:object=a", ec, 256,
                                     PSA_KEY_USAGE_SIGN_HASH, alg, 0),
                 PSA_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(keyward_builtin_add(MBEDTLS_PSA_KEY_ID_BUILTIN_MAX + 1, "pkcs11:object=a", ec, 256,
                                     PSA_KEY_USAGE_SIGN_HASH, alg, 0),
                 PSA_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(keyward_builtin_add(MBEDTLS_PSA_KEY_ID_BUILTIN_MIN, "nosuch:x", ec, 256,
                                     PSA_KEY_USAGE_SIGN_HASH, alg, 0),
                 PSA_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(keyward_builtin_add(MBEDTLS_PSA_KEY_ID_BUILTIN_MIN, "pkcs11:object=a", ec, 0,
                                     PSA_KEY_USAGE_SIGN_HASH, alg, 0),
                 PSA_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(keyward_builtin_add(MBEDTLS_PSA_KEY_ID_BUILTIN_MIN, "pkcs11:object=a", ec, 256,
                                     PSA_KEY_USAGE_SIGN_HASH, alg, 0),
                 PSA_SUCCESS);
    CHECK_STATUS(keyward_builtin_add(MBEDTLS_PSA_KEY_ID_BUILTIN_MIN + 5, "pkcs11:object=b", ec, 384,
                                     PSA_KEY_USAGE_SIGN_HASH, alg, 0),
                 PSA_SUCCESS);
    /* lookups by the PSA core's platform hook */
    CHECK_STATUS(mbedtls_psa_platform_get_builtin_key(
                     mbedtls_svc_key_id_make(0, MBEDTLS_PSA_KEY_ID_BUILTIN_MIN + 5), &lifetime,
                     &slot),
                 PSA_SUCCESS);
    CHECK(slot == 1);
    CHECK(PSA_KEY_LIFETIME_GET_LOCATION(lifetime) == KEYWARD_LOCATION_PKCS11);
    CHECK(PSA_KEY_LIFETIME_GET_PERSISTENCE(lifetime) == PSA_KEY_PERSISTENCE_READ_ONLY);
    CHECK_STATUS(mbedtls_psa_platform_get_builtin_key(
                     mbedtls_svc_key_id_make(0, MBEDTLS_PSA_KEY_ID_BUILTIN_MIN + 1), &lifetime,
                     &slot),
                 PSA_ERROR_DOES_NOT_EXIST);
    /* an id already declared is never replaced (issue 7 section 8) */
    {
        keyward_builtin_t b;
        CHECK_STATUS(keyward_builtin_add(MBEDTLS_PSA_KEY_ID_BUILTIN_MIN, "pkcs11:object=c", ec, 256,
                                         PSA_KEY_USAGE_SIGN_HASH, alg, 0),
                     PSA_ERROR_ALREADY_EXISTS);
        CHECK_STATUS(keyward_builtin_copy(2, &b), PSA_ERROR_DOES_NOT_EXIST);
        CHECK_STATUS(keyward_builtin_copy(0, &b), PSA_SUCCESS);
        CHECK(strcmp(b.keyref, "pkcs11:object=a") == 0);
    }
    /* the table is bounded */
    for (psa_key_id_t i = 10; i < 10 + KEYWARD_BUILTIN_MAX - 2; i++) {
        CHECK_STATUS(keyward_builtin_add(MBEDTLS_PSA_KEY_ID_BUILTIN_MIN + i, "pkcs11:object=d", ec,
                                         256, PSA_KEY_USAGE_SIGN_HASH, alg, 0),
                     PSA_SUCCESS);
    }
    CHECK_STATUS(keyward_builtin_add(MBEDTLS_PSA_KEY_ID_BUILTIN_MIN + 100, "pkcs11:object=e", ec,
                                     256, PSA_KEY_USAGE_SIGN_HASH, alg, 0),
                 PSA_ERROR_INSUFFICIENT_MEMORY);
    /* get_builtin_key: attributes first (buffer too small), then the buffer */
    {
        psa_key_attributes_t attr = PSA_KEY_ATTRIBUTES_INIT;
        uint8_t buf[KEYWARD_KEYBUF_HEADER + KEYWARD_REF_MAX];
        size_t len = 0;
        keyward_keybuf_t kb;
        psa_set_key_lifetime(&attr, PSA_KEY_LIFETIME_FROM_PERSISTENCE_AND_LOCATION(
                                        PSA_KEY_PERSISTENCE_READ_ONLY, KEYWARD_LOCATION_PKCS11));
        CHECK_STATUS(keyward_psa_get_builtin_key(1, &attr, NULL, 0, NULL),
                     PSA_ERROR_BUFFER_TOO_SMALL);
        CHECK(psa_get_key_bits(&attr) == 384 && psa_get_key_type(&attr) == ec);
        CHECK_STATUS(keyward_psa_get_builtin_key(1, &attr, buf, sizeof(buf), &len), PSA_SUCCESS);
        CHECK_STATUS(keyward_keybuf_parse(buf, len, &kb), PSA_SUCCESS);
        CHECK(kb.ref_len == strlen("pkcs11:object=b") &&
              memcmp(kb.ref, "pkcs11:object=b", 15) == 0);
        CHECK_STATUS(keyward_psa_get_builtin_key(999, &attr, buf, sizeof(buf), &len),
                     PSA_ERROR_DOES_NOT_EXIST);
        psa_set_key_lifetime(&attr, PSA_KEY_LIFETIME_FROM_PERSISTENCE_AND_LOCATION(
                                        PSA_KEY_PERSISTENCE_READ_ONLY, KEYWARD_LOCATION_LAST));
        CHECK_STATUS(keyward_psa_get_builtin_key(1, &attr, buf, sizeof(buf), &len),
                     PSA_ERROR_DOES_NOT_EXIST);
    }
    keyward_builtin_clear();
}

static void keyrefs(void)
{
    psa_key_id_t key = 0;

    CHECK(keyward_backend_by_keyref("pkcs11:object=x") ==
          keyward_backend_by_location(KEYWARD_LOCATION_PKCS11));
    CHECK(keyward_backend_by_keyref("pkcs11") == NULL);
    CHECK(keyward_backend_by_keyref("pkcs1:x") == NULL);
    CHECK(keyward_backend_by_keyref("") == NULL);
    CHECK(keyward_backend_by_keyref(NULL) == NULL);
    CHECK_STATUS(keyward_key_open("nosuch:slot=1", &key), PSA_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(keyward_last_error(), "unknown KEYREF scheme") != NULL);
    CHECK_STATUS(keyward_key_open(NULL, &key), PSA_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(keyward_key_open("", &key), PSA_ERROR_INVALID_ARGUMENT);
    /* malformed RFC 7512 URIs are refused before any module is loaded */
    CHECK_STATUS(keyward_key_open("pkcs11:object=%zz", &key), PSA_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(keyward_key_open("pkcs11:bogus", &key), PSA_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(keyward_key_open("pkcs11:token=t?module-path=/nonexistent/module.so", &key),
                 PSA_ERROR_INVALID_ARGUMENT); /* names no object */
    CHECK_STATUS(keyward_key_open("pkcs11:token=t;object=o?module-path=/nonexistent/module.so",
                                  &key),
                 PSA_ERROR_DOES_NOT_EXIST);
    CHECK(strstr(keyward_last_error(), "cannot load PKCS#11 module") != NULL);
    CHECK_STATUS(keyward_key_open("file:/nonexistent.pem", &key), PSA_ERROR_DOES_NOT_EXIST);
}

static void bad_key_buffers(void)
{
    psa_key_attributes_t attr = PSA_KEY_ATTRIBUTES_INIT;
    uint8_t sig[512], out[1024];
    uint8_t hash[32] = {0};
    size_t len = 0;
    const uint8_t junk[] = "kw\x01\x01\x12\x71\x00\x01\xff\xff";
    uint8_t good[64];
    const uint8_t ref[] = "pkcs11:object=x";
    keyward_keybuf_t kb = {1, PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1), 256, ref,
                           sizeof(ref) - 1};
    size_t good_len = 0;

    psa_set_key_lifetime(&attr, PSA_KEY_LIFETIME_FROM_PERSISTENCE_AND_LOCATION(
                                    PSA_KEY_PERSISTENCE_VOLATILE, KEYWARD_LOCATION_PKCS11));
    psa_set_key_type(&attr, PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1));
    psa_set_key_bits(&attr, 256);
    CHECK_STATUS(keyward_psa_sign_hash(&attr, junk, sizeof(junk) - 1,
                                       PSA_ALG_ECDSA(PSA_ALG_SHA_256), hash, 32, sig, sizeof(sig),
                                       &len),
                 PSA_ERROR_DATA_CORRUPT);
    CHECK_STATUS(keyward_psa_export_public_key(&attr, junk, 3, out, sizeof(out), &len),
                 PSA_ERROR_DATA_CORRUPT);
    CHECK_STATUS(keyward_psa_export_key(&attr, junk, sizeof(junk) - 1, out, sizeof(out), &len),
                 PSA_ERROR_NOT_PERMITTED);
    CHECK_STATUS(keyward_keybuf_write(&kb, good, sizeof(good), &good_len), PSA_SUCCESS);
    /* a buffer from another backend's location, or for another key type */
    kb.backend = 3;
    CHECK_STATUS(keyward_keybuf_write(&kb, out, sizeof(out), &len), PSA_SUCCESS);
    CHECK_STATUS(keyward_psa_sign_hash(&attr, out, len, PSA_ALG_ECDSA(PSA_ALG_SHA_256), hash, 32,
                                       sig, sizeof(sig), &len),
                 PSA_ERROR_DATA_CORRUPT);
    psa_set_key_type(&attr, PSA_KEY_TYPE_RSA_KEY_PAIR);
    CHECK_STATUS(keyward_psa_sign_hash(&attr, good, good_len, PSA_ALG_ECDSA(PSA_ALG_SHA_256), hash,
                                       32, sig, sizeof(sig), &len),
                 PSA_ERROR_DATA_CORRUPT);
    psa_set_key_type(&attr, PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1));
    /* a hash of the wrong length and a short signature buffer are caught
     * before the SE is asked */
    CHECK_STATUS(keyward_psa_sign_hash(&attr, good, good_len, PSA_ALG_ECDSA(PSA_ALG_SHA_256), hash,
                                       20, sig, sizeof(sig), &len),
                 PSA_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(keyward_psa_sign_hash(&attr, good, good_len, PSA_ALG_ECDSA(PSA_ALG_SHA_256), hash,
                                       32, sig, 63, &len),
                 PSA_ERROR_BUFFER_TOO_SMALL);
    /* The hash length each signature algorithm wants, checked before the
     * SE: its length passes (the short signature buffer stops it next), one
     * byte less does not; hashes no SE signs are refused; algorithms that
     * are not hash-and-sign take any length. */
    {
        static const psa_algorithm_t hashes[] = {PSA_ALG_SHA_1, PSA_ALG_SHA_224, PSA_ALG_SHA_256,
                                                 PSA_ALG_SHA_384, PSA_ALG_SHA_512};
        static const size_t lengths[] = {20, 28, 32, 48, 64};
        uint8_t h[65] = {0};

        for (size_t i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++) {
            const psa_algorithm_t algs[] = {PSA_ALG_ECDSA(hashes[i]),
                                            PSA_ALG_DETERMINISTIC_ECDSA(hashes[i]),
                                            PSA_ALG_RSA_PKCS1V15_SIGN(hashes[i]),
                                            PSA_ALG_RSA_PSS(hashes[i]),
                                            PSA_ALG_RSA_PSS_ANY_SALT(hashes[i])};
            for (size_t j = 0; j < sizeof(algs) / sizeof(algs[0]); j++) {
                CHECK_STATUS(keyward_psa_sign_hash(&attr, good, good_len, algs[j], h, lengths[i],
                                                   sig, 63, &len),
                             PSA_ERROR_BUFFER_TOO_SMALL);
                CHECK_STATUS(keyward_psa_sign_hash(&attr, good, good_len, algs[j], h,
                                                   lengths[i] - 1, sig, sizeof(sig), &len),
                             PSA_ERROR_INVALID_ARGUMENT);
            }
        }
        CHECK_STATUS(keyward_psa_sign_hash(&attr, good, good_len, PSA_ALG_ECDSA(PSA_ALG_SHA3_256),
                                           h, 32, sig, sizeof(sig), &len),
                     PSA_ERROR_NOT_SUPPORTED);
        CHECK_STATUS(keyward_psa_sign_hash(&attr, good, good_len,
                                           PSA_ALG_RSA_PKCS1V15_SIGN(PSA_ALG_MD5), h, 16, sig,
                                           sizeof(sig), &len),
                     PSA_ERROR_NOT_SUPPORTED);
        CHECK_STATUS(keyward_psa_sign_hash(&attr, good, good_len, PSA_ALG_ECDSA(PSA_ALG_ANY_HASH),
                                           h, 32, sig, sizeof(sig), &len),
                     PSA_ERROR_NOT_SUPPORTED);
        CHECK_STATUS(keyward_psa_sign_hash(&attr, good, good_len, PSA_ALG_RSA_PKCS1V15_SIGN_RAW, h,
                                           65, sig, 63, &len),
                     PSA_ERROR_BUFFER_TOO_SMALL);
        CHECK_STATUS(keyward_psa_sign_hash(&attr, good, good_len, PSA_ALG_ECDSA_ANY, h, 7, sig, 63,
                                           &len),
                     PSA_ERROR_BUFFER_TOO_SMALL);
    }
    /* sizes */
    CHECK(keyward_psa_get_key_buffer_size(&attr) == KEYWARD_KEYBUF_HEADER + KEYWARD_REF_MAX);
    CHECK(keyward_psa_get_key_buffer_size_from_key_data(&attr, ref, 0) == 0);
    CHECK(keyward_psa_get_key_buffer_size_from_key_data(&attr, ref, KEYWARD_REF_MAX + 1) == 0);
    CHECK(keyward_psa_get_key_buffer_size_from_key_data(&attr, ref, 5) ==
          KEYWARD_KEYBUF_HEADER + 5);
    psa_set_key_type(&attr, PSA_KEY_TYPE_AES);
    CHECK(keyward_psa_get_key_buffer_size(&attr) == 0);
    CHECK_STATUS(keyward_psa_import_key(&attr, ref, 5, out, sizeof(out), &len, &len),
                 PSA_ERROR_NOT_SUPPORTED);
}

static void der_helpers(void)
{
    /* DigestInfo prefix for SHA-256, RFC 8017 section 9.2 note 1 */
    static const uint8_t prefix[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                     0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};
    uint8_t hash[32], out[128];
    size_t len = 0;
    const uint8_t n[] = {0x00, 0xc3, 0x01}, e[] = {0x01, 0x00, 0x01};
    static const uint8_t rsa_der[] = {0x30, 0x0a, 0x02, 0x03, 0x00, 0xc3,
                                      0x01, 0x02, 0x03, 0x01, 0x00, 0x01};

    memset(hash, 0xab, sizeof(hash));
    CHECK_STATUS(keyward_der_digest_info(PSA_ALG_SHA_256, hash, 32, out, sizeof(out), &len),
                 PSA_SUCCESS);
    CHECK(len == sizeof(prefix) + 32 && memcmp(out, prefix, sizeof(prefix)) == 0 &&
          memcmp(out + sizeof(prefix), hash, 32) == 0);
    CHECK_STATUS(keyward_der_digest_info(PSA_ALG_SHA_256, hash, 31, out, sizeof(out), &len),
                 PSA_ERROR_INVALID_ARGUMENT);
    CHECK_STATUS(keyward_der_digest_info(PSA_ALG_SHA_256, hash, 32, out, 40, &len),
                 PSA_ERROR_BUFFER_TOO_SMALL);
    CHECK_STATUS(keyward_der_rsa_public(n, sizeof(n), e, sizeof(e), out, sizeof(out), &len),
                 PSA_SUCCESS);
    CHECK(len == sizeof(rsa_der) && memcmp(out, rsa_der, len) == 0);
    CHECK_STATUS(keyward_der_rsa_public(n, sizeof(n), e, sizeof(e), out, 5, &len),
                 PSA_ERROR_BUFFER_TOO_SMALL);
    CHECK(keyward_bitlen(n, sizeof(n)) == 16);
    /* keyward's own hash OID table (RFC 8017 section 9.2 note 1 prefixes) */
    {
        static const uint8_t sha1[] = {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e,
                                       0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14};
        static const uint8_t sha384[] = {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                         0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30};
        static const uint8_t sha512[] = {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                         0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40};
        uint8_t h[64];
        memset(h, 0x5a, sizeof(h));
        CHECK_STATUS(keyward_der_digest_info(PSA_ALG_SHA_1, h, 20, out, sizeof(out), &len),
                     PSA_SUCCESS);
        CHECK(len == sizeof(sha1) + 20 && memcmp(out, sha1, sizeof(sha1)) == 0);
        CHECK_STATUS(keyward_der_digest_info(PSA_ALG_SHA_384, h, 48, out, sizeof(out), &len),
                     PSA_SUCCESS);
        CHECK(len == sizeof(sha384) + 48 && memcmp(out, sha384, sizeof(sha384)) == 0);
        CHECK_STATUS(keyward_der_digest_info(PSA_ALG_SHA_512, h, 64, out, sizeof(out), &len),
                     PSA_SUCCESS);
        CHECK(len == sizeof(sha512) + 64 && memcmp(out, sha512, sizeof(sha512)) == 0);
        CHECK_STATUS(keyward_der_digest_info(PSA_ALG_MD5, h, 16, out, sizeof(out), &len),
                     PSA_ERROR_NOT_SUPPORTED);
    }
}

int main(void)
{
    CHECK_STATUS(keyward_init(), PSA_SUCCESS);
    builtin_table();
    keyrefs();
    bad_key_buffers();
    der_helpers();
    mbedtls_psa_crypto_free();
    return kw_test_end("core");
}
