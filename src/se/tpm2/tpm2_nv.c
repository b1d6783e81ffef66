/*
 * TPM 2.0 backend: certificates kept in NV indexes ("tpm2:nv=0x01XXXXXX").
 *
 *   tpm2:nv=0x01000010[;tcti=swtpm:host=127.0.0.1,port=2321]
 *
 * An index holds one DER certificate; the index may be larger than the
 * certificate (EK certificate indexes are often padded), so the length is
 * taken from the certificate's outer SEQUENCE.  Reads go in chunks of at most
 * TPM_PT_NV_BUFFER_MAX bytes (the TPM's limit for one NV_Read / NV_Write).
 *
 * Ranges (TCG "Registry of Reserved TPM 2.0 Handles and Localities"):
 * owner indexes are 0x01000000-0x013FFFFF and may be written; 0x01C00000 up
 * is TCG's (EK certificates and templates): read only.
 *
 * Authorisation: an index is read with its own (empty) auth value when it
 * has TPMA_NV_AUTHREAD, else through the owner hierarchy; indexes are
 * defined and written through the owner hierarchy, whose auth value comes
 * from $KEYWARD_TPM2_OWNER_AUTH (empty if unset), never from the reference.
 *
 * The connection.  This file opens a short-lived ESYS context of its own.
 * A TPM without a resource manager serves one connection at a time, so the
 * key side's connections are closed first (keyward_tpm2_release: they
 * reopen on the next key operation).  Certificates are read once, when a
 * TLS identity is set up, so that cost is paid once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "keyward/port/backend.h"
#include "mbedtls/asn1.h"
#include "mbedtls/platform_util.h"
#include "tpm2_internal.h"

#define NV_OWNER_FIRST 0x01000000u
#define NV_OWNER_LAST 0x013FFFFFu
#define NV_TCG_FIRST 0x01C00000u
#define NV_FIRST 0x01000000u
#define NV_LAST 0x01FFFFFFu
/* When the TPM does not say (TPM_PT_NV_BUFFER_MAX is a fixed property every
 * TPM 2.0 reports, but be safe): the smallest value seen in real TPMs. */
#define NV_CHUNK_DEFAULT 512u

typedef struct {
    uint32_t index;
    char tcti[KW_TPM2_TCTI_MAX];
    int has_tcti;
} nvref_t;

typedef struct {
    TSS2_TCTI_CONTEXT *tcti;
    ESYS_CONTEXT *esys;
} nvconn_t;

/* ---- the reference --------------------------------------------------------- */

/* "tpm2:nv=0x01XXXXXX[;tcti=...]": nv= exactly once, tcti= at most once. */
static psa_status_t nvref_parse(const char *certref, nvref_t *r)
{
    const char *p;
    int have_nv = 0;

    memset(r, 0, sizeof(*r));
    if (strncmp(certref, "tpm2:", 5) != 0) {
        keyward_set_error("not a TPM reference (tpm2:nv=...)");
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    p = certref + 5;
    while (*p != '\0') {
        size_t n = strcspn(p, ";");
        const char *eq = memchr(p, '=', n);
        char val[KW_TPM2_TCTI_MAX];
        size_t vlen = 0;

        if (eq == NULL ||
            kw_tpm2_pct_decode(eq + 1, n - (size_t)(eq + 1 - p), val, sizeof(val), &vlen) != 0 ||
            strlen(val) != vlen) { /* no %00 inside a value */
            keyward_set_error("TPM certificate reference: bad attribute '%.*s' (nv=, tcti=)",
                              (int)(eq != NULL ? (size_t)(eq - p) : n), p);
            return PSA_ERROR_INVALID_ARGUMENT;
        }
        if ((size_t)(eq - p) == 2 && memcmp(p, "nv", 2) == 0 && !have_nv) {
            char *end = NULL;
            unsigned long v = strtoul(val, &end, 16);
            if (strncmp(val, "0x", 2) != 0 || end == NULL || *end != '\0' || end == val + 2 ||
                v < NV_FIRST || v > NV_LAST) {
                keyward_set_error("TPM certificate reference: nv= takes an NV index 0x01000000.."
                                  "0x01FFFFFF in hex (0x...), not '%s'",
                                  val);
                return PSA_ERROR_INVALID_ARGUMENT;
            }
            r->index = (uint32_t)v;
            have_nv = 1;
        } else if ((size_t)(eq - p) == 4 && memcmp(p, "tcti", 4) == 0 && !r->has_tcti) {
            strcpy(r->tcti, val);
            r->has_tcti = 1;
        } else {
            keyward_set_error("TPM certificate reference: unknown or repeated attribute '%.*s' "
                              "(nv=, tcti=)",
                              (int)(eq - p), p);
            return PSA_ERROR_INVALID_ARGUMENT;
        }
        p += n;
        if (*p == ';') {
            p++;
        }
    }
    if (!have_nv) {
        keyward_set_error("TPM certificate reference needs nv=0x01XXXXXX");
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    return PSA_SUCCESS;
}

/* ---- TPM access ------------------------------------------------------------- */

static psa_status_t nv_fail(const char *what, uint32_t index, TSS2_RC rc)
{
    TSS2_RC base = rc & 0xfff;
    TSS2_RC layer = rc & TSS2_RC_LAYER_MASK;
    int from_tpm = layer == TSS2_TPM_RC_LAYER || layer == TSS2_RESMGR_TPM_RC_LAYER;

    if (from_tpm && (base & TPM2_RC_FMT1)) {
        base &= TPM2_RC_FMT1 | 0x3f;
    }
    keyward_set_error("%s of NV index 0x%08x: %s (0x%x)", what, (unsigned)index, Tss2_RC_Decode(rc),
                      (unsigned)rc);
    if (!from_tpm) {
        return PSA_ERROR_COMMUNICATION_FAILURE;
    }
    switch (base) {
    case TPM2_RC_HANDLE:
        return PSA_ERROR_DOES_NOT_EXIST;
    case TPM2_RC_NV_DEFINED:
        return PSA_ERROR_ALREADY_EXISTS;
    case TPM2_RC_NV_SPACE:
    case TPM2_RC_NV_RANGE:
        return PSA_ERROR_INSUFFICIENT_STORAGE;
    case TPM2_RC_NV_UNINITIALIZED:
        return PSA_ERROR_DOES_NOT_EXIST;
    case TPM2_RC_AUTH_FAIL:
    case TPM2_RC_BAD_AUTH:
    case TPM2_RC_NV_AUTHORIZATION:
    case TPM2_RC_NV_LOCKED:
    case TPM2_RC_ATTRIBUTES:
    case TPM2_RC_HIERARCHY:
    case TPM2_RC_LOCKOUT:
        return PSA_ERROR_NOT_PERMITTED;
    case TPM2_RC_SIZE:
    case TPM2_RC_VALUE:
        return PSA_ERROR_INVALID_ARGUMENT;
    default:
        return PSA_ERROR_HARDWARE_FAILURE;
    }
}

static void nvconn_close(nvconn_t *c)
{
    if (c->esys != NULL) {
        Esys_Finalize(&c->esys);
    }
    if (c->tcti != NULL) {
        Tss2_TctiLdr_Finalize(&c->tcti);
    }
}

static psa_status_t nvconn_open(const nvref_t *r, nvconn_t *c)
{
    const char *conf = r->has_tcti ? r->tcti : getenv("TPM2TOOLS_TCTI");
    TSS2_RC rc;

    c->tcti = NULL;
    c->esys = NULL;
    /* One connection at a time on a TPM without resource manager. */
    keyward_tpm2_release();
    rc = Tss2_TctiLdr_Initialize(conf != NULL && conf[0] != '\0' ? conf : NULL, &c->tcti);
    if (rc != TSS2_RC_SUCCESS) {
        c->tcti = NULL;
        keyward_set_error("cannot open the TPM (TCTI '%s'): %s (0x%x)",
                          conf != NULL ? conf : "default", Tss2_RC_Decode(rc), (unsigned)rc);
        return PSA_ERROR_COMMUNICATION_FAILURE;
    }
    rc = Esys_Initialize(&c->esys, c->tcti, NULL);
    if (rc != TSS2_RC_SUCCESS) {
        c->esys = NULL;
        nvconn_close(c);
        keyward_set_error("Esys_Initialize: %s (0x%x)", Tss2_RC_Decode(rc), (unsigned)rc);
        return PSA_ERROR_COMMUNICATION_FAILURE;
    }
    return PSA_SUCCESS;
}

/* The largest NV_Read / NV_Write the TPM takes, bounded by ESYS's buffer. */
static size_t nv_chunk(nvconn_t *c)
{
    TPMS_CAPABILITY_DATA *cap = NULL;
    TPMI_YES_NO more = 0;
    size_t chunk = NV_CHUNK_DEFAULT;

    if (Esys_GetCapability(c->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                           TPM2_CAP_TPM_PROPERTIES, TPM2_PT_NV_BUFFER_MAX, 1, &more,
                           &cap) == TSS2_RC_SUCCESS &&
        cap->data.tpmProperties.count == 1 &&
        cap->data.tpmProperties.tpmProperty[0].property == TPM2_PT_NV_BUFFER_MAX &&
        cap->data.tpmProperties.tpmProperty[0].value > 0) {
        chunk = cap->data.tpmProperties.tpmProperty[0].value;
    }
    Esys_Free(cap);
    if (chunk > sizeof(((TPM2B_MAX_NV_BUFFER *)0)->buffer)) {
        chunk = sizeof(((TPM2B_MAX_NV_BUFFER *)0)->buffer);
    }
    return chunk;
}

/* ESYS_TR and public area of a defined index. */
static psa_status_t nv_lookup(nvconn_t *c, uint32_t index, ESYS_TR *tr, TPM2B_NV_PUBLIC **pub)
{
    TSS2_RC rc =
        Esys_TR_FromTPMPublic(c->esys, index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, tr);
    if (rc != TSS2_RC_SUCCESS) {
        psa_status_t status = nv_fail("looking up", index, rc);
        if (status == PSA_ERROR_DOES_NOT_EXIST) {
            keyward_set_error("NV index 0x%08x is not defined in the TPM", (unsigned)index);
        }
        return status;
    }
    rc = Esys_NV_ReadPublic(c->esys, *tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, pub, NULL);
    if (rc != TSS2_RC_SUCCESS) {
        Esys_TR_Close(c->esys, tr);
        return nv_fail("TPM2_NV_ReadPublic", index, rc);
    }
    return PSA_SUCCESS;
}

static void owner_auth(nvconn_t *c)
{
    TPM2B_AUTH a;
    const char *v = getenv("KEYWARD_TPM2_OWNER_AUTH");

    memset(&a, 0, sizeof(a));
    if (v != NULL) {
        size_t n = strlen(v);
        a.size = (UINT16)(n > sizeof(a.buffer) ? sizeof(a.buffer) : n);
        memcpy(a.buffer, v, a.size);
    }
    Esys_TR_SetAuth(c->esys, ESYS_TR_RH_OWNER, &a);
    mbedtls_platform_zeroize(&a, sizeof(a));
}

static psa_status_t nv_read_range(nvconn_t *c, uint32_t index, ESYS_TR auth, ESYS_TR tr,
                                  size_t chunk, uint8_t *out, size_t off, size_t len)
{
    while (len > 0) {
        TPM2B_MAX_NV_BUFFER *data = NULL;
        UINT16 n = (UINT16)(len < chunk ? len : chunk);
        TSS2_RC rc = Esys_NV_Read(c->esys, auth, tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                                  n, (UINT16)off, &data);
        if (rc != TSS2_RC_SUCCESS) {
            return nv_fail("TPM2_NV_Read", index, rc);
        }
        if (data->size != n) {
            Esys_Free(data);
            keyward_set_error("TPM2_NV_Read of NV index 0x%08x: %u bytes instead of %u",
                              (unsigned)index, (unsigned)data->size, (unsigned)n);
            return PSA_ERROR_HARDWARE_FAILURE;
        }
        memcpy(out + off, data->buffer, n);
        Esys_Free(data);
        off += n;
        len -= n;
    }
    return PSA_SUCCESS;
}

/* ---- cert_read ------------------------------------------------------------ */

/* Length of the DER SEQUENCE starting buf (of which have >= 2 bytes are
 * read), header included; 0 if buf does not start like one.  A certificate
 * is under 16 MiB: at most 3 length bytes. */
static size_t der_total_len(const uint8_t *buf, size_t have)
{
    size_t len = 0, nb;

    if (have < 2 || buf[0] != (MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)) {
        return 0;
    }
    if (buf[1] < 0x80) {
        return 2 + (size_t)buf[1];
    }
    nb = buf[1] & 0x7fu;
    if (nb == 0 || nb > 3 || have < 2 + nb) {
        return 0;
    }
    for (size_t i = 0; i < nb; i++) {
        len = (len << 8) | buf[2 + i];
    }
    return 2 + nb + len;
}

/* The backend's cert_read (keyward/port/backend.h), from the table in tpm2.c. */
psa_status_t kw_tpm2_cert_read(const char *certref, uint8_t *der, size_t der_size, size_t *der_len)
{
    psa_status_t status = PSA_ERROR_CORRUPTION_DETECTED;
    nvconn_t c = {NULL, NULL};
    TPM2B_NV_PUBLIC *pub = NULL;
    ESYS_TR tr = ESYS_TR_NONE, auth;
    nvref_t r;
    size_t size, chunk, head, total;

    status = nvref_parse(certref, &r);
    if (status != PSA_SUCCESS) {
        return status;
    }
    status = nvconn_open(&r, &c);
    if (status != PSA_SUCCESS) {
        return status;
    }
    status = nv_lookup(&c, r.index, &tr, &pub);
    if (status != PSA_SUCCESS) {
        goto exit;
    }
    size = pub->nvPublic.dataSize;
    if (((pub->nvPublic.attributes & TPMA_NV_TPM2_NT_MASK) >> TPMA_NV_TPM2_NT_SHIFT) !=
        TPM2_NT_ORDINARY) {
        keyward_set_error("NV index 0x%08x is a counter, bit field or extend index, not data",
                          (unsigned)r.index);
        status = PSA_ERROR_DATA_INVALID;
        goto exit;
    }
    if (!(pub->nvPublic.attributes & TPMA_NV_WRITTEN)) {
        keyward_set_error("NV index 0x%08x is defined but was never written", (unsigned)r.index);
        status = PSA_ERROR_DOES_NOT_EXIST;
        goto exit;
    }
    if (pub->nvPublic.attributes & TPMA_NV_AUTHREAD) {
        auth = tr; /* the index's own auth value: empty for certificate indexes */
    } else if (pub->nvPublic.attributes & TPMA_NV_OWNERREAD) {
        auth = ESYS_TR_RH_OWNER;
        owner_auth(&c);
    } else {
        keyward_set_error("NV index 0x%08x can be read neither with its auth value nor by "
                          "the owner",
                          (unsigned)r.index);
        status = PSA_ERROR_NOT_PERMITTED;
        goto exit;
    }
    if (size > der_size) {
        size = der_size; /* the certificate may be shorter than the index */
    }
    chunk = nv_chunk(&c);
    /* First the DER header, to know how much of the index is certificate. */
    head = size < 8 ? size : 8;
    status = nv_read_range(&c, r.index, auth, tr, chunk, der, 0, head);
    if (status != PSA_SUCCESS) {
        goto exit;
    }
    total = der_total_len(der, head);
    if (total == 0 || total > pub->nvPublic.dataSize) {
        keyward_set_error("NV index 0x%08x does not hold a DER certificate (%u bytes, starting "
                          "%02x %02x)",
                          (unsigned)r.index, (unsigned)pub->nvPublic.dataSize,
                          head > 0 ? der[0] : 0, head > 1 ? der[1] : 0);
        status = PSA_ERROR_DATA_INVALID;
        goto exit;
    }
    if (total > der_size) {
        keyward_set_error("the certificate in NV index 0x%08x is %u bytes, more than %u",
                          (unsigned)r.index, (unsigned)total, (unsigned)der_size);
        status = PSA_ERROR_BUFFER_TOO_SMALL;
        goto exit;
    }
    if (total > head) {
        status = nv_read_range(&c, r.index, auth, tr, chunk, der, head, total - head);
        if (status != PSA_SUCCESS) {
            goto exit;
        }
    }
    *der_len = total;
    status = PSA_SUCCESS;
exit:
    Esys_Free(pub);
    if (tr != ESYS_TR_NONE) {
        Esys_TR_Close(c.esys, &tr);
    }
    nvconn_close(&c);
    return status;
}

/* ---- cert_write ----------------------------------------------------------- */

/* The backend's cert_write. */
psa_status_t kw_tpm2_cert_write(const char *certref, const uint8_t *der, size_t der_len,
                                int overwrite)
{
    psa_status_t status = PSA_ERROR_CORRUPTION_DETECTED;
    nvconn_t c = {NULL, NULL};
    TPM2B_NV_PUBLIC *pub = NULL;
    TPM2B_NV_PUBLIC info;
    TPM2B_AUTH empty;
    ESYS_TR tr = ESYS_TR_NONE;
    nvref_t r;
    size_t chunk, off;
    TSS2_RC rc;

    status = nvref_parse(certref, &r);
    if (status != PSA_SUCCESS) {
        return status;
    }
    if (r.index >= NV_TCG_FIRST) {
        keyward_set_error("NV index 0x%08x is in TCG's range (EK certificates, 0x01C00000 up): "
                          "keyward reads it but never writes it",
                          (unsigned)r.index);
        return PSA_ERROR_NOT_PERMITTED;
    }
    if (r.index < NV_OWNER_FIRST || r.index > NV_OWNER_LAST) {
        keyward_set_error("NV index 0x%08x is not an owner index (0x01000000..0x013FFFFF)",
                          (unsigned)r.index);
        return PSA_ERROR_NOT_PERMITTED;
    }
    if (der_len == 0 || der_len > UINT16_MAX) {
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    status = nvconn_open(&r, &c);
    if (status != PSA_SUCCESS) {
        return status;
    }
    owner_auth(&c);
    status = nv_lookup(&c, r.index, &tr, &pub);
    if (status == PSA_SUCCESS) {
        if (!overwrite) {
            keyward_set_error("NV index 0x%08x is already defined (%u bytes); --force replaces it",
                              (unsigned)r.index, (unsigned)pub->nvPublic.dataSize);
            status = PSA_ERROR_ALREADY_EXISTS;
            goto exit;
        }
        /* Redefined at the certificate's size rather than written over:
         * an old, longer certificate must not leave a tail behind. */
        rc = Esys_NV_UndefineSpace(c.esys, ESYS_TR_RH_OWNER, tr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                   ESYS_TR_NONE);
        if (rc != TSS2_RC_SUCCESS) {
            status = nv_fail("TPM2_NV_UndefineSpace", r.index, rc);
            goto exit;
        }
        tr = ESYS_TR_NONE; /* UndefineSpace closed it */
    } else if (status != PSA_ERROR_DOES_NOT_EXIST) {
        goto exit;
    }
    memset(&info, 0, sizeof(info));
    memset(&empty, 0, sizeof(empty));
    info.nvPublic.nvIndex = r.index;
    info.nvPublic.nameAlg = TPM2_ALG_SHA256;
    /* Written by the owner only; read by anyone (a certificate is public),
     * without dictionary-attack counting. */
    info.nvPublic.attributes =
        TPMA_NV_OWNERWRITE | TPMA_NV_OWNERREAD | TPMA_NV_AUTHREAD | TPMA_NV_NO_DA;
    info.nvPublic.dataSize = (UINT16)der_len;
    rc = Esys_NV_DefineSpace(c.esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                             &empty, &info, &tr);
    if (rc != TSS2_RC_SUCCESS) {
        tr = ESYS_TR_NONE;
        status = nv_fail("TPM2_NV_DefineSpace", r.index, rc);
        if (status == PSA_ERROR_INVALID_ARGUMENT) { /* TPM_RC_SIZE / TPM_RC_VALUE */
            keyward_set_error("TPM2_NV_DefineSpace of NV index 0x%08x: the TPM refuses %u "
                              "bytes (TPM_PT_NV_INDEX_MAX) (0x%x)",
                              (unsigned)r.index, (unsigned)der_len, (unsigned)rc);
        }
        goto exit;
    }
    chunk = nv_chunk(&c);
    for (off = 0; off < der_len;) {
        TPM2B_MAX_NV_BUFFER data;
        size_t n = der_len - off < chunk ? der_len - off : chunk;
        data.size = (UINT16)n;
        memcpy(data.buffer, der + off, n);
        rc = Esys_NV_Write(c.esys, ESYS_TR_RH_OWNER, tr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                           ESYS_TR_NONE, &data, (UINT16)off);
        if (rc != TSS2_RC_SUCCESS) {
            status = nv_fail("TPM2_NV_Write", r.index, rc);
            goto exit;
        }
        off += n;
    }
    status = PSA_SUCCESS;
exit:
    Esys_Free(pub);
    if (tr != ESYS_TR_NONE) {
        Esys_TR_Close(c.esys, &tr);
    }
    nvconn_close(&c);
    return status;
}
