/*
 * TPM 2.0 backend: RSA-PSS that real TPMs get right.
 *
 * TLS 1.3 and PSA_ALG_RSA_PSS want salt length = hash length.  libtpms
 * (swtpm) signs that way, but many real TPMs (older firmware, FIPS mode
 * off) use the maximum salt length (tpm2-openssl #114: "expected 32
 * retrieved 222").  So after a TPM PSS signature keyward checks its salt
 * length against the key's public half.  When it differs, keyward makes
 * the signature itself: EMSA-PSS encoding in software (salt = hash
 * length), then TPM2_RSA_Decrypt with scheme TPM_ALG_NULL (raw RSA) with
 * the key, where the key's attributes allow it (decrypt set, not
 * restricted, scheme NULL).  Where they do not, PSS is refused with a
 * reason ("this key can do TLS 1.2 only").  The verdict is remembered per
 * key (by name) for the life of the process.
 *
 * The encoding is Mbed TLS's own: mbedtls_rsa_rsassa_pss_sign_ext() with a
 * throw-away software key of the same modulus size, whose public
 * operation then recovers the encoded message EM = sig^e mod n'.  EMSA-PSS
 * depends only on the modulus length, so EM is exactly what the TPM key
 * must raise to its private exponent.  This costs one software key
 * generation per modulus size and process (only on TPMs that need the
 * fallback) and one software RSA private operation per signature, but no
 * hand-written padding code; Mbed TLS exports no EMSA-PSS encoder of its
 * own, in 3.6 or in TF-PSA-Crypto 1.x (4.x).
 */
#include <string.h>

#include <tss2/tss2_esys.h>

#include "keyward/port/backend.h"
#include "mbedtls/build_info.h"
#include "mbedtls/md.h"
#include "mbedtls/platform_util.h"
#include "mbedtls/psa_util.h"
#if MBEDTLS_VERSION_MAJOR >= 4
#include "mbedtls/private/rsa.h"
#else
#include "mbedtls/rsa.h"
#endif
#include "tpm2_key.h"

typedef enum { PSS_UNKNOWN = 0, PSS_TPM, PSS_SOFTWARE, PSS_REFUSED } pss_mode_t;

#define PSS_KNOWN_MAX 16
#define ENC_KEYS_MAX 4

/* All state below is used under the backend's mutex (kw_tpm2_run_op). */
static struct {
    TPM2B_NAME name;
    pss_mode_t mode;
} known[PSS_KNOWN_MAX];
static size_t known_next;

static struct {
    size_t bits;
    mbedtls_rsa_context rsa;
} enc_keys[ENC_KEYS_MAX];

static const char *twin_keyref; /* test hook: emulate a max-salt TPM */
static unsigned long emulated_signs;

static pss_mode_t known_get(const TPM2B_NAME *name)
{
    for (size_t i = 0; i < PSS_KNOWN_MAX; i++) {
        if (known[i].mode != PSS_UNKNOWN && known[i].name.size == name->size &&
            memcmp(known[i].name.name, name->name, name->size) == 0) {
            return known[i].mode;
        }
    }
    return PSS_UNKNOWN;
}

static void known_set(const TPM2B_NAME *name, pss_mode_t mode)
{
    known[known_next].name = *name;
    known[known_next].mode = mode;
    known_next = (known_next + 1) % PSS_KNOWN_MAX;
}

static mbedtls_md_type_t md_of(TPMI_ALG_HASH h)
{
    switch (h) {
    case TPM2_ALG_SHA1:
        return MBEDTLS_MD_SHA1;
    case TPM2_ALG_SHA256:
        return MBEDTLS_MD_SHA256;
    case TPM2_ALG_SHA384:
        return MBEDTLS_MD_SHA384;
    case TPM2_ALG_SHA512:
        return MBEDTLS_MD_SHA512;
    default:
        return MBEDTLS_MD_NONE;
    }
}

static int rng(void *ctx, unsigned char *out, size_t len)
{
    return mbedtls_psa_get_random(ctx, out, len);
}

/* The public half of a TPM RSA key as an Mbed TLS context. */
static int rsa_public_of(const TPMT_PUBLIC *p, mbedtls_rsa_context *rsa)
{
    uint32_t e = p->parameters.rsaDetail.exponent ? p->parameters.rsaDetail.exponent : 65537;
    uint8_t eb[4] = {(uint8_t)(e >> 24), (uint8_t)(e >> 16), (uint8_t)(e >> 8), (uint8_t)e};

    return mbedtls_rsa_import_raw(rsa, p->unique.rsa.buffer, p->unique.rsa.size, NULL, 0, NULL, 0,
                                  NULL, 0, eb, sizeof(eb)) != 0 ||
           mbedtls_rsa_complete(rsa) != 0;
}

/* EMSA-PSS-ENCODE(hash, salt_len) for a bits-bit modulus, through Mbed
 * TLS's signer and a throw-away key (see the top of this file).
 * salt_len in bytes. */
static psa_status_t pss_encode(size_t bits, TPMI_ALG_HASH hash, const uint8_t *digest,
                               size_t digest_len, int salt_len, uint8_t *em)
{
    uint8_t tmp[512];
    mbedtls_rsa_context *rsa = NULL;
    mbedtls_md_type_t md = md_of(hash);
    size_t i;
    int ret;

    if (bits / 8 > sizeof(tmp) || md == MBEDTLS_MD_NONE) {
        return PSA_ERROR_NOT_SUPPORTED;
    }
    for (i = 0; i < ENC_KEYS_MAX && enc_keys[i].bits != 0; i++) {
        if (enc_keys[i].bits == bits) {
            rsa = &enc_keys[i].rsa;
            break;
        }
    }
    if (rsa == NULL) {
        if (i == ENC_KEYS_MAX) {
            i = ENC_KEYS_MAX - 1; /* replace the last one */
            mbedtls_rsa_free(&enc_keys[i].rsa);
        }
        enc_keys[i].bits = 0;
        mbedtls_rsa_init(&enc_keys[i].rsa);
        if (mbedtls_rsa_gen_key(&enc_keys[i].rsa, rng, MBEDTLS_PSA_RANDOM_STATE, (unsigned int)bits,
                                65537) != 0) {
            mbedtls_rsa_free(&enc_keys[i].rsa);
            keyward_set_error("RSA-PSS: cannot make the software encoding key");
            return PSA_ERROR_INSUFFICIENT_MEMORY;
        }
        enc_keys[i].bits = bits;
        rsa = &enc_keys[i].rsa;
    }
    ret = mbedtls_rsa_set_padding(rsa, MBEDTLS_RSA_PKCS_V21, md);
    if (ret == 0) {
        ret = mbedtls_rsa_rsassa_pss_sign_ext(rsa, rng, MBEDTLS_PSA_RANDOM_STATE, md,
                                              (unsigned int)digest_len, digest, salt_len, tmp);
    }
    if (ret == 0) {
        ret = mbedtls_rsa_public(rsa, tmp, em); /* EM = sig'^e mod n' */
    }
    mbedtls_platform_zeroize(tmp, sizeof(tmp));
    if (ret != 0) {
        keyward_set_error("RSA-PSS: software encoding failed (-0x%04x)", (unsigned)-ret);
        return PSA_ERROR_HARDWARE_FAILURE;
    }
    return PSA_SUCCESS;
}

int kw_tpm2_pss_raw_allowed(const TPMT_PUBLIC *p)
{
    return (p->objectAttributes & TPMA_OBJECT_DECRYPT) &&
           !(p->objectAttributes & TPMA_OBJECT_RESTRICTED) &&
           p->parameters.rsaDetail.scheme.scheme == TPM2_ALG_NULL;
}

/* Raw RSA with the TPM key: out = in^d mod n (TPM2_RSA_Decrypt, scheme
 * NULL).  The key's auth value is already set on tr. */
static psa_status_t raw_rsa(kw_tpm2_conn_t *c, const kw_tpm2_ref_t *r, ESYS_TR tr, size_t n,
                            const uint8_t *in, uint8_t *out, TSS2_RC *rc)
{
    ESYS_TR session = ESYS_TR_NONE;
    TPM2B_PUBLIC_KEY_RSA cipher;
    TPMT_RSA_DECRYPT scheme;
    TPM2B_DATA label;
    TPM2B_PUBLIC_KEY_RSA *msg = NULL;
    psa_status_t status;

    memset(&cipher, 0, sizeof(cipher));
    memset(&scheme, 0, sizeof(scheme));
    memset(&label, 0, sizeof(label));
    status = kw_tpm2_session_get(c, r, kw_tpm2_key_has_secret(r), 0, &session, rc);
    if (status != PSA_SUCCESS) {
        return status;
    }
    cipher.size = (UINT16)n;
    memcpy(cipher.buffer, in, n);
    scheme.scheme = TPM2_ALG_NULL;
    *rc = Esys_RSA_Decrypt(c->esys, tr, session, ESYS_TR_NONE, ESYS_TR_NONE, &cipher, &scheme,
                           &label, &msg);
    if (*rc != TSS2_RC_SUCCESS) {
        return kw_tpm2_fail_rc("TPM2_RSA_Decrypt (raw RSA for RSA-PSS)", *rc);
    }
    if (msg->size > n) {
        status = PSA_ERROR_HARDWARE_FAILURE;
    } else {
        kw_tpm2_put_padded(out, n, msg->buffer, msg->size);
        status = PSA_SUCCESS;
    }
    Esys_Free(msg);
    return status;
}

/* Salt check: 0 salt = hash length, 1 another salt length (a valid PSS
 * signature otherwise), -1 not a valid signature at all. */
static int pss_salt_check(const TPMT_PUBLIC *p, TPMI_ALG_HASH hash, const uint8_t *digest,
                          size_t digest_len, const uint8_t *sig)
{
    mbedtls_rsa_context rsa;
    mbedtls_md_type_t md = md_of(hash);
    int verdict = -1;

    mbedtls_rsa_init(&rsa);
    if (rsa_public_of(p, &rsa) == 0 &&
        mbedtls_rsa_set_padding(&rsa, MBEDTLS_RSA_PKCS_V21, md) == 0) {
        if (mbedtls_rsa_rsassa_pss_verify_ext(&rsa, md, (unsigned int)digest_len, digest, md,
                                              (int)digest_len, sig) == 0) {
            verdict = 0;
        } else if (mbedtls_rsa_rsassa_pss_verify_ext(&rsa, md, (unsigned int)digest_len, digest, md,
                                                     MBEDTLS_RSA_SALT_LEN_ANY, sig) == 0) {
            verdict = 1;
        }
    }
    mbedtls_rsa_free(&rsa);
    return verdict;
}

/* Test hook: instead of TPM2_Sign(RSAPSS), sign as a max-salt TPM would,
 * with the raw RSA of the twin key (the same key pair imported with the
 * decrypt attribute). */
static psa_status_t emulate_max_salt(kw_tpm2_conn_t *c, const kw_tpm2_sign_arg_t *a, uint8_t *sig,
                                     TSS2_RC *rc)
{
    uint8_t ref[KEYWARD_REF_MAX], em[512];
    size_t ref_len = 0, n = a->bits / 8;
    kw_tpm2_ref_t tr;
    kw_tpm2_key_obj_t tk;
    TPM2B_AUTH empty;
    psa_status_t status = kw_tpm2_ref_from_keyref(twin_keyref, ref, sizeof(ref), &ref_len);

    if (status == PSA_SUCCESS) {
        status = kw_tpm2_ref_parse(ref, ref_len, &tr);
    }
    if (status == PSA_SUCCESS) {
        status = kw_tpm2_key_get(c, &tr, &tk, rc);
    }
    if (status == PSA_SUCCESS) {
        /* The twin has no auth value.  Zeroed, not left as stack garbage:
         * a size above 64 makes Esys_TR_SetAuth fail with
         * TSS2_ESYS_RC_BAD_SIZE, which the Debug/ASan build's stack layout
         * hit on every call. */
        memset(&empty, 0, sizeof(empty));
        *rc = Esys_TR_SetAuth(c->esys, tk.tr, &empty);
        status = *rc == TSS2_RC_SUCCESS ? PSA_SUCCESS
                                        : kw_tpm2_fail_rc("Esys_TR_SetAuth (PSS test double)", *rc);
    }
    if (status == PSA_SUCCESS) {
        status =
            /* The maximum, emLen - hLen - 2 (222 for RSA-2048 and SHA-256, as
             * in tpm2-openssl #114); MBEDTLS_RSA_SALT_LEN_ANY would cap it at
             * the hash length. */
            pss_encode(a->bits, a->hash, a->digest, a->digest_len,
                       (int)((a->bits + 6) / 8 - a->digest_len - 2), em);
    }
    if (status == PSA_SUCCESS) {
        status = raw_rsa(c, &tr, tk.tr, n, em, sig, rc);
    }
    if (status == PSA_SUCCESS) {
        *a->sig_len = n;
    }
    emulated_signs++;
    return status;
}

psa_status_t kw_tpm2_pss_sign(kw_tpm2_conn_t *c, const kw_tpm2_ref_t *r, kw_tpm2_key_obj_t *k,
                              const kw_tpm2_sign_arg_t *a, TSS2_RC *rc)
{
    const TPMT_PUBLIC *p = &k->pub.publicArea;
    size_t n = a->bits / 8;
    uint8_t em[512];
    TPM2B_NAME name;
    pss_mode_t mode;
    psa_status_t status;
    int verdict;

    /* The verdicts and encoding keys learnt here go with the connections. */
    kw_tpm2_on_release(kw_tpm2_pss_reset);
    if (n > sizeof(em) || a->sig_size < n) {
        return n > sizeof(em) ? PSA_ERROR_NOT_SUPPORTED : PSA_ERROR_BUFFER_TOO_SMALL;
    }
    if (!kw_tpm2_tr_name(c->esys, k->tr, &name)) {
        return PSA_ERROR_HARDWARE_FAILURE;
    }
    mode = known_get(&name);
    if (mode == PSS_UNKNOWN || mode == PSS_TPM) {
        if (twin_keyref != NULL) {
            status = emulate_max_salt(c, a, a->sig, rc);
            if (status == PSA_SUCCESS) {
                /* the twin may have taken the key's slot: get it back */
                status = kw_tpm2_key_get(c, r, k, rc);
            }
            if (status == PSA_SUCCESS) {
                status = kw_tpm2_sign_set_auth(c, r, k, rc, NULL);
            }
        } else {
            status = kw_tpm2_sign_tpm(c, r, k, a, rc);
        }
        if (status != PSA_SUCCESS || mode == PSS_TPM) {
            return status;
        }
        verdict = pss_salt_check(p, a->hash, a->digest, a->digest_len, a->sig);
        if (verdict == 0) {
            known_set(&name, PSS_TPM);
            return PSA_SUCCESS;
        }
        if (verdict < 0) {
            keyward_set_error("the TPM's RSA-PSS signature does not verify with the key's public "
                              "half");
            return PSA_ERROR_HARDWARE_FAILURE;
        }
        mode = kw_tpm2_pss_raw_allowed(p) ? PSS_SOFTWARE : PSS_REFUSED;
        known_set(&name, mode);
    }
    if (mode == PSS_REFUSED) {
        keyward_set_error("this TPM signs RSA-PSS with a salt length other than the hash length "
                          "(TLS 1.3 needs the hash length), and the key cannot do raw RSA (no "
                          "decrypt attribute): this key can do TLS 1.2 only");
        return PSA_ERROR_NOT_SUPPORTED;
    }
    status = pss_encode(a->bits, a->hash, a->digest, a->digest_len, (int)a->digest_len, em);
    if (status == PSA_SUCCESS) {
        status = raw_rsa(c, r, k->tr, n, em, a->sig, rc);
    }
    mbedtls_platform_zeroize(em, sizeof(em));
    if (status == PSA_SUCCESS) {
        *a->sig_len = n;
    }
    return status;
}

int kw_tpm2_pss_probe(kw_tpm2_conn_t *c, const kw_tpm2_ref_t *r, int secret, ESYS_TR tr,
                      const TPMT_PUBLIC *p, TSS2_RC *rc)
{
    ESYS_TR session = ESYS_TR_NONE;
    static const uint8_t digest[32] = {0x6b, 0x77}; /* any 32 bytes */
    TPM2B_DIGEST d;
    TPMT_SIG_SCHEME scheme;
    TPMT_TK_HASHCHECK ticket;
    TPMT_SIGNATURE *sig = NULL;
    uint8_t buf[512];
    size_t n = p->parameters.rsaDetail.keyBits / 8u;
    int verdict = -1;

    kw_tpm2_on_release(kw_tpm2_pss_reset);
    if (twin_keyref != NULL) {
        return 1; /* the test double plays a max-salt TPM */
    }
    memset(&d, 0, sizeof(d));
    memset(&scheme, 0, sizeof(scheme));
    memset(&ticket, 0, sizeof(ticket));
    d.size = sizeof(digest);
    memcpy(d.buffer, digest, sizeof(digest));
    scheme.scheme = TPM2_ALG_RSAPSS;
    scheme.details.rsapss.hashAlg = TPM2_ALG_SHA256;
    ticket.tag = TPM2_ST_HASHCHECK;
    ticket.hierarchy = TPM2_RH_NULL;
    if (kw_tpm2_session_get(c, r, secret, 0, &session, rc) != PSA_SUCCESS) {
        return -1;
    }
    *rc = Esys_Sign(c->esys, tr, session, ESYS_TR_NONE, ESYS_TR_NONE, &d, &scheme, &ticket, &sig);
    if (*rc == TSS2_RC_SUCCESS && sig->signature.rsapss.sig.size <= n && n <= sizeof(buf)) {
        kw_tpm2_put_padded(buf, n, sig->signature.rsapss.sig.buffer,
                           sig->signature.rsapss.sig.size);
        verdict = pss_salt_check(p, TPM2_ALG_SHA256, digest, sizeof(digest), buf);
    }
    Esys_Free(sig);
    return verdict;
}

void kw_tpm2_pss_reset(void)
{
    for (size_t i = 0; i < ENC_KEYS_MAX; i++) {
        if (enc_keys[i].bits != 0) {
            mbedtls_rsa_free(&enc_keys[i].rsa); /* zeroises the key */
            enc_keys[i].bits = 0;
        }
    }
    memset(known, 0, sizeof(known));
    known_next = 0;
}

void keyward_tpm2_test_pss_max_salt(const char *twin)
{
    twin_keyref = twin;
    for (size_t i = 0; i < PSS_KNOWN_MAX; i++) {
        known[i].mode = PSS_UNKNOWN;
    }
}

unsigned long keyward_tpm2_test_pss_emulated(void)
{
    return emulated_signs;
}
