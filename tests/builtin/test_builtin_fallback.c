/* keyward beside another driver's builtin keys.  Mbed TLS has one global
 * mbedtls_psa_platform_get_builtin_key(); keyward's answers for the ids it
 * declared and hands every other id to the fallback the application set
 * (keyward_builtin_set_fallback).  The second driver here is a stand-in: a
 * lookup that owns two ids in its own location.  Runs on Mbed TLS 3.6 and 4.x. */
#include <string.h>

#include "keyward/keyward.h"
#include "keyward/port/locations.h"
#include "keyward/port/psa_driver.h"
#include "kwcheck.h"
#include "psa/crypto_extra.h"

#define STANDIN_LOCATION ((psa_key_location_t)0x7fff42u) /* vendor range */
#define STANDIN_ID_A (MBEDTLS_PSA_KEY_ID_BUILTIN_MIN + 0x100)
#define STANDIN_ID_B (MBEDTLS_PSA_KEY_ID_BUILTIN_MIN + 0x101)
#define KEYWARD_ID (MBEDTLS_PSA_KEY_ID_BUILTIN_MIN + 0x1)
#define UNKNOWN_ID (MBEDTLS_PSA_KEY_ID_BUILTIN_MIN + 0x2)

static unsigned standin_calls;
static psa_key_id_t standin_last;

/* The stand-in second driver's lookup: ids A and B, slots 7 and 8. */
static psa_status_t standin_lookup(mbedtls_svc_key_id_t key_id, psa_key_lifetime_t *lifetime,
                                   psa_drv_slot_number_t *slot_number)
{
    psa_key_id_t id = MBEDTLS_SVC_KEY_ID_GET_KEY_ID(key_id);

    standin_calls++;
    standin_last = id;
    if (id != STANDIN_ID_A && id != STANDIN_ID_B) {
        return PSA_ERROR_DOES_NOT_EXIST;
    }
    *lifetime = PSA_KEY_LIFETIME_FROM_PERSISTENCE_AND_LOCATION(PSA_KEY_PERSISTENCE_READ_ONLY,
                                                               STANDIN_LOCATION);
    *slot_number = id == STANDIN_ID_A ? 7 : 8;
    return PSA_SUCCESS;
}

static psa_status_t lookup(psa_key_id_t id, psa_key_lifetime_t *lifetime,
                           psa_drv_slot_number_t *slot)
{
    *lifetime = 0;
    *slot = 99;
    return mbedtls_psa_platform_get_builtin_key(mbedtls_svc_key_id_make(0, id), lifetime, slot);
}

/* The platform hook itself: who answers for which id. */
static void routing(void)
{
    psa_key_lifetime_t lt = 0;
    psa_drv_slot_number_t slot = 0;

    /* no fallback: only keyward's ids exist */
    keyward_builtin_set_fallback(NULL);
    CHECK_STATUS(lookup(STANDIN_ID_A, &lt, &slot), PSA_ERROR_DOES_NOT_EXIST);
    CHECK_STATUS(lookup(KEYWARD_ID, &lt, &slot), PSA_SUCCESS);
    CHECK(PSA_KEY_LIFETIME_GET_LOCATION(lt) == KEYWARD_LOCATION_PKCS11);

    keyward_builtin_set_fallback(standin_lookup);
    /* the stand-in's ids are routed to it, with its location and slots */
    standin_calls = 0;
    CHECK_STATUS(lookup(STANDIN_ID_A, &lt, &slot), PSA_SUCCESS);
    CHECK(standin_calls == 1 && standin_last == STANDIN_ID_A);
    CHECK(PSA_KEY_LIFETIME_GET_LOCATION(lt) == STANDIN_LOCATION && slot == 7);
    CHECK(PSA_KEY_LIFETIME_GET_PERSISTENCE(lt) == PSA_KEY_PERSISTENCE_READ_ONLY);
    CHECK_STATUS(lookup(STANDIN_ID_B, &lt, &slot), PSA_SUCCESS);
    CHECK(PSA_KEY_LIFETIME_GET_LOCATION(lt) == STANDIN_LOCATION && slot == 8);
    /* keyward's own ids never reach the fallback */
    standin_calls = 0;
    CHECK_STATUS(lookup(KEYWARD_ID, &lt, &slot), PSA_SUCCESS);
    CHECK(PSA_KEY_LIFETIME_GET_LOCATION(lt) == KEYWARD_LOCATION_PKCS11 && slot == 0);
    CHECK(standin_calls == 0);
    /* an id nobody knows: asked of the stand-in, which declines */
    CHECK_STATUS(lookup(UNKNOWN_ID, &lt, &slot), PSA_ERROR_DOES_NOT_EXIST);
    CHECK(standin_calls == 1 && standin_last == UNKNOWN_ID);
    CHECK_STATUS(lookup(MBEDTLS_PSA_KEY_ID_BUILTIN_MAX, &lt, &slot), PSA_ERROR_DOES_NOT_EXIST);
}

/* The same through the PSA core, which is the caller of the hook. */
static void through_psa(void)
{
    psa_key_attributes_t attr = PSA_KEY_ATTRIBUTES_INIT;
    psa_status_t status;

    keyward_builtin_set_fallback(standin_lookup);
    /* keyward's builtin key loads (attributes from keyward's table) */
    CHECK_STATUS(psa_get_key_attributes(mbedtls_svc_key_id_make(0, KEYWARD_ID), &attr),
                 PSA_SUCCESS);
    CHECK(PSA_KEY_LIFETIME_GET_LOCATION(psa_get_key_lifetime(&attr)) == KEYWARD_LOCATION_PKCS11);
    CHECK(psa_get_key_bits(&attr) == 256);
    psa_reset_key_attributes(&attr);
    /* the core asks the stand-in for its id; no driver is hooked at the
     * stand-in's location in this build, so the key cannot load */
    standin_calls = 0;
    status = psa_get_key_attributes(mbedtls_svc_key_id_make(0, STANDIN_ID_A), &attr);
    CHECK(status != PSA_SUCCESS);
    CHECK(standin_calls >= 1 && standin_last == STANDIN_ID_A);
    psa_reset_key_attributes(&attr);
    /* an unknown id: the core sees DOES_NOT_EXIST from the hook and reports
     * the key as absent (3.6 and 4.x both say INVALID_HANDLE to the caller) */
    standin_calls = 0;
    status = psa_get_key_attributes(mbedtls_svc_key_id_make(0, UNKNOWN_ID), &attr);
    CHECK(status == PSA_ERROR_INVALID_HANDLE || status == PSA_ERROR_DOES_NOT_EXIST);
    CHECK(standin_calls >= 1 && standin_last == UNKNOWN_ID);
    psa_reset_key_attributes(&attr);
    keyward_builtin_set_fallback(NULL);
}

int main(void)
{
    CHECK_STATUS(keyward_init(), PSA_SUCCESS);
    keyward_builtin_clear();
    CHECK_STATUS(keyward_builtin_add(KEYWARD_ID, "pkcs11:token=t;object=k",
                                     PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1), 256,
                                     PSA_KEY_USAGE_SIGN_HASH, PSA_ALG_ECDSA(PSA_ALG_ANY_HASH), 0),
                 PSA_SUCCESS);
    routing();
    through_psa();
    keyward_builtin_clear();
    mbedtls_psa_crypto_free();
    return kw_test_end("builtin.fallback");
}
