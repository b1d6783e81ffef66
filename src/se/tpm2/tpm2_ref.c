/*
 * TPM 2.0 backend: the ref, the small TLV string a PSA key buffer holds for
 * a TPM key (format in tpm2_internal.h): built from a key file or a
 * persistent handle, parsed strictly.  No TPM access here.
 */
#include <string.h>

#include <tss2/tss2_mu.h>

#include "keyward/port/backend.h"
#include "mbedtls/platform_util.h"
#include "tpm2_internal.h"

int kw_tpm2_handle_is_persistent(uint32_t h)
{
    return (h & 0xff000000u) == 0x81000000u;
}

/* ---- ref TLV -------------------------------------------------------------- */

typedef struct {
    uint8_t *buf;
    size_t size, len;
    int overflow;
} tlv_writer_t;

static void tlv_put(tlv_writer_t *w, uint8_t tag, const void *v, size_t n)
{
    if (w->overflow || n > 0xffff || w->size - w->len < 3 + n) {
        w->overflow = 1;
        return;
    }
    w->buf[w->len++] = tag;
    w->buf[w->len++] = (uint8_t)(n >> 8);
    w->buf[w->len++] = (uint8_t)n;
    if (n > 0) {
        memcpy(w->buf + w->len, v, n);
    }
    w->len += n;
}

static void put_be32(uint8_t b[4], uint32_t v)
{
    b[0] = (uint8_t)(v >> 24);
    b[1] = (uint8_t)(v >> 16);
    b[2] = (uint8_t)(v >> 8);
    b[3] = (uint8_t)v;
}

psa_status_t kw_tpm2_ref_build(const kw_tpm2_keyfile_t *kf, uint32_t handle,
                               const kw_tpm2_keyref_t *kr, uint8_t *ref, size_t ref_size,
                               size_t *ref_len)
{
    tlv_writer_t w = {ref, ref_size, 0, 0};
    uint8_t b[4];

    if (ref_size < 3) {
        return PSA_ERROR_BUFFER_TOO_SMALL;
    }
    ref[0] = 'K';
    ref[1] = '2';
    ref[2] = KW_TPM2_REF_VERSION;
    w.len = 3;
    if (kf == NULL) {
        put_be32(b, handle);
        tlv_put(&w, KW_TPM2_TAG_HANDLE, b, 4);
    } else {
        uint8_t ea = kf->empty_auth ? 1 : 0;
        put_be32(b, kf->parent);
        tlv_put(&w, KW_TPM2_TAG_PARENT, b, 4);
        tlv_put(&w, KW_TPM2_TAG_EMPTY_AUTH, &ea, 1);
        tlv_put(&w, KW_TPM2_TAG_PUBLIC, kf->pub, kf->pub_len);
        tlv_put(&w, KW_TPM2_TAG_PRIVATE, kf->priv, kf->priv_len);
    }
    if (kr != NULL && kr->has_tcti) {
        tlv_put(&w, KW_TPM2_TAG_TCTI, kr->tcti, strlen(kr->tcti));
    }
    if (w.overflow) {
        mbedtls_platform_zeroize(ref, ref_size);
        keyward_set_error("TPM key reference longer than %u bytes", (unsigned)ref_size);
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    *ref_len = w.len;
    /* Auth values stay in process memory, keyed by the ref. */
    if (kr != NULL && kr->has_auth) {
        psa_status_t status = keyward_secret_put(ref, w.len, "auth", kr->auth, kr->auth_len);
        if (status != PSA_SUCCESS) {
            return status;
        }
    }
    if (kr != NULL && kr->has_parent_auth) {
        psa_status_t status =
            keyward_secret_put(ref, w.len, "parent-auth", kr->parent_auth, kr->parent_auth_len);
        if (status != PSA_SUCCESS) {
            return status;
        }
    }
    return PSA_SUCCESS;
}

int kw_tpm2_ref_secret(const kw_tpm2_ref_t *r, unsigned which, uint8_t *out, size_t *out_len)
{
    const char *name = which == KW_TPM2_TAG_AUTH ? "auth" : "parent-auth";

    return r->raw != NULL && keyward_secret_get(r->raw, r->raw_len, name, out, KW_TPM2_AUTH_MAX,
                                                out_len) == PSA_SUCCESS;
}

static uint32_t get_be32(const uint8_t *b)
{
    return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
}

/* One record of a ref into out, checked: tags a ref may hold (never an auth
 * value), each with its size and range. */
static psa_status_t ref_record(kw_tpm2_ref_t *out, unsigned tag, const uint8_t *v, size_t n,
                               int *has_parent)
{
    switch (tag) {
    case KW_TPM2_TAG_HANDLE:
        if (n != 4 || !kw_tpm2_handle_is_persistent(get_be32(v))) {
            return PSA_ERROR_DATA_CORRUPT;
        }
        out->handle = get_be32(v);
        return PSA_SUCCESS;
    case KW_TPM2_TAG_PARENT:
        if (n != 4) {
            return PSA_ERROR_DATA_CORRUPT;
        }
        out->parent = get_be32(v);
        if (out->parent != KW_TPM2_PARENT_OWNER && !kw_tpm2_handle_is_persistent(out->parent)) {
            return PSA_ERROR_DATA_CORRUPT;
        }
        *has_parent = 1;
        return PSA_SUCCESS;
    case KW_TPM2_TAG_EMPTY_AUTH:
        if (n != 1 || v[0] > 1) {
            return PSA_ERROR_DATA_CORRUPT;
        }
        out->empty_auth = v[0];
        return PSA_SUCCESS;
    case KW_TPM2_TAG_PUBLIC:
        if (n < 2 || n > sizeof(TPM2B_PUBLIC)) {
            return PSA_ERROR_DATA_CORRUPT;
        }
        out->pub = v;
        out->pub_len = n;
        return PSA_SUCCESS;
    case KW_TPM2_TAG_PRIVATE:
        if (n < 2 || n > sizeof(TPM2B_PRIVATE)) {
            return PSA_ERROR_DATA_CORRUPT;
        }
        out->priv = v;
        out->priv_len = n;
        return PSA_SUCCESS;
    case KW_TPM2_TAG_TCTI:
        if (n >= KW_TPM2_TCTI_MAX || memchr(v, 0, n) != NULL) {
            return PSA_ERROR_DATA_CORRUPT;
        }
        out->tcti = (const char *)v;
        out->tcti_len = n;
        out->has_tcti = 1;
        return PSA_SUCCESS;
    case KW_TPM2_TAG_AUTH:
    case KW_TPM2_TAG_PARENT_AUTH:
        /* Written by keyward before auth values left refs: such a key
         * buffer may sit in PSA storage with the secret in it. */
        keyward_set_error("the TPM key reference carries an auth value: refused (give it "
                          "with auth= when opening, or KEYWARD_TPM2_AUTH)");
        return PSA_ERROR_INVALID_ARGUMENT;
    default:
        return PSA_ERROR_DATA_CORRUPT;
    }
}

psa_status_t kw_tpm2_ref_parse(const uint8_t *ref, size_t ref_len, kw_tpm2_ref_t *out)
{
    psa_status_t status;
    size_t off = 3;
    unsigned last_tag = 0;
    int has_parent = 0;

    memset(out, 0, sizeof(*out));
    if (ref == NULL || ref_len < 3 || ref_len > KEYWARD_REF_MAX || ref[0] != 'K' || ref[1] != '2') {
        return PSA_ERROR_DATA_CORRUPT;
    }
    if (ref[2] != KW_TPM2_REF_VERSION) {
        return PSA_ERROR_NOT_SUPPORTED;
    }
    while (off < ref_len) {
        unsigned tag;
        size_t n;
        const uint8_t *v;

        if (ref_len - off < 3) {
            return PSA_ERROR_DATA_CORRUPT;
        }
        tag = ref[off];
        n = ((size_t)ref[off + 1] << 8) | ref[off + 2];
        off += 3;
        if (n > ref_len - off || tag <= last_tag) {
            return PSA_ERROR_DATA_CORRUPT;
        }
        v = ref + off;
        off += n;
        last_tag = tag;
        status = ref_record(out, tag, v, n, &has_parent);
        if (status != PSA_SUCCESS) {
            return status;
        }
    }
    out->raw = ref;
    out->raw_len = ref_len;
    /* Exactly one kind of key. */
    if (out->handle != 0) {
        if (has_parent || out->pub != NULL || out->priv != NULL) {
            return PSA_ERROR_DATA_CORRUPT;
        }
    } else if (!has_parent || out->pub == NULL || out->priv == NULL) {
        return PSA_ERROR_DATA_CORRUPT;
    }
    return PSA_SUCCESS;
}
