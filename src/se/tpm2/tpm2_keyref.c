/*
 * TPM 2.0 backend: the KEYREF text, "tpm2:attr=value;attr=value" with
 * %XX-decoded values (format in tpm2_internal.h).  No TPM access here.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "keyward/port/backend.h"
#include "mbedtls/platform_util.h"
#include "tpm2_internal.h"

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
                   kw_tpm2_handle_is_persistent(out->handle)) {
            seen_handle = 1;
        } else if (NAME_IS("parent") && !seen_parent && parse_u32(val, &out->parent) == 0 &&
                   (out->parent == KW_TPM2_PARENT_OWNER ||
                    kw_tpm2_handle_is_persistent(out->parent))) {
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
