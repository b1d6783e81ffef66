/*
 * Fuzz target: keyward's key-buffer parser and the driver entry points that
 * take a key buffer.  Built as a libFuzzer target with clang
 * (-fsanitize=fuzzer, KW_LIBFUZZER defined), or, by default, as a program
 * that feeds the target a deterministic stream of mutated inputs (ctest runs
 * it, under ASan + UBSan in the sanitizer build).
 */
#include "fuzz_main.h"

#include "core/keybuf.h"
#include "keyward/port/backend.h"
#include "keyward/keyward.h"
#include "keyward/port/psa_driver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    keyward_keybuf_t kb;
    uint8_t out[KEYWARD_KEYBUF_HEADER + KEYWARD_REF_MAX];
    size_t len = 0;
    psa_key_attributes_t attr = PSA_KEY_ATTRIBUTES_INIT;

    if (keyward_keybuf_parse(data, size, &kb) == PSA_SUCCESS) {
        /* what parses re-serialises to the same bytes */
        if (keyward_keybuf_write(&kb, out, sizeof(out), &len) != PSA_SUCCESS || len != size ||
            memcmp(out, data, size) != 0) {
            abort();
        }
    }
    /* The entry points must refuse without touching an SE: the location is
     * PKCS#11 but the buffers are garbage or point nowhere reachable. */
    psa_set_key_lifetime(&attr, PSA_KEY_LIFETIME_FROM_PERSISTENCE_AND_LOCATION(
                                    PSA_KEY_PERSISTENCE_VOLATILE, KEYWARD_LOCATION_LAST + 0x04));
    psa_set_key_type(&attr, PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1));
    psa_set_key_bits(&attr, 256);
    if (keyward_psa_export_public_key(&attr, data, size, out, sizeof(out), &len) == PSA_SUCCESS) {
        abort(); /* no backend at that location */
    }
    (void)keyward_psa_export_key(&attr, data, size, out, sizeof(out), &len);
    return 0;
}

static void kw_fuzz_seeds(void (*add)(const uint8_t *, size_t))
{
    uint8_t seed[64];
    const uint8_t ref[] = "pkcs11:token=t;object=o";
    keyward_keybuf_t kb = {1, PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1), 256, ref,
                           sizeof(ref) - 1};
    size_t len = 0;

    if (keyward_keybuf_write(&kb, seed, sizeof(seed), &len) == PSA_SUCCESS) {
        add(seed, len);
    }
    kb.type = PSA_KEY_TYPE_RSA_KEY_PAIR;
    kb.bits = 4096;
    kb.backend = 3;
    if (keyward_keybuf_write(&kb, seed, sizeof(seed), &len) == PSA_SUCCESS) {
        add(seed, len);
    }
}
