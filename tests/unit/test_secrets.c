/* Issue 7 sections 2 and 8, core side: KEYREF redaction and stripping, the
 * process-memory secret store, keyward_key_close / keyward_deinit, refusal
 * of secrets in persistent imports and stored key buffers, RFC 7512
 * duplicates and type=, and the builtin table's no-overwrite rule and lock.
 * No secure element needed. */
#include <pthread.h>
#include <string.h>

#include "core/core.h"
#include "core/keybuf.h"
#include "keyward/keyward.h"
#include "keyward/port/psa_driver.h"
#include "kwcheck.h"
#include "mbedtls/build_info.h"
#include "psa/crypto_extra.h"

#define PIN "Zq7PIN93x"

static int redacts_to(const char *in, const char *want)
{
    char out[512];
    size_t n = keyward_keyref_redact(in, out, sizeof(out));
    if (strcmp(out, want) != 0 || n != strlen(want)) {
        fprintf(stderr, "redact(%s) = %s (%u)\n", in, out, (unsigned)n);
        return 0;
    }
    return 1;
}

static int strips_to(const char *in, const char *want)
{
    char out[512];
    size_t n = 0;
    if (keyward_keyref_strip(in, out, sizeof(out), &n) != PSA_SUCCESS || strcmp(out, want) != 0 ||
        n != strlen(want)) {
        fprintf(stderr, "strip(%s) = %s\n", in, out);
        return 0;
    }
    return 1;
}

static void redaction(void)
{
    char small[12];

    CHECK(redacts_to("pkcs11:token=t;object=k?module-path=/m.so&pin-value=" PIN,
                     "pkcs11:token=t;object=k?module-path=/m.so&pin-value=***"));
    CHECK(redacts_to("pkcs11:object=k?pin-value=" PIN "&module-path=/m.so",
                     "pkcs11:object=k?pin-value=***&module-path=/m.so"));
    /* a '?' inside the value is still the value */
    CHECK(redacts_to("pkcs11:object=k?pin-value=ab?" PIN, "pkcs11:object=k?pin-value=***"));
    CHECK(redacts_to("tpm2:file=k.pem;auth=str:" PIN ";parent-auth=hex:0a0b",
                     "tpm2:file=k.pem;auth=***;parent-auth=***"));
    CHECK(redacts_to("tpm2:handle=0x81000002;AUTH=" PIN, "tpm2:handle=0x81000002;AUTH=***"));
    CHECK(redacts_to("x:so-pin=1;owner-auth=2;password=3",
                     "x:so-pin=***;owner-auth=***;password=***"));
    /* not secrets: pin-source, names that merely contain "auth" at the start */
    CHECK(redacts_to("pkcs11:object=k?pin-source=/p", "pkcs11:object=k?pin-source=/p"));
    CHECK(redacts_to("x:author=me", "x:author=me"));
    CHECK(redacts_to("--pin-value=" PIN, "--pin-value=***"));
    /* a message that names the attribute keeps its text */
    CHECK(redacts_to("give it with auth= in the KEYREF (0x98e)",
                     "give it with auth= in the KEYREF (0x98e)"));
    CHECK(redacts_to("cannot open 'pkcs11:object=k?pin-value=" PIN "'",
                     "cannot open 'pkcs11:object=k?pin-value=***"));
    /* truncation: always terminated, returns the full length */
    CHECK(keyward_keyref_redact("tpm2:auth=" PIN, small, sizeof(small)) == strlen("tpm2:auth=***"));
    CHECK(strlen(small) == sizeof(small) - 1 && strstr(small, "Zq7") == NULL);
    CHECK(keyward_keyref_redact(NULL, small, sizeof(small)) == 0 && small[0] == '\0');

    CHECK(keyward_keyref_has_secret("pkcs11:object=k?pin-value=1"));
    CHECK(keyward_keyref_has_secret("tpm2:file=k;parent-auth=x"));
    CHECK(!keyward_keyref_has_secret("pkcs11:object=k?pin-source=/p&module-path=/m"));
    CHECK(strips_to("pkcs11:object=k?pin-value=" PIN, "pkcs11:object=k"));
    CHECK(strips_to("pkcs11:object=k?pin-value=" PIN "&module-path=/m.so",
                    "pkcs11:object=k?module-path=/m.so"));
    CHECK(strips_to("pkcs11:token=t;object=k?module-path=/m.so&pin-value=" PIN "&x=y",
                    "pkcs11:token=t;object=k?module-path=/m.so&x=y"));
    CHECK(strips_to("tpm2:auth=str:" PIN ";file=k.pem;parent-auth=p;tcti=swtpm:",
                    "tpm2:file=k.pem;tcti=swtpm:"));
    /* no secret: the text is returned unchanged, odd separators included */
    CHECK(strips_to("pkcs11:a??b;;", "pkcs11:a??b;;"));
}

static void error_texts(void)
{
    psa_key_id_t key = 0;

    CHECK_STATUS(keyward_key_open("nosuch:x;pin-value=" PIN, &key), PSA_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(keyward_last_error(), "unknown KEYREF scheme") != NULL);
    CHECK(strstr(keyward_last_error(), "Zq7") == NULL);
    keyward_set_error("raw %s", "pkcs11:object=k?pin-value=" PIN);
    CHECK(strstr(keyward_last_error(), "Zq7") == NULL &&
          strstr(keyward_last_error(), "pin-value=***") != NULL);
}

static void rfc7512(void)
{
    psa_key_id_t key = 0;
    const char *mod = "module-path=/nonexistent/module.so";
    char uri[256];

    snprintf(uri, sizeof(uri), "pkcs11:object=a?pin-value=0000&pin-value=1234&%s", mod);
    CHECK_STATUS(keyward_key_open(uri, &key), PSA_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(keyward_last_error(), "appears twice") != NULL);
    CHECK(strstr(keyward_last_error(), "1234") == NULL);
    snprintf(uri, sizeof(uri), "pkcs11:object=a;token=t;object=b?%s", mod);
    CHECK_STATUS(keyward_key_open(uri, &key), PSA_ERROR_INVALID_ARGUMENT);
    snprintf(uri, sizeof(uri), "pkcs11:object=a;type=public?%s", mod);
    CHECK_STATUS(keyward_key_open(uri, &key), PSA_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(keyward_last_error(), "type=private") != NULL);
    snprintf(uri, sizeof(uri), "pkcs11:object=a;type=cert?%s", mod);
    CHECK_STATUS(keyward_key_open(uri, &key), PSA_ERROR_INVALID_ARGUMENT);
    /* type=private passes the URI checks and gets as far as the module */
    snprintf(uri, sizeof(uri), "pkcs11:object=a;type=private?%s", mod);
    CHECK_STATUS(keyward_key_open(uri, &key), PSA_ERROR_DOES_NOT_EXIST);
    /* a failed open keeps no secret */
    snprintf(uri, sizeof(uri), "pkcs11:object=a?%s&pin-value=" PIN, mod);
    CHECK_STATUS(keyward_key_open(uri, &key), PSA_ERROR_DOES_NOT_EXIST);
    CHECK(keyward_secrets_count(0) == 0);
}

static void store(void)
{
    const uint8_t ref[] = "pkcs11:object=k";
    uint8_t v[64];
    size_t n = 0;
    unsigned long mark;

    CHECK(keyward_secrets_count(0) == 0);
    mark = keyward_secrets_mark();
    CHECK_STATUS(keyward_secret_put(ref, 15, "pin-value", (const uint8_t *)"1111", 4), PSA_SUCCESS);
    /* said again before any key was made: replaced, not added */
    CHECK_STATUS(keyward_secret_put(ref, 15, "pin-value", (const uint8_t *)PIN, strlen(PIN)),
                 PSA_SUCCESS);
    CHECK(keyward_secrets_count(0) == 1);
    CHECK_STATUS(keyward_secret_get(ref, 15, "pin-value", v, sizeof(v), &n), PSA_SUCCESS);
    CHECK(n == strlen(PIN) && memcmp(v, PIN, n) == 0);
    CHECK_STATUS(keyward_secret_get(ref, 14, "pin-value", v, sizeof(v), &n),
                 PSA_ERROR_DOES_NOT_EXIST);
    CHECK_STATUS(keyward_secret_get(ref, 15, "auth", v, sizeof(v), &n), PSA_ERROR_DOES_NOT_EXIST);
    CHECK_STATUS(keyward_secret_get(ref, 15, "pin-value", v, 3, &n), PSA_ERROR_BUFFER_TOO_SMALL);
    keyward_secrets_bind_since(mark, 0x1234);
    CHECK(keyward_secrets_count(0x1234) == 1);
    keyward_secret_drop(ref, 15); /* drops unbound values only */
    CHECK(keyward_secrets_count(0x1234) == 1);
    keyward_secrets_forget_key(0x1234);
    CHECK(keyward_secrets_count(0) == 0);
    CHECK_STATUS(keyward_secret_get(ref, 15, "pin-value", v, sizeof(v), &n),
                 PSA_ERROR_DOES_NOT_EXIST);
    /* the table is bounded; values no key uses yet give way to new ones */
    for (int i = 0; i < 100; i++) {
        uint8_t r[8] = {'r', (uint8_t)i};
        CHECK_STATUS(keyward_secret_put(r, 2, "auth", r, 2), PSA_SUCCESS);
    }
    keyward_secrets_wipe_all();
    CHECK(keyward_secrets_count(0) == 0);
}

/* Persistent imports and stored key buffers carrying a PIN are refused. */
static void no_secret_in_key_buffers(void)
{
    psa_key_attributes_t attr = PSA_KEY_ATTRIBUTES_INIT;
    const char *uri = "pkcs11:object=k?module-path=/nonexistent/m.so&pin-value=" PIN;
    uint8_t buf[KEYWARD_KEYBUF_HEADER + KEYWARD_REF_MAX], out[600], hash[32] = {0};
    size_t len = 0, bits = 0, buf_len = 0;
    keyward_keybuf_t kb = {1, PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1), 256,
                           (const uint8_t *)uri, 0};

    kb.ref_len = strlen(uri);
    psa_set_key_type(&attr, PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1));
    psa_set_key_bits(&attr, 256);
    psa_set_key_lifetime(&attr,
                         PSA_KEY_LIFETIME_FROM_PERSISTENCE_AND_LOCATION(PSA_KEY_PERSISTENCE_DEFAULT,
                                                                        KEYWARD_LOCATION_PKCS11));
    CHECK_STATUS(keyward_psa_import_key(&attr, (const uint8_t *)uri, strlen(uri), buf, sizeof(buf),
                                        &len, &bits),
                 PSA_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(keyward_last_error(), "persistent") != NULL);
    CHECK(keyward_secrets_count(0) == 0);
    /* a key buffer written by an older keyward, with the PIN in it */
    CHECK_STATUS(keyward_keybuf_write(&kb, buf, sizeof(buf), &buf_len), PSA_SUCCESS);
    CHECK_STATUS(keyward_psa_sign_hash(&attr, buf, buf_len, PSA_ALG_ECDSA(PSA_ALG_SHA_256), hash,
                                       32, out, sizeof(out), &len),
                 PSA_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(keyward_last_error(), "carries a PIN") != NULL);
    CHECK_STATUS(keyward_psa_export_public_key(&attr, buf, buf_len, out, sizeof(out), &len),
                 PSA_ERROR_INVALID_ARGUMENT);
    psa_reset_key_attributes(&attr);
}

/* Builtin keys: secrets out of the table, bound to the id, wiped by
 * keyward_key_close; declared ids never replaced, also not by the ids
 * keyward_key_open picks itself. */
static void builtins(void)
{
    const psa_key_type_t ec = PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1);
    const psa_algorithm_t alg = PSA_ALG_ECDSA(PSA_ALG_ANY_HASH);
    const psa_key_id_t app = MBEDTLS_PSA_KEY_ID_BUILTIN_MAX - 1;
    keyward_builtin_t b;
    psa_key_id_t id1 = 0, id2 = 0, id3 = 0;
    size_t i;

    keyward_builtin_clear();
    CHECK_STATUS(keyward_builtin_add(app, "pkcs11:object=app?pin-value=" PIN, ec, 256,
                                     PSA_KEY_USAGE_SIGN_HASH, alg, 0),
                 PSA_SUCCESS);
    CHECK_STATUS(keyward_builtin_copy(0, &b), PSA_SUCCESS);
    CHECK(strcmp(b.keyref, "pkcs11:object=app") == 0);
    CHECK(keyward_secrets_count(app) == 1);
    /* keyward_key_open's own ids go around the application's */
    CHECK_STATUS(keyward_builtin_open("atecc608:slot=0", ec, 256, PSA_KEY_USAGE_SIGN_HASH, alg, 0,
                                      &id1),
                 PSA_SUCCESS);
    CHECK_STATUS(keyward_builtin_open("atecc608:slot=1", ec, 256, PSA_KEY_USAGE_SIGN_HASH, alg, 0,
                                      &id2),
                 PSA_SUCCESS);
    CHECK_STATUS(keyward_builtin_open("atecc608:slot=0", ec, 256, PSA_KEY_USAGE_SIGN_HASH, alg, 0,
                                      &id3),
                 PSA_SUCCESS);
    CHECK(id1 == MBEDTLS_PSA_KEY_ID_BUILTIN_MAX && id2 == app - 1 && id3 == id1);
    for (i = 0; keyward_builtin_copy(i, &b) == PSA_SUCCESS; i++) {
        if (b.id == app) {
            CHECK(strcmp(b.keyref, "pkcs11:object=app") == 0);
        }
    }
    CHECK(i == 3);
    /* and the application cannot take an id keyward gave out either */
    CHECK_STATUS(keyward_builtin_add(id2, "pkcs11:object=x", ec, 256, PSA_KEY_USAGE_SIGN_HASH, alg,
                                     0),
                 PSA_ERROR_ALREADY_EXISTS);
    /* a builtin id given its secret again keeps one value, the newest */
    {
        unsigned long mark = keyward_secrets_mark();
        uint8_t v[32];
        size_t n = 0;
        CHECK_STATUS(keyward_secret_put((const uint8_t *)"pkcs11:object=app", 17, "pin-value",
                                        (const uint8_t *)"new", 3),
                     PSA_SUCCESS);
        keyward_secrets_bind_since(mark, app);
        CHECK(keyward_secrets_count(app) == 1);
        CHECK_STATUS(keyward_secret_get((const uint8_t *)"pkcs11:object=app", 17, "pin-value", v,
                                        sizeof(v), &n),
                     PSA_SUCCESS);
        CHECK(n == 3 && memcmp(v, "new", 3) == 0);
    }
    /* close: the secret is gone, the declaration stays */
    (void)keyward_key_close(app);
    CHECK(keyward_secrets_count(app) == 0);
    CHECK_STATUS(keyward_builtin_copy(0, &b), PSA_SUCCESS);
    CHECK(b.id == app);
    keyward_builtin_clear();
}

static void *open_many(void *arg)
{
    const psa_key_type_t ec = PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1);
    psa_key_id_t *id = arg;
    char keyref[32];

    snprintf(keyref, sizeof(keyref), "atecc608:slot=%u", (unsigned)(*id));
    for (int i = 0; i < 2000; i++) {
        if (keyward_builtin_open(keyref, ec, 256, PSA_KEY_USAGE_SIGN_HASH,
                                 PSA_ALG_ECDSA(PSA_ALG_ANY_HASH), 0, id) != PSA_SUCCESS) {
            *id = 0;
            break;
        }
    }
    return NULL;
}

static void builtin_threads(void)
{
    pthread_t t[4];
    psa_key_id_t ids[4] = {0, 1, 2, 3};
    keyward_builtin_t b;
    size_t n = 0;

    keyward_builtin_clear();
    for (int i = 0; i < 4; i++) {
        CHECK(pthread_create(&t[i], NULL, open_many, &ids[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
    }
    while (keyward_builtin_copy(n, &b) == PSA_SUCCESS) {
        n++;
    }
    CHECK(n == 4);
    for (int i = 0; i < 4; i++) {
        CHECK(ids[i] != 0);
        for (int j = 0; j < i; j++) {
            CHECK(ids[i] != ids[j]);
        }
    }
    keyward_builtin_clear();
}

static void deinit_twice(void)
{
    CHECK_STATUS(keyward_init(), PSA_SUCCESS);
    CHECK_STATUS(keyward_secret_put((const uint8_t *)"r", 1, "auth", (const uint8_t *)"x", 1),
                 PSA_SUCCESS);
    keyward_deinit();
    CHECK(keyward_secrets_count(0) == 0);
    keyward_deinit();
    CHECK_STATUS(keyward_init(), PSA_SUCCESS);
}

int main(void)
{
    CHECK_STATUS(keyward_init(), PSA_SUCCESS);
    redaction();
    error_texts();
    rfc7512();
    store();
    no_secret_in_key_buffers();
#if defined(KEYWARD_WITH_ATECC608) /* its slots are the builtin keys these open */
    builtins();
    builtin_threads();
#else
    printf("test_secrets: skip builtins, builtin_threads (no atecc608 backend in this build)\n");
    (void)builtins;
    (void)builtin_threads;
#endif
    deinit_twice();
    keyward_deinit();
    return kw_test_end("unit.secrets");
}
