/*
 * The builtin-key table: PSA key ids in MBEDTLS_PSA_KEY_ID_BUILTIN_MIN..MAX
 * bound to SE references.  Filled once at start-up (keyward_builtin_add),
 * then read by the PSA core through mbedtls_psa_platform_get_builtin_key()
 * and the driver's get_builtin_key.  The only mutable global of the core.
 */
#include <string.h>

#include "core.h"
#include "mbedtls/build_info.h"
#include "psa/crypto_extra.h"

static keyward_builtin_t builtins[KEYWARD_BUILTIN_MAX];
static size_t builtin_count;
/* Where ids keyward did not declare go (another driver's builtin keys). */
static keyward_builtin_fallback_t builtin_fallback;

void keyward_builtin_set_fallback(keyward_builtin_fallback_t fallback)
{
    builtin_fallback = fallback;
}

const keyward_builtin_t *keyward_builtin_get(size_t index)
{
    return index < builtin_count ? &builtins[index] : NULL;
}

void keyward_builtin_clear(void)
{
    memset(builtins, 0, sizeof(builtins));
    builtin_count = 0;
}

psa_status_t keyward_builtin_add(psa_key_id_t id, const char *keyref, psa_key_type_t type,
                                 size_t bits, psa_key_usage_t usage, psa_algorithm_t alg,
                                 psa_algorithm_t alg2)
{
    const keyward_backend_t *be = keyward_backend_by_keyref(keyref);
    keyward_builtin_t *b = NULL;
    size_t len;

    if (id < MBEDTLS_PSA_KEY_ID_BUILTIN_MIN || id > MBEDTLS_PSA_KEY_ID_BUILTIN_MAX) {
        keyward_set_error("builtin key id 0x%08x is outside 0x%08x..0x%08x", (unsigned)id,
                          (unsigned)MBEDTLS_PSA_KEY_ID_BUILTIN_MIN,
                          (unsigned)MBEDTLS_PSA_KEY_ID_BUILTIN_MAX);
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    if (be == NULL) {
        keyward_set_error("unknown KEYREF scheme");
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    len = strlen(keyref);
    if (len >= KEYWARD_KEYREF_MAX || bits == 0 || bits > 0xffff) {
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    for (size_t i = 0; i < builtin_count; i++) {
        if (builtins[i].id == id) {
            b = &builtins[i]; /* re-declaring an id replaces it */
        }
    }
    if (b == NULL) {
        if (builtin_count == KEYWARD_BUILTIN_MAX) {
            return PSA_ERROR_INSUFFICIENT_MEMORY;
        }
        b = &builtins[builtin_count++];
    }
    b->id = id;
#if defined(KEYWARD_BUILTIN_KEYREF_BY_REFERENCE)
    b->keyref = keyref;
#else
    memcpy(b->keyref, keyref, len + 1);
#endif
    b->type = type;
    b->bits = (uint16_t)bits;
    b->usage = usage;
    b->alg = alg;
    b->alg2 = alg2;
    return PSA_SUCCESS;
}

/* Weak so that a program linking Mbed TLS's own test platform (ssl_server2
 * links framework/tests/src/drivers/platform_builtin_keys.c) keeps its own. */
#if defined(__GNUC__)
__attribute__((weak))
#endif
psa_status_t mbedtls_psa_platform_get_builtin_key(mbedtls_svc_key_id_t key_id,
                                                  psa_key_lifetime_t *lifetime,
                                                  psa_drv_slot_number_t *slot_number)
{
    psa_key_id_t id = MBEDTLS_SVC_KEY_ID_GET_KEY_ID(key_id);

    for (size_t i = 0; i < builtin_count; i++) {
        if (builtins[i].id == id) {
            *lifetime = PSA_KEY_LIFETIME_FROM_PERSISTENCE_AND_LOCATION(
                PSA_KEY_PERSISTENCE_READ_ONLY,
                keyward_backend_by_keyref(builtins[i].keyref)->location);
            *slot_number = i;
            return PSA_SUCCESS;
        }
    }
    /* Mbed TLS has one such function for the whole program: every id keyward
     * did not declare goes to the application's fallback, if any. */
    return builtin_fallback != NULL ? builtin_fallback(key_id, lifetime, slot_number)
                                    : PSA_ERROR_DOES_NOT_EXIST;
}
