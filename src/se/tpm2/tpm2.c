/*
 * TPM 2.0 backend on tss2-esys: describe, export_public and the ops table.
 * The other concerns live beside it, in layers, each file using only the
 * layers below it (a header per layer, each including the one below):
 *
 *   tpm2_internal.h  key formats, no TPM: KEYREF (tpm2_keyref.c), the TSS2
 *                    PRIVATE KEY file (tpm2_keyfile.c), the ref (tpm2_ref.c)
 *   tpm2_base.h      TSS2 response codes (tpm2_rc.c); what a ref says: auth
 *                    values, blob, public area, KEYREF -> ref (tpm2_keydata.c)
 *   tpm2_cache.h     the connection state and its object cache (tpm2_cache.c),
 *                    the standard SRK and blob parents (tpm2_srk.c)
 *   tpm2_session.h   the salted HMAC session (tpm2_session.c)
 *   tpm2_conn.h      connections, the cross-process lock, run_op (tpm2_conn.c)
 *   tpm2_key.h       key objects (tpm2_keyobj.c), TPM2_Sign (tpm2_tpmsign.c),
 *                    RSA-PSS salt check and fallback (tpm2_pss.c)
 *   tpm2_ops.h       sign_hash (tpm2_sign.c), generate (tpm2_keygen.c); the
 *                    NV certificates (tpm2_nv.c) use tpm2_internal.h alone
 *
 * Closing a connection flushes its objects and parks its session, so the
 * connection layer sits above the object cache and the session; the cache
 * works on the connection's state (tpm2_cache.h), not on the connection.
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
#include "tpm2_ops.h"

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
    .ref_from_keyref = kw_tpm2_ref_from_keyref,
    .describe = tpm2_describe,
    .sign_hash = kw_tpm2_sign_hash,
    .export_public = tpm2_export_public,
    .keyref_is_builtin = tpm2_keyref_is_builtin,
    .generate = kw_tpm2_generate,
    .shutdown = keyward_tpm2_release,
    .cert_read = kw_tpm2_cert_read,
    .cert_write = kw_tpm2_cert_write,
};
