/*
 * Fuzz target: keyward's key-buffer parser (src/core/keybuf.c) and the
 * driver's handling of a key buffer (src/core/driver.c, open_keybuf), at
 * the location of every compiled-in backend.  Built as a libFuzzer target
 * with clang (-fsanitize=fuzzer, KW_LIBFUZZER defined), or, by default, as
 * a program that feeds the target a deterministic stream of mutated inputs
 * (ctest runs it, under ASan + UBSan in the sanitizer build).
 *
 * The entry point is keyward_psa_sign_hash with a hash of the wrong length:
 * the driver parses the buffer, matches it to the location's backend, its
 * key type and the no-secret-in-a-ref rule, and then refuses the hash
 * before any backend code runs.  So every input goes through the whole key
 * buffer path and no input reaches a secure element, and the status it
 * returns is fully determined by the buffer: checked below.
 */
#include "fuzz_main.h"

#include "core/keybuf.h"
#include "keyward/keyward.h"
#include "keyward/port/backend.h"
#include "keyward/port/psa_driver.h"

/* What keyward_psa_sign_hash must answer for this buffer at be's location. */
static psa_status_t expected(const keyward_backend_t *be, psa_status_t parsed,
                             const keyward_keybuf_t *kb, psa_key_type_t type)
{
    if (parsed != PSA_SUCCESS) {
        return parsed;
    }
    if (be->id != kb->backend || kb->type != type) {
        return PSA_ERROR_DATA_CORRUPT;
    }
    return PSA_ERROR_INVALID_ARGUMENT; /* a secret in the ref, or the hash length */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    keyward_keybuf_t kb;
    uint8_t out[KEYWARD_KEYBUF_HEADER + KEYWARD_REF_MAX];
    uint8_t sig[512];
    const uint8_t hash[1] = {0};
    size_t len = 0;
    psa_status_t parsed = keyward_keybuf_parse(data, size, &kb);

    if (parsed == PSA_SUCCESS) {
        /* what parses re-serialises to the same bytes */
        if (keyward_keybuf_write(&kb, out, sizeof(out), &len) != PSA_SUCCESS || len != size ||
            memcmp(out, data, size) != 0) {
            abort();
        }
        /* one byte short is refused, and so is backend 0 */
        if (keyward_keybuf_write(&kb, out, size - 1, &len) != PSA_ERROR_BUFFER_TOO_SMALL) {
            abort();
        }
        kb.backend = 0;
        if (keyward_keybuf_write(&kb, out, sizeof(out), &len) != PSA_ERROR_INVALID_ARGUMENT) {
            abort();
        }
        kb.backend = data[3];
    } else if (parsed != PSA_ERROR_DATA_CORRUPT && parsed != PSA_ERROR_NOT_SUPPORTED) {
        abort();
    }
    for (size_t i = 0; keyward_backends[i] != NULL; i++) {
        const keyward_backend_t *be = keyward_backends[i];
        psa_key_attributes_t attr = PSA_KEY_ATTRIBUTES_INIT;
        /* The buffer's own type when it parses, so that the type check
         * passes and the later ones are reached; P-256 otherwise. */
        psa_key_type_t type =
            parsed == PSA_SUCCESS ? kb.type : PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1);
        psa_status_t status;

        psa_set_key_lifetime(&attr, PSA_KEY_LIFETIME_FROM_PERSISTENCE_AND_LOCATION(
                                        PSA_KEY_PERSISTENCE_DEFAULT, be->location));
        psa_set_key_type(&attr, type);
        psa_set_key_bits(&attr, parsed == PSA_SUCCESS ? kb.bits : 256);
        status = keyward_psa_sign_hash(&attr, data, size, PSA_ALG_ECDSA(PSA_ALG_SHA_256), hash,
                                       sizeof(hash), sig, sizeof(sig), &len);
        if (status != expected(be, parsed, &kb, type)) {
            abort();
        }
        /* The private part never leaves, whatever the buffer. */
        if (keyward_psa_export_key(&attr, data, size, out, sizeof(out), &len) !=
            PSA_ERROR_NOT_PERMITTED) {
            abort();
        }
    }
    return 0;
}

static void add_keybuf(void (*add)(const uint8_t *, size_t), uint8_t backend, psa_key_type_t type,
                       uint16_t bits, const char *ref)
{
    uint8_t seed[KEYWARD_KEYBUF_HEADER + 128];
    keyward_keybuf_t kb = {backend, type, bits, (const uint8_t *)ref, strlen(ref)};
    size_t len = 0;

    if (keyward_keybuf_write(&kb, seed, sizeof(seed), &len) == PSA_SUCCESS) {
        add(seed, len);
    }
}

static void kw_fuzz_seeds(void (*add)(const uint8_t *, size_t))
{
    const psa_key_type_t p256 = PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1);

    /* One buffer per compiled-in backend, in its own scheme, with and
     * without a secret attribute (which the driver must refuse). */
    for (size_t i = 0; keyward_backends[i] != NULL; i++) {
        char ref[96];
        snprintf(ref, sizeof(ref), "%s:object=o;slot=0", keyward_backends[i]->scheme);
        add_keybuf(add, keyward_backends[i]->id, p256, 256, ref);
        snprintf(ref, sizeof(ref), "%s:object=o?pin-value=1234", keyward_backends[i]->scheme);
        add_keybuf(add, keyward_backends[i]->id, PSA_KEY_TYPE_RSA_KEY_PAIR, 2048, ref);
    }
    add_keybuf(add, 200, PSA_KEY_TYPE_RSA_KEY_PAIR, 4096, "K2\x01");
    /* A buffer of a later format version. */
    add((const uint8_t *)"kw\x02\x01\x12\x71\x00\x01\x01\x00x", 11);
}
