/*
 * TPM 2.0 backend: what a ref says, without the TPM: its auth values (from
 * process memory or the environment), its blob (unmarshalled), its public
 * area (-> PSA type and size), and how a KEYREF becomes a ref (a persistent
 * handle, or a key file read and checked).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tss2/tss2_mu.h>

#include "keyward/port/backend.h"
#include "mbedtls/platform_util.h"
#include "tpm2_base.h"

/* ---- auth values ---------------------------------------------------------- */

int kw_tpm2_auth_from_env(const char *name, TPM2B_AUTH *a)
{
    const char *v = getenv(name);
    size_t n;

    if (v == NULL) {
        return 0;
    }
    n = strlen(v);
    if (n > sizeof(a->buffer)) {
        n = sizeof(a->buffer); /* the TPM would refuse it anyway */
    }
    a->size = (UINT16)n;
    memcpy(a->buffer, v, n);
    return 1;
}

void kw_tpm2_key_auth(const kw_tpm2_ref_t *r, TPM2B_AUTH *a, int *have)
{
    size_t n = 0;

    memset(a, 0, sizeof(*a));
    *have = 1;
    if (kw_tpm2_ref_secret(r, KW_TPM2_TAG_AUTH, a->buffer, &n)) { /* auth= when opened */
        a->size = (UINT16)n;
    } else if (!kw_tpm2_auth_from_env("KEYWARD_TPM2_AUTH", a)) {
        *have = 0;
    }
}

void kw_tpm2_parent_auth(const kw_tpm2_ref_t *r, TPM2B_AUTH *a)
{
    size_t n = 0;

    memset(a, 0, sizeof(*a));
    if (kw_tpm2_ref_secret(r, KW_TPM2_TAG_PARENT_AUTH, a->buffer, &n)) {
        a->size = (UINT16)n;
    } else {
        (void)kw_tpm2_auth_from_env("KEYWARD_TPM2_PARENT_AUTH", a);
    }
}

/* ---- key blobs ------------------------------------------------------------ */

psa_status_t kw_tpm2_blob_unmarshal(const kw_tpm2_ref_t *r, TPM2B_PUBLIC *pub, TPM2B_PRIVATE *priv)
{
    size_t off = 0;

    memset(pub, 0, sizeof(*pub));
    if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(r->pub, r->pub_len, &off, pub) != TSS2_RC_SUCCESS ||
        off != r->pub_len) {
        keyward_set_error("TPM key: malformed public area");
        return PSA_ERROR_DATA_CORRUPT;
    }
    if (priv != NULL) {
        off = 0;
        memset(priv, 0, sizeof(*priv));
        if (Tss2_MU_TPM2B_PRIVATE_Unmarshal(r->priv, r->priv_len, &off, priv) != TSS2_RC_SUCCESS ||
            off != r->priv_len) {
            keyward_set_error("TPM key: malformed private blob");
            return PSA_ERROR_DATA_CORRUPT;
        }
    }
    return PSA_SUCCESS;
}

/* ---- the public area ------------------------------------------------------ */

psa_status_t kw_tpm2_pub_describe(const TPMT_PUBLIC *p, psa_key_type_t *type, size_t *bits)
{
    if (p->type == TPM2_ALG_ECC) {
        switch (p->parameters.eccDetail.curveID) {
        case TPM2_ECC_NIST_P256:
            *bits = 256;
            break;
        case TPM2_ECC_NIST_P384:
            *bits = 384;
            break;
        case TPM2_ECC_NIST_P521:
            *bits = 521;
            break;
        default:
            keyward_set_error("TPM key on curve 0x%04x: keyward supports NIST P-256/384/521",
                              (unsigned)p->parameters.eccDetail.curveID);
            return PSA_ERROR_NOT_SUPPORTED;
        }
        *type = PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1);
    } else if (p->type == TPM2_ALG_RSA) {
        *bits = p->parameters.rsaDetail.keyBits;
        if (*bits < 1024 || *bits > 4096 || *bits % 8 != 0) {
            keyward_set_error("TPM RSA key of %u bits is not supported", (unsigned)*bits);
            return PSA_ERROR_NOT_SUPPORTED;
        }
        *type = PSA_KEY_TYPE_RSA_KEY_PAIR;
    } else {
        keyward_set_error("TPM object of type 0x%04x is not an ECC or RSA key", (unsigned)p->type);
        return PSA_ERROR_NOT_SUPPORTED;
    }
    if (!(p->objectAttributes & TPMA_OBJECT_SIGN_ENCRYPT)) {
        keyward_set_error("the TPM key is not a signing key (sign attribute clear; a storage or "
                          "decryption key?)");
        return PSA_ERROR_NOT_PERMITTED;
    }
    return PSA_SUCCESS;
}

void kw_tpm2_put_padded(uint8_t *out, size_t width, const uint8_t *v, size_t v_len)
{
    memset(out, 0, width - v_len);
    memcpy(out + width - v_len, v, v_len);
}

psa_status_t kw_tpm2_ref_parse_checked(const uint8_t *ref, size_t ref_len, kw_tpm2_ref_t *r)
{
    psa_status_t status = kw_tpm2_ref_parse(ref, ref_len, r);
    if (status != PSA_SUCCESS && status != PSA_ERROR_INVALID_ARGUMENT) {
        keyward_set_error("malformed TPM key reference");
    }
    return status;
}

/* ---- KEYREF -> ref -------------------------------------------------------- */

#define KEY_FILE_MAX 16384

psa_status_t kw_tpm2_ref_from_keyref(const char *keyref, uint8_t *ref, size_t ref_size,
                                     size_t *ref_len)
{
    psa_status_t status = PSA_ERROR_CORRUPTION_DETECTED;
    kw_tpm2_keyref_t kr;
    kw_tpm2_keyfile_t kf;
    uint8_t *data = NULL;
    size_t len = 0;
    FILE *fp = NULL;

    status = kw_tpm2_keyref_parse(keyref, 1, &kr);
    if (status != PSA_SUCCESS) {
        return status;
    }
    if (kr.parent != 0) {
        keyward_set_error("parent= is for generation; a key file names its own parent");
        status = PSA_ERROR_INVALID_ARGUMENT;
        goto exit;
    }
    if (kr.handle != 0) {
        status = kw_tpm2_ref_build(NULL, kr.handle, &kr, ref, ref_size, ref_len);
        goto exit;
    }
    fp = fopen(kr.file, "rb");
    if (fp == NULL) {
        keyward_set_error("cannot open TPM key file %s: %s", kr.file, strerror(errno));
        status = errno == ENOENT ? PSA_ERROR_DOES_NOT_EXIST : PSA_ERROR_STORAGE_FAILURE;
        goto exit;
    }
    data = malloc(KEY_FILE_MAX);
    if (data == NULL) {
        status = PSA_ERROR_INSUFFICIENT_MEMORY;
        goto exit;
    }
    len = fread(data, 1, KEY_FILE_MAX, fp);
    if (ferror(fp) || len == 0 || len == KEY_FILE_MAX) {
        keyward_set_error("TPM key file %s is empty, unreadable or too large", kr.file);
        status = PSA_ERROR_INVALID_ARGUMENT;
        goto exit;
    }
    status = kw_tpm2_keyfile_parse(data, len, &kf);
    if (status == PSA_SUCCESS) {
        status = kw_tpm2_ref_build(&kf, 0, &kr, ref, ref_size, ref_len);
    }
exit:
    if (fp != NULL) {
        fclose(fp);
    }
    free(data);
    kw_tpm2_keyref_free(&kr);
    return status;
}
