/*
 * The PSA opaque-driver entry points.  Knows key buffers and PSA policy;
 * everything SE-specific goes through the backend's ops table.
 */
#include <stdint.h>
#include <string.h>

#include "core.h"
#include "keybuf.h"
#include "keyward/port/psa_driver.h"
#include "mbedtls/platform_util.h"

static int is_supported_pair(psa_key_type_t type)
{
    return type == PSA_KEY_TYPE_RSA_KEY_PAIR ||
           type == PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1);
}

static psa_key_location_t location_of(const psa_key_attributes_t *attributes)
{
    return PSA_KEY_LIFETIME_GET_LOCATION(psa_get_key_lifetime(attributes));
}

/* Non-zero when ref is KEYREF text of be's scheme ("pkcs11:...") that
 * carries a secret attribute.  Binary refs (TPM) are checked by their
 * backend's parser. */
static int text_ref_has_secret(const keyward_backend_t *be, const uint8_t *ref, size_t ref_len)
{
#if defined(KEYWARD_NO_SECRETS)
    /* MCU profile: no secret store, no secret attributes (see redact.c). */
    (void)be;
    (void)ref;
    (void)ref_len;
    return 0;
#else
    char text[KEYWARD_REF_MAX + 1];
    size_t n = strlen(be->scheme);
    int secret;

    if (ref_len <= n || ref_len > KEYWARD_REF_MAX || memcmp(ref, be->scheme, n) != 0 ||
        ref[n] != ':' || memchr(ref, 0, ref_len) != NULL) {
        return 0;
    }
    memcpy(text, ref, ref_len);
    text[ref_len] = '\0';
    secret = keyward_keyref_has_secret(text);
    mbedtls_platform_zeroize(text, ref_len);
    return secret;
#endif
}

/* Parses the key buffer and finds its backend, which must be the one of the
 * key's location, and checks that it describes a key of the attributes' type. */
static psa_status_t open_keybuf(const psa_key_attributes_t *attributes, const uint8_t *key_buffer,
                                size_t key_buffer_size, keyward_keybuf_t *kb,
                                const keyward_backend_t **be)
{
    psa_status_t status = keyward_keybuf_parse(key_buffer, key_buffer_size, kb);
    if (status != PSA_SUCCESS) {
        keyward_set_error("malformed keyward key buffer (%u bytes)", (unsigned)key_buffer_size);
        return status;
    }
    *be = keyward_backend_by_location(location_of(attributes));
    if (*be == NULL || (*be)->id != kb->backend || kb->type != psa_get_key_type(attributes)) {
        keyward_set_error("key buffer does not match the key's location or type");
        return PSA_ERROR_DATA_CORRUPT;
    }
    if (text_ref_has_secret(*be, kb->ref, kb->ref_len)) {
        keyward_set_error("the stored key buffer carries a PIN or auth value: refused (give it "
                          "with pin-source or the environment)");
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    return PSA_SUCCESS;
}

size_t keyward_psa_get_key_buffer_size(const psa_key_attributes_t *attributes)
{
    if (keyward_backend_by_location(location_of(attributes)) == NULL ||
        !is_supported_pair(psa_get_key_type(attributes))) {
        return 0;
    }
    return KEYWARD_KEYBUF_HEADER + KEYWARD_REF_MAX;
}

size_t keyward_psa_get_key_buffer_size_from_key_data(const psa_key_attributes_t *attributes,
                                                     const uint8_t *data, size_t data_length)
{
    (void)data;
    if (keyward_psa_get_key_buffer_size(attributes) == 0 || data_length == 0 ||
        data_length > KEYWARD_REF_MAX) {
        return 0;
    }
    return KEYWARD_KEYBUF_HEADER + data_length;
}

static psa_status_t write_keybuf(const keyward_backend_t *be, psa_key_type_t type, size_t bits,
                                 const uint8_t *ref, size_t ref_len, uint8_t *key_buffer,
                                 size_t key_buffer_size, size_t *key_buffer_length)
{
    keyward_keybuf_t kb;

    kb.backend = be->id;
    kb.type = type;
    kb.bits = (uint16_t)bits;
    kb.ref = ref;
    kb.ref_len = ref_len;
    return keyward_keybuf_write(&kb, key_buffer, key_buffer_size, key_buffer_length);
}

static psa_status_t finish_key(const keyward_backend_t *be, const psa_key_attributes_t *attributes,
                               const uint8_t *ref, size_t ref_len, uint8_t *key_buffer,
                               size_t key_buffer_size, size_t *key_buffer_length, size_t *bits)
{
    psa_status_t status = PSA_ERROR_CORRUPTION_DETECTED;
    psa_key_type_t type = 0;
    size_t se_bits = 0;

    status = be->describe(ref, ref_len, &type, &se_bits);
    if (status != PSA_SUCCESS) {
        return status;
    }
    if (type != psa_get_key_type(attributes) ||
        (psa_get_key_bits(attributes) != 0 && psa_get_key_bits(attributes) != se_bits)) {
        keyward_set_error("the SE key is type 0x%04x, %u bits; the attributes say 0x%04x, %u bits",
                          (unsigned)type, (unsigned)se_bits, (unsigned)psa_get_key_type(attributes),
                          (unsigned)psa_get_key_bits(attributes));
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    status = write_keybuf(be, type, se_bits, ref, ref_len, key_buffer, key_buffer_size,
                          key_buffer_length);
    if (status == PSA_SUCCESS && bits != NULL) {
        *bits = se_bits;
    }
    return status;
}

#if !defined(KEYWARD_NO_SECRETS)
/* psa_import_key() of KEYREF text that carries a PIN or auth value.  PSA
 * writes a persistent key's buffer to storage: refused.  A volatile key gets
 * the secret-free ref; the backend keeps the secret in process memory. */
static psa_status_t import_text_with_secret(const keyward_backend_t *be,
                                            const psa_key_attributes_t *attributes,
                                            const uint8_t *data, size_t data_length,
                                            uint8_t *key_buffer, size_t key_buffer_size,
                                            size_t *key_buffer_length, size_t *bits)
{
    psa_status_t status = PSA_ERROR_CORRUPTION_DETECTED;
    char text[KEYWARD_REF_MAX + 1];
    uint8_t ref[KEYWARD_REF_MAX];
    size_t ref_len = 0;

    if (!PSA_KEY_LIFETIME_IS_VOLATILE(psa_get_key_lifetime(attributes))) {
        keyward_set_error("a persistent key's reference must not carry pin-value, auth or "
                          "parent-auth (PSA stores it): use pin-source or the environment");
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    memcpy(text, data, data_length);
    text[data_length] = '\0';
    status = keyward_ref_from_keyref(be, text, ref, sizeof(ref), &ref_len);
    if (status == PSA_SUCCESS) {
        status = finish_key(be, attributes, ref, ref_len, key_buffer, key_buffer_size,
                            key_buffer_length, bits);
    }
    mbedtls_platform_zeroize(text, sizeof(text));
    mbedtls_platform_zeroize(ref, sizeof(ref));
    return status;
}
#endif

psa_status_t keyward_psa_import_key(const psa_key_attributes_t *attributes, const uint8_t *data,
                                    size_t data_length, uint8_t *key_buffer, size_t key_buffer_size,
                                    size_t *key_buffer_length, size_t *bits)
{
    const keyward_backend_t *be = keyward_backend_by_location(location_of(attributes));

    if (be == NULL || !is_supported_pair(psa_get_key_type(attributes))) {
        keyward_set_error("keyward imports only ECC/RSA key-pair references into its locations");
        return PSA_ERROR_NOT_SUPPORTED;
    }
    if (data == NULL || data_length == 0 || data_length > KEYWARD_REF_MAX) {
        keyward_set_error("key reference is empty or longer than %u bytes", KEYWARD_REF_MAX);
        return PSA_ERROR_INVALID_ARGUMENT;
    }
#if !defined(KEYWARD_NO_SECRETS)
    if (text_ref_has_secret(be, data, data_length)) {
        return import_text_with_secret(be, attributes, data, data_length, key_buffer,
                                       key_buffer_size, key_buffer_length, bits);
    }
#endif
    return finish_key(be, attributes, data, data_length, key_buffer, key_buffer_size,
                      key_buffer_length, bits);
}

psa_status_t keyward_psa_generate_key(const psa_key_attributes_t *attributes, uint8_t *key_buffer,
                                      size_t key_buffer_size, size_t *key_buffer_length)
{
    psa_status_t status = PSA_ERROR_CORRUPTION_DETECTED;
    const keyward_backend_t *be = keyward_backend_by_location(location_of(attributes));
    const char *target = keyward_generate_target();
    uint8_t ref[KEYWARD_REF_MAX];
    size_t ref_len = 0;

    if (be == NULL || !is_supported_pair(psa_get_key_type(attributes))) {
        return PSA_ERROR_NOT_SUPPORTED;
    }
    if (be->generate == NULL) {
        keyward_set_error("the %s backend cannot generate keys", be->scheme);
        return PSA_ERROR_NOT_SUPPORTED;
    }
    if (target == NULL || keyward_backend_by_keyref(target) != be) {
        keyward_set_error("no %s: generation target set (keyward_set_generate_target)", be->scheme);
        return PSA_ERROR_BAD_STATE;
    }
    status = be->generate(target, psa_get_key_type(attributes), psa_get_key_bits(attributes), ref,
                          sizeof(ref), &ref_len);
    if (status == PSA_SUCCESS) {
        status = finish_key(be, attributes, ref, ref_len, key_buffer, key_buffer_size,
                            key_buffer_length, NULL);
    }
    mbedtls_platform_zeroize(ref, sizeof(ref));
    return status;
}

psa_status_t keyward_psa_export_public_key(const psa_key_attributes_t *attributes,
                                           const uint8_t *key_buffer, size_t key_buffer_size,
                                           uint8_t *data, size_t data_size, size_t *data_length)
{
    const keyward_backend_t *be = NULL;
    keyward_keybuf_t kb;
    psa_status_t status = open_keybuf(attributes, key_buffer, key_buffer_size, &kb, &be);

    if (status != PSA_SUCCESS) {
        return status;
    }
    return be->export_public(kb.ref, kb.ref_len, kb.type, kb.bits, data, data_size, data_length);
}

psa_status_t keyward_psa_export_key(const psa_key_attributes_t *attributes,
                                    const uint8_t *key_buffer, size_t key_buffer_size,
                                    uint8_t *data, size_t data_size, size_t *data_length)
{
    /* keyward locations hold key pairs only (import and generate refuse
     * anything else), and their private part never leaves the SE. */
    (void)attributes;
    (void)key_buffer;
    (void)key_buffer_size;
    (void)data;
    (void)data_size;
    (void)data_length;
    keyward_set_error("the private key never leaves the secure element");
    return PSA_ERROR_NOT_PERMITTED;
}

/* The hash length alg signs; SIZE_MAX where any length goes (RSA PKCS#1
 * v1.5 raw), 0 for a hash keyward's SEs do not sign.  A switch instead of
 * PSA_HASH_LENGTH: a fraction of its code size on an MCU.  The hash is read
 * from the low byte of a signature algorithm, as PSA_ALG_SIGN_GET_HASH does
 * without its test of each hash-and-sign family: every signature algorithm
 * that is not hash-and-sign (raw PKCS#1 v1.5, ECDSA_ANY, pure EdDSA) has 0
 * there.  That test costs an MCU image about 50 bytes; tests/unit pins
 * the lengths. */
static size_t expected_hash_length(psa_algorithm_t alg)
{
    switch (PSA_ALG_IS_SIGN(alg) ? alg & PSA_ALG_HASH_MASK : 0) {
    /* A table (and clang-format 14 reads this '&' as address-of). */
    /* clang-format off */
    case 0: return SIZE_MAX;
    case PSA_ALG_SHA_1 & PSA_ALG_HASH_MASK: return 20;
    case PSA_ALG_SHA_224 & PSA_ALG_HASH_MASK: return 28;
    case PSA_ALG_SHA_256 & PSA_ALG_HASH_MASK: return 32;
    case PSA_ALG_SHA_384 & PSA_ALG_HASH_MASK: return 48;
    case PSA_ALG_SHA_512 & PSA_ALG_HASH_MASK: return 64;
    default: return 0;
        /* clang-format on */
    }
}

/* Signature length of keyward's key types: r||s for ECDSA, the modulus
 * length for RSA. */
static size_t signature_length_of(psa_key_type_t type, size_t bits)
{
    return PSA_KEY_TYPE_IS_ECC(type) ? 2 * PSA_BITS_TO_BYTES(bits) : PSA_BITS_TO_BYTES(bits);
}

psa_status_t keyward_psa_sign_hash(const psa_key_attributes_t *attributes,
                                   const uint8_t *key_buffer, size_t key_buffer_size,
                                   psa_algorithm_t alg, const uint8_t *hash, size_t hash_length,
                                   uint8_t *signature, size_t signature_size,
                                   size_t *signature_length)
{
    const keyward_backend_t *be = NULL;
    keyward_keybuf_t kb;
    size_t want;
    psa_status_t status = open_keybuf(attributes, key_buffer, key_buffer_size, &kb, &be);

    if (status != PSA_SUCCESS) {
        return status;
    }
    want = expected_hash_length(alg);
    if (want == 0) {
        keyward_set_error("keyward SEs do not sign with hash algorithm 0x%08x",
                          (unsigned)PSA_ALG_SIGN_GET_HASH(alg));
        return PSA_ERROR_NOT_SUPPORTED;
    }
    if (want != SIZE_MAX && hash_length != want) {
        keyward_set_error("hash length %u does not match the algorithm", (unsigned)hash_length);
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    if (signature_size < signature_length_of(kb.type, kb.bits)) {
        keyward_set_error("signature buffer of %u bytes is too small", (unsigned)signature_size);
        return PSA_ERROR_BUFFER_TOO_SMALL;
    }
    return be->sign_hash(kb.ref, kb.ref_len, kb.type, kb.bits, alg, hash, hash_length, signature,
                         signature_size, signature_length);
}

psa_status_t keyward_psa_verify_hash(const psa_key_attributes_t *attributes,
                                     const uint8_t *key_buffer, size_t key_buffer_size,
                                     psa_algorithm_t alg, const uint8_t *hash, size_t hash_length,
                                     const uint8_t *signature, size_t signature_length)
{
    psa_status_t status = PSA_ERROR_CORRUPTION_DETECTED;
    psa_key_attributes_t pub_attr = PSA_KEY_ATTRIBUTES_INIT;
    psa_key_id_t pub = 0;
    uint8_t der[PSA_EXPORT_PUBLIC_KEY_MAX_SIZE];
    size_t der_len = 0;

    status = keyward_psa_export_public_key(attributes, key_buffer, key_buffer_size, der,
                                           sizeof(der), &der_len);
    if (status != PSA_SUCCESS) {
        return status;
    }
    psa_set_key_type(&pub_attr, PSA_KEY_TYPE_PUBLIC_KEY_OF_KEY_PAIR(psa_get_key_type(attributes)));
    psa_set_key_usage_flags(&pub_attr, PSA_KEY_USAGE_VERIFY_HASH);
    psa_set_key_algorithm(&pub_attr, alg);
    status = psa_import_key(&pub_attr, der, der_len, &pub);
    if (status == PSA_SUCCESS) {
        status = psa_verify_hash(pub, alg, hash, hash_length, signature, signature_length);
        psa_destroy_key(pub);
    }
    return status;
}

psa_status_t keyward_psa_get_builtin_key(psa_drv_slot_number_t slot_number,
                                         psa_key_attributes_t *attributes, uint8_t *key_buffer,
                                         size_t key_buffer_size, size_t *key_buffer_length)
{
    psa_status_t status = PSA_ERROR_CORRUPTION_DETECTED;
    keyward_builtin_t entry;
    const keyward_builtin_t *b = &entry;
    const keyward_backend_t *be = NULL;
    size_t ref_len = 0;

    /* A copy: the table may grow in another thread meanwhile. */
    if (keyward_builtin_copy((size_t)slot_number, &entry) == PSA_SUCCESS) {
        be = keyward_backend_by_keyref(entry.keyref);
    }
    if (be == NULL || be->location != location_of(attributes)) {
        return PSA_ERROR_DOES_NOT_EXIST;
    }
    psa_set_key_type(attributes, b->type);
    psa_set_key_bits(attributes, b->bits);
    psa_set_key_usage_flags(attributes, b->usage);
    psa_set_key_algorithm(attributes, b->alg);
    psa_set_key_enrollment_algorithm(attributes, b->alg2);
    if (key_buffer == NULL || key_buffer_size <= KEYWARD_KEYBUF_HEADER) {
        return PSA_ERROR_BUFFER_TOO_SMALL; /* the core's first call: attributes only */
    }
    /* The ref goes straight to its place in the key buffer; the header is
     * written around it. */
    status = keyward_ref_from_keyref(be, b->keyref, key_buffer + KEYWARD_KEYBUF_HEADER,
                                     key_buffer_size - KEYWARD_KEYBUF_HEADER, &ref_len);
    if (status != PSA_SUCCESS) {
        return status;
    }
    return write_keybuf(be, b->type, b->bits, key_buffer + KEYWARD_KEYBUF_HEADER, ref_len,
                        key_buffer, key_buffer_size, key_buffer_length);
}
