/* keyward_tls_check_pair: does a certificate belong to a key?  (keyward/tls.h) */
#include <stdio.h>
#include <string.h>

#include "keyward/port/backend.h"
#include "keyward/tls.h"
#include "mbedtls/pk.h"
#include "mbedtls/platform_util.h"

/* "ECC(secp_r1)-256" / "RSA-2048": enough to tell two keys apart in a message. */
static void describe_type(char *out, size_t size, psa_key_type_t type, size_t bits)
{
    if (PSA_KEY_TYPE_IS_RSA(type)) {
        snprintf(out, size, "RSA-%u", (unsigned)bits);
    } else if (PSA_KEY_TYPE_IS_ECC(type)) {
        psa_ecc_family_t family = PSA_KEY_TYPE_ECC_GET_FAMILY(type);
        snprintf(out, size, "%s-%u", family == PSA_ECC_FAMILY_SECP_R1 ? "EC P" : "EC",
                 (unsigned)bits);
    } else {
        snprintf(out, size, "type 0x%04x", (unsigned)type);
    }
}

psa_status_t keyward_tls_check_pair(const mbedtls_x509_crt *crt, psa_key_id_t key)
{
    psa_status_t status = PSA_ERROR_CORRUPTION_DETECTED;
    psa_key_attributes_t crt_attr = PSA_KEY_ATTRIBUTES_INIT;
    psa_key_attributes_t key_attr = PSA_KEY_ATTRIBUTES_INIT;
    psa_key_id_t crt_pub = 0;
    uint8_t crt_der[PSA_EXPORT_PUBLIC_KEY_MAX_SIZE], key_der[PSA_EXPORT_PUBLIC_KEY_MAX_SIZE];
    size_t crt_len = 0, key_len = 0;
    psa_key_type_t key_pub_type;
    char a[32], b[32];

    keyward_set_error("%s", "");
    if (crt == NULL || crt->raw.p == NULL) {
        keyward_set_error("no certificate");
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    status = psa_get_key_attributes(key, &key_attr);
    if (status != PSA_SUCCESS) {
        keyward_set_error("cannot read the key's attributes");
        goto exit;
    }
    /* The certificate's key goes through PSA as a volatile public key, so
     * both sides are exported in the same (PSA) format. */
    if (mbedtls_pk_get_psa_attributes(&crt->pk, PSA_KEY_USAGE_VERIFY_HASH, &crt_attr) != 0) {
        keyward_set_error("the certificate's public key is of a kind PSA does not support");
        status = PSA_ERROR_NOT_SUPPORTED;
        goto exit;
    }
    key_pub_type = PSA_KEY_TYPE_PUBLIC_KEY_OF_KEY_PAIR(psa_get_key_type(&key_attr));
    if (psa_get_key_type(&crt_attr) != key_pub_type ||
        psa_get_key_bits(&crt_attr) != psa_get_key_bits(&key_attr)) {
        describe_type(a, sizeof(a), psa_get_key_type(&crt_attr), psa_get_key_bits(&crt_attr));
        describe_type(b, sizeof(b), key_pub_type, psa_get_key_bits(&key_attr));
        keyward_set_error("the certificate holds an %s public key, the key is %s", a, b);
        status = PSA_ERROR_INVALID_ARGUMENT;
        goto exit;
    }
    if (mbedtls_pk_import_into_psa(&crt->pk, &crt_attr, &crt_pub) != 0) {
        keyward_set_error("PSA refused the certificate's public key");
        status = PSA_ERROR_INVALID_ARGUMENT;
        goto exit;
    }
    status = psa_export_public_key(crt_pub, crt_der, sizeof(crt_der), &crt_len);
    if (status != PSA_SUCCESS) {
        keyward_set_error("cannot export the certificate's public key");
        goto exit;
    }
    /* An SE key: the driver asks the SE (a failure keeps the backend's reason). */
    status = psa_export_public_key(key, key_der, sizeof(key_der), &key_len);
    if (status != PSA_SUCCESS) {
        goto exit;
    }
    if (crt_len != key_len || memcmp(crt_der, key_der, crt_len) != 0) {
        keyward_set_error("the certificate's public key is not the key's public key");
        status = PSA_ERROR_INVALID_ARGUMENT;
        goto exit;
    }
    status = PSA_SUCCESS;
exit:
    if (crt_pub != 0) {
        psa_destroy_key(crt_pub);
    }
    psa_reset_key_attributes(&crt_attr);
    psa_reset_key_attributes(&key_attr);
    return status;
}
