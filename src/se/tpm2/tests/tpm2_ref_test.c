/*
 * Unit tests of the TPM backend's parsers (no TPM needed): KEYREF grammar,
 * the ref TLV (strict, every truncation and bit flip of a valid ref either
 * parses to the same kind of key or is refused), TSS2 PRIVATE KEY PEM/DER.
 */
#include <stdio.h>
#include <string.h>

#include <tss2/tss2_mu.h>

#include "core/keybuf.h"
#include "keyward/port/backend.h"
#include "keyward/keyward.h"
#include "keyward/port/psa_driver.h"
#include "se/tpm2/tpm2_internal.h"

#include "kwcheck.h"

static void test_keyref(void)
{
    kw_tpm2_keyref_t kr;

    CHECK_TEXT(kw_tpm2_keyref_parse("tpm2:file=/a/b.pem", 1, &kr) == PSA_SUCCESS &&
                   strcmp(kr.file, "/a/b.pem") == 0 && !kr.has_tcti && !kr.has_auth,
               "file=");
    CHECK_TEXT(kw_tpm2_keyref_parse("tpm2:handle=0x81000001;auth=pw;tcti=swtpm:host=h,port=1", 1,
                                    &kr) == PSA_SUCCESS &&
                   kr.handle == 0x81000001u && kr.auth_len == 2 && memcmp(kr.auth, "pw", 2) == 0 &&
                   strcmp(kr.tcti, "swtpm:host=h,port=1") == 0,
               "handle=;auth=;tcti=");
    CHECK_TEXT(kw_tpm2_keyref_parse("tpm2:file=a%3Bb;auth=hex:00ff;parent-auth=str:x", 1, &kr) ==
                       PSA_SUCCESS &&
                   strcmp(kr.file, "a;b") == 0 && kr.auth_len == 2 && kr.auth[1] == 0xff &&
                   kr.parent_auth_len == 1 && kr.parent_auth[0] == 'x',
               "%-escape, hex: and str: auth");
    CHECK_TEXT(kw_tpm2_keyref_parse("tpm2:", 0, &kr) == PSA_SUCCESS, "bare tpm2: for generation");
    CHECK_TEXT(kw_tpm2_keyref_parse("tpm2:parent=0x81000001", 0, &kr) == PSA_SUCCESS &&
                   kr.parent == 0x81000001u,
               "parent=");
    static const char *bad[] = {
        "tpm2:",                         /* no key */
        "tpm2:file=a;handle=0x81000001", /* both */
        "tpm2:file=a;file=b",            /* repeated */
        "tpm2:handle=0x80000001",        /* transient */
        "tpm2:handle=0x1ffffffff",       /* > 32 bits */
        "tpm2:handle=-1",
        "tpm2:handle=",
        "tpm2:file=",
        "tpm2:file=a;bogus=1",
        "tpm2:file=a;auth", /* no '=' */
        "tpm2:file=a%2",    /* truncated escape */
        "tpm2:file=a%zz",
        "tpm2:file=a%00b",        /* NUL in a path */
        "tpm2:file=a;auth=hex:0", /* odd hex */
        "tpm2:file=a;auth=hex:zz",
        "tpm2:file=a;parent=0x40000007", /* parent only at generation, and only owner/persistent */
        "pkcs11:file=a",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char what[96];
        snprintf(what, sizeof(what), "refused: %s", bad[i]);
        CHECK_TEXT(kw_tpm2_keyref_parse(bad[i], 1, &kr) == PSA_ERROR_INVALID_ARGUMENT, what);
    }
    {
        char longauth[200] = "tpm2:file=a;auth=";
        memset(longauth + strlen(longauth), 'x', 65);
        CHECK_TEXT(kw_tpm2_keyref_parse(longauth, 1, &kr) == PSA_ERROR_INVALID_ARGUMENT,
                   "auth longer than 64 bytes refused");
    }
}

/* A plausible TSS2 key: an ECC P-256 public area and a private blob. */
static void make_keyfile(kw_tpm2_keyfile_t *kf, uint32_t parent, int empty_auth)
{
    TPM2B_PUBLIC pub;
    TPM2B_PRIVATE priv;
    size_t off = 0;

    memset(kf, 0, sizeof(*kf));
    memset(&pub, 0, sizeof(pub));
    pub.publicArea.type = TPM2_ALG_ECC;
    pub.publicArea.nameAlg = TPM2_ALG_SHA256;
    pub.publicArea.objectAttributes = TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_USERWITHAUTH;
    pub.publicArea.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
    pub.publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
    pub.publicArea.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
    pub.publicArea.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
    pub.publicArea.unique.ecc.x.size = 32;
    pub.publicArea.unique.ecc.y.size = 32;
    memset(pub.publicArea.unique.ecc.x.buffer, 0x11, 32);
    memset(pub.publicArea.unique.ecc.y.buffer, 0x22, 32);
    Tss2_MU_TPM2B_PUBLIC_Marshal(&pub, kf->pub, sizeof(kf->pub), &off);
    kf->pub_len = off;
    memset(&priv, 0, sizeof(priv));
    priv.size = 126;
    memset(priv.buffer, 0x5a, priv.size);
    off = 0;
    Tss2_MU_TPM2B_PRIVATE_Marshal(&priv, kf->priv, sizeof(kf->priv), &off);
    kf->priv_len = off;
    kf->parent = parent;
    kf->empty_auth = empty_auth;
}

static void test_keyfile(void)
{
    kw_tpm2_keyfile_t kf, back;
    char pem[4096];
    size_t pem_len = 0;
    static const uint32_t parents[] = {0x40000001u, 0x81000001u, 0x81800000u};

    for (size_t i = 0; i < 3; i++) {
        for (int ea = 0; ea < 2; ea++) {
            make_keyfile(&kf, parents[i], ea);
            CHECK_TEXT(kw_tpm2_keyfile_write_pem(&kf, pem, sizeof(pem), &pem_len) == PSA_SUCCESS &&
                           strncmp(pem, "-----BEGIN TSS2 PRIVATE KEY-----\n", 33) == 0 &&
                           pem_len == strlen(pem),
                       "write PEM");
            CHECK_TEXT(kw_tpm2_keyfile_parse((const uint8_t *)pem, pem_len, &back) == PSA_SUCCESS &&
                           back.parent == kf.parent && back.empty_auth == kf.empty_auth &&
                           back.pub_len == kf.pub_len &&
                           memcmp(back.pub, kf.pub, kf.pub_len) == 0 &&
                           back.priv_len == kf.priv_len &&
                           memcmp(back.priv, kf.priv, kf.priv_len) == 0,
                       "PEM round trip");
        }
    }
    CHECK_TEXT(kw_tpm2_keyfile_write_pem(&kf, pem, 100, &pem_len) == PSA_ERROR_BUFFER_TOO_SMALL,
               "PEM into a short buffer");
    /* Every truncation of the PEM's base64 body must be refused cleanly. */
    make_keyfile(&kf, 0x40000001u, 1);
    kw_tpm2_keyfile_write_pem(&kf, pem, sizeof(pem), &pem_len);
    for (size_t cut = 0; cut < pem_len; cut += 7) {
        char tmp[4096];
        memcpy(tmp, pem, cut);
        strcpy(tmp + cut, "\n-----END TSS2 PRIVATE KEY-----\n");
        if (kw_tpm2_keyfile_parse((const uint8_t *)tmp, strlen(tmp), &back) == PSA_SUCCESS &&
            cut < pem_len - 40) {
            CHECK_TEXT(0, "truncated PEM accepted");
        }
    }
    CHECK_TEXT(kw_tpm2_keyfile_parse((const uint8_t *)"\x30\x00", 2, &back) ==
                   PSA_ERROR_INVALID_ARGUMENT,
               "empty DER SEQUENCE refused");
    CHECK_TEXT(kw_tpm2_keyfile_parse((const uint8_t *)"hello", 5, &back) ==
                   PSA_ERROR_INVALID_ARGUMENT,
               "not PEM refused");
}

static void test_ref(void)
{
    kw_tpm2_keyfile_t kf;
    kw_tpm2_keyref_t kr;
    kw_tpm2_ref_t r;
    uint8_t ref[KEYWARD_REF_MAX], mut[KEYWARD_REF_MAX];
    size_t len = 0;

    make_keyfile(&kf, 0x40000001u, 1);
    kw_tpm2_keyref_parse("tpm2:file=x;tcti=swtpm:;auth=a;parent-auth=b", 1, &kr);
    CHECK_TEXT(kw_tpm2_ref_build(&kf, 0, &kr, ref, sizeof(ref), &len) == PSA_SUCCESS,
               "build blob ref");
    CHECK_TEXT(kw_tpm2_ref_parse(ref, len, &r) == PSA_SUCCESS && r.handle == 0 &&
                   r.parent == 0x40000001u && r.empty_auth && r.pub_len == kf.pub_len &&
                   r.priv_len == kf.priv_len && r.tcti_len == 6,
               "parse blob ref");
    {
        /* auth values stay out of the ref (its parser refuses auth
         * records), in process memory for it */
        uint8_t a[KW_TPM2_AUTH_MAX];
        size_t a_len = 0;
        CHECK_TEXT(kw_tpm2_ref_secret(&r, KW_TPM2_TAG_AUTH, a, &a_len) && a_len == 1 &&
                       a[0] == 'a' && kw_tpm2_ref_secret(&r, KW_TPM2_TAG_PARENT_AUTH, a, &a_len) &&
                       a_len == 1 && a[0] == 'b',
                   "auth values kept for the ref");
    }
    CHECK_TEXT(kw_tpm2_ref_build(&kf, 0, &kr, ref, 100, &len) == PSA_ERROR_INVALID_ARGUMENT,
               "ref into a short buffer");
    kw_tpm2_ref_build(&kf, 0, &kr, ref, sizeof(ref), &len);
    /* Truncations: always refused (a ref ends exactly after its last record
     * and the required records are at the front). */
    for (size_t cut = 0; cut < len; cut++) {
        if (kw_tpm2_ref_parse(ref, cut, &r) == PSA_SUCCESS && cut < 3 + 7 + 4 + 3 + kf.pub_len) {
            CHECK_TEXT(0, "truncated ref accepted");
        }
    }
    /* Bit flips in the framing: never a crash; accepted only if still well formed. */
    for (size_t i = 0; i < len; i++) {
        memcpy(mut, ref, len);
        mut[i] ^= 0x80;
        (void)kw_tpm2_ref_parse(mut, len, &r);
    }
    /* Trailing byte, wrong magic, wrong version. */
    memcpy(mut, ref, len);
    mut[len] = 0;
    CHECK_TEXT(kw_tpm2_ref_parse(mut, len + 1, &r) == PSA_ERROR_DATA_CORRUPT, "trailing byte");
    mut[0] = 'X';
    CHECK_TEXT(kw_tpm2_ref_parse(mut, len, &r) == PSA_ERROR_DATA_CORRUPT, "wrong magic");
    memcpy(mut, ref, len);
    mut[2] = 9;
    CHECK_TEXT(kw_tpm2_ref_parse(mut, len, &r) == PSA_ERROR_NOT_SUPPORTED, "unknown version");
    /* Handle refs. */
    CHECK_TEXT(kw_tpm2_ref_build(NULL, 0x81000002u, NULL, ref, sizeof(ref), &len) == PSA_SUCCESS &&
                   kw_tpm2_ref_parse(ref, len, &r) == PSA_SUCCESS && r.handle == 0x81000002u,
               "handle ref");
    {
        /* records out of order / repeated / both kinds */
        static const uint8_t dup[] = {'K', '2', 1, 1, 0, 4, 0x81, 0, 0, 2, 1, 0, 4, 0x81, 0, 0, 3};
        static const uint8_t both[] = {'K', '2', 1, 1, 0, 4, 0x81, 0, 0, 2, 2, 0, 4, 0x40, 0, 0, 1};
        static const uint8_t transient[] = {'K', '2', 1, 1, 0, 4, 0x80, 0, 0, 2};
        CHECK_TEXT(kw_tpm2_ref_parse(dup, sizeof(dup), &r) == PSA_ERROR_DATA_CORRUPT,
                   "repeated tag");
        {
            /* a ref with an auth record, as keyward stored them before
             * auth values left refs: refused with a reason, also by the
             * driver when PSA hands it such a stored key buffer */
            static const uint8_t with_auth[] = {'K', '2', 1,    1, 0, 4,   0x81, 0,
                                                0,   2,   0x11, 0, 3, 'p', 'w',  'd'};
            uint8_t kbuf[64], sig[64], hash[32] = {0};
            size_t kb_len = 0, sig_len = 0;
            keyward_keybuf_t kb = {3, PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1), 256,
                                   with_auth, sizeof(with_auth)};
            psa_key_attributes_t attr = PSA_KEY_ATTRIBUTES_INIT;
            CHECK_TEXT(kw_tpm2_ref_parse(with_auth, sizeof(with_auth), &r) ==
                               PSA_ERROR_INVALID_ARGUMENT &&
                           strstr(keyward_last_error(), "auth value") != NULL,
                       "ref carrying an auth value refused");
            psa_set_key_type(&attr, kb.type);
            psa_set_key_lifetime(&attr, PSA_KEY_LIFETIME_FROM_PERSISTENCE_AND_LOCATION(
                                            PSA_KEY_PERSISTENCE_DEFAULT, KEYWARD_LOCATION_TPM2));
            CHECK_TEXT(keyward_keybuf_write(&kb, kbuf, sizeof(kbuf), &kb_len) == PSA_SUCCESS &&
                           keyward_psa_sign_hash(&attr, kbuf, kb_len,
                                                 PSA_ALG_ECDSA(PSA_ALG_SHA_256), hash, 32, sig,
                                                 sizeof(sig),
                                                 &sig_len) == PSA_ERROR_INVALID_ARGUMENT &&
                           strstr(keyward_last_error(), "auth value") != NULL,
                       "stored key buffer carrying an auth value refused");
        }
        CHECK_TEXT(kw_tpm2_ref_parse(both, sizeof(both), &r) == PSA_ERROR_DATA_CORRUPT,
                   "handle and parent");
        CHECK_TEXT(kw_tpm2_ref_parse(transient, sizeof(transient), &r) == PSA_ERROR_DATA_CORRUPT,
                   "transient handle");
    }
}

int main(void)
{
    kw_check_detail = keyward_last_error;
    test_keyref();
    test_keyfile();
    test_ref();
    return kw_test_end("tpm2_ref_test");
}
