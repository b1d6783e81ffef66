/* PSA-level tests of the PKCS#11 backend on a SoftHSM2 token prepared by
 * test_psa_pkcs11.sh: every TLS signature algorithm on every key, verified in
 * software with the exported public key; the negative cases; generation;
 * session recovery. */
#define _GNU_SOURCE /* memmem */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#include "core/core.h"
#include "core/keybuf.h"
#include "keyward/keyward.h"
#include "keyward/port/psa_driver.h"
#include "kwcheck.h"
#include "mbedtls/psa_util.h"

static const char *module, *token, *pin;

static const char *uri_nopin(const char *label)
{
    static char buf[1024];
    snprintf(buf, sizeof(buf), "pkcs11:token=%s;object=%s?module-path=%s", token, label, module);
    return buf;
}

static const char *uri(const char *label)
{
    static char buf[1024];
    snprintf(buf, sizeof(buf), "pkcs11:token=%s;object=%s?module-path=%s&pin-value=%s", token,
             label, module, pin);
    return buf;
}

/* Signs with the SE key and verifies with its exported public key imported
 * as a plain software key: the signature is checked by code that never saw
 * keyward. */
static void sign_and_verify(psa_key_id_t key, psa_algorithm_t alg, const char *what)
{
    psa_key_attributes_t attr = PSA_KEY_ATTRIBUTES_INIT, pattr = PSA_KEY_ATTRIBUTES_INIT;
    uint8_t pub[PSA_EXPORT_PUBLIC_KEY_MAX_SIZE], sig[PSA_SIGNATURE_MAX_SIZE], hash[64];
    size_t pub_len = 0, sig_len = 0, hash_len = PSA_HASH_LENGTH(PSA_ALG_SIGN_GET_HASH(alg));
    psa_key_id_t pk = 0;
    psa_status_t s;

    psa_generate_random(hash, sizeof(hash));
    CHECK_STATUS(psa_get_key_attributes(key, &attr), PSA_SUCCESS);
    s = psa_sign_hash(key, alg, hash, hash_len, sig, sizeof(sig), &sig_len);
    if (s != PSA_SUCCESS) {
        fprintf(stderr, "%s: sign: %s %s\n", what, keyward_status_name(s), keyward_last_error());
    }
    CHECK(s == PSA_SUCCESS);
    CHECK_STATUS(psa_export_public_key(key, pub, sizeof(pub), &pub_len), PSA_SUCCESS);
    psa_set_key_type(&pattr, PSA_KEY_TYPE_PUBLIC_KEY_OF_KEY_PAIR(psa_get_key_type(&attr)));
    psa_set_key_usage_flags(&pattr, PSA_KEY_USAGE_VERIFY_HASH);
    psa_set_key_algorithm(&pattr, alg);
    CHECK_STATUS(psa_import_key(&pattr, pub, pub_len, &pk), PSA_SUCCESS);
    s = psa_verify_hash(pk, alg, hash, hash_len, sig, sig_len);
    if (s != PSA_SUCCESS) {
        fprintf(stderr, "%s: software verify: %s\n", what, keyward_status_name(s));
    }
    CHECK(s == PSA_SUCCESS);
    /* the driver's verify_hash entry point agrees, and rejects a bad one */
    CHECK_STATUS(psa_verify_hash(key, alg, hash, hash_len, sig, sig_len), PSA_SUCCESS);
    /* A tampered signature must not verify: Mbed TLS answers
     * INVALID_SIGNATURE, or INVALID_ARGUMENT when the tampered value decodes
     * out of range (RSA-PSS top bits, ECDSA r or s >= n) - a small share of
     * random flips. */
    sig[sig_len / 2] ^= 1;
    s = psa_verify_hash(pk, alg, hash, hash_len, sig, sig_len);
    CHECK(s == PSA_ERROR_INVALID_SIGNATURE || s == PSA_ERROR_INVALID_ARGUMENT);
    psa_destroy_key(pk);
    psa_reset_key_attributes(&attr);
}

static void per_key(const char *label, psa_key_type_t type, size_t bits)
{
    psa_key_id_t key = 0;
    psa_key_attributes_t attr = PSA_KEY_ATTRIBUTES_INIT;
    uint8_t buf[PSA_SIGNATURE_MAX_SIZE], hash[32] = {1};
    size_t len = 0;
    psa_status_t s = keyward_key_open(uri(label), &key);

    if (s != PSA_SUCCESS) {
        fprintf(stderr, "%s: open: %s %s\n", label, keyward_status_name(s), keyward_last_error());
    }
    CHECK(s == PSA_SUCCESS);
    CHECK_STATUS(psa_get_key_attributes(key, &attr), PSA_SUCCESS);
    CHECK(psa_get_key_type(&attr) == type && psa_get_key_bits(&attr) == bits);
    CHECK(PSA_KEY_LIFETIME_GET_LOCATION(psa_get_key_lifetime(&attr)) == KEYWARD_LOCATION_PKCS11);
    if (PSA_KEY_TYPE_IS_ECC(type)) {
        sign_and_verify(key, PSA_ALG_ECDSA(PSA_ALG_SHA_256), label);
        sign_and_verify(key, PSA_ALG_ECDSA(PSA_ALG_SHA_384), label);
        CHECK_STATUS(psa_sign_hash(key, PSA_ALG_RSA_PSS(PSA_ALG_SHA_256), hash, 32, buf,
                                   sizeof(buf), &len),
                     PSA_ERROR_NOT_PERMITTED); /* policy: wrong algorithm */
    } else {
        sign_and_verify(key, PSA_ALG_RSA_PKCS1V15_SIGN(PSA_ALG_SHA_256), label);
        sign_and_verify(key, PSA_ALG_RSA_PKCS1V15_SIGN(PSA_ALG_SHA_384), label);
        sign_and_verify(key, PSA_ALG_RSA_PSS(PSA_ALG_SHA_256), label);
        sign_and_verify(key, PSA_ALG_RSA_PSS(PSA_ALG_SHA_384), label);
        CHECK_STATUS(psa_sign_hash(key, PSA_ALG_ECDSA(PSA_ALG_SHA_256), hash, 32, buf, sizeof(buf),
                                   &len),
                     PSA_ERROR_NOT_PERMITTED);
    }
    /* short signature buffer */
    CHECK_STATUS(psa_sign_hash(key,
                               PSA_KEY_TYPE_IS_ECC(type) ? PSA_ALG_ECDSA(PSA_ALG_SHA_256)
                                                         : PSA_ALG_RSA_PSS(PSA_ALG_SHA_256),
                               hash, 32, buf, PSA_BITS_TO_BYTES(bits) - 1, &len),
                 PSA_ERROR_BUFFER_TOO_SMALL);
    /* the private key never leaves */
    CHECK_STATUS(psa_export_key(key, buf, sizeof(buf), &len), PSA_ERROR_NOT_PERMITTED);
    psa_destroy_key(key);
    psa_reset_key_attributes(&attr);
}

static void import_checks(void)
{
    psa_key_attributes_t attr = PSA_KEY_ATTRIBUTES_INIT;
    psa_key_id_t key = 0;
    const char *r = uri("rsa2048");

    psa_set_key_lifetime(&attr, PSA_KEY_LIFETIME_FROM_PERSISTENCE_AND_LOCATION(
                                    PSA_KEY_PERSISTENCE_VOLATILE, KEYWARD_LOCATION_PKCS11));
    psa_set_key_usage_flags(&attr, PSA_KEY_USAGE_SIGN_HASH);
    psa_set_key_algorithm(&attr, PSA_ALG_RSA_PKCS1V15_SIGN(PSA_ALG_ANY_HASH));
    /* the reference names an RSA-2048 key: other types or sizes are refused */
    psa_set_key_type(&attr, PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1));
    psa_set_key_bits(&attr, 256);
    CHECK_STATUS(psa_import_key(&attr, (const uint8_t *)r, strlen(r), &key),
                 PSA_ERROR_INVALID_ARGUMENT);
    psa_set_key_type(&attr, PSA_KEY_TYPE_RSA_KEY_PAIR);
    psa_set_key_bits(&attr, 3072);
    CHECK_STATUS(psa_import_key(&attr, (const uint8_t *)r, strlen(r), &key),
                 PSA_ERROR_INVALID_ARGUMENT);
    /* bits 0: taken from the token */
    psa_set_key_bits(&attr, 0);
    CHECK_STATUS(psa_import_key(&attr, (const uint8_t *)r, strlen(r), &key), PSA_SUCCESS);
    psa_destroy_key(key);
    /* a persistent key keeps only the reference in PSA storage and opens
     * again; a reference with a PIN in it is refused (PSA would store it) */
    psa_set_key_id(&attr, 0x4b57);
    psa_destroy_key(0x4b57); /* leftovers of an earlier run */
    CHECK_STATUS(psa_import_key(&attr, (const uint8_t *)r, strlen(r), &key),
                 PSA_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(keyward_last_error(), "persistent") != NULL);
    CHECK(access("0000000000004b57.psa_its", F_OK) != 0); /* nothing stored */
    r = uri_nopin("rsa2048");
    setenv("KEYWARD_PKCS11_PIN", pin, 1);
    CHECK_STATUS(psa_import_key(&attr, (const uint8_t *)r, strlen(r), &key), PSA_SUCCESS);
    CHECK_STATUS(psa_purge_key(key), PSA_SUCCESS);
    {
        /* the storage file holds the reference, never the PIN */
        static char data[8192];
        FILE *fp = fopen("0000000000004b57.psa_its", "rb");
        size_t n = 0;
        CHECK(fp != NULL);
        if (fp != NULL) {
            n = fread(data, 1, sizeof(data) - 1, fp);
            fclose(fp);
        }
        CHECK(n > 0 && memmem(data, n, "object=rsa2048", 14) != NULL);
        CHECK(memmem(data, n, "pin-value", 9) == NULL && memmem(data, n, pin, strlen(pin)) == NULL);
    }
    {
        uint8_t sig[512], hash[32] = {2};
        size_t len = 0;
        CHECK_STATUS(psa_sign_hash(0x4b57, PSA_ALG_RSA_PKCS1V15_SIGN(PSA_ALG_SHA_256), hash, 32,
                                   sig, sizeof(sig), &len),
                     PSA_SUCCESS);
    }
    CHECK_STATUS(psa_destroy_key(0x4b57), PSA_SUCCESS);
    unsetenv("KEYWARD_PKCS11_PIN");
    /* garbage as reference */
    psa_set_key_id(&attr, 0);
    psa_set_key_lifetime(&attr, PSA_KEY_LIFETIME_FROM_PERSISTENCE_AND_LOCATION(
                                    PSA_KEY_PERSISTENCE_VOLATILE, KEYWARD_LOCATION_PKCS11));
    CHECK_STATUS(psa_import_key(&attr, (const uint8_t *)"\x00\x01garbage", 9, &key),
                 PSA_ERROR_INVALID_ARGUMENT);
    psa_reset_key_attributes(&attr);
}

static void lookup_failures(void)
{
    char buf[1024];
    psa_key_id_t key = 0;

    snprintf(buf, sizeof(buf), "pkcs11:token=nosuchtoken;object=ec256?module-path=%s&pin-value=%s",
             module, pin);
    CHECK_STATUS(keyward_key_open(buf, &key), PSA_ERROR_DOES_NOT_EXIST);
    CHECK_STATUS(keyward_key_open(uri("nosuchobject"), &key), PSA_ERROR_DOES_NOT_EXIST);
    CHECK(strstr(keyward_last_error(), "no PKCS#11 private key") != NULL);
    CHECK_STATUS(
        keyward_key_open(
            "pkcs11:token=kwtest;object=ec256?module-path=/usr/lib/x86_64-linux-gnu/libc.so.6",
            &key),
        PSA_ERROR_NOT_SUPPORTED); /* not a PKCS#11 module */
}

/* A wrong PIN must fail with NOT_PERMITTED.  Needs a token not yet logged in
 * in this process, so it runs first. */
static void wrong_pin(void)
{
    char buf[1024];
    psa_key_id_t key = 0;

    snprintf(buf, sizeof(buf), "pkcs11:token=%s;object=ec256?module-path=%s&pin-value=0000", token,
             module);
    CHECK_STATUS(keyward_key_open(buf, &key), PSA_ERROR_NOT_PERMITTED);
    CHECK(strstr(keyward_last_error(), "C_Login") != NULL);
}

static void generate(void)
{
    psa_key_id_t key = 0;
    char target[1024];

    snprintf(target, sizeof(target), "pkcs11:token=%s;object=gen-p256?module-path=%s&pin-value=%s",
             token, module, pin);
    CHECK_STATUS(keyward_key_generate(target, PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1),
                                      256, &key),
                 PSA_SUCCESS);
    sign_and_verify(key, PSA_ALG_ECDSA(PSA_ALG_SHA_256), "gen-p256");
    psa_destroy_key(key);
    /* the same label again is refused */
    CHECK_STATUS(keyward_key_generate(target, PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1),
                                      256, &key),
                 PSA_ERROR_ALREADY_EXISTS);
    /* and it opens by label like any other key */
    CHECK_STATUS(keyward_key_open(uri("gen-p256"), &key), PSA_SUCCESS);
    sign_and_verify(key, PSA_ALG_ECDSA(PSA_ALG_SHA_256), "gen-p256 reopened");
    psa_destroy_key(key);
    snprintf(target, sizeof(target), "pkcs11:token=%s;object=gen-rsa?module-path=%s&pin-value=%s",
             token, module, pin);
    CHECK_STATUS(keyward_key_generate(target, PSA_KEY_TYPE_RSA_KEY_PAIR, 2048, &key), PSA_SUCCESS);
    sign_and_verify(key, PSA_ALG_RSA_PSS(PSA_ALG_SHA_256), "gen-rsa");
    psa_destroy_key(key);
    CHECK_STATUS(keyward_key_generate(target, PSA_KEY_TYPE_RSA_KEY_PAIR, 1000, &key),
                 PSA_ERROR_NOT_SUPPORTED);
    /* no target set: psa_generate_key alone says what is missing */
    {
        psa_key_attributes_t attr = PSA_KEY_ATTRIBUTES_INIT;
        psa_set_key_lifetime(&attr, PSA_KEY_LIFETIME_FROM_PERSISTENCE_AND_LOCATION(
                                        PSA_KEY_PERSISTENCE_VOLATILE, KEYWARD_LOCATION_PKCS11));
        psa_set_key_type(&attr, PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1));
        psa_set_key_bits(&attr, 256);
        psa_set_key_usage_flags(&attr, PSA_KEY_USAGE_SIGN_HASH);
        CHECK_STATUS(psa_generate_key(&attr, &key), PSA_ERROR_BAD_STATE);
    }
}

/* Another part of the process closes every session of the token (as a token
 * removal or a library reset would): the next signature still works. */
static void session_recovery(void)
{
    void *dl = dlopen(module, RTLD_NOW | RTLD_NOLOAD);
    CK_RV (*get_list)(CK_FUNCTION_LIST_PTR_PTR);
    CK_FUNCTION_LIST_PTR f = NULL;
    CK_SLOT_ID slots[16];
    CK_ULONG n = 16;
    psa_key_id_t key = 0;

    CHECK(dl != NULL);
    if (dl == NULL) {
        return;
    }
    *(void **)&get_list = dlsym(dl, "C_GetFunctionList");
    CHECK(get_list != NULL && get_list(&f) == CKR_OK);
    CHECK_STATUS(keyward_key_open(uri("ec256"), &key), PSA_SUCCESS);
    sign_and_verify(key, PSA_ALG_ECDSA(PSA_ALG_SHA_256), "before session loss");
    CHECK(f->C_GetSlotList(CK_TRUE, slots, &n) == CKR_OK);
    for (CK_ULONG i = 0; i < n; i++) {
        f->C_CloseAllSessions(slots[i]);
    }
    sign_and_verify(key, PSA_ALG_ECDSA(PSA_ALG_SHA_256), "after session loss");
    psa_destroy_key(key);
    dlclose(dl);
}

/* A software key and SoftHSM2 keys used alternately in one process: the
 * coexistence a global *_SIGN_ALT replacement cannot give. */
static void coexistence(void)
{
    const char *soft = getenv("KW_SOFT_KEY");
    char keyref[1024];
    psa_key_id_t sw = 0, ec = 0, rsa = 0;
    psa_key_attributes_t attr = PSA_KEY_ATTRIBUTES_INIT;

    CHECK(soft != NULL);
    if (soft == NULL) {
        return;
    }
    snprintf(keyref, sizeof(keyref), "file:%s", soft);
    CHECK_STATUS(keyward_key_open(keyref, &sw), PSA_SUCCESS);
    CHECK_STATUS(psa_get_key_attributes(sw, &attr), PSA_SUCCESS);
    CHECK(PSA_KEY_LIFETIME_IS_VOLATILE(psa_get_key_lifetime(&attr)) &&
          PSA_KEY_LIFETIME_GET_LOCATION(psa_get_key_lifetime(&attr)) ==
              PSA_KEY_LOCATION_LOCAL_STORAGE);
    CHECK_STATUS(keyward_key_open(uri("ec256"), &ec), PSA_SUCCESS);
    CHECK_STATUS(keyward_key_open(uri("rsa2048"), &rsa), PSA_SUCCESS);
    for (int i = 0; i < 25; i++) {
        sign_and_verify(sw, PSA_ALG_ECDSA(PSA_ALG_SHA_256), "software");
        sign_and_verify(ec, PSA_ALG_ECDSA(PSA_ALG_SHA_256), "softhsm ec");
        sign_and_verify(rsa, PSA_ALG_RSA_PSS(PSA_ALG_SHA_256), "softhsm rsa");
    }
    psa_destroy_key(sw);
    psa_destroy_key(ec);
    psa_destroy_key(rsa);
}

/* pin-source that cannot be read: a read error naming the path, never a
 * login with an empty PIN ("PIN incorrect").  Runs before any login. */
static void pin_source_errors(void)
{
    char buf[1024];
    const char *dir = getenv("KW_TMP");
    psa_key_id_t key = 0;
    const char *bad[] = {"%s", "file:%s", "%s/nonexistent", "%s/../softhsm2.conf/x"};
    const psa_status_t want[] = {PSA_ERROR_INVALID_ARGUMENT, PSA_ERROR_INVALID_ARGUMENT,
                                 PSA_ERROR_DOES_NOT_EXIST, PSA_ERROR_STORAGE_FAILURE};

    CHECK(dir != NULL);
    if (dir == NULL) {
        return;
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char src[512];
        snprintf(src, sizeof(src), bad[i], dir);
        snprintf(buf, sizeof(buf), "pkcs11:token=%s;object=ec256?module-path=%s&pin-source=%s",
                 token, module, src);
        CHECK_STATUS(keyward_key_open(buf, &key), want[i]);
        CHECK(strstr(keyward_last_error(), "cannot read pin-source") != NULL);
        CHECK(strstr(keyward_last_error(), src + (strncmp(src, "file:", 5) == 0 ? 5 : 0)) != NULL);
        CHECK(strstr(keyward_last_error(), "C_Login") == NULL);
    }
}

/* The key buffer made from a KEYREF with pin-value holds no PIN; the PIN
 * lives in process memory until keyward_key_close. */
static void pin_kept_in_memory(void)
{
    psa_key_attributes_t attr = PSA_KEY_ATTRIBUTES_INIT;
    const char *r = uri("ec256");
    uint8_t buf[KEYWARD_KEYBUF_HEADER + KEYWARD_REF_MAX];
    size_t len = 0, bits = 0;
    psa_key_id_t key = 0;

    psa_set_key_lifetime(&attr, PSA_KEY_LIFETIME_FROM_PERSISTENCE_AND_LOCATION(
                                    PSA_KEY_PERSISTENCE_VOLATILE, KEYWARD_LOCATION_PKCS11));
    psa_set_key_type(&attr, PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1));
    CHECK_STATUS(keyward_psa_import_key(&attr, (const uint8_t *)r, strlen(r), buf, sizeof(buf),
                                        &len, &bits),
                 PSA_SUCCESS);
    CHECK(len > 0 && memmem(buf, len, "object=ec256", 12) != NULL);
    CHECK(memmem(buf, len, "pin-value", 9) == NULL && memmem(buf, len, pin, strlen(pin)) == NULL);
    keyward_secrets_wipe_all();

    CHECK_STATUS(keyward_key_open(r, &key), PSA_SUCCESS);
    CHECK(keyward_secrets_count(key) == 1);
    sign_and_verify(key, PSA_ALG_ECDSA(PSA_ALG_SHA_256), "pin in memory");
    CHECK_STATUS(keyward_key_close(key), PSA_SUCCESS);
    CHECK(keyward_secrets_count(key) == 0 && keyward_secrets_count(0) == 0);
    CHECK_STATUS(psa_get_key_attributes(key, &attr), PSA_ERROR_INVALID_HANDLE);
    /* a key destroyed the PSA way leaves its PIN only until the next open */
    CHECK_STATUS(keyward_key_open(r, &key), PSA_SUCCESS);
    psa_destroy_key(key);
    CHECK(keyward_secrets_count(0) == 1);
    CHECK_STATUS(keyward_key_open(uri_nopin("ec256"), &key), PSA_SUCCESS);
    CHECK(keyward_secrets_count(0) == 0);
    CHECK_STATUS(keyward_key_close(key), PSA_SUCCESS);
    psa_reset_key_attributes(&attr);
}

static CK_FUNCTION_LIST_PTR module_functions(void **dl)
{
    CK_RV (*get_list)(CK_FUNCTION_LIST_PTR_PTR);
    CK_FUNCTION_LIST_PTR f = NULL;

    *dl = dlopen(module, RTLD_NOW | RTLD_NOLOAD);
    if (*dl == NULL) {
        return NULL;
    }
    *(void **)&get_list = dlsym(*dl, "C_GetFunctionList");
    if (get_list == NULL || get_list(&f) != CKR_OK) {
        return NULL;
    }
    return f;
}

/* Reads one CK_BBOOL attribute of the object of class cls labelled label:
 * 1 true, 0 false, -1 not found. */
static int bool_attr(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, const char *label,
                     CK_OBJECT_CLASS cls, CK_ATTRIBUTE_TYPE type)
{
    CK_ATTRIBUTE tmpl[2] = {{CKA_CLASS, &cls, sizeof(cls)},
                            {CKA_LABEL, (void *)label, strlen(label)}};
    CK_OBJECT_HANDLE h;
    CK_ULONG found = 0;
    CK_BBOOL v = CK_TRUE;
    CK_ATTRIBUTE a = {type, &v, sizeof(v)};

    if (f->C_FindObjectsInit(s, tmpl, 2) != CKR_OK) {
        return -1;
    }
    f->C_FindObjects(s, &h, 1, &found);
    f->C_FindObjectsFinal(s);
    if (found != 1 || f->C_GetAttributeValue(s, h, &a, 1) != CKR_OK) {
        return -1;
    }
    return v == CK_TRUE;
}

/* Keys keyward generates can only sign (issue 7 section 6). */
static void generated_keys_sign_only(void)
{
    void *dl = NULL;
    CK_FUNCTION_LIST_PTR f = module_functions(&dl);
    CK_SLOT_ID slots[16];
    CK_ULONG n = 16;
    CK_SESSION_HANDLE s = 0;
    const char *labels[] = {"gen-p256", "gen-rsa"};

    CHECK(f != NULL);
    if (f == NULL) {
        return;
    }
    CHECK(f->C_GetSlotList(CK_TRUE, slots, &n) == CKR_OK && n > 0);
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO info;
        if (f->C_GetTokenInfo(slots[i], &info) == CKR_OK &&
            memcmp(info.label, token, strlen(token)) == 0) {
            CHECK(f->C_OpenSession(slots[i], CKF_SERIAL_SESSION, NULL, NULL, &s) == CKR_OK);
        }
    }
    for (size_t i = 0; i < 2; i++) {
        CHECK(bool_attr(f, s, labels[i], CKO_PRIVATE_KEY, CKA_SIGN) == 1);
        CHECK(bool_attr(f, s, labels[i], CKO_PRIVATE_KEY, CKA_DECRYPT) == 0);
        CHECK(bool_attr(f, s, labels[i], CKO_PRIVATE_KEY, CKA_UNWRAP) == 0);
        CHECK(bool_attr(f, s, labels[i], CKO_PRIVATE_KEY, CKA_DERIVE) == 0);
        CHECK(bool_attr(f, s, labels[i], CKO_PRIVATE_KEY, CKA_SENSITIVE) == 1);
        CHECK(bool_attr(f, s, labels[i], CKO_PRIVATE_KEY, CKA_EXTRACTABLE) == 0);
        CHECK(bool_attr(f, s, labels[i], CKO_PUBLIC_KEY, CKA_VERIFY) == 1);
        CHECK(bool_attr(f, s, labels[i], CKO_PUBLIC_KEY, CKA_ENCRYPT) == 0);
        CHECK(bool_attr(f, s, labels[i], CKO_PUBLIC_KEY, CKA_WRAP) == 0);
    }
    /* the fixture keys made by pkcs11-tool are not: the test can tell */
    CHECK(bool_attr(f, s, "rsa2048", CKO_PRIVATE_KEY, CKA_DECRYPT) == 1);
    f->C_CloseSession(s);
    dlclose(dl);
}

/* keyward_deinit() logs out and closes the token's session (the PKCS#11
 * backend's shutdown op), wipes the PINs kept, frees PSA; twice is fine,
 * and keyward starts again from scratch afterwards. */
static void deinit(void)
{
    psa_key_id_t key = 0;

    CHECK_STATUS(keyward_key_open(uri("ec256"), &key), PSA_SUCCESS);
    CHECK(keyward_secrets_count(0) > 0);
    keyward_deinit();
    CHECK(keyward_secrets_count(0) == 0);
    keyward_deinit();
    CHECK_STATUS(keyward_init(), PSA_SUCCESS);
    /* logged out: without a PIN the token refuses the login now */
    unsetenv("KEYWARD_PKCS11_PIN");
    CHECK_STATUS(keyward_key_open(uri_nopin("ec256"), &key), PSA_ERROR_NOT_PERMITTED);
    CHECK_STATUS(keyward_key_open(uri("ec256"), &key), PSA_SUCCESS);
    sign_and_verify(key, PSA_ALG_ECDSA(PSA_ALG_SHA_256), "after keyward_deinit");
    CHECK_STATUS(keyward_key_close(key), PSA_SUCCESS);
    keyward_deinit();
}

int main(void)
{
    module = getenv("KW_P11_MODULE");
    token = getenv("KW_P11_TOKEN");
    pin = getenv("KW_P11_PIN");
    if (module == NULL || token == NULL || pin == NULL) {
        fprintf(stderr, "run through test_psa_pkcs11.sh\n");
        return 1;
    }
    CHECK_STATUS(keyward_init(), PSA_SUCCESS);
    wrong_pin();
    pin_source_errors();
    per_key("ec256", PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1), 256);
    per_key("ec384", PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1), 384);
    per_key("ec521", PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1), 521);
    per_key("rsa2048", PSA_KEY_TYPE_RSA_KEY_PAIR, 2048);
    per_key("rsa3072", PSA_KEY_TYPE_RSA_KEY_PAIR, 3072);
    per_key("rsa4096", PSA_KEY_TYPE_RSA_KEY_PAIR, 4096);
    import_checks();
    lookup_failures();
    generate();
    generated_keys_sign_only();
    pin_kept_in_memory();
    session_recovery();
    coexistence();
    deinit();
    return kw_test_end("psa_pkcs11");
}
