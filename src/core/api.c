/* The application-facing API (include/keyward/keyward.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core.h"
#include "keyward/port/psa_driver.h"
#include "keyward/port/mbedtls_compat.h"
#include "mbedtls/pk.h"
#include "mbedtls/psa_util.h"
#include "mbedtls/platform_util.h"

#if defined(KEYWARD_NO_ERROR_TEXT)
/* The MCU profile keeps no error text.  With error text, keyward_last_error
 * lives in redact.c beside keyward_set_error, which redacts every message. */
const char *keyward_last_error(void)
{
    return "";
}
#endif

psa_status_t keyward_init(void)
{
    return psa_crypto_init();
}

void keyward_default_policy(psa_key_attributes_t *attr, psa_key_type_t type)
{
    psa_set_key_usage_flags(attr, PSA_KEY_USAGE_SIGN_HASH | PSA_KEY_USAGE_VERIFY_HASH);
    if (PSA_KEY_TYPE_IS_RSA(type)) {
        /* TLS 1.2 signs with PKCS#1 v1.5, TLS 1.3 with PSS: allow both. */
        psa_set_key_algorithm(attr, PSA_ALG_RSA_PKCS1V15_SIGN(PSA_ALG_ANY_HASH));
        psa_set_key_enrollment_algorithm(attr, PSA_ALG_RSA_PSS(PSA_ALG_ANY_HASH));
    } else {
        psa_set_key_algorithm(attr, PSA_ALG_ECDSA(PSA_ALG_ANY_HASH));
    }
}

/* The policy keyward gives keys of this backend. */
static void backend_policy(const keyward_backend_t *be, psa_key_attributes_t *attr,
                           psa_key_type_t type)
{
    keyward_default_policy(attr, type);
    if (be->sign_alg != 0) {
        psa_set_key_algorithm(attr, be->sign_alg);
        psa_set_key_enrollment_algorithm(attr, 0);
    }
}

#if !defined(KEYWARD_NO_FILE_KEYS)
#include <errno.h>
#include <sys/stat.h>

static psa_status_t open_file_key(const char *path, psa_key_id_t *key)
{
    psa_status_t status = PSA_ERROR_CORRUPTION_DETECTED;
    mbedtls_pk_context pk;
    psa_key_attributes_t attr = PSA_KEY_ATTRIBUTES_INIT;
    struct stat st;
    int ret;

    mbedtls_pk_init(&pk);
    /* Mbed TLS sizes its buffer by seeking to the end: a directory gives a
     * 2^63-byte request, a FIFO blocks.  Only regular files get that far. */
    if (stat(path, &st) != 0) {
        keyward_set_error("cannot load software key %s: %s", path, strerror(errno));
        status = PSA_ERROR_DOES_NOT_EXIST;
        goto exit;
    }
    if (!S_ISREG(st.st_mode)) {
        keyward_set_error("cannot load software key %s: not a regular file", path);
        status = PSA_ERROR_INVALID_ARGUMENT;
        goto exit;
    }
    ret = keyward_compat_pk_parse_keyfile(&pk, path, NULL);
    if (ret != 0) {
        keyward_set_error("cannot load software key %s (mbedtls error -0x%04x)", path,
                          (unsigned)-ret);
        status = ret == MBEDTLS_ERR_PK_FILE_IO_ERROR ? PSA_ERROR_DOES_NOT_EXIST
                                                     : PSA_ERROR_INVALID_ARGUMENT;
        goto exit;
    }
    ret = mbedtls_pk_get_psa_attributes(&pk, PSA_KEY_USAGE_SIGN_HASH, &attr);
    if (ret != 0) {
        status = PSA_ERROR_NOT_SUPPORTED;
        goto exit;
    }
    keyward_default_policy(&attr, psa_get_key_type(&attr));
    ret = mbedtls_pk_import_into_psa(&pk, &attr, key);
    status = ret == 0 ? PSA_SUCCESS : PSA_ERROR_INVALID_ARGUMENT;
exit:
    mbedtls_pk_free(&pk);
    psa_reset_key_attributes(&attr);
    return status;
}
#endif /* KEYWARD_NO_FILE_KEYS */

/* A fixed SE slot: bind it to a builtin key id (the same id each time the
 * same KEYREF is opened) and use it without import.  The table keeps the
 * KEYREF without its secrets. */
static psa_status_t open_builtin(const keyward_backend_t *be, const char *keyref,
                                 psa_key_type_t type, size_t bits, psa_key_id_t *key)
{
    psa_status_t status = PSA_ERROR_CORRUPTION_DETECTED;
    psa_key_attributes_t attr = PSA_KEY_ATTRIBUTES_INIT;
    char clean[KEYWARD_KEYREF_MAX];

    status = keyward_keyref_strip(keyref, clean, sizeof(clean), NULL);
    if (status != PSA_SUCCESS) {
        return status;
    }
    backend_policy(be, &attr, type);
    return keyward_builtin_open(clean, type, bits, psa_get_key_usage_flags(&attr),
                                psa_get_key_algorithm(&attr),
                                psa_get_key_enrollment_algorithm(&attr), key);
}

/* The schemes this build takes, for the message below. */
#if defined(KEYWARD_NO_FILE_KEYS)
#define KEYWARD_ALL_KEY_SCHEMES KEYWARD_KEY_SCHEMES
#else
#define KEYWARD_ALL_KEY_SCHEMES KEYWARD_KEY_SCHEMES ", file:"
#endif

/* A KEYREF no backend of this build takes: its scheme (never a secret) and
 * the schemes this build has (the backends' declarations). */
static void unknown_scheme(const char *keyref)
{
    char shown[48];
    size_t n = keyward_ref_scheme_len(keyref);

    (void)keyward_keyref_redact(keyref == NULL ? "" : keyref, shown, sizeof(shown));
    /* The KEYREF last: the redaction masks a secret up to the next ';'. */
    if (n > 0) {
        keyward_set_error("no backend for scheme '%.*s' (this build: " KEYWARD_ALL_KEY_SCHEMES
                          "): unknown KEYREF scheme in '%s'",
                          (int)n, keyref, shown);
    } else {
        keyward_set_error("unknown KEYREF scheme (this build: " KEYWARD_ALL_KEY_SCHEMES ") in '%s'",
                          shown);
    }
}

psa_status_t keyward_key_open(const char *keyref, psa_key_id_t *key)
{
    psa_status_t status = PSA_ERROR_CORRUPTION_DETECTED;
    const keyward_backend_t *be;
    psa_key_attributes_t attr = PSA_KEY_ATTRIBUTES_INIT;
    uint8_t ref[KEYWARD_REF_MAX];
    size_t ref_len = 0, bits = 0;
    psa_key_type_t type = 0;
    unsigned long mark = 0;

    keyward_clear_error();
    keyward_secrets_collect();
    mark = keyward_secrets_mark();
    if (keyref == NULL || key == NULL) {
        return PSA_ERROR_INVALID_ARGUMENT;
    }
#if !defined(KEYWARD_NO_FILE_KEYS)
    if (strncmp(keyref, "file:", 5) == 0) {
        return open_file_key(keyref + 5, key);
    }
#endif
    be = keyward_backend_by_keyref(keyref);
    if (be == NULL) {
        unknown_scheme(keyref);
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    status = keyward_ref_from_keyref(be, keyref, ref, sizeof(ref), &ref_len);
    if (status != PSA_SUCCESS) {
        goto exit;
    }
    status = be->describe(ref, ref_len, &type, &bits);
    if (status != PSA_SUCCESS) {
        goto exit;
    }
    if (be->keyref_is_builtin != NULL && be->keyref_is_builtin(keyref)) {
        status = open_builtin(be, keyref, type, bits, key);
        goto exit;
    }
    psa_set_key_lifetime(&attr, PSA_KEY_LIFETIME_FROM_PERSISTENCE_AND_LOCATION(
                                    PSA_KEY_PERSISTENCE_VOLATILE, be->location));
    psa_set_key_type(&attr, type);
    psa_set_key_bits(&attr, bits);
    backend_policy(be, &attr, type);
    status = psa_import_key(&attr, ref, ref_len, key);
exit:
    /* Secrets the backend kept for this ref now belong to the key. */
    if (status == PSA_SUCCESS) {
        keyward_secrets_bind_since(mark, *key);
    } else {
        keyward_secrets_drop_since(mark);
    }
    mbedtls_platform_zeroize(ref, sizeof(ref));
    return status;
}

psa_status_t keyward_key_generate(const char *keyref, psa_key_type_t type, size_t bits,
                                  psa_key_id_t *key)
{
    psa_status_t status = PSA_ERROR_CORRUPTION_DETECTED;
    const keyward_backend_t *be = keyward_backend_by_keyref(keyref);
    psa_key_attributes_t attr = PSA_KEY_ATTRIBUTES_INIT;
    unsigned long mark = 0;

    keyward_clear_error();
    keyward_secrets_collect();
    mark = keyward_secrets_mark();
    if (be == NULL) {
#if !defined(KEYWARD_NO_ERROR_TEXT) /* an MCU build has no text to make */
        unknown_scheme(keyref);
#endif
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    status = keyward_set_generate_target(keyref);
    if (status != PSA_SUCCESS) {
        return status;
    }
    psa_set_key_lifetime(&attr, PSA_KEY_LIFETIME_FROM_PERSISTENCE_AND_LOCATION(
                                    PSA_KEY_PERSISTENCE_VOLATILE, be->location));
    psa_set_key_type(&attr, type);
    psa_set_key_bits(&attr, bits);
    backend_policy(be, &attr, type);
    status = psa_generate_key(&attr, key);
    keyward_set_generate_target(NULL);
    if (status == PSA_SUCCESS) {
        keyward_secrets_bind_since(mark, *key);
    } else {
        keyward_secrets_drop_since(mark);
    }
    return status;
}

psa_status_t keyward_key_close(psa_key_id_t key)
{
    psa_status_t status = psa_destroy_key(key);

    if (status == PSA_ERROR_NOT_PERMITTED && MBEDTLS_PSA_KEY_ID_BUILTIN_MIN <= key &&
        key <= MBEDTLS_PSA_KEY_ID_BUILTIN_MAX) {
        /* A builtin key is read-only: drop PSA's copy, keep the declaration. */
        status = psa_purge_key(key);
    }
    keyward_secrets_forget_key(key);
    return status;
}

void keyward_deinit(void)
{
    keyward_secrets_wipe_all();
    for (size_t i = 0; keyward_backends[i] != NULL; i++) {
        if (keyward_backends[i]->shutdown != NULL) {
            keyward_backends[i]->shutdown();
        }
    }
    mbedtls_psa_crypto_free();
}

const char *keyward_status_name(psa_status_t status)
{
    switch (status) {
/* A case label and its return, one line per name. */
/* clang-format off */
#define KW_NAME(s) case s: return #s
        /* clang-format on */
        KW_NAME(PSA_SUCCESS);
        KW_NAME(PSA_ERROR_GENERIC_ERROR);
        KW_NAME(PSA_ERROR_NOT_SUPPORTED);
        KW_NAME(PSA_ERROR_NOT_PERMITTED);
        KW_NAME(PSA_ERROR_BUFFER_TOO_SMALL);
        KW_NAME(PSA_ERROR_ALREADY_EXISTS);
        KW_NAME(PSA_ERROR_DOES_NOT_EXIST);
        KW_NAME(PSA_ERROR_BAD_STATE);
        KW_NAME(PSA_ERROR_INVALID_ARGUMENT);
        KW_NAME(PSA_ERROR_INSUFFICIENT_MEMORY);
        KW_NAME(PSA_ERROR_INSUFFICIENT_STORAGE);
        KW_NAME(PSA_ERROR_COMMUNICATION_FAILURE);
        KW_NAME(PSA_ERROR_STORAGE_FAILURE);
        KW_NAME(PSA_ERROR_HARDWARE_FAILURE);
        KW_NAME(PSA_ERROR_CORRUPTION_DETECTED);
        KW_NAME(PSA_ERROR_INSUFFICIENT_ENTROPY);
        KW_NAME(PSA_ERROR_INVALID_SIGNATURE);
        KW_NAME(PSA_ERROR_INVALID_PADDING);
        KW_NAME(PSA_ERROR_INSUFFICIENT_DATA);
        KW_NAME(PSA_ERROR_INVALID_HANDLE);
        KW_NAME(PSA_ERROR_DATA_CORRUPT);
        KW_NAME(PSA_ERROR_DATA_INVALID);
        KW_NAME(PSA_ERROR_SERVICE_FAILURE);
#undef KW_NAME
    default:
        return "PSA_ERROR_(unknown)";
    }
}
