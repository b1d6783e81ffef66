/*
 * Fuzz target: keyward's key-buffer parser and the driver entry points that
 * take a key buffer.  Built as a libFuzzer target with clang
 * (-fsanitize=fuzzer, KW_LIBFUZZER defined), or, by default, as a program
 * that feeds the target a deterministic stream of mutated inputs (ctest runs
 * it, under ASan + UBSan in the sanitizer build).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/keybuf.h"
#include "keyward/backend.h"
#include "keyward/keyward.h"
#include "keyward/psa_driver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
                                    PSA_KEY_PERSISTENCE_VOLATILE, KEYWARD_LOCATION_TPM2 + 0x10));
    psa_set_key_type(&attr, PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1));
    psa_set_key_bits(&attr, 256);
    if (keyward_psa_export_public_key(&attr, data, size, out, sizeof(out), &len) == PSA_SUCCESS) {
        abort(); /* no backend at that location */
    }
    (void)keyward_psa_export_key(&attr, data, size, out, sizeof(out), &len);
    return 0;
}

#if !defined(KW_LIBFUZZER)
static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint32_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

int main(int argc, char **argv)
{
    long iterations = argc > 1 ? atol(argv[1]) : 200000;
    uint8_t seed[64], buf[128];
    const uint8_t ref[] = "pkcs11:token=t;object=o";
    keyward_keybuf_t kb = {1, PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1), 256, ref,
                           sizeof(ref) - 1};
    size_t seed_len = 0;

    if (keyward_init() != PSA_SUCCESS ||
        keyward_keybuf_write(&kb, seed, sizeof(seed), &seed_len) != PSA_SUCCESS) {
        return 1;
    }
    for (long i = 0; i < iterations; i++) {
        size_t len = seed_len;
        memcpy(buf, seed, seed_len);
        /* a few byte flips, then maybe a new length (truncate or extend) */
        for (uint32_t m = next() % 4; m > 0; m--) {
            buf[next() % seed_len] ^= (uint8_t)(1u << (next() % 8));
        }
        if (next() % 3 == 0) {
            len = next() % sizeof(buf);
            for (size_t j = seed_len; j < len; j++) {
                buf[j] = (uint8_t)next();
            }
        }
        /* hit the length field specifically */
        if (next() % 5 == 0 && len >= 10) {
            buf[8] = (uint8_t)next();
            buf[9] = (uint8_t)(next() % 16);
        }
        LLVMFuzzerTestOneInput(buf, len);
    }
    printf("fuzz_keybuf: %ld inputs, 1 passed, 0 failed\n", iterations);
    mbedtls_psa_crypto_free();
    return 0;
}
#endif
