/*
 * PSA-level tests of the TPM 2.0 backend, against the swtpm the calling
 * script started (TPM2TOOLS_TCTI).  One program, several modes:
 *
 *   tpm2_psa_test psa DIR          sign/verify every key type and algorithm,
 *                                  and the negatives (keys made by run.sh in DIR)
 *   tpm2_psa_test persist-create DIR / persist-use DIR
 *                                  a persistent PSA key in the TPM location
 *                                  survives the process
 *   tpm2_psa_test hygiene DIR N    N signatures, rotating keys, never more
 *                                  than the budget of transient objects
 *   tpm2_psa_test restart DIR      swtpm killed (KW_TPM2_KILL) -> clean error;
 *                                  restarted (KW_TPM2_START) -> works again
 *   tpm2_psa_test mixed KEYREF...  open, sign, verify each (any backend)
 *
 * Prints "ok"/"FAIL" lines and exits non-zero on any failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <tss2/tss2_mu.h>

#include "keyward/port/backend.h"
#include "keyward/port/locations.h"
#include "keyward/port/psa_driver.h"
#include "keyward/keyward.h"
#include "se/tpm2/tpm2_internal.h"

#include "kwcheck.h"
static const char *dir;

static const char *path(const char *name)
{
    static char buf[4][1024];
    static int i;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
    return buf[i];
}

static const char *keyref_file(const char *name, const char *extra)
{
    static char buf[4][1200];
    static int i;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof(buf[i]), "tpm2:file=%s%s%s", path(name), extra ? ";" : "",
             extra ? extra : "");
    return buf[i];
}

/* Signs a fixed hash with key/alg and verifies it with the exported public
 * key as a software key (strict PSA verification: PSS salt = hash length). */
static psa_status_t sign_verify(psa_key_id_t key, psa_algorithm_t alg)
{
    psa_status_t status;
    psa_key_attributes_t attr = PSA_KEY_ATTRIBUTES_INIT, pattr = PSA_KEY_ATTRIBUTES_INIT;
    uint8_t hash[PSA_HASH_MAX_SIZE], sig[PSA_SIGNATURE_MAX_SIZE],
        pub[PSA_EXPORT_PUBLIC_KEY_MAX_SIZE];
    size_t hash_len = 0, sig_len = 0, pub_len = 0;
    psa_key_id_t pk = 0;
    static const char msg[] = "keyward tpm2 test message";

    status = psa_hash_compute(PSA_ALG_SIGN_GET_HASH(alg), (const uint8_t *)msg, sizeof(msg), hash,
                              sizeof(hash), &hash_len);
    if (status == PSA_SUCCESS) {
        status = psa_sign_hash(key, alg, hash, hash_len, sig, sizeof(sig), &sig_len);
    }
    if (status != PSA_SUCCESS) {
        return status;
    }
    status = psa_get_key_attributes(key, &attr);
    if (status == PSA_SUCCESS) {
        status = psa_export_public_key(key, pub, sizeof(pub), &pub_len);
    }
    if (status == PSA_SUCCESS) {
        psa_set_key_type(&pattr, PSA_KEY_TYPE_PUBLIC_KEY_OF_KEY_PAIR(psa_get_key_type(&attr)));
        psa_set_key_usage_flags(&pattr, PSA_KEY_USAGE_VERIFY_HASH);
        psa_set_key_algorithm(&pattr, alg);
        status = psa_import_key(&pattr, pub, pub_len, &pk);
    }
    if (status == PSA_SUCCESS) {
        status = psa_verify_hash(pk, alg, hash, hash_len, sig, sig_len);
        if (status == PSA_SUCCESS) {
            /* also through the opaque key (the driver's verify_hash) */
            status = psa_verify_hash(key, alg, hash, hash_len, sig, sig_len);
        }
        if (status == PSA_SUCCESS) {
            /* A tampered signature must not verify.  Mbed TLS answers
             * INVALID_SIGNATURE, or INVALID_ARGUMENT when the tampered value
             * decodes out of range (RSA-PSS top bits, ECDSA r or s >= n),
             * which happens for a small share of random flips. */
            sig[sig_len / 2] ^= 1;
            psa_status_t bad = psa_verify_hash(pk, alg, hash, hash_len, sig, sig_len);
            if (bad != PSA_ERROR_INVALID_SIGNATURE && bad != PSA_ERROR_INVALID_ARGUMENT) {
                status = PSA_ERROR_CORRUPTION_DETECTED;
            }
        }
        psa_destroy_key(pk);
    }
    psa_reset_key_attributes(&attr);
    return status;
}

/* Imports the ref of keyref with a caller-chosen policy (to reach the
 * backend with algorithms keyward_key_open's policy would refuse). */
static psa_status_t import_with_policy(const char *keyref, psa_key_type_t type, size_t bits,
                                       psa_algorithm_t alg, psa_key_id_t *key)
{
    const keyward_backend_t *be = keyward_backend_by_keyref(keyref);
    uint8_t ref[KEYWARD_REF_MAX];
    size_t ref_len = 0;
    psa_key_attributes_t attr = PSA_KEY_ATTRIBUTES_INIT;
    psa_status_t status = be->ref_from_keyref(keyref, ref, sizeof(ref), &ref_len);

    if (status != PSA_SUCCESS) {
        return status;
    }
    psa_set_key_lifetime(&attr, PSA_KEY_LIFETIME_FROM_PERSISTENCE_AND_LOCATION(
                                    PSA_KEY_PERSISTENCE_VOLATILE, KEYWARD_LOCATION_TPM2));
    psa_set_key_type(&attr, type);
    psa_set_key_bits(&attr, bits);
    psa_set_key_usage_flags(&attr, PSA_KEY_USAGE_SIGN_HASH);
    psa_set_key_algorithm(&attr, alg);
    return psa_import_key(&attr, ref, ref_len, key);
}

static int file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

#define EC(bits_) PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1), (bits_)
#define RSA(bits_) PSA_KEY_TYPE_RSA_KEY_PAIR, (bits_)

static void test_types_and_algs(void)
{
    static const struct {
        const char *file, *type_name;
        psa_key_type_t type;
        size_t bits;
        psa_algorithm_t algs[6];
    } keys[] = {
        {"p256.pem",
         "ec-p256",
         EC(256),
         {PSA_ALG_ECDSA(PSA_ALG_SHA_256), PSA_ALG_ECDSA(PSA_ALG_SHA_384),
          PSA_ALG_ECDSA(PSA_ALG_SHA_1)}},
        {"p384.pem",
         "ec-p384",
         EC(384),
         {PSA_ALG_ECDSA(PSA_ALG_SHA_384), PSA_ALG_ECDSA(PSA_ALG_SHA_256),
          PSA_ALG_ECDSA(PSA_ALG_SHA_512)}},
        {"rsa2048.pem",
         "rsa-2048",
         RSA(2048),
         {PSA_ALG_RSA_PKCS1V15_SIGN(PSA_ALG_SHA_256), PSA_ALG_RSA_PKCS1V15_SIGN(PSA_ALG_SHA_384),
          PSA_ALG_RSA_PKCS1V15_SIGN(PSA_ALG_SHA_512), PSA_ALG_RSA_PSS(PSA_ALG_SHA_256),
          PSA_ALG_RSA_PSS(PSA_ALG_SHA_384), PSA_ALG_RSA_PSS(PSA_ALG_SHA_512)}},
        {"rsa3072.pem",
         "rsa-3072",
         RSA(3072),
         {PSA_ALG_RSA_PKCS1V15_SIGN(PSA_ALG_SHA_256), PSA_ALG_RSA_PSS(PSA_ALG_SHA_256),
          PSA_ALG_RSA_PSS(PSA_ALG_SHA_384)}},
    };

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        psa_key_id_t key = 0;
        psa_key_attributes_t attr = PSA_KEY_ATTRIBUTES_INIT;
        psa_status_t st;

        if (!file_exists(path(keys[i].file))) {
            st = keyward_key_generate(keyref_file(keys[i].file, NULL), keys[i].type, keys[i].bits,
                                      &key);
            CHECK_STATUS_MSG(st, PSA_SUCCESS, "generate %s into %s", keys[i].type_name,
                             keys[i].file);
            CHECK_MSG(file_exists(path(keys[i].file)), "keygen wrote %s", keys[i].file);
            if (key != 0) {
                CHECK_STATUS_MSG(sign_verify(key, keys[i].algs[0]), PSA_SUCCESS,
                                 "%s: sign with the key just generated", keys[i].type_name);
                psa_destroy_key(key);
                key = 0;
            }
        }
        st = keyward_key_open(keyref_file(keys[i].file, NULL), &key);
        CHECK_STATUS_MSG(st, PSA_SUCCESS, "open %s", keys[i].file);
        if (st != PSA_SUCCESS) {
            continue;
        }
        CHECK_MSG(psa_get_key_attributes(key, &attr) == PSA_SUCCESS &&
                      psa_get_key_type(&attr) == keys[i].type &&
                      psa_get_key_bits(&attr) == keys[i].bits &&
                      PSA_KEY_LIFETIME_GET_LOCATION(psa_get_key_lifetime(&attr)) ==
                          KEYWARD_LOCATION_TPM2 &&
                      PSA_KEY_LIFETIME_IS_VOLATILE(psa_get_key_lifetime(&attr)),
                  "%s: volatile key in the TPM location, right type and size", keys[i].type_name);
        for (size_t a = 0; a < 6 && keys[i].algs[a] != 0; a++) {
            CHECK_STATUS_MSG(sign_verify(key, keys[i].algs[a]), PSA_SUCCESS,
                             "%s: sign+verify alg 0x%08x", keys[i].type_name,
                             (unsigned)keys[i].algs[a]);
        }
        /* negatives on every key */
        {
            uint8_t hash[64] = {1}, sig[PSA_SIGNATURE_MAX_SIZE], out[PSA_EXPORT_KEY_PAIR_MAX_SIZE];
            size_t len = 0;
            psa_algorithm_t alg0 = keys[i].algs[0];
            size_t hl = PSA_HASH_LENGTH(PSA_ALG_SIGN_GET_HASH(alg0));
            CHECK_STATUS_MSG(psa_export_key(key, out, sizeof(out), &len), PSA_ERROR_NOT_PERMITTED,
                             "%s: private export refused", keys[i].type_name);
            CHECK_STATUS_MSG(psa_sign_hash(key, alg0, hash, hl, sig, 8, &len),
                             PSA_ERROR_BUFFER_TOO_SMALL, "%s: short signature buffer",
                             keys[i].type_name);
            CHECK_STATUS_MSG(psa_sign_hash(key, alg0, hash, hl - 1, sig, sizeof(sig), &len),
                             PSA_ERROR_INVALID_ARGUMENT, "%s: hash of the wrong length",
                             keys[i].type_name);
            CHECK_STATUS_MSG(psa_sign_hash(key,
                                           PSA_KEY_TYPE_IS_RSA(keys[i].type)
                                               ? PSA_ALG_ECDSA(PSA_ALG_SHA_256)
                                               : PSA_ALG_RSA_PKCS1V15_SIGN(PSA_ALG_SHA_256),
                                           hash, 32, sig, sizeof(sig), &len),
                             PSA_ERROR_NOT_PERMITTED, "%s: algorithm of the other key family",
                             keys[i].type_name);
        }
        psa_destroy_key(key);
        psa_reset_key_attributes(&attr);
    }
}

static void test_negatives(void)
{
    psa_key_id_t key = 0;
    psa_status_t st;
    uint8_t hash[48] = {7}, sig[PSA_SIGNATURE_MAX_SIZE];
    size_t len = 0;

    /* Algorithms the TPM cannot do, past PSA's policy check. */
    st = import_with_policy(keyref_file("p256.pem", NULL), EC(256),
                            PSA_ALG_DETERMINISTIC_ECDSA(PSA_ALG_ANY_HASH), &key);
    CHECK_STATUS_MSG(st, PSA_SUCCESS, "import p256 with a deterministic-ECDSA policy");
    CHECK_STATUS_MSG(psa_sign_hash(key, PSA_ALG_DETERMINISTIC_ECDSA(PSA_ALG_SHA_256), hash, 32, sig,
                                   sizeof(sig), &len),
                     PSA_ERROR_NOT_SUPPORTED, "deterministic ECDSA: not supported by the TPM");
    psa_destroy_key(key);
    st = import_with_policy(keyref_file("rsa2048.pem", NULL), RSA(2048),
                            PSA_ALG_RSA_PKCS1V15_SIGN_RAW, &key);
    CHECK_STATUS_MSG(psa_sign_hash(key, PSA_ALG_RSA_PKCS1V15_SIGN_RAW, hash, 32, sig, sizeof(sig),
                                   &len),
                     PSA_ERROR_NOT_SUPPORTED, "raw PKCS#1 v1.5: not supported by the TPM");
    psa_destroy_key(key);
    /* Type/size mismatch at import. */
    st = import_with_policy(keyref_file("p256.pem", NULL), EC(384), PSA_ALG_ECDSA(PSA_ALG_ANY_HASH),
                            &key);
    CHECK_STATUS_MSG(st, PSA_ERROR_INVALID_ARGUMENT, "import p256 blob declared as P-384");

    /* A key whose scheme is fixed to ECDSA-SHA256 (tpm2-tools). */
    st = keyward_key_open(keyref_file("fixed.pem", NULL), &key);
    CHECK_STATUS_MSG(st, PSA_SUCCESS, "open a key with a fixed ECDSA/SHA-256 scheme");
    if (st == PSA_SUCCESS) {
        CHECK_STATUS_MSG(sign_verify(key, PSA_ALG_ECDSA(PSA_ALG_SHA_256)), PSA_SUCCESS,
                         "fixed-scheme key signs ECDSA/SHA-256");
        CHECK_STATUS_MSG(psa_sign_hash(key, PSA_ALG_ECDSA(PSA_ALG_SHA_384), hash, 48, sig,
                                       sizeof(sig), &len),
                         PSA_ERROR_NOT_PERMITTED, "fixed-scheme key refuses ECDSA/SHA-384");
        psa_destroy_key(key);
    }
    /* A restricted signing key (attestation key). */
    st = keyward_key_open(keyref_file("restricted.pem", NULL), &key);
    CHECK_STATUS_MSG(st, PSA_SUCCESS, "open a restricted signing key");
    if (st == PSA_SUCCESS) {
        CHECK_STATUS_MSG(psa_sign_hash(key, PSA_ALG_ECDSA(PSA_ALG_SHA_256), hash, 32, sig,
                                       sizeof(sig), &len),
                         PSA_ERROR_NOT_PERMITTED, "restricted key: sign refused");
        CHECK_MSG(strstr(keyward_last_error(), "restricted") != NULL,
                  "restricted key: clear reason");
        psa_destroy_key(key);
    }
    /* A storage (decrypt-only) key. */
    CHECK_STATUS_MSG(keyward_key_open(keyref_file("storage.pem", NULL), &key),
                     PSA_ERROR_NOT_PERMITTED, "a storage key is not a signing key");

    /* Corrupted blob, blob of another TPM's SRK, missing parent. */
    {
        kw_tpm2_keyfile_t kf;
        FILE *fp = fopen(path("p256.pem"), "rb");
        uint8_t buf[8192];
        size_t n = fp ? fread(buf, 1, sizeof(buf), fp) : 0;
        char pem[8192];
        size_t pem_len = 0;
        if (fp) {
            fclose(fp);
        }
        CHECK_STATUS_MSG(kw_tpm2_keyfile_parse(buf, n, &kf), PSA_SUCCESS, "parse p256.pem");
        kf.priv[kf.priv_len - 5] ^= 0x40;
        CHECK_STATUS_MSG(kw_tpm2_keyfile_write_pem(&kf, pem, sizeof(pem), &pem_len), PSA_SUCCESS,
                         "write corrupted copy");
        fp = fopen(path("corrupt.pem"), "wb");
        fwrite(pem, 1, pem_len, fp);
        fclose(fp);
        CHECK_STATUS_MSG(keyward_key_open(keyref_file("corrupt.pem", NULL), &key),
                         PSA_ERROR_INVALID_ARGUMENT, "corrupted blob refused at import");
        kf.priv[kf.priv_len - 5] ^= 0x40;
        kf.parent = 0x81000077;
        kw_tpm2_keyfile_write_pem(&kf, pem, sizeof(pem), &pem_len);
        fp = fopen(path("noparent.pem"), "wb");
        fwrite(pem, 1, pem_len, fp);
        fclose(fp);
        CHECK_STATUS_MSG(keyward_key_open(keyref_file("noparent.pem", NULL), &key),
                         PSA_ERROR_DOES_NOT_EXIST, "blob whose parent handle is absent");
        fp = fopen(path("garbage.pem"), "wb");
        fputs("-----BEGIN TSS2 PRIVATE KEY-----\nAAAA\n-----END TSS2 PRIVATE KEY-----\n", fp);
        fclose(fp);
        CHECK_STATUS_MSG(keyward_key_open(keyref_file("garbage.pem", NULL), &key),
                         PSA_ERROR_INVALID_ARGUMENT, "malformed PEM refused");
    }
    CHECK_STATUS_MSG(keyward_key_open(keyref_file("other.pem", NULL), &key),
                     PSA_ERROR_INVALID_ARGUMENT, "blob made under another TPM's SRK refused");

    /* Auth values. */
    if (!file_exists(path("auth.pem"))) {
        st = keyward_key_generate(keyref_file("auth.pem", "auth=s3cret"), EC(256), &key);
        CHECK_STATUS_MSG(st, PSA_SUCCESS, "generate a key with an auth value");
        psa_destroy_key(key);
    }
    st = keyward_key_open(keyref_file("auth.pem", "auth=s3cret"), &key);
    CHECK_STATUS_MSG(st, PSA_SUCCESS, "open key with auth");
    CHECK_STATUS_MSG(sign_verify(key, PSA_ALG_ECDSA(PSA_ALG_SHA_256)), PSA_SUCCESS,
                     "sign with the right auth value");
    psa_destroy_key(key);
    st = keyward_key_open(keyref_file("auth.pem", "auth=wrong"), &key);
    CHECK_STATUS_MSG(st, PSA_SUCCESS, "open key with a wrong auth (not checked at open)");
    CHECK_STATUS_MSG(psa_sign_hash(key, PSA_ALG_ECDSA(PSA_ALG_SHA_256), hash, 32, sig, sizeof(sig),
                                   &len),
                     PSA_ERROR_NOT_PERMITTED, "sign with the wrong auth value refused");
    psa_destroy_key(key);
    st = keyward_key_open(keyref_file("auth.pem", NULL), &key);
    CHECK_STATUS_MSG(psa_sign_hash(key, PSA_ALG_ECDSA(PSA_ALG_SHA_256), hash, 32, sig, sizeof(sig),
                                   &len),
                     PSA_ERROR_NOT_PERMITTED, "sign without the needed auth value refused");
    setenv("KEYWARD_TPM2_AUTH", "s3cret", 1);
    CHECK_STATUS_MSG(sign_verify(key, PSA_ALG_ECDSA(PSA_ALG_SHA_256)), PSA_SUCCESS,
                     "auth value from KEYWARD_TPM2_AUTH");
    unsetenv("KEYWARD_TPM2_AUTH");
    psa_destroy_key(key);
    /* TPM 2.0 ignores trailing zero bytes of an auth value (Part 1, 19.6.4.3). */
    st = keyward_key_open(keyref_file("auth.pem", "auth=hex:73336372657400"), &key);
    CHECK_STATUS_MSG(sign_verify(key, PSA_ALG_ECDSA(PSA_ALG_SHA_256)), PSA_SUCCESS,
                     "auth=hex: with a trailing zero byte (the TPM trims it)");
    psa_destroy_key(key);
    st = keyward_key_open(keyref_file("auth.pem", "auth=hex:733363726574"), &key);
    CHECK_STATUS_MSG(sign_verify(key, PSA_ALG_ECDSA(PSA_ALG_SHA_256)), PSA_SUCCESS, "auth=hex:");
    psa_destroy_key(key);

    /* KEYREF errors. */
    CHECK_STATUS_MSG(keyward_key_open("tpm2:", &key), PSA_ERROR_INVALID_ARGUMENT,
                     "empty tpm2 KEYREF");
    CHECK_STATUS_MSG(keyward_key_open(keyref_file("p256.pem", "bogus=1"), &key),
                     PSA_ERROR_INVALID_ARGUMENT, "unknown KEYREF attribute");
    CHECK_STATUS_MSG(keyward_key_open("tpm2:file=/nonexistent/k.pem", &key),
                     PSA_ERROR_DOES_NOT_EXIST, "missing key file");
    CHECK_STATUS_MSG(keyward_key_open("tpm2:handle=0x81000099", &key), PSA_ERROR_DOES_NOT_EXIST,
                     "absent persistent handle");
    CHECK_STATUS_MSG(keyward_key_open("tpm2:handle=0x80000000", &key), PSA_ERROR_INVALID_ARGUMENT,
                     "transient handle refused");
    CHECK_STATUS_MSG(keyward_key_generate(keyref_file("p256.pem", NULL), EC(256), &key),
                     PSA_ERROR_ALREADY_EXISTS, "keygen never overwrites a key file");
    CHECK_STATUS_MSG(keyward_key_open(keyref_file("p256.pem", "tcti=swtpm:host=127.0.0.1,port=1"),
                                      &key),
                     PSA_ERROR_COMMUNICATION_FAILURE, "tcti= to a TPM that is not there");
}

static void test_handle_key(void)
{
    const char *h = getenv("KW_TPM2_HANDLE_KEY");
    char keyref[64];
    psa_key_id_t key = 0, key2 = 0;
    psa_key_attributes_t attr = PSA_KEY_ATTRIBUTES_INIT;
    psa_status_t st;

    if (h == NULL) {
        return;
    }
    snprintf(keyref, sizeof(keyref), "tpm2:handle=%s", h);
    st = keyward_key_open(keyref, &key);
    CHECK_STATUS_MSG(st, PSA_SUCCESS, "open persistent key %s", h);
    if (st != PSA_SUCCESS) {
        return;
    }
    CHECK_MSG(key >= MBEDTLS_PSA_KEY_ID_BUILTIN_MIN && key <= MBEDTLS_PSA_KEY_ID_BUILTIN_MAX,
              "persistent handle is a builtin key id (0x%08x)", (unsigned)key);
    CHECK_MSG(psa_get_key_attributes(key, &attr) == PSA_SUCCESS &&
                  PSA_KEY_LIFETIME_IS_READ_ONLY(psa_get_key_lifetime(&attr)),
              "builtin key is READ_ONLY");
    CHECK_STATUS_MSG(sign_verify(key, PSA_ALG_ECDSA(PSA_ALG_SHA_256)), PSA_SUCCESS,
                     "sign+verify with the persistent key");
    CHECK_MSG(keyward_key_open(keyref, &key2) == PSA_SUCCESS && key2 == key,
              "same KEYREF, same builtin id");
    psa_reset_key_attributes(&attr);
}

static int run_psa(void)
{
    test_types_and_algs();
    test_negatives();
    test_handle_key();
    return 0;
}

#define PERSIST_ID ((psa_key_id_t)0x4b0302)

static int run_persist(int create)
{
    psa_key_id_t key = 0;
    psa_status_t st;

    if (create) {
        psa_key_attributes_t attr = PSA_KEY_ATTRIBUTES_INIT;
        psa_destroy_key(PERSIST_ID); /* a left-over from an earlier run */
        psa_set_key_id(&attr, PERSIST_ID);
        psa_set_key_lifetime(&attr, PSA_KEY_LIFETIME_FROM_PERSISTENCE_AND_LOCATION(
                                        PSA_KEY_PERSISTENCE_DEFAULT, KEYWARD_LOCATION_TPM2));
        psa_set_key_type(&attr, PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1));
        psa_set_key_bits(&attr, 256);
        keyward_default_policy(&attr, psa_get_key_type(&attr));
        keyward_set_generate_target("tpm2:");
        st = psa_generate_key(&attr, &key);
        keyward_set_generate_target(NULL);
        CHECK_STATUS_MSG(st, PSA_SUCCESS, "generate a persistent PSA key (id 0x%x) in the TPM",
                         (unsigned)PERSIST_ID);
        CHECK_STATUS_MSG(sign_verify(key, PSA_ALG_ECDSA(PSA_ALG_SHA_256)), PSA_SUCCESS,
                         "sign with it");
        psa_purge_key(key); /* psa_close_key is gone in 4.x; purge works on both lines */
    } else {
        CHECK_STATUS_MSG(sign_verify(PERSIST_ID, PSA_ALG_ECDSA(PSA_ALG_SHA_256)), PSA_SUCCESS,
                         "persistent PSA key signs after a process restart");
        CHECK_STATUS_MSG(psa_destroy_key(PERSIST_ID), PSA_SUCCESS, "destroy it");
    }
    return 0;
}

static size_t transient_count(void)
{
    uint32_t h[16];
    size_t n = 99;
    if (keyward_tpm2_transient_handles(NULL, h, 16, &n) != PSA_SUCCESS) {
        return 99;
    }
    return n;
}

static int run_hygiene(long n)
{
    psa_key_id_t keys[4] = {0};
    const char *files[3] = {"p256.pem", "p384.pem", "rsa2048.pem"};
    psa_algorithm_t algs[4] = {PSA_ALG_ECDSA(PSA_ALG_SHA_256), PSA_ALG_ECDSA(PSA_ALG_SHA_384),
                               PSA_ALG_RSA_PSS(PSA_ALG_SHA_256), PSA_ALG_ECDSA(PSA_ALG_SHA_256)};
    size_t nkeys = 3, max_seen = 0, budget = 2;
    long failures = 0;
    psa_status_t first_fail = PSA_SUCCESS;
    uint8_t hash[48] = {3}, sig[PSA_SIGNATURE_MAX_SIZE];
    size_t len = 0;
    const char *h = getenv("KW_TPM2_HANDLE_KEY");

    if (getenv("KEYWARD_TPM2_MAX_LOADED") != NULL) {
        budget = (size_t)atoi(getenv("KEYWARD_TPM2_MAX_LOADED"));
    }
    kw_check_verbose = 1;
    for (size_t i = 0; i < 3; i++) {
        CHECK_STATUS_MSG(keyward_key_open(keyref_file(files[i], NULL), &keys[i]), PSA_SUCCESS,
                         "open %s", files[i]);
    }
    if (h != NULL) {
        char keyref[64];
        snprintf(keyref, sizeof(keyref), "tpm2:handle=%s", h);
        CHECK_STATUS_MSG(keyward_key_open(keyref, &keys[3]), PSA_SUCCESS, "open %s", keyref);
        nkeys = 4;
    }
    /* Mostly one key (the TLS case, served from the cache), with a key
     * switch every 50 signatures so eviction and reloading run too. */
    for (long i = 0; i < n; i++) {
        size_t k = (size_t)((i / 50) % (long)nkeys);
        psa_status_t st =
            psa_sign_hash(keys[k], algs[k], hash, k == 1 ? 48 : 32, sig, sizeof(sig), &len);
        if (st != PSA_SUCCESS) {
            if (failures++ == 0) {
                first_fail = st;
                printf("#    signature %ld with key %zu: %s %s\n", i, k, keyward_status_name(st),
                       keyward_last_error());
            }
        }
        if (i % 500 == 0) {
            size_t t = transient_count();
            if (t > max_seen) {
                max_seen = t;
            }
        }
    }
    CHECK_MSG(failures == 0, "%ld signatures without failure (first failure: %s)", n,
              keyward_status_name(first_fail));
    CHECK_MSG(max_seen <= budget, "at most %zu transient objects loaded at any check (saw %zu)",
              budget, max_seen);
    for (size_t i = 0; i < nkeys; i++) {
        psa_destroy_key(keys[i]);
    }
    keyward_tpm2_release();
    CHECK_MSG(transient_count() == 0, "no transient object left after keyward_tpm2_release");
    keyward_tpm2_release();
    return 0;
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* Two keys used in turn (a process serving two identities) must both stay
 * loaded: no TPM2_Load once both are in the cache.  Then the backend's
 * shutdown op flushes them. */
static int run_alternate(long n)
{
    psa_key_id_t keys[2] = {0};
    uint8_t hash[32] = {7}, sig[PSA_SIGNATURE_MAX_SIZE];
    size_t len = 0;
    unsigned long loads;
    long failures = 0;
    double t0, t_one, t_two;
    extern const keyward_backend_t keyward_tpm2_backend;

    CHECK_STATUS_MSG(keyward_key_open(keyref_file("p256.pem", NULL), &keys[0]), PSA_SUCCESS,
                     "open p256.pem");
    CHECK_STATUS_MSG(keyward_key_open(keyref_file("p256b.pem", NULL), &keys[1]), PSA_SUCCESS,
                     "open p256b.pem");
    /* One key alone: the reference time. */
    t0 = now_us();
    for (long i = 0; i < n; i++) {
        failures += psa_sign_hash(keys[0], PSA_ALG_ECDSA(PSA_ALG_SHA_256), hash, 32, sig,
                                  sizeof(sig), &len) != PSA_SUCCESS;
    }
    t_one = (now_us() - t0) / (double)n;
    for (int i = 0; i < 2; i++) { /* both in the cache */
        failures += psa_sign_hash(keys[i], PSA_ALG_ECDSA(PSA_ALG_SHA_256), hash, 32, sig,
                                  sizeof(sig), &len) != PSA_SUCCESS;
    }
    loads = keyward_tpm2_load_count();
    t0 = now_us();
    for (long i = 0; i < n; i++) {
        failures += psa_sign_hash(keys[i % 2], PSA_ALG_ECDSA(PSA_ALG_SHA_256), hash, 32, sig,
                                  sizeof(sig), &len) != PSA_SUCCESS;
    }
    t_two = (now_us() - t0) / (double)n;
    loads = keyward_tpm2_load_count() - loads;
    CHECK_MSG(failures == 0, "%ld signatures with one key, then %ld alternating between two", n, n);
    CHECK_MSG(loads == 0, "two alternating keys: %lu loads in %ld signatures (want 0)", loads, n);
    printf("#    one key %.1f us/signature, two alternating keys %.1f us/signature (ratio %.2f)\n",
           t_one, t_two, t_two / t_one);
    CHECK_MSG(transient_count() > 0, "objects stay loaded between signatures (the cache)");
    keyward_tpm2_backend.shutdown();
    CHECK_MSG(transient_count() == 0, "the backend's shutdown op flushes everything");
    keyward_tpm2_release();
    psa_destroy_key(keys[0]);
    psa_destroy_key(keys[1]);
    return 0;
}

/* Generates an RSA-2048 key through the backend: 1 if it has the decrypt
 * attribute (and the warning is set when want_warning), 0 if not, -1 on
 * failure. */
static int generated_rsa_attrs(int want_warning)
{
    extern const keyward_backend_t keyward_tpm2_backend;
    uint8_t ref[KEYWARD_REF_MAX];
    size_t ref_len = 0, off = 0;
    kw_tpm2_ref_t r;
    TPM2B_PUBLIC pub;
    psa_status_t st = keyward_tpm2_backend.generate("tpm2:", PSA_KEY_TYPE_RSA_KEY_PAIR, 2048, ref,
                                                    sizeof(ref), &ref_len);

    memset(&pub, 0, sizeof(pub));
    if (st != PSA_SUCCESS || kw_tpm2_ref_parse(ref, ref_len, &r) != PSA_SUCCESS ||
        Tss2_MU_TPM2B_PUBLIC_Unmarshal(r.pub, r.pub_len, &off, &pub) != TSS2_RC_SUCCESS) {
        printf("#    generate: %s %s\n", keyward_status_name(st), keyward_last_error());
        return -1;
    }
    if (want_warning && strstr(keyward_last_error(), "warning") == NULL) {
        return -1;
    }
    return (pub.publicArea.objectAttributes & TPMA_OBJECT_DECRYPT) != 0;
}

/* RSA-PSS on a TPM that signs with the maximum salt length (the test
 * double in tpm2_pss.c): DIR holds rsa_sd.pem (sign|decrypt) and
 * rsa_s.pem (sign only), the same key pair imported twice. */
static int run_pss(void)
{
    psa_key_id_t sd = 0, so = 0;
    psa_algorithm_t pss = PSA_ALG_RSA_PSS(PSA_ALG_SHA_256);
    uint8_t hash[32] = {11}, sig[PSA_SIGNATURE_MAX_SIZE];
    size_t len = 0;
    unsigned long em;
    char twin[1200];

    snprintf(twin, sizeof(twin), "%s", keyref_file("rsa_sd.pem", NULL));
    CHECK_STATUS_MSG(keyward_key_open(twin, &sd), PSA_SUCCESS, "open rsa_sd.pem (sign|decrypt)");
    CHECK_STATUS_MSG(keyward_key_open(keyref_file("rsa_s.pem", NULL), &so), PSA_SUCCESS,
                     "open rsa_s.pem (sign only)");
    /* swtpm itself: salt = hash length, the TPM's own signature is used. */
    CHECK_STATUS_MSG(sign_verify(sd, pss), PSA_SUCCESS,
                     "swtpm PSS, sign|decrypt key: strict verify");
    CHECK_STATUS_MSG(sign_verify(so, pss), PSA_SUCCESS, "swtpm PSS, sign-only key: strict verify");

    keyward_tpm2_test_pss_max_salt(twin);
    em = keyward_tpm2_test_pss_emulated();
    /* The max-salt signature fails PSA's strict check (salt = hash length):
     * passing it proves keyward detected the salt and made the signature
     * itself (software EMSA-PSS + raw RSA in the TPM). */
    CHECK_STATUS_MSG(
        sign_verify(sd, pss), PSA_SUCCESS,
        "max-salt TPM, sign|decrypt key: strict PSS verify (software encoding + raw RSA)");
    CHECK_MSG(keyward_tpm2_test_pss_emulated() == em + 1, "the TPM signed once (max salt), then "
                                                          "keyward fell back");
    CHECK_STATUS_MSG(sign_verify(sd, pss), PSA_SUCCESS, "again");
    CHECK_MSG(keyward_tpm2_test_pss_emulated() == em + 1,
              "remembered per key: no TPM PSS signature the second time");
    CHECK_STATUS_MSG(sign_verify(sd, PSA_ALG_RSA_PSS(PSA_ALG_SHA_384)), PSA_SUCCESS,
                     "max-salt TPM, SHA-384: strict verify");

    em = keyward_tpm2_test_pss_emulated();
    CHECK_STATUS_MSG(psa_sign_hash(so, pss, hash, 32, sig, sizeof(sig), &len),
                     PSA_ERROR_NOT_SUPPORTED, "max-salt TPM, sign-only key: PSS refused");
    CHECK_MSG(strstr(keyward_last_error(), "TLS 1.2 only") != NULL,
              "the reason says the key can do TLS 1.2 only (%s)", keyward_last_error());
    CHECK_MSG(keyward_tpm2_test_pss_emulated() == em + 1, "detected from one TPM signature");
    CHECK_STATUS_MSG(psa_sign_hash(so, pss, hash, 32, sig, sizeof(sig), &len),
                     PSA_ERROR_NOT_SUPPORTED, "refused again");
    CHECK_MSG(keyward_tpm2_test_pss_emulated() == em + 1, "remembered: no TPM signature the second "
                                                          "time");
    CHECK_STATUS_MSG(sign_verify(so, PSA_ALG_RSA_PKCS1V15_SIGN(PSA_ALG_SHA_256)), PSA_SUCCESS,
                     "the sign-only key still signs PKCS#1 v1.5 (TLS 1.2)");

    /* Key generation probes the TPM's PSS: decrypt only where needed. */
    CHECK_MSG(generated_rsa_attrs(1) == 1,
              "keygen on a max-salt TPM: RSA key gets decrypt, with a "
              "warning (%s)",
              keyward_last_error());
    keyward_tpm2_test_pss_max_salt(NULL);
    CHECK_MSG(generated_rsa_attrs(0) == 0,
              "keygen on swtpm (salt = hash length): RSA key sign-only");
    CHECK_STATUS_MSG(sign_verify(so, pss), PSA_SUCCESS, "test double off: PSS from the TPM again");
    psa_destroy_key(sd);
    psa_destroy_key(so);
    return 0;
}

/* Signatures on one authorisation session: the session is started once,
 * not per signature (keys with an auth value from KEYWARD_TPM2_AUTH). */
static int run_session(void)
{
    psa_key_id_t ec = 0, rsa = 0;
    unsigned long started;
    double t0;

    CHECK_STATUS_MSG(keyward_key_open(keyref_file("ec.pem", NULL), &ec), PSA_SUCCESS,
                     "open ec.pem");
    CHECK_STATUS_MSG(keyward_key_open(keyref_file("rsa.pem", NULL), &rsa), PSA_SUCCESS,
                     "open rsa.pem");
    CHECK_STATUS_MSG(sign_verify(ec, PSA_ALG_ECDSA(PSA_ALG_SHA_256)), PSA_SUCCESS,
                     "first signature");
    started = keyward_tpm2_session_count();
    t0 = now_us();
    for (int i = 0; i < 100; i++) {
        uint8_t hash[32] = {13}, sig[PSA_SIGNATURE_MAX_SIZE];
        size_t len = 0;
        kw_check_failed += psa_sign_hash(ec, PSA_ALG_ECDSA(PSA_ALG_SHA_256), hash, 32, sig,
                                         sizeof(sig), &len) != PSA_SUCCESS;
    }
    printf("#    ECDSA P-256 with an auth value over the salted session: %.1f us/signature\n",
           (now_us() - t0) / 100);
    for (int i = 0; i < 20; i++) {
        CHECK_STATUS_MSG(sign_verify(i % 2 ? ec : rsa,
                                     i % 2 ? PSA_ALG_ECDSA(PSA_ALG_SHA_256)
                                           : (i % 4 ? PSA_ALG_RSA_PSS(PSA_ALG_SHA_256)
                                                    : PSA_ALG_RSA_PKCS1V15_SIGN(PSA_ALG_SHA_256))),
                         PSA_SUCCESS, "signature %d", i);
    }
    CHECK_MSG(keyward_tpm2_session_count() == started && started >= 1,
              "20 signatures, no new session (%lu started in all)", keyward_tpm2_session_count());
    psa_destroy_key(ec);
    psa_destroy_key(rsa);
    return 0;
}

/* Signs until killed (for the killed-client tests); writes DIR/signing
 * after the first signature so the test can wait for that state. */
static int run_loop(void)
{
    psa_key_id_t key = 0;
    uint8_t hash[32] = {9}, sig[PSA_SIGNATURE_MAX_SIZE];
    size_t len = 0;

    kw_check_verbose = 0;
    CHECK_STATUS_MSG(keyward_key_open(keyref_file("p256.pem", NULL), &key), PSA_SUCCESS, "open");
    for (long i = 0;; i++) {
        psa_status_t st =
            psa_sign_hash(key, PSA_ALG_ECDSA(PSA_ALG_SHA_256), hash, 32, sig, sizeof(sig), &len);
        if (st != PSA_SUCCESS) {
            printf("FAIL signature %ld: %s %s\n", i, keyward_status_name(st), keyward_last_error());
            return 1;
        }
        if (i == 0) {
            FILE *f = fopen(path("signing"), "w");
            if (f != NULL) {
                fclose(f);
            }
        }
    }
}

static int run_restart(void)
{
    psa_key_id_t key = 0;
    uint8_t hash[32] = {5}, sig[PSA_SIGNATURE_MAX_SIZE];
    size_t len = 0;
    const char *kill_cmd = getenv("KW_TPM2_KILL"), *start_cmd = getenv("KW_TPM2_START");

    if (kill_cmd == NULL || start_cmd == NULL) {
        printf("FAIL KW_TPM2_KILL / KW_TPM2_START not set\n");
        return 1;
    }
    CHECK_STATUS_MSG(keyward_key_open(keyref_file("p256.pem", NULL), &key), PSA_SUCCESS,
                     "open p256");
    CHECK_STATUS_MSG(sign_verify(key, PSA_ALG_ECDSA(PSA_ALG_SHA_256)), PSA_SUCCESS, "sign before");
    CHECK_MSG(system(kill_cmd) == 0, "swtpm killed");
    CHECK_STATUS_MSG(psa_sign_hash(key, PSA_ALG_ECDSA(PSA_ALG_SHA_256), hash, 32, sig, sizeof(sig),
                                   &len),
                     PSA_ERROR_COMMUNICATION_FAILURE, "sign while the TPM is gone: clean error");
    printf("#    error text: %s\n", keyward_last_error());
    CHECK_STATUS_MSG(psa_sign_hash(key, PSA_ALG_ECDSA(PSA_ALG_SHA_256), hash, 32, sig, sizeof(sig),
                                   &len),
                     PSA_ERROR_COMMUNICATION_FAILURE, "again: still a clean error");
    CHECK_MSG(system(start_cmd) == 0, "swtpm restarted");
    CHECK_STATUS_MSG(sign_verify(key, PSA_ALG_ECDSA(PSA_ALG_SHA_256)), PSA_SUCCESS,
                     "next signature reconnects and succeeds");
    CHECK_STATUS_MSG(sign_verify(key, PSA_ALG_ECDSA(PSA_ALG_SHA_256)), PSA_SUCCESS, "and the next");
    psa_destroy_key(key);
    return 0;
}

static int run_mixed(int argc, char **argv)
{
    psa_key_id_t keys[8] = {0};
    int n = argc > 8 ? 8 : argc;

    for (int i = 0; i < n; i++) {
        CHECK_STATUS_MSG(keyward_key_open(argv[i], &keys[i]), PSA_SUCCESS, "open %.60s", argv[i]);
    }
    /* Interleaved, twice: each backend keeps working beside the others. */
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < n; i++) {
            psa_key_attributes_t attr = PSA_KEY_ATTRIBUTES_INIT;
            psa_algorithm_t alg;
            if (keys[i] == 0 || psa_get_key_attributes(keys[i], &attr) != PSA_SUCCESS) {
                continue;
            }
            alg = PSA_KEY_TYPE_IS_RSA(psa_get_key_type(&attr)) ? PSA_ALG_RSA_PSS(PSA_ALG_SHA_256)
                                                               : PSA_ALG_ECDSA(PSA_ALG_SHA_256);
            CHECK_STATUS_MSG(sign_verify(keys[i], alg), PSA_SUCCESS,
                             "round %d: sign+verify with %.60s (location 0x%06x)", round, argv[i],
                             (unsigned)PSA_KEY_LIFETIME_GET_LOCATION(psa_get_key_lifetime(&attr)));
            psa_reset_key_attributes(&attr);
        }
    }
    for (int i = 0; i < n; i++) {
        psa_destroy_key(keys[i]);
    }
    return 0;
}

int main(int argc, char **argv)
{
    int rc = 2;

    if (argc < 2 || keyward_init() != PSA_SUCCESS) {
        fprintf(stderr, "usage: tpm2_psa_test "
                        "psa|persist-create|persist-use|hygiene|alternate|loop|restart DIR "
                        "[N] | mixed KEYREF...\n");
        return 2;
    }
    kw_check_verbose = 1;
    kw_check_detail = keyward_last_error;
    kw_check_status_name = keyward_status_name;
    dir = argc > 2 ? argv[2] : ".";
    if (strcmp(argv[1], "psa") == 0) {
        rc = run_psa();
    } else if (strcmp(argv[1], "persist-create") == 0) {
        rc = run_persist(1);
    } else if (strcmp(argv[1], "persist-use") == 0) {
        rc = run_persist(0);
    } else if (strcmp(argv[1], "hygiene") == 0) {
        rc = run_hygiene(argc > 3 ? atol(argv[3]) : 10000);
    } else if (strcmp(argv[1], "alternate") == 0) {
        rc = run_alternate(argc > 3 ? atol(argv[3]) : 200);
    } else if (strcmp(argv[1], "session") == 0) {
        rc = run_session();
    } else if (strcmp(argv[1], "pss") == 0) {
        rc = run_pss();
    } else if (strcmp(argv[1], "loop") == 0) {
        rc = run_loop();
    } else if (strcmp(argv[1], "restart") == 0) {
        rc = run_restart();
    } else if (strcmp(argv[1], "mixed") == 0) {
        rc = run_mixed(argc - 2, argv + 2);
    }
    mbedtls_psa_crypto_free();
    {
        int end = kw_test_end(argv[1]);
        return rc != 0 ? rc : end;
    }
}
