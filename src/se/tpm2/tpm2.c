/*
 * TPM 2.0 backend on tss2-esys: the KEYREF and key-file side, auth values,
 * the public area, describe/export_public and the ops table.  The other
 * concerns live beside it (tpm2_backend.h lists them).
 *
 * Keys:
 *   tpm2:handle=0x81xxxxxx   a persistent key (builtin, READ_ONLY in PSA);
 *   tpm2:file=key.pem        a TSS2 PRIVATE KEY (tpm2-openssl, tpm2-tools'
 *                            tpm2_encodeobject): the blob is the ref, loaded
 *                            under its parent when used.
 * Attributes: tcti=, auth=, parent-auth=, parent= (generation); see
 * docs/tpm2.md.
 *
 * Authorisation uses one HMAC session salted with the SRK, with parameter
 * encryption where a command carries a secret (tpm2_session.c): auth
 * values never cross the TPM bus in the clear.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>

#include "core/der.h"
#include "keyward/port/backend.h"
#include "keyward/port/locations.h"
#include "mbedtls/platform_util.h"
#include "tpm2_backend.h"

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

static psa_status_t pub_export(const TPMT_PUBLIC *p, psa_key_type_t type, size_t bits, uint8_t *out,
                               size_t out_size, size_t *out_len)
{
    psa_key_type_t t = 0;
    size_t b = 0;
    psa_status_t status = kw_tpm2_pub_describe(p, &t, &b);

    if (status == PSA_ERROR_NOT_PERMITTED) {
        status = PSA_SUCCESS; /* the public half of a non-signing key is still fine */
    }
    if (status != PSA_SUCCESS) {
        return status;
    }
    if (t != type || b != bits) {
        keyward_set_error("the TPM key is not the one imported (type or size changed)");
        return PSA_ERROR_DATA_INVALID;
    }
    if (p->type == TPM2_ALG_ECC) {
        size_t coord = PSA_BITS_TO_BYTES(bits);
        const TPMS_ECC_POINT *q = &p->unique.ecc;
        if (q->x.size > coord || q->y.size > coord || q->x.size == 0 || q->y.size == 0) {
            keyward_set_error("TPM key: malformed ECC point");
            return PSA_ERROR_DATA_INVALID;
        }
        if (out_size < 1 + 2 * coord) {
            return PSA_ERROR_BUFFER_TOO_SMALL;
        }
        out[0] = 0x04;
        kw_tpm2_put_padded(out + 1, coord, q->x.buffer, q->x.size);
        kw_tpm2_put_padded(out + 1 + coord, coord, q->y.buffer, q->y.size);
        *out_len = 1 + 2 * coord;
        return PSA_SUCCESS;
    } else {
        uint32_t e = p->parameters.rsaDetail.exponent ? p->parameters.rsaDetail.exponent : 65537;
        uint8_t eb[4] = {(uint8_t)(e >> 24), (uint8_t)(e >> 16), (uint8_t)(e >> 8), (uint8_t)e};
        size_t skip = 0;
        while (skip < 3 && eb[skip] == 0) {
            skip++;
        }
        if (p->unique.rsa.size != bits / 8) {
            keyward_set_error("TPM key: modulus size does not match keyBits");
            return PSA_ERROR_DATA_INVALID;
        }
        return keyward_der_rsa_public(p->unique.rsa.buffer, p->unique.rsa.size, eb + skip, 4 - skip,
                                      out, out_size, out_len);
    }
}

psa_status_t kw_tpm2_ref_parse_checked(const uint8_t *ref, size_t ref_len, kw_tpm2_ref_t *r)
{
    psa_status_t status = kw_tpm2_ref_parse(ref, ref_len, r);
    if (status != PSA_SUCCESS && status != PSA_ERROR_INVALID_ARGUMENT) {
        keyward_set_error("malformed TPM key reference");
    }
    return status;
}

/* ---- describe ------------------------------------------------------------- */

typedef struct {
    psa_key_type_t type;
    size_t bits;
} describe_arg_t;

static psa_status_t describe_op(kw_tpm2_conn_t *c, const kw_tpm2_ref_t *r, void *arg, TSS2_RC *rc)
{
    describe_arg_t *d = arg;
    kw_tpm2_key_obj_t k;
    psa_status_t status = kw_tpm2_key_get(c, r, &k, rc);

    if (status != PSA_SUCCESS) {
        return status;
    }
    return kw_tpm2_pub_describe(&k.pub.publicArea, &d->type, &d->bits);
}

static psa_status_t tpm2_describe(const uint8_t *ref, size_t ref_len, psa_key_type_t *type,
                                  size_t *bits)
{
    kw_tpm2_ref_t r;
    describe_arg_t d = {0, 0};
    TPM2B_PUBLIC pub;
    psa_status_t status = kw_tpm2_ref_parse_checked(ref, ref_len, &r);

    if (status != PSA_SUCCESS) {
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    /* Cheap checks first: a blob's public area says what it is. */
    if (r.handle == 0) {
        status = kw_tpm2_blob_unmarshal(&r, &pub, NULL);
        if (status == PSA_SUCCESS) {
            status = kw_tpm2_pub_describe(&pub.publicArea, &d.type, &d.bits);
        }
        if (status != PSA_SUCCESS) {
            return status == PSA_ERROR_DATA_CORRUPT ? PSA_ERROR_INVALID_ARGUMENT : status;
        }
    }
    /* Then make the TPM load it: proves the blob belongs to this TPM and
     * parent (and leaves it in the cache for the first signature). */
    status = kw_tpm2_run_op(&r, describe_op, &d);
    if (status == PSA_ERROR_DATA_INVALID || status == PSA_ERROR_DATA_CORRUPT) {
        status = PSA_ERROR_INVALID_ARGUMENT; /* import-time: the data is bad */
    }
    if (status == PSA_SUCCESS) {
        *type = d.type;
        *bits = d.bits;
    }
    return status;
}

/* ---- export_public -------------------------------------------------------- */

typedef struct {
    psa_key_type_t type;
    size_t bits;
    uint8_t *out;
    size_t out_size, *out_len;
} export_arg_t;

static psa_status_t export_op(kw_tpm2_conn_t *c, const kw_tpm2_ref_t *r, void *arg, TSS2_RC *rc)
{
    export_arg_t *e = arg;
    kw_tpm2_persist_t *p = NULL;
    psa_status_t status = kw_tpm2_persist_get(c, r->handle, &p, rc);

    if (status != PSA_SUCCESS) {
        return status;
    }
    return pub_export(&p->pub.publicArea, e->type, e->bits, e->out, e->out_size, e->out_len);
}

static psa_status_t tpm2_export_public(const uint8_t *ref, size_t ref_len, psa_key_type_t type,
                                       size_t bits, uint8_t *out, size_t out_size, size_t *out_len)
{
    kw_tpm2_ref_t r;
    TPM2B_PUBLIC pub;
    export_arg_t e = {type, bits, out, out_size, out_len};
    psa_status_t status = kw_tpm2_ref_parse_checked(ref, ref_len, &r);

    if (status != PSA_SUCCESS) {
        return status;
    }
    if (r.handle == 0) {
        /* The blob carries its public area: no TPM needed. */
        status = kw_tpm2_blob_unmarshal(&r, &pub, NULL);
        return status != PSA_SUCCESS
                   ? status
                   : pub_export(&pub.publicArea, type, bits, out, out_size, out_len);
    }
    return kw_tpm2_run_op(&r, export_op, &e);
}

/* ---- KEYREF -> ref -------------------------------------------------------- */

#define KEY_FILE_MAX 16384

static psa_status_t tpm2_ref_from_keyref(const char *keyref, uint8_t *ref, size_t ref_size,
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

static int tpm2_keyref_is_builtin(const char *keyref)
{
    kw_tpm2_keyref_t kr;
    int builtin = 0;

    if (kw_tpm2_keyref_parse(keyref, 1, &kr) == PSA_SUCCESS) {
        builtin = kr.handle != 0;
        kw_tpm2_keyref_free(&kr);
    }
    return builtin;
}

const keyward_backend_t keyward_tpm2_backend = {
    .scheme = "tpm2",
    .id = 3,
    .location = KEYWARD_LOCATION_TPM2,
    .ref_from_keyref = tpm2_ref_from_keyref,
    .describe = tpm2_describe,
    .sign_hash = kw_tpm2_sign_hash,
    .export_public = tpm2_export_public,
    .keyref_is_builtin = tpm2_keyref_is_builtin,
    .generate = kw_tpm2_generate,
    .shutdown = keyward_tpm2_release,
    .cert_read = kw_tpm2_cert_read,
    .cert_write = kw_tpm2_cert_write,
};
