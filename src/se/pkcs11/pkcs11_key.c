/*
 * PKCS#11 backend: key objects.  A ref resolves to a cached key (token,
 * private-key handle, PSA type and size, public key read from the token's
 * attributes); describe and export_public answer from that cache.
 */
#include <stdlib.h>
#include <string.h>

#include "core/der.h"
#include "mbedtls/asn1.h"
#include "mbedtls/platform_util.h"
#include "pkcs11_key.h"
#include "pkcs11_ops.h"

static key_t_ keys[MAX_KEYS];
static size_t next_key_victim;

psa_status_t p11_get_attr(token_t *tok, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE t, uint8_t *buf,
                          size_t size, size_t *len)
{
    CK_ATTRIBUTE a = {t, buf, (CK_ULONG)size};
    CK_RV rv = tok->mod->f->C_GetAttributeValue(tok->session, obj, &a, 1);
    if (rv != CKR_OK) {
        return p11_fail("C_GetAttributeValue", rv);
    }
    *len = a.ulValueLen;
    return PSA_SUCCESS;
}

psa_status_t p11_find_object(token_t *tok, P11KitUri *uri, CK_OBJECT_CLASS cls,
                             CK_OBJECT_HANDLE *obj)
{
    CK_ATTRIBUTE tmpl[3];
    CK_ULONG n = 0, found = 0;
    CK_OBJECT_HANDLE h[2];
    CK_ATTRIBUTE *label = p11_kit_uri_get_attribute(uri, CKA_LABEL);
    CK_ATTRIBUTE *id = p11_kit_uri_get_attribute(uri, CKA_ID);
    CK_RV rv;

    tmpl[n].type = CKA_CLASS;
    tmpl[n].pValue = &cls;
    tmpl[n++].ulValueLen = sizeof(cls);
    if (label != NULL) {
        tmpl[n++] = *label;
    }
    if (id != NULL) {
        tmpl[n++] = *id;
    }
    if (label == NULL && id == NULL) {
        keyward_set_error("PKCS#11 URI names no object (object= or id=)");
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    rv = tok->mod->f->C_FindObjectsInit(tok->session, tmpl, n);
    if (rv != CKR_OK) {
        return p11_fail("C_FindObjectsInit", rv);
    }
    rv = tok->mod->f->C_FindObjects(tok->session, h, 2, &found);
    tok->mod->f->C_FindObjectsFinal(tok->session);
    if (rv != CKR_OK) {
        return p11_fail("C_FindObjects", rv);
    }
    if (found == 0) {
        keyward_set_error("no PKCS#11 %s key matches the URI",
                          cls == CKO_PRIVATE_KEY ? "private" : "public");
        return PSA_ERROR_DOES_NOT_EXIST;
    }
    if (found > 1) {
        keyward_set_error("the PKCS#11 URI matches more than one key");
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    *obj = h[0];
    return PSA_SUCCESS;
}

static const struct {
    const char *oid;
    size_t oid_len;
    size_t bits;
} curves[] = {
    {KEYWARD_OID_SECP256R1, sizeof(KEYWARD_OID_SECP256R1) - 1, 256},
    {KEYWARD_OID_SECP384R1, sizeof(KEYWARD_OID_SECP384R1) - 1, 384},
    {KEYWARD_OID_SECP521R1, sizeof(KEYWARD_OID_SECP521R1) - 1, 521},
};

/* CKA_EC_PARAMS (DER OID of a named curve) -> bits of a secp-r1 curve. */
static psa_status_t curve_bits(const uint8_t *params, size_t len, size_t *bits)
{
    unsigned char *p = (unsigned char *)params;
    size_t oid_len = 0;

    if (mbedtls_asn1_get_tag(&p, params + len, &oid_len, MBEDTLS_ASN1_OID) != 0 ||
        p + oid_len != params + len) {
        keyward_set_error("CKA_EC_PARAMS is not a named-curve OID");
        return PSA_ERROR_NOT_SUPPORTED;
    }
    for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
        if (curves[i].oid_len == oid_len && memcmp(curves[i].oid, p, oid_len) == 0) {
            *bits = curves[i].bits;
            return PSA_SUCCESS;
        }
    }
    keyward_set_error("the key's curve is not P-256, P-384 or P-521");
    return PSA_ERROR_NOT_SUPPORTED;
}

psa_status_t p11_curve_for_bits(size_t bits, const char **oid, size_t *oid_len)
{
    for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
        if (curves[i].bits == bits) {
            *oid = curves[i].oid;
            *oid_len = curves[i].oid_len;
            return PSA_SUCCESS;
        }
    }
    return PSA_ERROR_NOT_SUPPORTED;
}

static psa_status_t load_public(key_t_ *k, P11KitUri *uri, CK_KEY_TYPE kt)
{
    token_t *tok = k->tok;
    uint8_t buf[1100], e[16];
    size_t len = 0, e_len = 0;
    CK_OBJECT_HANDLE pub;
    psa_status_t status;

    if (kt == CKK_RSA) {
        status = p11_get_attr(tok, k->priv, CKA_MODULUS, buf, sizeof(buf), &len);
        if (status == PSA_SUCCESS) {
            status = p11_get_attr(tok, k->priv, CKA_PUBLIC_EXPONENT, e, sizeof(e), &e_len);
        }
        if (status != PSA_SUCCESS) {
            return status;
        }
        k->bits = keyward_bitlen(buf, len);
        return keyward_der_rsa_public(buf, len, e, e_len, k->pub, sizeof(k->pub), &k->pub_len);
    }
    /* EC: the point is on the public-key object (CKA_EC_POINT), DER OCTET
     * STRING-wrapped by most modules, raw by some. */
    status = p11_find_object(tok, uri, CKO_PUBLIC_KEY, &pub);
    if (status == PSA_SUCCESS) {
        status = p11_get_attr(tok, pub, CKA_EC_POINT, buf, sizeof(buf), &len);
    }
    if (status != PSA_SUCCESS) {
        keyward_set_error("no public-key object with CKA_EC_POINT for this EC key");
        return status;
    }
    {
        size_t coord = PSA_BITS_TO_BYTES(k->bits);
        unsigned char *p = buf;
        size_t olen = 0;
        if (len == 1 + 2 * coord && buf[0] == 0x04) {
            p = buf;
            olen = len;
        } else if (mbedtls_asn1_get_tag(&p, buf + len, &olen, MBEDTLS_ASN1_OCTET_STRING) != 0 ||
                   p + olen != buf + len) {
            keyward_set_error("malformed CKA_EC_POINT");
            return PSA_ERROR_DATA_INVALID;
        }
        if (olen != 1 + 2 * coord || p[0] != 0x04) {
            keyward_set_error("CKA_EC_POINT is not an uncompressed point of the key's curve");
            return PSA_ERROR_DATA_INVALID;
        }
        memcpy(k->pub, p, olen);
        k->pub_len = olen;
    }
    return PSA_SUCCESS;
}

/* The cached key for ref, or NULL. */
static key_t_ *key_find(const uint8_t *ref, size_t ref_len)
{
    for (size_t i = 0; i < MAX_KEYS; i++) {
        if (keys[i].ref != NULL && strlen(keys[i].ref) == ref_len &&
            memcmp(keys[i].ref, ref, ref_len) == 0) {
            return &keys[i];
        }
    }
    return NULL;
}

/* Empties a cache entry, wiping its URI copy. */
static void key_clear(key_t_ *k)
{
    if (k->ref != NULL) {
        mbedtls_platform_zeroize(k->ref, strlen(k->ref));
        free(k->ref);
    }
    memset(k, 0, sizeof(*k));
}

/* A cache entry for a key not cached yet: a free one, else the next victim
 * in turn; it holds a copy of the URI text (*out is set even on failure, for
 * the caller to clear). */
static psa_status_t key_claim(const char *text, key_t_ **out)
{
    key_t_ *k = NULL;

    for (size_t i = 0; i < MAX_KEYS && k == NULL; i++) {
        if (keys[i].ref == NULL) {
            k = &keys[i];
        }
    }
    if (k == NULL) {
        k = &keys[next_key_victim];
        next_key_victim = (next_key_victim + 1) % MAX_KEYS;
    }
    key_clear(k);
    *out = k;
    k->ref = strdup(text);
    return k->ref == NULL ? PSA_ERROR_INSUFFICIENT_MEMORY : PSA_SUCCESS;
}

/* On the key's token: its private-key handle, PSA type and size, public key. */
static psa_status_t key_read(key_t_ *k, P11KitUri *uri)
{
    psa_status_t status;
    uint8_t params[64];
    size_t len = 0;
    CK_KEY_TYPE kt = 0;

    status = p11_find_object(k->tok, uri, CKO_PRIVATE_KEY, &k->priv);
    if (status == PSA_SUCCESS) {
        status = p11_get_attr(k->tok, k->priv, CKA_KEY_TYPE, (uint8_t *)&kt, sizeof(kt), &len);
    }
    if (status != PSA_SUCCESS) {
        return status;
    }
    if (kt == CKK_EC) {
        k->type = PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1);
        status = p11_get_attr(k->tok, k->priv, CKA_EC_PARAMS, params, sizeof(params), &len);
        if (status == PSA_SUCCESS) {
            status = curve_bits(params, len, &k->bits);
        }
    } else if (kt == CKK_RSA) {
        k->type = PSA_KEY_TYPE_RSA_KEY_PAIR;
    } else {
        keyward_set_error("PKCS#11 key type 0x%lx is neither EC nor RSA", (unsigned long)kt);
        status = PSA_ERROR_NOT_SUPPORTED;
    }
    if (status == PSA_SUCCESS) {
        status = load_public(k, uri, kt);
    }
    return status;
}

/* Resolves ref to a cached key: token session, private handle, type, bits,
 * public key.  Called with the lock held. */
psa_status_t p11_key_get(const uint8_t *ref, size_t ref_len, int force, key_t_ **out)
{
    parsed_uri_t u;
    key_t_ *k = key_find(ref, ref_len);
    psa_status_t status;

    if (k != NULL && !force && k->tok->open) {
        *out = k;
        return PSA_SUCCESS;
    }
    status = p11_uri_parse(ref, ref_len, &u);
    if (status != PSA_SUCCESS) {
        return status;
    }
    if (k == NULL) {
        status = key_claim(u.text, &k);
        if (status != PSA_SUCCESS) {
            goto exit;
        }
    }
    if (p11_kit_uri_get_attribute(u.uri, CKA_LABEL) == NULL &&
        p11_kit_uri_get_attribute(u.uri, CKA_ID) == NULL) {
        keyward_set_error("PKCS#11 URI names no object (object= or id=)");
        status = PSA_ERROR_INVALID_ARGUMENT;
        goto exit;
    }
    status = p11_token_get(&u, &k->tok);
    if (status == PSA_SUCCESS && force) {
        status = p11_session_open(k->tok, &u);
    }
    if (status == PSA_SUCCESS) {
        status = key_read(k, u.uri);
    }
exit:
    if (status != PSA_SUCCESS && k != NULL) {
        key_clear(k);
    } else if (status == PSA_SUCCESS) {
        *out = k;
    }
    p11_uri_free(&u);
    return status;
}

/* ---- backend operations -------------------------------------------------- */

psa_status_t p11_describe(const uint8_t *ref, size_t ref_len, psa_key_type_t *type, size_t *bits)
{
    key_t_ *k = NULL;
    psa_status_t status;

    pthread_mutex_lock(&p11_lock);
    status = p11_key_get(ref, ref_len, 0, &k);
    if (status == PSA_SUCCESS) {
        *type = k->type;
        *bits = k->bits;
    }
    pthread_mutex_unlock(&p11_lock);
    return status;
}

psa_status_t p11_export_public(const uint8_t *ref, size_t ref_len, psa_key_type_t type, size_t bits,
                               uint8_t *out, size_t out_size, size_t *out_len)
{
    key_t_ *k = NULL;
    psa_status_t status;

    pthread_mutex_lock(&p11_lock);
    status = p11_key_get(ref, ref_len, 0, &k);
    if (status == PSA_SUCCESS && (k->type != type || k->bits != bits)) {
        keyward_set_error("the PKCS#11 object changed type or size since import");
        status = PSA_ERROR_DATA_INVALID;
    }
    if (status == PSA_SUCCESS) {
        if (out_size < k->pub_len) {
            status = PSA_ERROR_BUFFER_TOO_SMALL;
        } else {
            memcpy(out, k->pub, k->pub_len);
            *out_len = k->pub_len;
        }
    }
    pthread_mutex_unlock(&p11_lock);
    return status;
}

void p11_keys_forget(void)
{
    for (size_t i = 0; i < MAX_KEYS; i++) {
        if (keys[i].ref != NULL) {
            mbedtls_platform_zeroize(keys[i].ref, strlen(keys[i].ref));
            free(keys[i].ref);
        }
    }
    mbedtls_platform_zeroize(keys, sizeof(keys));
    next_key_victim = 0;
}
