/*
 * The builtin-key table: PSA key ids in MBEDTLS_PSA_KEY_ID_BUILTIN_MIN..MAX
 * bound to SE references.  Filled once at start-up (keyward_builtin_add),
 * then read by the PSA core through mbedtls_psa_platform_get_builtin_key()
 * and the driver's get_builtin_key.  The only mutable global of the core.
 */
#include <string.h>

#include "core.h"
#include "keyward/port/psa_driver.h"
#include "mbedtls/build_info.h"
#include "mbedtls/platform_util.h"
#include "psa/crypto_extra.h"

static keyward_builtin_t builtins[KEYWARD_BUILTIN_MAX];
static size_t builtin_count;
/* Where ids keyward did not declare go (another driver's builtin keys). */
static keyward_builtin_fallback_t builtin_fallback;

void keyward_builtin_set_fallback(keyward_builtin_fallback_t fallback)
{
    builtin_fallback = fallback;
}

/* Applications may declare keys from several threads while others use them
 * (keyward_key_open declares SE slots on the fly): one lock for the table. */
KW_MODULE_LOCK;

psa_status_t keyward_builtin_copy(size_t index, keyward_builtin_t *out)
{
    psa_status_t status = PSA_ERROR_DOES_NOT_EXIST;
    KW_LOCK();
    if (index < builtin_count) {
        *out = builtins[index];
        status = PSA_SUCCESS;
    }
    KW_UNLOCK();
    return status;
}

void keyward_builtin_clear(void)
{
    KW_LOCK();
    mbedtls_platform_zeroize(builtins, sizeof(builtins));
    builtin_count = 0;
    KW_UNLOCK();
}

/* MCU builds (no threads) usually declare their keys with
 * keyward_builtin_add alone: folding these helpers into it there keeps the
 * footprint budget (bench/footprint.sh); hosted builds keep one copy. */
#if defined(KEYWARD_NO_THREADS) && defined(__GNUC__)
#define KW_FOLD inline __attribute__((always_inline))
#else
#define KW_FOLD
#endif

/* The entry declared with id, or NULL.  Called with the lock held. */
static keyward_builtin_t *find_locked(psa_key_id_t id)
{
    for (keyward_builtin_t *b = builtins; b < builtins + builtin_count; b++) {
        if (b->id == id) {
            return b;
        }
    }
    return NULL;
}

/* Appends an entry; called with the lock held.  keyref is secret-free. */
static KW_FOLD psa_status_t add_locked(psa_key_id_t id, const char *keyref, psa_key_type_t type,
                                       size_t bits, psa_key_usage_t usage, psa_algorithm_t alg,
                                       psa_algorithm_t alg2)
{
    keyward_builtin_t *b;

    if (find_locked(id) != NULL) {
        /* Never replace: the id may be one the application uses for
         * another key, and a silent swap would sign with the wrong key. */
        keyward_set_error("builtin key id 0x%08x is already declared", (unsigned)id);
        return PSA_ERROR_ALREADY_EXISTS;
    }
    if (builtin_count == KEYWARD_BUILTIN_MAX) {
        keyward_set_error("the builtin key table is full (%u keys, KEYWARD_BUILTIN_MAX)",
                          (unsigned)KEYWARD_BUILTIN_MAX);
        return PSA_ERROR_INSUFFICIENT_MEMORY;
    }
    b = &builtins[builtin_count++];
    b->id = id;
#if defined(KEYWARD_BUILTIN_KEYREF_BY_REFERENCE)
    b->keyref = keyref;
#else
    memcpy(b->keyref, keyref, strlen(keyref) + 1);
#endif
    b->type = type;
    b->bits = (uint16_t)bits;
    b->usage = usage;
    b->alg = alg;
    b->alg2 = alg2;
    return PSA_SUCCESS;
}

static KW_FOLD psa_status_t check_args(psa_key_id_t id, const char *keyref, size_t bits)
{
    if (id < MBEDTLS_PSA_KEY_ID_BUILTIN_MIN || id > MBEDTLS_PSA_KEY_ID_BUILTIN_MAX) {
        keyward_set_error("builtin key id 0x%08x is outside 0x%08x..0x%08x", (unsigned)id,
                          (unsigned)MBEDTLS_PSA_KEY_ID_BUILTIN_MIN,
                          (unsigned)MBEDTLS_PSA_KEY_ID_BUILTIN_MAX);
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    if (keyward_backend_by_keyref(keyref) == NULL) {
        keyward_set_error("unknown KEYREF scheme");
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    if (strlen(keyref) >= KEYWARD_KEYREF_MAX || bits == 0 || bits > 0xffff) {
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    return PSA_SUCCESS;
}

psa_status_t keyward_builtin_add(psa_key_id_t id, const char *keyref, psa_key_type_t type,
                                 size_t bits, psa_key_usage_t usage, psa_algorithm_t alg,
                                 psa_algorithm_t alg2)
{
    psa_status_t status = check_args(id, keyref, bits);

    if (status != PSA_SUCCESS) {
        return status;
    }
#if defined(KEYWARD_BUILTIN_KEYREF_BY_REFERENCE)
    if (keyward_keyref_has_secret(keyref)) {
        keyward_set_error("a builtin KEYREF kept by reference cannot carry a secret");
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    KW_LOCK();
    status = add_locked(id, keyref, type, bits, usage, alg, alg2);
    KW_UNLOCK();
    return status;
#else
    {
        char clean[KEYWARD_KEYREF_MAX];
        uint8_t ref[KEYWARD_REF_MAX];
        size_t ref_len = 0;
        unsigned long mark = keyward_secrets_mark();
        int secret = keyward_keyref_has_secret(keyref);

        status = keyward_keyref_strip(keyref, clean, sizeof(clean), NULL);
        /* The backend takes the secrets out of the KEYREF into process
         * memory; they are bound to the id once it is declared. */
        if (status == PSA_SUCCESS && secret) {
            status = keyward_ref_from_keyref(keyward_backend_by_keyref(keyref), keyref, ref,
                                             sizeof(ref), &ref_len);
        }
        if (status == PSA_SUCCESS) {
            KW_LOCK();
            status = add_locked(id, clean, type, bits, usage, alg, alg2);
            KW_UNLOCK();
        }
        if (status == PSA_SUCCESS) {
            keyward_secrets_bind_since(mark, id);
        } else {
            keyward_secrets_drop_since(mark);
        }
        mbedtls_platform_zeroize(ref, sizeof(ref));
        return status;
    }
#endif
}

psa_status_t keyward_builtin_open(const char *keyref, psa_key_type_t type, size_t bits,
                                  psa_key_usage_t usage, psa_algorithm_t alg, psa_algorithm_t alg2,
                                  psa_key_id_t *id)
{
    psa_status_t status = PSA_ERROR_CORRUPTION_DETECTED;
    psa_key_id_t cand;

    KW_LOCK();
    for (size_t i = 0; i < builtin_count; i++) {
        if (strcmp(builtins[i].keyref, keyref) == 0) {
            *id = builtins[i].id;
            KW_UNLOCK();
            return PSA_SUCCESS;
        }
    }
    /* Ids from the top of the builtin range, away from application-chosen
     * ones, skipping any the application declared there. */
    cand = MBEDTLS_PSA_KEY_ID_BUILTIN_MAX;
    while (find_locked(cand) != NULL) {
        cand--;
    }
    status = check_args(cand, keyref, bits);
    if (status == PSA_SUCCESS) {
        status = add_locked(cand, keyref, type, bits, usage, alg, alg2);
    }
    KW_UNLOCK();
    if (status == PSA_SUCCESS) {
        *id = cand;
    }
    return status;
}

/* Weak so that a program linking Mbed TLS's own test platform (ssl_server2
 * links framework/tests/src/drivers/platform_builtin_keys.c) keeps its own. */
#if defined(__GNUC__)
__attribute__((weak))
#endif
psa_status_t
mbedtls_psa_platform_get_builtin_key(mbedtls_svc_key_id_t key_id, psa_key_lifetime_t *lifetime,
                                     psa_drv_slot_number_t *slot_number)
{
    const keyward_builtin_t *b;
    psa_status_t status = PSA_ERROR_DOES_NOT_EXIST;

    KW_LOCK();
    b = find_locked(MBEDTLS_SVC_KEY_ID_GET_KEY_ID(key_id));
    if (b != NULL) {
        *lifetime = PSA_KEY_LIFETIME_FROM_PERSISTENCE_AND_LOCATION(
            PSA_KEY_PERSISTENCE_READ_ONLY, keyward_backend_by_keyref(b->keyref)->location);
        *slot_number = (psa_drv_slot_number_t)(b - builtins);
        status = PSA_SUCCESS;
    }
    KW_UNLOCK();
    if (status == PSA_SUCCESS) {
        return status;
    }
    /* Mbed TLS has one such function for the whole program: every id keyward
     * did not declare goes to the application's fallback, if any (called
     * outside keyward's lock: it is another driver's code). */
    return builtin_fallback != NULL ? builtin_fallback(key_id, lifetime, slot_number)
                                    : PSA_ERROR_DOES_NOT_EXIST;
}
