/*
 * PKCS#11 backend: generate.  A key pair made on the token the target URI
 * names (object= required; id= made up when absent), sign-only, sensitive
 * and not extractable; the new key's ref is the target without its PIN.
 */
#include <string.h>

#include "keyward/port/backend.h"
#include "mbedtls/asn1.h"
#include "mbedtls/platform_util.h"
#include "pkcs11_key.h"
#include "pkcs11_ops.h"

/* The target URI with ";id=%xx..." inserted before any query. */
static psa_status_t ref_with_id(const char *target, const uint8_t *id, size_t id_len, uint8_t *ref,
                                size_t ref_size, size_t *ref_len)
{
    const char *q = strchr(target, '?');
    size_t path_len = q ? (size_t)(q - target) : strlen(target);
    size_t need = strlen(target) + 4 + 3 * id_len;
    char *o = (char *)ref;

    if (need > ref_size) {
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    memcpy(o, target, path_len);
    o += path_len;
    memcpy(o, ";id=", 4);
    o += 4;
    for (size_t i = 0; i < id_len; i++) {
        static const char hex[] = "0123456789abcdef";
        *o++ = '%';
        *o++ = hex[id[i] >> 4];
        *o++ = hex[id[i] & 15];
    }
    if (q != NULL) {
        memcpy(o, q, strlen(q));
        o += strlen(q);
    }
    *ref_len = (size_t)(o - (char *)ref);
    return PSA_SUCCESS;
}

/* The templates and mechanism of a key-pair generation, with the values the
 * attributes point to. */
typedef struct {
    CK_BBOOL yes, no;
    CK_ULONG mod_bits;
    uint8_t e[3];
    uint8_t ec_params[16];
    CK_ATTRIBUTE pub[12], priv[14];
    CK_ULONG np, nv;
    CK_MECHANISM mech;
} gen_tmpl_t;

/* What the type and size ask for: a secp-r1 curve (its OID in *curve_oid)
 * or RSA of 2048 to 4096 bits (*curve_oid NULL); anything else is
 * PSA_ERROR_NOT_SUPPORTED. */
static psa_status_t gen_check(psa_key_type_t type, size_t bits, const char **curve_oid,
                              size_t *curve_len)
{
    *curve_oid = NULL;
    if (type == PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1)) {
        return p11_curve_for_bits(bits, curve_oid, curve_len);
    }
    if (type != PSA_KEY_TYPE_RSA_KEY_PAIR || bits < 2048 || bits > 4096 || bits % 8 != 0) {
        return PSA_ERROR_NOT_SUPPORTED;
    }
    return PSA_SUCCESS;
}

/* Generation never replaces a key: none with this label/id may exist. */
static psa_status_t gen_check_absent(token_t *tok, P11KitUri *uri)
{
    CK_OBJECT_HANDLE existing;
    psa_status_t status = p11_find_object(tok, uri, CKO_PRIVATE_KEY, &existing);

    if (status == PSA_SUCCESS) {
        keyward_set_error("a private key with this label/id already exists on the token");
        return PSA_ERROR_ALREADY_EXISTS;
    }
    return status == PSA_ERROR_DOES_NOT_EXIST ? PSA_SUCCESS : status;
}

/* Token objects, private and sensitive, never extractable, with the URI's
 * label and the id; an EC curve (curve_oid) or an RSA modulus size. */
static void gen_templates(gen_tmpl_t *t, const CK_ATTRIBUTE *label, CK_ATTRIBUTE id_attr,
                          const char *curve_oid, size_t curve_len, size_t bits)
{
    t->yes = CK_TRUE;
    t->no = CK_FALSE;
    t->mod_bits = bits;
    t->e[0] = 0x01;
    t->e[1] = 0x00;
    t->e[2] = 0x01;
    t->np = 0;
    t->nv = 0;
    t->mech = (CK_MECHANISM){0, NULL, 0};
    t->pub[t->np++] = (CK_ATTRIBUTE){CKA_TOKEN, &t->yes, sizeof(t->yes)};
    t->pub[t->np++] = (CK_ATTRIBUTE){CKA_VERIFY, &t->yes, sizeof(t->yes)};
    /* Sign-only (verify-only) keys: left to the token, SoftHSM2 and
     * tpm2-pkcs11 allow encrypt/wrap and decrypt/unwrap, so a TLS
     * client key would also serve as a decryption oracle. */
    t->pub[t->np++] = (CK_ATTRIBUTE){CKA_ENCRYPT, &t->no, sizeof(t->no)};
    t->pub[t->np++] = (CK_ATTRIBUTE){CKA_WRAP, &t->no, sizeof(t->no)};
    t->pub[t->np++] = (CK_ATTRIBUTE){CKA_DERIVE, &t->no, sizeof(t->no)};
    t->pub[t->np++] = *label;
    t->pub[t->np++] = id_attr;
    t->priv[t->nv++] = (CK_ATTRIBUTE){CKA_TOKEN, &t->yes, sizeof(t->yes)};
    t->priv[t->nv++] = (CK_ATTRIBUTE){CKA_PRIVATE, &t->yes, sizeof(t->yes)};
    t->priv[t->nv++] = (CK_ATTRIBUTE){CKA_SIGN, &t->yes, sizeof(t->yes)};
    t->priv[t->nv++] = (CK_ATTRIBUTE){CKA_SENSITIVE, &t->yes, sizeof(t->yes)};
    t->priv[t->nv++] = (CK_ATTRIBUTE){CKA_EXTRACTABLE, &t->no, sizeof(t->no)};
    t->priv[t->nv++] = (CK_ATTRIBUTE){CKA_DECRYPT, &t->no, sizeof(t->no)};
    t->priv[t->nv++] = (CK_ATTRIBUTE){CKA_UNWRAP, &t->no, sizeof(t->no)};
    t->priv[t->nv++] = (CK_ATTRIBUTE){CKA_DERIVE, &t->no, sizeof(t->no)};
    t->priv[t->nv++] = *label;
    t->priv[t->nv++] = id_attr;
    if (curve_oid != NULL) {
        t->ec_params[0] = MBEDTLS_ASN1_OID;
        t->ec_params[1] = (uint8_t)curve_len;
        memcpy(t->ec_params + 2, curve_oid, curve_len);
        t->pub[t->np++] = (CK_ATTRIBUTE){CKA_EC_PARAMS, t->ec_params, curve_len + 2};
        t->mech.mechanism = CKM_EC_KEY_PAIR_GEN;
    } else {
        t->pub[t->np++] = (CK_ATTRIBUTE){CKA_MODULUS_BITS, &t->mod_bits, sizeof(t->mod_bits)};
        t->pub[t->np++] = (CK_ATTRIBUTE){CKA_PUBLIC_EXPONENT, t->e, sizeof(t->e)};
        t->mech.mechanism = CKM_RSA_PKCS_KEY_PAIR_GEN;
    }
}

/* C_GenerateKeyPair, once more on a fresh session if the token lost it. */
static psa_status_t gen_pair(token_t *tok, const parsed_uri_t *u, gen_tmpl_t *t)
{
    CK_OBJECT_HANDLE hpub, hpriv;
    psa_status_t status;
    CK_RV rv;

    rv = tok->mod->f->C_GenerateKeyPair(tok->session, &t->mech, t->pub, t->np, t->priv, t->nv,
                                        &hpub, &hpriv);
    if (p11_session_lost(rv)) {
        status = p11_session_open(tok, u);
        if (status != PSA_SUCCESS) {
            return status;
        }
        rv = tok->mod->f->C_GenerateKeyPair(tok->session, &t->mech, t->pub, t->np, t->priv, t->nv,
                                            &hpub, &hpriv);
    }
    if (rv != CKR_OK) {
        return p11_fail("C_GenerateKeyPair", rv);
    }
    return PSA_SUCCESS;
}

/* The new key's ref: the target without its PIN (kept in process memory
 * for this ref, as keyward_key_open does), plus made_id when the target
 * named no id (made_id NULL when it did). */
static psa_status_t gen_ref(const parsed_uri_t *u, const uint8_t *made_id, size_t made_id_len,
                            uint8_t *ref, size_t ref_size, size_t *ref_len)
{
    char clean[KEYWARD_REF_MAX + 1];
    size_t clean_len = 0;
    psa_status_t status = keyward_keyref_strip(u->text, clean, sizeof(clean), &clean_len);

    if (status == PSA_SUCCESS && made_id == NULL) {
        if (clean_len > ref_size) {
            status = PSA_ERROR_INVALID_ARGUMENT;
        } else {
            memcpy(ref, clean, clean_len);
            *ref_len = clean_len;
        }
    } else if (status == PSA_SUCCESS) {
        status = ref_with_id(clean, made_id, made_id_len, ref, ref_size, ref_len);
    }
    if (status == PSA_SUCCESS) {
        status = p11_keep_pin(u, ref, *ref_len);
    }
    mbedtls_platform_zeroize(clean, sizeof(clean));
    return status;
}

psa_status_t p11_generate(const char *target, psa_key_type_t type, size_t bits, uint8_t *ref,
                          size_t ref_size, size_t *ref_len)
{
    psa_status_t status = PSA_ERROR_CORRUPTION_DETECTED;
    parsed_uri_t u;
    token_t *tok = NULL;
    gen_tmpl_t t;
    uint8_t id_buf[8];
    CK_ATTRIBUTE *label, *id;
    const char *curve_oid = NULL;
    size_t curve_len = 0;
    int have_id;

    status = p11_uri_parse((const uint8_t *)target, strlen(target), &u);
    if (status != PSA_SUCCESS) {
        return status;
    }
    label = p11_kit_uri_get_attribute(u.uri, CKA_LABEL);
    id = p11_kit_uri_get_attribute(u.uri, CKA_ID);
    if (label == NULL) {
        keyward_set_error("key generation needs object=LABEL in the PKCS#11 URI");
        status = PSA_ERROR_INVALID_ARGUMENT;
        goto exit;
    }
    status = gen_check(type, bits, &curve_oid, &curve_len);
    if (status != PSA_SUCCESS) {
        goto exit;
    }

    pthread_mutex_lock(&p11_lock);
    status = p11_token_get(&u, &tok);
    if (status == PSA_SUCCESS) {
        status = gen_check_absent(tok, u.uri);
    }
    if (status != PSA_SUCCESS) {
        goto unlock;
    }
    have_id = id != NULL && id->ulValueLen > 0;
    if (!have_id) {
        status = psa_generate_random(id_buf, sizeof(id_buf));
        if (status != PSA_SUCCESS) {
            goto unlock;
        }
    }
    gen_templates(&t, label, have_id ? *id : (CK_ATTRIBUTE){CKA_ID, id_buf, sizeof(id_buf)},
                  curve_oid, curve_len, bits);
    status = gen_pair(tok, &u, &t);
    if (status == PSA_SUCCESS) {
        status = gen_ref(&u, have_id ? NULL : id_buf, sizeof(id_buf), ref, ref_size, ref_len);
    }
unlock:
    pthread_mutex_unlock(&p11_lock);
exit:
    p11_uri_free(&u);
    return status;
}
