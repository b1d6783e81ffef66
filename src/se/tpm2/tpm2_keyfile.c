/*
 * TPM 2.0 backend: the TSS2 PRIVATE KEY file ("loadable key", PEM or DER,
 * as tpm2-openssl and tpm2_encodeobject write it), read with Mbed TLS's PEM
 * and ASN.1 readers and written as PEM.  No TPM access here.
 */
#include <stdlib.h>
#include <string.h>

#include <tss2/tss2_mu.h>

#include "keyward/port/backend.h"
#include "mbedtls/asn1.h"
#include "mbedtls/asn1write.h"
#include "mbedtls/pem.h"
#include "mbedtls/platform_util.h"
#include "tpm2_internal.h"

#define PEM_BEGIN "-----BEGIN TSS2 PRIVATE KEY-----"
#define PEM_END "-----END TSS2 PRIVATE KEY-----"

/* TCG "TSS2 key" OIDs, 2.23.133.10.1.{3,4,5}: loadable, importable, sealed. */
static const uint8_t oid_loadable[] = {0x67, 0x81, 0x05, 0x0A, 0x01, 0x03};
static const uint8_t oid_tss2_prefix[] = {0x67, 0x81, 0x05, 0x0A, 0x01};

/* ---- TSS2 PRIVATE KEY ---------------------------------------------------
 *
 *   TPMKey ::= SEQUENCE {
 *       type        OBJECT IDENTIFIER,       -- 2.23.133.10.1.3 loadable
 *       emptyAuth   [0] EXPLICIT BOOLEAN OPTIONAL,
 *       policy      [1] EXPLICIT SEQUENCE OF TPMPolicy OPTIONAL,
 *       secret      [2] EXPLICIT OCTET STRING OPTIONAL,
 *       authPolicy  [3] EXPLICIT SEQUENCE OF TPMAuthPolicy OPTIONAL,
 *       description [4] EXPLICIT UTF8String OPTIONAL,
 *       rsaParent   [5] EXPLICIT BOOLEAN OPTIONAL,
 *       parent      INTEGER,
 *       pubkey      OCTET STRING,            -- TPM2B_PUBLIC
 *       privkey     OCTET STRING }           -- TPM2B_PRIVATE
 */

static psa_status_t get_explicit_bool(unsigned char **p, const unsigned char *end, int tagnum,
                                      int *value)
{
    size_t len = 0;
    const unsigned char *inner_end;

    if (mbedtls_asn1_get_tag(p, end, &len,
                             MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | tagnum) !=
        0) {
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    inner_end = *p + len;
    if (mbedtls_asn1_get_bool(p, inner_end, value) != 0 || *p != inner_end) {
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    return PSA_SUCCESS;
}

/* SEQUENCE { type OID: only a loadable key (2.23.133.10.1.3) ... */
static psa_status_t der_type(unsigned char **p, const unsigned char *end)
{
    size_t len = 0;

    if (mbedtls_asn1_get_tag(p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0 ||
        *p + len != end) {
        keyward_set_error("TSS2 key: not a DER SEQUENCE");
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    if (mbedtls_asn1_get_tag(p, end, &len, MBEDTLS_ASN1_OID) != 0) {
        keyward_set_error("TSS2 key: no type OID");
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    if (len != sizeof(oid_loadable) || memcmp(*p, oid_loadable, len) != 0) {
        if (len == sizeof(oid_loadable) &&
            memcmp(*p, oid_tss2_prefix, sizeof(oid_tss2_prefix)) == 0) {
            keyward_set_error("TSS2 key: importable/sealed keys are not supported, only loadable "
                              "keys (2.23.133.10.1.3)");
            return PSA_ERROR_NOT_SUPPORTED;
        }
        keyward_set_error("TSS2 key: unknown type OID");
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    *p += len;
    return PSA_SUCCESS;
}

/* ... [0] emptyAuth, then [1]..[5]: policies, secret (refused), description
 * (skipped), rsaParent (refused when TRUE) ... */
static psa_status_t der_options(unsigned char **p, const unsigned char *end, kw_tpm2_keyfile_t *kf)
{
    size_t len = 0;
    int rsa_parent = 0;

    kf->empty_auth = 0;
    if (*p < end && **p == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 0)) {
        if (get_explicit_bool(p, end, 0, &kf->empty_auth) != PSA_SUCCESS) {
            keyward_set_error("TSS2 key: bad emptyAuth");
            return PSA_ERROR_INVALID_ARGUMENT;
        }
    }
    for (int tagnum = 1; tagnum <= 5 && *p < end; tagnum++) {
        if (**p != (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | tagnum)) {
            continue;
        }
        if (tagnum <= 3) {
            /* Policies and imported secrets need policy sessions / TPM2_Import. */
            keyward_set_error("TSS2 key: policy-bound or importable keys ([%d]) are not supported",
                              tagnum);
            return PSA_ERROR_NOT_SUPPORTED;
        }
        if (tagnum == 4) { /* description: informative only */
            if (mbedtls_asn1_get_tag(p, end, &len,
                                     MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED |
                                         4) != 0) {
                return PSA_ERROR_INVALID_ARGUMENT;
            }
            *p += len;
        } else if (get_explicit_bool(p, end, 5, &rsa_parent) != PSA_SUCCESS) {
            return PSA_ERROR_INVALID_ARGUMENT;
        } else if (rsa_parent) {
            keyward_set_error("TSS2 key: keys under an RSA storage parent are not supported");
            return PSA_ERROR_NOT_SUPPORTED;
        }
    }
    return PSA_SUCCESS;
}

/* ... parent: a non-negative INTEGER below 2^32 (up to 5 content bytes),
 * the owner SRK or a persistent handle ... */
static psa_status_t der_parent(unsigned char **p, const unsigned char *end, kw_tpm2_keyfile_t *kf)
{
    size_t len = 0;

    if (mbedtls_asn1_get_tag(p, end, &len, MBEDTLS_ASN1_INTEGER) != 0 || len == 0 || len > 5 ||
        ((*p)[0] & 0x80) != 0 || (len == 5 && (*p)[0] != 0)) {
        keyward_set_error("TSS2 key: bad parent INTEGER");
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    kf->parent = 0;
    for (size_t i = 0; i < len; i++) {
        kf->parent = (kf->parent << 8) | (*p)[i];
    }
    *p += len;
    if (kf->parent == 0) {
        kf->parent = KW_TPM2_PARENT_OWNER; /* how older writers said "the SRK" */
    }
    if (kf->parent != KW_TPM2_PARENT_OWNER && !kw_tpm2_handle_is_persistent(kf->parent)) {
        keyward_set_error("TSS2 key: parent 0x%08x is neither the owner SRK (0x40000001) nor a "
                          "persistent handle",
                          (unsigned)kf->parent);
        return PSA_ERROR_NOT_SUPPORTED;
    }
    return PSA_SUCCESS;
}

/* ... pubkey TPM2B_PUBLIC, privkey TPM2B_PRIVATE } and nothing after. */
static psa_status_t der_blobs(unsigned char **p, const unsigned char *end, kw_tpm2_keyfile_t *kf)
{
    size_t len = 0;
    TPM2B_PUBLIC pub;
    TPM2B_PRIVATE priv;
    size_t off = 0;

    /* Tss2_MU_*_Unmarshal insist on zeroed destinations. */
    memset(&pub, 0, sizeof(pub));
    memset(&priv, 0, sizeof(priv));
    if (mbedtls_asn1_get_tag(p, end, &len, MBEDTLS_ASN1_OCTET_STRING) != 0 ||
        len > sizeof(kf->pub) || Tss2_MU_TPM2B_PUBLIC_Unmarshal(*p, len, &off, &pub) != 0 ||
        off != len) {
        keyward_set_error("TSS2 key: bad pubkey (TPM2B_PUBLIC)");
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    memcpy(kf->pub, *p, len);
    kf->pub_len = len;
    *p += len;
    off = 0;
    if (mbedtls_asn1_get_tag(p, end, &len, MBEDTLS_ASN1_OCTET_STRING) != 0 ||
        len > sizeof(kf->priv) || Tss2_MU_TPM2B_PRIVATE_Unmarshal(*p, len, &off, &priv) != 0 ||
        off != len) {
        keyward_set_error("TSS2 key: bad privkey (TPM2B_PRIVATE)");
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    memcpy(kf->priv, *p, len);
    kf->priv_len = len;
    *p += len;
    if (*p != end) {
        keyward_set_error("TSS2 key: trailing data");
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    return PSA_SUCCESS;
}

/* TSSPrivKey (the TCG's key file ASN.1), one part after the other. */
static psa_status_t parse_der(unsigned char *p, const unsigned char *end, kw_tpm2_keyfile_t *kf)
{
    psa_status_t status = der_type(&p, end);

    if (status == PSA_SUCCESS) {
        status = der_options(&p, end, kf);
    }
    if (status == PSA_SUCCESS) {
        status = der_parent(&p, end, kf);
    }
    if (status == PSA_SUCCESS) {
        status = der_blobs(&p, end, kf);
    }
    return status;
}

psa_status_t kw_tpm2_keyfile_parse(const uint8_t *data, size_t len, kw_tpm2_keyfile_t *kf)
{
    psa_status_t status = PSA_ERROR_CORRUPTION_DETECTED;
    mbedtls_pem_context pem;
    char *text = NULL;
    size_t used = 0;
    int ret;

    memset(kf, 0, sizeof(*kf));
    if (len > 0 && data[0] == 0x30) {
        unsigned char *p = (unsigned char *)data;
        return parse_der(p, p + len, kf);
    }
    /* mbedtls_pem_read_buffer wants a NUL-terminated string. */
    text = malloc(len + 1);
    if (text == NULL) {
        return PSA_ERROR_INSUFFICIENT_MEMORY;
    }
    memcpy(text, data, len);
    text[len] = '\0';
    mbedtls_pem_init(&pem);
    ret = mbedtls_pem_read_buffer(&pem, PEM_BEGIN, PEM_END, (const unsigned char *)text, NULL, 0,
                                  &used);
    if (ret != 0) {
        keyward_set_error("not a TSS2 PRIVATE KEY PEM file (mbedtls_pem_read_buffer -0x%04x)",
                          (unsigned)-ret);
        status = PSA_ERROR_INVALID_ARGUMENT;
    } else {
        size_t der_len = 0;
        const unsigned char *der = mbedtls_pem_get_buffer(&pem, &der_len);
        status = parse_der((unsigned char *)der, der + der_len, kf);
    }
    mbedtls_pem_free(&pem);
    free(text);
    return status;
}

psa_status_t kw_tpm2_keyfile_write_pem(const kw_tpm2_keyfile_t *kf, char *out, size_t out_size,
                                       size_t *out_len)
{
    unsigned char der[sizeof(kf->pub) + sizeof(kf->priv) + 64] = {0};
    unsigned char *p = der + sizeof(der);
    unsigned char parent[5];
    size_t plen = 0, len = 0, olen = 0;
    int ret;

    /* Written backwards, as Mbed TLS's ASN.1 writer does. */
#define W(call)                                \
    do {                                       \
        ret = (call);                          \
        if (ret < 0) {                         \
            return PSA_ERROR_BUFFER_TOO_SMALL; \
        }                                      \
        len += (size_t)ret;                    \
    } while (0)
    W(mbedtls_asn1_write_octet_string(&p, der, kf->priv, kf->priv_len));
    W(mbedtls_asn1_write_octet_string(&p, der, kf->pub, kf->pub_len));
    /* INTEGER parent, minimal two's complement (a leading 0 if bit 31 is set). */
    parent[0] = 0;
    parent[1] = (uint8_t)(kf->parent >> 24);
    parent[2] = (uint8_t)(kf->parent >> 16);
    parent[3] = (uint8_t)(kf->parent >> 8);
    parent[4] = (uint8_t)kf->parent;
    plen = 5;
    while (plen > 1 && parent[5 - plen] == 0 && (parent[5 - plen + 1] & 0x80) == 0) {
        plen--;
    }
    {
        size_t ilen = 0;
        ret = mbedtls_asn1_write_raw_buffer(&p, der, parent + 5 - plen, plen);
        if (ret < 0) {
            return PSA_ERROR_BUFFER_TOO_SMALL;
        }
        ilen += (size_t)ret;
        ret = mbedtls_asn1_write_len(&p, der, ilen);
        if (ret < 0) {
            return PSA_ERROR_BUFFER_TOO_SMALL;
        }
        ilen += (size_t)ret;
        ret = mbedtls_asn1_write_tag(&p, der, MBEDTLS_ASN1_INTEGER);
        if (ret < 0) {
            return PSA_ERROR_BUFFER_TOO_SMALL;
        }
        len += ilen + (size_t)ret;
    }
    if (kf->empty_auth) {
        size_t blen = 0;
        ret = mbedtls_asn1_write_bool(&p, der, 1);
        if (ret < 0) {
            return PSA_ERROR_BUFFER_TOO_SMALL;
        }
        blen = (size_t)ret;
        ret = mbedtls_asn1_write_len(&p, der, blen);
        if (ret < 0) {
            return PSA_ERROR_BUFFER_TOO_SMALL;
        }
        blen += (size_t)ret;
        ret = mbedtls_asn1_write_tag(&p, der,
                                     MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 0);
        if (ret < 0) {
            return PSA_ERROR_BUFFER_TOO_SMALL;
        }
        len += blen + (size_t)ret;
    }
    W(mbedtls_asn1_write_oid(&p, der, (const char *)oid_loadable, sizeof(oid_loadable)));
    W(mbedtls_asn1_write_len(&p, der, len));
    W(mbedtls_asn1_write_tag(&p, der, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
#undef W
    ret = mbedtls_pem_write_buffer(PEM_BEGIN "\n", PEM_END "\n", p, len, (unsigned char *)out,
                                   out_size, &olen);
    if (ret != 0) {
        return PSA_ERROR_BUFFER_TOO_SMALL;
    }
    *out_len = olen > 0 ? olen - 1 : 0; /* olen counts the NUL */
    return PSA_SUCCESS;
}
