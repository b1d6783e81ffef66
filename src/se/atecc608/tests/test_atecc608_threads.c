/*
 * Concurrency: 4 threads x 200 signatures through PSA on one emulated chip.
 * Nonce+Sign must be atomic: if another thread's Nonce slipped in between,
 * a signature would be over the wrong digest and fail to verify.
 */
#include <pthread.h>
#include <string.h>

#include "emu_helper.h"
#include "keyward/keyward.h"

#define THREADS 4
#define PER_THREAD 200

static psa_key_id_t key, pub_key;
static int failures;
static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;

static void *worker(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    for (int i = 0; i < PER_THREAD; i++) {
        uint8_t hash[32], sig[64];
        size_t n = 0;
        psa_status_t s;
        for (size_t j = 0; j < sizeof(hash); j++) {
            hash[j] = (uint8_t)(seed * 131u + (unsigned)i * 7u + (unsigned)j);
        }
        s = psa_sign_hash(key, PSA_ALG_ECDSA(PSA_ALG_SHA_256), hash, 32, sig, sizeof(sig), &n);
        if (s == PSA_SUCCESS) {
            s = psa_verify_hash(pub_key, PSA_ALG_ECDSA(PSA_ALG_SHA_256), hash, 32, sig, n);
        }
        if (s != PSA_SUCCESS) {
            pthread_mutex_lock(&fail_lock);
            failures++;
            fprintf(stderr, "thread %u signature %d: %s\n", seed, i, keyward_status_name(s));
            pthread_mutex_unlock(&fail_lock);
        }
    }
    return NULL;
}

int main(void)
{
    static const char *const args[] = {"--time-scale", "0.02", NULL};
    kw_emu_t emu;
    char keyref[400], chip[400];
    pthread_t t[THREADS];
    uint8_t pub[65];
    size_t n = 0;
    psa_key_attributes_t a = PSA_KEY_ATTRIBUTES_INIT;
    psa_key_id_t gen;

    kw_emu_start(&emu, args);
    REQUIRE(keyward_init() == PSA_SUCCESS);
    snprintf(chip, sizeof(chip), "atecc608:bus=%s", emu.bus);
    snprintf(keyref, sizeof(keyref), "atecc608:slot=0;bus=%s", emu.bus);
    REQUIRE_EQ(kw_tool("provision", chip), 0);
    REQUIRE_EQ(keyward_key_generate(keyref, PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1), 256,
                                    &gen),
               PSA_SUCCESS);
    psa_destroy_key(gen);
    REQUIRE_EQ(keyward_key_open(keyref, &key), PSA_SUCCESS);
    REQUIRE(psa_export_public_key(key, pub, sizeof(pub), &n) == PSA_SUCCESS);
    psa_set_key_type(&a, PSA_KEY_TYPE_ECC_PUBLIC_KEY(PSA_ECC_FAMILY_SECP_R1));
    psa_set_key_usage_flags(&a, PSA_KEY_USAGE_VERIFY_HASH);
    psa_set_key_algorithm(&a, PSA_ALG_ECDSA(PSA_ALG_SHA_256));
    REQUIRE(psa_import_key(&a, pub, n, &pub_key) == PSA_SUCCESS);
    kw_emu_ctl(&emu, "stats reset");
    for (uintptr_t i = 0; i < THREADS; i++) {
        REQUIRE(pthread_create(&t[i], NULL, worker, (void *)i) == 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
    }
    REQUIRE_EQ(failures, 0);
    REQUIRE_EQ(kw_emu_stat(&emu, "cmd_sign"), THREADS * PER_THREAD);
    REQUIRE_EQ(kw_emu_stat(&emu, "cmd_nonce"), THREADS * PER_THREAD);
    REQUIRE_EQ(kw_emu_stat(&emu, "error_status"), 0);
    psa_destroy_key(pub_key);
    mbedtls_psa_crypto_free();
    printf("atecc608 threads: %d x %d signatures verified\n", THREADS, PER_THREAD);
    return kw_test_end("atecc608_threads");
}
