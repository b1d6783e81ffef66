/*
 * PKCS#11 backend: sign_hash.  The PSA algorithm chooses the PKCS#11
 * mechanism and its input (ECDSA on the hash, PKCS#1 v1.5 on a DigestInfo,
 * PSS with salt = hash length); the signature is retried once on a fresh
 * session when the token lost it or the key handle went stale.
 */
#include <string.h>

#include "core/der.h"
#include "mbedtls/platform_util.h"
#include "pkcs11_key.h"
#include "pkcs11_ops.h"

static CK_MECHANISM_TYPE hash_mech(psa_algorithm_t h, CK_RSA_PKCS_MGF_TYPE *mgf)
{
    switch (h) {
    case PSA_ALG_SHA_1:
        *mgf = CKG_MGF1_SHA1;
        return CKM_SHA_1;
    case PSA_ALG_SHA_224:
        *mgf = CKG_MGF1_SHA224;
        return CKM_SHA224;
    case PSA_ALG_SHA_256:
        *mgf = CKG_MGF1_SHA256;
        return CKM_SHA256;
    case PSA_ALG_SHA_384:
        *mgf = CKG_MGF1_SHA384;
        return CKM_SHA384;
    case PSA_ALG_SHA_512:
        *mgf = CKG_MGF1_SHA512;
        return CKM_SHA512;
    default:
        return (CK_MECHANISM_TYPE)-1;
    }
}

/* The PKCS#11 mechanism for a PSA signature algorithm, and its input. */
typedef struct {
    CK_MECHANISM mech;
    CK_RSA_PKCS_PSS_PARAMS pss;
    uint8_t input[128];
    size_t in_len;
} sign_input_t;

/* Chooses the mechanism for alg on a key of this type and makes its input:
 * the hash itself (ECDSA, raw PKCS#1 v1.5, PSS) or a DigestInfo (PKCS#1
 * v1.5). */
static psa_status_t sign_prepare(psa_key_type_t type, psa_algorithm_t alg, const uint8_t *hash,
                                 size_t hash_len, sign_input_t *in)
{
    psa_algorithm_t h = PSA_ALG_SIGN_GET_HASH(alg);

    in->mech = (CK_MECHANISM){0, NULL, 0};
    in->in_len = 0;
    if (PSA_KEY_TYPE_IS_ECC(type) && PSA_ALG_IS_RANDOMIZED_ECDSA(alg)) {
        in->mech.mechanism = CKM_ECDSA;
    } else if (PSA_KEY_TYPE_IS_RSA(type) && alg == PSA_ALG_RSA_PKCS1V15_SIGN_RAW) {
        in->mech.mechanism = CKM_RSA_PKCS;
    } else if (PSA_KEY_TYPE_IS_RSA(type) && PSA_ALG_IS_RSA_PKCS1V15_SIGN(alg)) {
        in->mech.mechanism = CKM_RSA_PKCS;
        return keyward_der_digest_info(h, hash, hash_len, in->input, sizeof(in->input),
                                       &in->in_len);
    } else if (PSA_KEY_TYPE_IS_RSA(type) && PSA_ALG_IS_RSA_PSS(alg)) {
        in->pss.hashAlg = hash_mech(h, &in->pss.mgf);
        if (in->pss.hashAlg == (CK_MECHANISM_TYPE)-1) {
            return PSA_ERROR_NOT_SUPPORTED;
        }
        if (hash_len != PSA_HASH_LENGTH(h)) {
            return PSA_ERROR_INVALID_ARGUMENT;
        }
        in->pss.sLen = hash_len; /* what PSA and TLS 1.3 require */
        in->mech.mechanism = CKM_RSA_PKCS_PSS;
        in->mech.pParameter = &in->pss;
        in->mech.ulParameterLen = sizeof(in->pss);
    } else {
        keyward_set_error("PKCS#11 backend: algorithm 0x%08x not supported for this key",
                          (unsigned)alg);
        return PSA_ERROR_NOT_SUPPORTED;
    }
    if (hash_len > sizeof(in->input)) {
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    memcpy(in->input, hash, hash_len);
    in->in_len = hash_len;
    return PSA_SUCCESS;
}

psa_status_t p11_sign_hash(const uint8_t *ref, size_t ref_len, psa_key_type_t type, size_t bits,
                           psa_algorithm_t alg, const uint8_t *hash, size_t hash_len, uint8_t *sig,
                           size_t sig_size, size_t *sig_len)
{
    psa_status_t status = PSA_ERROR_CORRUPTION_DETECTED;
    sign_input_t in;
    key_t_ *k = NULL;
    CK_ULONG out_len;
    CK_RV rv = CKR_OK;

    status = sign_prepare(type, alg, hash, hash_len, &in);
    if (status != PSA_SUCCESS) {
        goto exit;
    }
    pthread_mutex_lock(&p11_lock);
    for (int attempt = 0; attempt < 2; attempt++) {
        status = p11_key_get(ref, ref_len, attempt > 0, &k);
        if (status != PSA_SUCCESS) {
            break;
        }
        if (k->type != type || k->bits != bits) {
            status = PSA_ERROR_DATA_INVALID;
            break;
        }
        out_len = (CK_ULONG)sig_size;
        rv = k->tok->mod->f->C_SignInit(k->tok->session, &in.mech, k->priv);
        if (rv == CKR_OK) {
            rv = k->tok->mod->f->C_Sign(k->tok->session, in.input, in.in_len, sig, &out_len);
        }
        if (rv == CKR_OK) {
            *sig_len = out_len;
            status = PSA_SUCCESS;
            break;
        }
        status = p11_fail("C_Sign", rv);
        /* A lost session or a stale handle is worth exactly one retry. */
        if (!p11_session_lost(rv) && rv != CKR_OBJECT_HANDLE_INVALID &&
            rv != CKR_KEY_HANDLE_INVALID) {
            break;
        }
    }
    pthread_mutex_unlock(&p11_lock);
exit:
    mbedtls_platform_zeroize(in.input, sizeof(in.input));
    return status;
}
