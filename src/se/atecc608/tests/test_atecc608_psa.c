/*
 * PSA through the ATECC608 backend on the emulator: provision, GenKey via
 * psa_generate_key, the slot as a builtin (READ_ONLY) key used by id,
 * sign -> verify with the cached public key, what is refused, and what one
 * signature costs on the bus.  With KW_MIXED_KEYREFS="k1 k2 ..." (SoftHSM2,
 * file: keys; see mixed.sh) those keys sign in the same process,
 * interleaved with the chip.
 */
#include <string.h>

#include "emu_helper.h"
#include "keyward/keyward.h"
#include "keyward/port/locations.h"

static void sign_verify(psa_key_id_t id, const char *what)
{
    uint8_t hash[32], sig[PSA_SIGNATURE_MAX_SIZE], pub[PSA_EXPORT_PUBLIC_KEY_MAX_SIZE];
    size_t sig_len = 0, pub_len = 0;
    psa_key_attributes_t a = PSA_KEY_ATTRIBUTES_INIT, pa = PSA_KEY_ATTRIBUTES_INIT;
    psa_key_id_t pid = 0;
    psa_algorithm_t alg;
    psa_status_t s;

    REQUIRE(psa_get_key_attributes(id, &a) == PSA_SUCCESS);
    alg = PSA_KEY_TYPE_IS_RSA(psa_get_key_type(&a)) ? PSA_ALG_RSA_PKCS1V15_SIGN(PSA_ALG_SHA_256)
                                                    : PSA_ALG_ECDSA(PSA_ALG_SHA_256);
    REQUIRE(psa_generate_random(hash, sizeof(hash)) == PSA_SUCCESS);
    s = psa_sign_hash(id, alg, hash, 32, sig, sizeof(sig), &sig_len);
    if (s != PSA_SUCCESS) {
        fprintf(stderr, "%s: sign: %s %s\n", what, keyward_status_name(s), keyward_last_error());
        exit(1);
    }
    REQUIRE(psa_export_public_key(id, pub, sizeof(pub), &pub_len) == PSA_SUCCESS);
    psa_set_key_type(&pa, PSA_KEY_TYPE_PUBLIC_KEY_OF_KEY_PAIR(psa_get_key_type(&a)));
    psa_set_key_usage_flags(&pa, PSA_KEY_USAGE_VERIFY_HASH);
    psa_set_key_algorithm(&pa, alg);
    REQUIRE(psa_import_key(&pa, pub, pub_len, &pid) == PSA_SUCCESS);
    s = psa_verify_hash(pid, alg, hash, 32, sig, sig_len);
    psa_destroy_key(pid);
    if (s != PSA_SUCCESS) {
        fprintf(stderr, "%s: signature does not verify\n", what);
        exit(1);
    }
    psa_reset_key_attributes(&a);
}

int main(void)
{
    static const char *const args[] = {"--time-scale", "0.05", NULL};
    kw_emu_t emu;
    char keyref[400], chip[400], other[400];
    psa_key_attributes_t a = PSA_KEY_ATTRIBUTES_INIT;
    psa_key_id_t gen = 0, id = 0, id2 = 0;
    uint8_t pub[65], pub2[65], hash[64], sig[128];
    size_t n = 0, n2 = 0;
    psa_status_t s;

    kw_emu_start(&emu, args);
    REQUIRE(keyward_init() == PSA_SUCCESS);
    snprintf(chip, sizeof(chip), "atecc608:bus=%s", emu.bus);
    snprintf(keyref, sizeof(keyref), "atecc608:slot=0;bus=%s", emu.bus);

    /* A blank chip: slot 0 is not a key slot yet. */
    s = keyward_key_open(keyref, &id);
    REQUIRE_EQ(s, PSA_ERROR_DOES_NOT_EXIST);
    REQUIRE_EQ(kw_tool("provision", chip), 0);
    /* Provisioning twice is harmless. */
    REQUIRE_EQ(kw_tool("provision", chip), 0);
    REQUIRE_EQ(kw_tool("info", chip), 0);

    /* GenKey through psa_generate_key in the ATECC608 location. */
    s = keyward_key_generate(keyref, PSA_KEY_TYPE_RSA_KEY_PAIR, 2048, &gen);
    REQUIRE_EQ(s, PSA_ERROR_NOT_SUPPORTED);
    s = keyward_key_generate(keyref, PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1), 384, &gen);
    REQUIRE(s == PSA_ERROR_NOT_SUPPORTED || s == PSA_ERROR_INVALID_ARGUMENT);
    s = keyward_key_generate(keyref, PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1), 256, &gen);
    REQUIRE_EQ(s, PSA_SUCCESS);
    REQUIRE(psa_export_public_key(gen, pub, sizeof(pub), &n) == PSA_SUCCESS && n == 65);
    psa_destroy_key(gen);

    /* The slot as a builtin key: an id in the builtin range, READ_ONLY. */
    REQUIRE_EQ(keyward_key_open(keyref, &id), PSA_SUCCESS);
    REQUIRE(id >= MBEDTLS_PSA_KEY_ID_BUILTIN_MIN && id <= MBEDTLS_PSA_KEY_ID_BUILTIN_MAX);
    REQUIRE_EQ(keyward_key_open(keyref, &id2), PSA_SUCCESS);
    REQUIRE_EQ(id2, id);
    REQUIRE(psa_get_key_attributes(id, &a) == PSA_SUCCESS);
    REQUIRE_EQ(PSA_KEY_LIFETIME_GET_PERSISTENCE(psa_get_key_lifetime(&a)),
               PSA_KEY_PERSISTENCE_READ_ONLY);
    REQUIRE_EQ(PSA_KEY_LIFETIME_GET_LOCATION(psa_get_key_lifetime(&a)), KEYWARD_LOCATION_ATECC608);
    REQUIRE_EQ(psa_get_key_bits(&a), 256);
    REQUIRE(psa_export_public_key(id, pub2, sizeof(pub2), &n2) == PSA_SUCCESS);
    REQUIRE(n2 == 65 && memcmp(pub, pub2, 65) == 0);

    /* The public key is cached: no GenKey for more exports. */
    {
        unsigned long before = kw_emu_stat(&emu, "cmd_genkey");
        for (int i = 0; i < 3; i++) {
            REQUIRE(psa_export_public_key(id, pub2, sizeof(pub2), &n2) == PSA_SUCCESS);
        }
        REQUIRE_EQ(kw_emu_stat(&emu, "cmd_genkey"), before);
    }
    /* One signature = one wake, Random, Nonce, Sign, idle (cryptoauthlib's
     * 608 sequence). */
    kw_emu_ctl(&emu, "stats reset");
    sign_verify(id, "atecc608 slot 0");
    REQUIRE_EQ(kw_emu_stat(&emu, "wakes"), 1);
    REQUIRE_EQ(kw_emu_stat(&emu, "commands"), 3);
    REQUIRE_EQ(kw_emu_stat(&emu, "cmd_random"), 1);
    REQUIRE_EQ(kw_emu_stat(&emu, "cmd_nonce"), 1);
    REQUIRE_EQ(kw_emu_stat(&emu, "cmd_sign"), 1);
    REQUIRE_EQ(kw_emu_stat(&emu, "idles"), 1);
    /* psa_verify_hash on the SE key itself (software, with the cached key). */
    memset(hash, 7, sizeof(hash));
    REQUIRE(psa_sign_hash(id, PSA_ALG_ECDSA(PSA_ALG_SHA_256), hash, 32, sig, sizeof(sig), &n) ==
            PSA_SUCCESS);
    REQUIRE(psa_verify_hash(id, PSA_ALG_ECDSA(PSA_ALG_SHA_256), hash, 32, sig, n) == PSA_SUCCESS);
    sig[10] ^= 1;
    REQUIRE(psa_verify_hash(id, PSA_ALG_ECDSA(PSA_ALG_SHA_256), hash, 32, sig, n) ==
            PSA_ERROR_INVALID_SIGNATURE);

    /* Refused: other hashes, deterministic ECDSA, export, destroy, bad slots. */
    /* keyward gives chip keys the policy ECDSA(SHA-256): PSA refuses others */
    s = psa_sign_hash(id, PSA_ALG_ECDSA(PSA_ALG_SHA_384), hash, 48, sig, sizeof(sig), &n);
    REQUIRE_EQ(s, PSA_ERROR_NOT_PERMITTED);
    /* and with a policy that allows any hash, the backend itself refuses */
    {
        char slot0[400];
        psa_key_id_t wide = MBEDTLS_PSA_KEY_ID_BUILTIN_MIN + 0x77;
        snprintf(slot0, sizeof(slot0), "atecc608:slot=0;bus=%s", emu.bus);
        REQUIRE_EQ(keyward_builtin_add(wide, slot0,
                                       PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1), 256,
                                       PSA_KEY_USAGE_SIGN_HASH, PSA_ALG_ECDSA(PSA_ALG_ANY_HASH), 0),
                   PSA_SUCCESS);
        s = psa_sign_hash(wide, PSA_ALG_ECDSA(PSA_ALG_SHA_384), hash, 48, sig, sizeof(sig), &n);
        REQUIRE_EQ(s, PSA_ERROR_NOT_SUPPORTED);
        s = psa_sign_hash(wide, PSA_ALG_ECDSA(PSA_ALG_SHA_512), hash, 64, sig, sizeof(sig), &n);
        REQUIRE_EQ(s, PSA_ERROR_NOT_SUPPORTED);
    }
    s = psa_sign_hash(id, PSA_ALG_DETERMINISTIC_ECDSA(PSA_ALG_SHA_256), hash, 32, sig, sizeof(sig),
                      &n);
    REQUIRE(s == PSA_ERROR_NOT_SUPPORTED || s == PSA_ERROR_NOT_PERMITTED);
    s = psa_export_key(id, sig, sizeof(sig), &n);
    REQUIRE_EQ(s, PSA_ERROR_NOT_PERMITTED);
    s = psa_destroy_key(id);
    REQUIRE_EQ(s, PSA_ERROR_NOT_PERMITTED);
    snprintf(other, sizeof(other), "atecc608:slot=7;bus=%s", emu.bus);
    REQUIRE_EQ(keyward_key_open(other, &id2), PSA_ERROR_DOES_NOT_EXIST);
    REQUIRE_EQ(keyward_key_open("atecc608:slot=16", &id2), PSA_ERROR_INVALID_ARGUMENT);
    REQUIRE_EQ(keyward_key_open("atecc608:slot=0;bus=unix:/nonexistent/sock", &id2),
               PSA_ERROR_COMMUNICATION_FAILURE);
    /* A slot without a key yet (slot 3): opens (it is a key slot) but has no
     * public key to give. */
    snprintf(other, sizeof(other), "atecc608:slot=3;bus=%s", emu.bus);
    REQUIRE_EQ(keyward_key_open(other, &id2), PSA_SUCCESS);
    REQUIRE_EQ(psa_export_public_key(id2, pub2, sizeof(pub2), &n2), PSA_ERROR_NOT_PERMITTED);

    /* Without bus=: KEYWARD_ATECC608_BUS. */
    setenv("KEYWARD_ATECC608_BUS", emu.bus, 1);
    REQUIRE_EQ(keyward_key_open("atecc608:slot=0", &id2), PSA_SUCCESS);
    REQUIRE(psa_export_public_key(id2, pub2, sizeof(pub2), &n2) == PSA_SUCCESS);
    REQUIRE(memcmp(pub, pub2, 65) == 0);
    sign_verify(id2, "atecc608:slot=0 via KEYWARD_ATECC608_BUS");
    unsetenv("KEYWARD_ATECC608_BUS");
    REQUIRE_EQ(keyward_key_open("atecc608:slot=1", &id2), PSA_ERROR_BAD_STATE);

    /* Keys of other SEs and software keys in the same process. */
    {
        const char *mixed = getenv("KW_MIXED_KEYREFS");
        if (mixed != NULL && mixed[0] != '\0') {
            char list[4096], *save = NULL;
            psa_key_id_t ids[8];
            int k = 0;
            snprintf(list, sizeof(list), "%s", mixed);
            for (char *t = strtok_r(list, " ", &save); t != NULL && k < 8;
                 t = strtok_r(NULL, " ", &save)) {
                s = keyward_key_open(t, &ids[k]);
                if (s != PSA_SUCCESS) {
                    fprintf(stderr, "open %s: %s %s\n", t, keyward_status_name(s),
                            keyward_last_error());
                    return 1;
                }
                k++;
            }
            for (int round = 0; round < 3; round++) {
                for (int i = 0; i < k; i++) {
                    sign_verify(ids[i], "mixed key");
                    sign_verify(id, "atecc608 between mixed keys");
                }
            }
            printf("mixed: %d other keys and the ATECC608 signed in one process\n", k);
        }
    }
    psa_reset_key_attributes(&a);
    mbedtls_psa_crypto_free();
    return kw_test_end("atecc608_psa");
}
