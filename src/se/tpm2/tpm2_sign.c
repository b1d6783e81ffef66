/*
 * TPM 2.0 backend: sign_hash (ECDSA, RSASSA, RSAPSS with TPM2_Sign).
 */
#include <string.h>

#include <tss2/tss2_esys.h>

#include "keyward/port/backend.h"
#include "mbedtls/platform_util.h"
#include "tpm2_ops.h"

/* ---- sign ----------------------------------------------------------------- */

static TPMI_ALG_HASH tpm_hash_of(psa_algorithm_t h)
{
    switch (h) {
    case PSA_ALG_SHA_1:
        return TPM2_ALG_SHA1;
    case PSA_ALG_SHA_256:
        return TPM2_ALG_SHA256;
    case PSA_ALG_SHA_384:
        return TPM2_ALG_SHA384;
    case PSA_ALG_SHA_512:
        return TPM2_ALG_SHA512;
    default:
        return TPM2_ALG_NULL;
    }
}

static const char *scheme_name(TPMI_ALG_SIG_SCHEME s)
{
    switch (s) {
    case TPM2_ALG_ECDSA:
        return "ECDSA";
    case TPM2_ALG_RSASSA:
        return "RSASSA (PKCS#1 v1.5)";
    case TPM2_ALG_RSAPSS:
        return "RSAPSS";
    default:
        return "another scheme";
    }
}

/* What the key's public area allows, checked before the TPM is asked, so
 * the application gets a clear reason. */
static psa_status_t check_key_allows(const TPMT_PUBLIC *p, const kw_tpm2_sign_arg_t *s)
{
    const TPMT_ASYM_SCHEME *ks;

    if (p->objectAttributes & TPMA_OBJECT_RESTRICTED) {
        keyward_set_error("the TPM key is restricted (an attestation key): it signs only digests "
                          "the TPM computed itself, not TLS/PSA hashes");
        return PSA_ERROR_NOT_PERMITTED;
    }
    if (!(p->objectAttributes & TPMA_OBJECT_USERWITHAUTH)) {
        keyward_set_error("the TPM key requires a policy session (userWithAuth clear); keyward "
                          "authorises with the key's auth value only");
        return PSA_ERROR_NOT_PERMITTED;
    }
    ks = (const TPMT_ASYM_SCHEME *)(p->type == TPM2_ALG_ECC
                                        ? (const void *)&p->parameters.eccDetail.scheme
                                        : (const void *)&p->parameters.rsaDetail.scheme);
    if (ks->scheme != TPM2_ALG_NULL &&
        (ks->scheme != s->scheme || ks->details.anySig.hashAlg != s->hash)) {
        keyward_set_error("the TPM key's scheme is fixed to %s with hash 0x%04x; it cannot sign "
                          "with %s and hash 0x%04x",
                          scheme_name(ks->scheme), (unsigned)ks->details.anySig.hashAlg,
                          scheme_name(s->scheme), (unsigned)s->hash);
        return PSA_ERROR_NOT_PERMITTED;
    }
    return PSA_SUCCESS;
}

static psa_status_t sign_op(kw_tpm2_conn_t *c, const kw_tpm2_ref_t *r, void *arg, TSS2_RC *rc)
{
    kw_tpm2_sign_arg_t *s = arg;
    kw_tpm2_key_obj_t k;
    psa_key_type_t t = 0;
    size_t b = 0;
    ESYS_TR session = ESYS_TR_NONE;
    /* The session first: starting it may need the SRK, and loading the SRK
     * may evict the key. */
    psa_status_t status = kw_tpm2_session_get(c, r, kw_tpm2_key_has_secret(r), 0, &session, rc);
    int have_auth = 0;

    if (status == PSA_SUCCESS) {
        status = kw_tpm2_key_get(c, r, &k, rc);
    }

    if (status != PSA_SUCCESS) {
        return status;
    }
    status = kw_tpm2_pub_describe(&k.pub.publicArea, &t, &b);
    if (status != PSA_SUCCESS) {
        return status;
    }
    if (t != s->type || b != s->bits) {
        keyward_set_error("the TPM key is not the one imported (type or size changed)");
        return PSA_ERROR_DATA_INVALID;
    }
    status = check_key_allows(&k.pub.publicArea, s);
    if (status == PSA_SUCCESS) {
        status = kw_tpm2_sign_set_auth(c, r, &k, rc, &have_auth);
    }
    if (status == PSA_SUCCESS) {
        status = s->scheme == TPM2_ALG_RSAPSS ? kw_tpm2_pss_sign(c, r, &k, s, rc)
                                              : kw_tpm2_sign_tpm(c, r, &k, s, rc);
    }
    if (status != PSA_SUCCESS &&
        (kw_tpm2_rc_base(*rc) == TPM2_RC_AUTH_FAIL || kw_tpm2_rc_base(*rc) == TPM2_RC_BAD_AUTH)) {
        keyward_set_error(have_auth ? "TPM2_Sign: wrong auth value for the key (0x%x)"
                                    : "TPM2_Sign: the key has an auth value: give it with "
                                      "auth= in the KEYREF or KEYWARD_TPM2_AUTH (0x%x)",
                          (unsigned)*rc);
    }
    return status;
}

psa_status_t kw_tpm2_sign_hash(const uint8_t *ref, size_t ref_len, psa_key_type_t type, size_t bits,
                               psa_algorithm_t alg, const uint8_t *hash, size_t hash_len,
                               uint8_t *sig, size_t sig_size, size_t *sig_len)
{
    kw_tpm2_ref_t r;
    kw_tpm2_sign_arg_t s;
    psa_algorithm_t h = PSA_ALG_SIGN_GET_HASH(alg);
    psa_status_t status = kw_tpm2_ref_parse_checked(ref, ref_len, &r);

    if (status != PSA_SUCCESS) {
        return status;
    }
    memset(&s, 0, sizeof(s));
    s.type = type;
    s.bits = bits;
    s.hash = tpm_hash_of(h);
    if (PSA_KEY_TYPE_IS_ECC(type) && PSA_ALG_IS_RANDOMIZED_ECDSA(alg)) {
        s.scheme = TPM2_ALG_ECDSA;
    } else if (type == PSA_KEY_TYPE_RSA_KEY_PAIR && PSA_ALG_IS_RSA_PKCS1V15_SIGN(alg) &&
               alg != PSA_ALG_RSA_PKCS1V15_SIGN_RAW) {
        s.scheme = TPM2_ALG_RSASSA;
    } else if (type == PSA_KEY_TYPE_RSA_KEY_PAIR && PSA_ALG_IS_RSA_PSS(alg)) {
        /* libtpms uses salt length = hash length, as PSA_ALG_RSA_PSS and
         * TLS 1.3 require; many real TPMs use the maximum: tpm2_pss.c
         * checks and falls back. */
        s.scheme = TPM2_ALG_RSAPSS;
    } else {
        keyward_set_error("the TPM cannot sign with algorithm 0x%08x for this key (ECDSA, "
                          "RSA PKCS#1 v1.5 with a hash, RSA-PSS only)",
                          (unsigned)alg);
        return PSA_ERROR_NOT_SUPPORTED;
    }
    if (s.hash == TPM2_ALG_NULL || hash_len != PSA_HASH_LENGTH(h) ||
        hash_len > sizeof(((TPM2B_DIGEST *)0)->buffer)) {
        keyward_set_error("the TPM signs SHA-1/256/384/512 digests only");
        return hash_len != PSA_HASH_LENGTH(h) ? PSA_ERROR_INVALID_ARGUMENT
                                              : PSA_ERROR_NOT_SUPPORTED;
    }
    s.digest = hash;
    s.digest_len = hash_len;
    s.sig = sig;
    s.sig_size = sig_size;
    s.sig_len = sig_len;
    return kw_tpm2_run_op(&r, sign_op, &s);
}
