/*
 * TPM 2.0 backend: KEYREF text, TSS2 PRIVATE KEY files and the ref TLV
 * (format in tpm2_internal.h).  No TPM access here.
 */
#include <errno.h>
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

/* ---- KEYREF ------------------------------------------------------------- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* %XX-decodes [s, s+n) into out (NUL-terminated; out_size includes the NUL).
 * Shared with the NV-certificate references (tpm2_nv.c). */
int kw_tpm2_pct_decode(const char *s, size_t n, char *out, size_t out_size, size_t *out_len)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            int hi, lo;
            if (i + 2 >= n) {
                return -1;
            }
            hi = hexval((unsigned char)s[i + 1]);
            lo = hexval((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0) {
                return -1;
            }
            c = hi * 16 + lo;
            i += 2;
        }
        if (o + 1 >= out_size) {
            return -1;
        }
        out[o++] = (char)c;
    }
    out[o] = '\0';
    *out_len = o;
    return 0;
}

static int parse_u32(const char *s, uint32_t *v)
{
    char *end = NULL;
    unsigned long long x;

    if (s[0] == '\0' || s[0] == '-' || s[0] == '+') {
        return -1;
    }
    errno = 0;
    x = strtoull(s, &end, 0);
    if (errno != 0 || *end != '\0' || x > 0xffffffffull) {
        return -1;
    }
    *v = (uint32_t)x;
    return 0;
}

static int is_persistent(uint32_t h)
{
    return (h & 0xff000000u) == 0x81000000u;
}

/* auth= values: "hex:0a0b...", "str:text" or plain text (the tpm2-tools
 * conventions). */
static int parse_auth(const char *v, size_t v_len, uint8_t *out, size_t *out_len)
{
    if (v_len >= 4 && memcmp(v, "hex:", 4) == 0) {
        size_t n = v_len - 4;
        if (n % 2 != 0 || n / 2 > KW_TPM2_AUTH_MAX) {
            return -1;
        }
        for (size_t i = 0; i < n / 2; i++) {
            int hi = hexval((unsigned char)v[4 + 2 * i]), lo = hexval((unsigned char)v[5 + 2 * i]);
            if (hi < 0 || lo < 0) {
                return -1;
            }
            out[i] = (uint8_t)(hi * 16 + lo);
        }
        *out_len = n / 2;
        return 0;
    }
    if (v_len >= 4 && memcmp(v, "str:", 4) == 0) {
        v += 4;
        v_len -= 4;
    }
    if (v_len > KW_TPM2_AUTH_MAX) {
        return -1;
    }
    memcpy(out, v, v_len);
    *out_len = v_len;
    return 0;
}

psa_status_t kw_tpm2_keyref_parse(const char *keyref, int need_key, kw_tpm2_keyref_t *out)
{
    psa_status_t status = PSA_ERROR_CORRUPTION_DETECTED;
    const char *p;
    char val[KW_TPM2_PATH_MAX];
    size_t val_len = 0;
    int seen_parent = 0, seen_handle = 0, seen_file = 0;

    memset(out, 0, sizeof(*out));
    if (keyref == NULL || strncmp(keyref, "tpm2:", 5) != 0) {
        keyward_set_error("a TPM KEYREF starts with 'tpm2:'");
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    p = keyref + 5;
    while (*p != '\0') {
        const char *semi = strchr(p, ';');
        size_t item_len = semi != NULL ? (size_t)(semi - p) : strlen(p);
        const char *eq = memchr(p, '=', item_len);
        size_t name_len;

        if (eq == NULL) {
            keyward_set_error("TPM KEYREF attribute without '=': '%.*s'", (int)item_len, p);
            status = PSA_ERROR_INVALID_ARGUMENT;
            goto exit;
        }
        name_len = (size_t)(eq - p);
        if (kw_tpm2_pct_decode(eq + 1, item_len - name_len - 1, val, sizeof(val), &val_len) != 0) {
            keyward_set_error("TPM KEYREF attribute '%.*s': bad %%-escape or too long",
                              (int)name_len, p);
            status = PSA_ERROR_INVALID_ARGUMENT;
            goto exit;
        }
#define NAME_IS(lit) (name_len == sizeof(lit) - 1 && memcmp(p, lit, name_len) == 0)
        if (NAME_IS("file") && !seen_file && val_len > 0 && strlen(val) == val_len) {
            memcpy(out->file, val, val_len + 1);
            seen_file = 1;
        } else if (NAME_IS("handle") && !seen_handle && parse_u32(val, &out->handle) == 0 &&
                   is_persistent(out->handle)) {
            seen_handle = 1;
        } else if (NAME_IS("parent") && !seen_parent && parse_u32(val, &out->parent) == 0 &&
                   (out->parent == KW_TPM2_PARENT_OWNER || is_persistent(out->parent))) {
            seen_parent = 1;
        } else if (NAME_IS("tcti") && !out->has_tcti && val_len < sizeof(out->tcti) &&
                   strlen(val) == val_len) {
            memcpy(out->tcti, val, val_len + 1);
            out->has_tcti = 1;
        } else if (NAME_IS("auth") && !out->has_auth &&
                   parse_auth(val, val_len, out->auth, &out->auth_len) == 0) {
            out->has_auth = 1;
        } else if (NAME_IS("parent-auth") && !out->has_parent_auth &&
                   parse_auth(val, val_len, out->parent_auth, &out->parent_auth_len) == 0) {
            out->has_parent_auth = 1;
        } else {
            keyward_set_error("TPM KEYREF: unknown, repeated or invalid attribute '%.*s' "
                              "(known: file, handle, parent, tcti, auth, parent-auth)",
                              (int)name_len, p);
            status = PSA_ERROR_INVALID_ARGUMENT;
            goto exit;
        }
#undef NAME_IS
        p += item_len;
        if (*p == ';') {
            p++;
        }
    }
    if (need_key && seen_file == seen_handle) {
        keyward_set_error("a TPM KEYREF names exactly one of file=PATH or handle=0x81xxxxxx");
        status = PSA_ERROR_INVALID_ARGUMENT;
        goto exit;
    }
    status = PSA_SUCCESS;
exit:
    mbedtls_platform_zeroize(val, sizeof(val));
    if (status != PSA_SUCCESS) {
        kw_tpm2_keyref_free(out);
    }
    return status;
}

void kw_tpm2_keyref_free(kw_tpm2_keyref_t *kr)
{
    mbedtls_platform_zeroize(kr->auth, sizeof(kr->auth));
    mbedtls_platform_zeroize(kr->parent_auth, sizeof(kr->parent_auth));
    kr->auth_len = kr->parent_auth_len = 0;
}

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

    if (mbedtls_asn1_get_tag(p, end, &len, MBEDTLS_ASN1_CONTEXT_SPECIFIC |
                                                MBEDTLS_ASN1_CONSTRUCTED | tagnum) != 0) {
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    inner_end = *p + len;
    if (mbedtls_asn1_get_bool(p, inner_end, value) != 0 || *p != inner_end) {
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    return PSA_SUCCESS;
}

static psa_status_t parse_der(unsigned char *p, const unsigned char *end, kw_tpm2_keyfile_t *kf)
{
    size_t len = 0;
    int rsa_parent = 0;
    TPM2B_PUBLIC pub;
    TPM2B_PRIVATE priv;
    size_t off = 0;

    /* Tss2_MU_*_Unmarshal insist on zeroed destinations. */
    memset(&pub, 0, sizeof(pub));
    memset(&priv, 0, sizeof(priv));
    if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0 ||
        p + len != end) {
        keyward_set_error("TSS2 key: not a DER SEQUENCE");
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_OID) != 0) {
        keyward_set_error("TSS2 key: no type OID");
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    if (len != sizeof(oid_loadable) || memcmp(p, oid_loadable, len) != 0) {
        if (len == sizeof(oid_loadable) && memcmp(p, oid_tss2_prefix, sizeof(oid_tss2_prefix)) == 0) {
            keyward_set_error("TSS2 key: importable/sealed keys are not supported, only loadable "
                              "keys (2.23.133.10.1.3)");
            return PSA_ERROR_NOT_SUPPORTED;
        }
        keyward_set_error("TSS2 key: unknown type OID");
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    p += len;
    kf->empty_auth = 0;
    if (p < end && *p == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 0)) {
        if (get_explicit_bool(&p, end, 0, &kf->empty_auth) != PSA_SUCCESS) {
            keyward_set_error("TSS2 key: bad emptyAuth");
            return PSA_ERROR_INVALID_ARGUMENT;
        }
    }
    for (int tagnum = 1; tagnum <= 5 && p < end; tagnum++) {
        if (*p != (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | tagnum)) {
            continue;
        }
        if (tagnum <= 3) {
            /* Policies and imported secrets need policy sessions / TPM2_Import. */
            keyward_set_error("TSS2 key: policy-bound or importable keys ([%d]) are not supported",
                              tagnum);
            return PSA_ERROR_NOT_SUPPORTED;
        }
        if (tagnum == 4) { /* description: informative only */
            if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONTEXT_SPECIFIC |
                                                         MBEDTLS_ASN1_CONSTRUCTED | 4) != 0) {
                return PSA_ERROR_INVALID_ARGUMENT;
            }
            p += len;
        } else if (get_explicit_bool(&p, end, 5, &rsa_parent) != PSA_SUCCESS) {
            return PSA_ERROR_INVALID_ARGUMENT;
        } else if (rsa_parent) {
            keyward_set_error("TSS2 key: keys under an RSA storage parent are not supported");
            return PSA_ERROR_NOT_SUPPORTED;
        }
    }
    /* parent: a non-negative INTEGER below 2^32 (up to 5 content bytes). */
    if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_INTEGER) != 0 || len == 0 || len > 5 ||
        (p[0] & 0x80) != 0 || (len == 5 && p[0] != 0)) {
        keyward_set_error("TSS2 key: bad parent INTEGER");
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    kf->parent = 0;
    for (size_t i = 0; i < len; i++) {
        kf->parent = (kf->parent << 8) | p[i];
    }
    p += len;
    if (kf->parent == 0) {
        kf->parent = KW_TPM2_PARENT_OWNER; /* how older writers said "the SRK" */
    }
    if (kf->parent != KW_TPM2_PARENT_OWNER && !is_persistent(kf->parent)) {
        keyward_set_error("TSS2 key: parent 0x%08x is neither the owner SRK (0x40000001) nor a "
                          "persistent handle", (unsigned)kf->parent);
        return PSA_ERROR_NOT_SUPPORTED;
    }
    if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_OCTET_STRING) != 0 ||
        len > sizeof(kf->pub) || Tss2_MU_TPM2B_PUBLIC_Unmarshal(p, len, &off, &pub) != 0 ||
        off != len) {
        keyward_set_error("TSS2 key: bad pubkey (TPM2B_PUBLIC)");
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    memcpy(kf->pub, p, len);
    kf->pub_len = len;
    p += len;
    off = 0;
    if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_OCTET_STRING) != 0 ||
        len > sizeof(kf->priv) || Tss2_MU_TPM2B_PRIVATE_Unmarshal(p, len, &off, &priv) != 0 ||
        off != len) {
        keyward_set_error("TSS2 key: bad privkey (TPM2B_PRIVATE)");
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    memcpy(kf->priv, p, len);
    kf->priv_len = len;
    p += len;
    if (p != end) {
        keyward_set_error("TSS2 key: trailing data");
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    return PSA_SUCCESS;
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
#define W(call)                                                                \
    do {                                                                       \
        ret = (call);                                                          \
        if (ret < 0) {                                                         \
            return PSA_ERROR_BUFFER_TOO_SMALL;                                 \
        }                                                                      \
        len += (size_t)ret;                                                    \
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
        ret = mbedtls_asn1_write_tag(&p, der, MBEDTLS_ASN1_CONTEXT_SPECIFIC |
                                                  MBEDTLS_ASN1_CONSTRUCTED | 0);
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
        psa_status_t status =
            keyward_secret_put(ref, w.len, "auth", kr->auth, kr->auth_len);
        if (status != PSA_SUCCESS) {
            return status;
        }
    }
    if (kr != NULL && kr->has_parent_auth) {
        psa_status_t status = keyward_secret_put(ref, w.len, "parent-auth", kr->parent_auth,
                                                 kr->parent_auth_len);
        if (status != PSA_SUCCESS) {
            return status;
        }
    }
    return PSA_SUCCESS;
}

int kw_tpm2_ref_secret(const kw_tpm2_ref_t *r, unsigned which, uint8_t *out, size_t *out_len)
{
    const char *name = which == KW_TPM2_TAG_AUTH ? "auth" : "parent-auth";

    return r->raw != NULL &&
           keyward_secret_get(r->raw, r->raw_len, name, out, KW_TPM2_AUTH_MAX, out_len) ==
               PSA_SUCCESS;
}

static uint32_t get_be32(const uint8_t *b)
{
    return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
}

psa_status_t kw_tpm2_ref_parse(const uint8_t *ref, size_t ref_len, kw_tpm2_ref_t *out)
{
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
        switch (tag) {
        case KW_TPM2_TAG_HANDLE:
            if (n != 4 || !is_persistent(get_be32(v))) {
                return PSA_ERROR_DATA_CORRUPT;
            }
            out->handle = get_be32(v);
            break;
        case KW_TPM2_TAG_PARENT:
            if (n != 4) {
                return PSA_ERROR_DATA_CORRUPT;
            }
            out->parent = get_be32(v);
            if (out->parent != KW_TPM2_PARENT_OWNER && !is_persistent(out->parent)) {
                return PSA_ERROR_DATA_CORRUPT;
            }
            has_parent = 1;
            break;
        case KW_TPM2_TAG_EMPTY_AUTH:
            if (n != 1 || v[0] > 1) {
                return PSA_ERROR_DATA_CORRUPT;
            }
            out->empty_auth = v[0];
            break;
        case KW_TPM2_TAG_PUBLIC:
            if (n < 2 || n > sizeof(TPM2B_PUBLIC)) {
                return PSA_ERROR_DATA_CORRUPT;
            }
            out->pub = v;
            out->pub_len = n;
            break;
        case KW_TPM2_TAG_PRIVATE:
            if (n < 2 || n > sizeof(TPM2B_PRIVATE)) {
                return PSA_ERROR_DATA_CORRUPT;
            }
            out->priv = v;
            out->priv_len = n;
            break;
        case KW_TPM2_TAG_TCTI:
            if (n >= KW_TPM2_TCTI_MAX || memchr(v, 0, n) != NULL) {
                return PSA_ERROR_DATA_CORRUPT;
            }
            out->tcti = (const char *)v;
            out->tcti_len = n;
            out->has_tcti = 1;
            break;
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
