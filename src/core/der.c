#include "der.h"

#include <string.h>

#include "mbedtls/asn1write.h"

/* NIST hash algorithm arc 2.16.840.1.101.3.4.2 (RFC 5754, RFC 8702), plus SHA-1. */
#define KW_OID_NIST_HASH "\x60\x86\x48\x01\x65\x03\x04\x02"
/* An initialiser in a macro, kept on one line. */
/* clang-format off */
#define KW_OID_ENTRY(alg, oid) {alg, oid, sizeof(oid) - 1}
/* clang-format on */
static const struct {
    psa_algorithm_t alg;
    const char *oid;
    size_t oid_len;
} hash_oids[] = {
    KW_OID_ENTRY(PSA_ALG_SHA_1, "\x2b\x0e\x03\x02\x1a"), /* 1.3.14.3.2.26 */
    KW_OID_ENTRY(PSA_ALG_SHA_224, KW_OID_NIST_HASH "\x04"),
    KW_OID_ENTRY(PSA_ALG_SHA_256, KW_OID_NIST_HASH "\x01"),
    KW_OID_ENTRY(PSA_ALG_SHA_384, KW_OID_NIST_HASH "\x02"),
    KW_OID_ENTRY(PSA_ALG_SHA_512, KW_OID_NIST_HASH "\x03"),
    KW_OID_ENTRY(PSA_ALG_SHA3_224, KW_OID_NIST_HASH "\x07"),
    KW_OID_ENTRY(PSA_ALG_SHA3_256, KW_OID_NIST_HASH "\x08"),
    KW_OID_ENTRY(PSA_ALG_SHA3_384, KW_OID_NIST_HASH "\x09"),
    KW_OID_ENTRY(PSA_ALG_SHA3_512, KW_OID_NIST_HASH "\x0a"),
};

psa_status_t keyward_der_hash_oid(psa_algorithm_t hash_alg, const char **oid, size_t *oid_len)
{
    for (size_t i = 0; i < sizeof(hash_oids) / sizeof(hash_oids[0]); i++) {
        if (hash_oids[i].alg == hash_alg) {
            *oid = hash_oids[i].oid;
            *oid_len = hash_oids[i].oid_len;
            return PSA_SUCCESS;
        }
    }
    return PSA_ERROR_NOT_SUPPORTED;
}

size_t keyward_bitlen(const uint8_t *n, size_t n_len)
{
    while (n_len > 0 && n[0] == 0) {
        n++;
        n_len--;
    }
    if (n_len == 0) {
        return 0;
    }
    size_t bits = n_len * 8;
    for (uint8_t top = n[0]; (top & 0x80u) == 0; top = (uint8_t)(top << 1)) {
        bits--;
    }
    return bits;
}

/* Writes an unsigned big-endian integer backwards at *p (asn1write style). */
static int write_uint(unsigned char **p, unsigned char *start, const uint8_t *v, size_t len)
{
    int ret;
    size_t total = 0;

    while (len > 1 && v[0] == 0) {
        v++;
        len--;
    }
    MBEDTLS_ASN1_CHK_ADD(total, mbedtls_asn1_write_raw_buffer(p, start, v, len));
    if (v[0] & 0x80u) { /* keep it positive */
        if (*p - start < 1) {
            return MBEDTLS_ERR_ASN1_BUF_TOO_SMALL;
        }
        *--(*p) = 0;
        total++;
    }
    MBEDTLS_ASN1_CHK_ADD(total, mbedtls_asn1_write_len(p, start, total));
    MBEDTLS_ASN1_CHK_ADD(total, mbedtls_asn1_write_tag(p, start, MBEDTLS_ASN1_INTEGER));
    return (int)total;
}

static psa_status_t from_asn1(int ret)
{
    return ret == MBEDTLS_ERR_ASN1_BUF_TOO_SMALL ? PSA_ERROR_BUFFER_TOO_SMALL
                                                 : PSA_ERROR_INVALID_ARGUMENT;
}

static int rsa_public(const uint8_t *n, size_t n_len, const uint8_t *e, size_t e_len, uint8_t *out,
                      size_t out_size, size_t *out_len)
{
    unsigned char *p = out + out_size;
    size_t total = 0;
    int ret;

    MBEDTLS_ASN1_CHK_ADD(total, write_uint(&p, out, e, e_len));
    MBEDTLS_ASN1_CHK_ADD(total, write_uint(&p, out, n, n_len));
    MBEDTLS_ASN1_CHK_ADD(total, mbedtls_asn1_write_len(&p, out, total));
    MBEDTLS_ASN1_CHK_ADD(total,
                         mbedtls_asn1_write_tag(&p, out,
                                                MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
    memmove(out, p, total);
    *out_len = total;
    return 0;
}

psa_status_t keyward_der_rsa_public(const uint8_t *n, size_t n_len, const uint8_t *e, size_t e_len,
                                    uint8_t *out, size_t out_size, size_t *out_len)
{
    int ret;

    if (n_len == 0 || e_len == 0) {
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    ret = rsa_public(n, n_len, e, e_len, out, out_size, out_len);
    return ret == 0 ? PSA_SUCCESS : from_asn1(ret);
}

static int digest_info(const char *oid, size_t oid_len, const uint8_t *hash, size_t hash_len,
                       uint8_t *out, size_t out_size, size_t *out_len)
{
    size_t total = 0, alg_len = 0;
    unsigned char *p = out + out_size;
    int ret;

    /* DigestInfo ::= SEQUENCE { AlgorithmIdentifier { oid, NULL }, OCTET STRING digest } */
    MBEDTLS_ASN1_CHK_ADD(total, mbedtls_asn1_write_octet_string(&p, out, hash, hash_len));
    MBEDTLS_ASN1_CHK_ADD(alg_len,
                         mbedtls_asn1_write_algorithm_identifier(&p, out, oid, oid_len, 0));
    total += alg_len;
    MBEDTLS_ASN1_CHK_ADD(total, mbedtls_asn1_write_len(&p, out, total));
    MBEDTLS_ASN1_CHK_ADD(total,
                         mbedtls_asn1_write_tag(&p, out,
                                                MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
    memmove(out, p, total);
    *out_len = total;
    return 0;
}

psa_status_t keyward_der_digest_info(psa_algorithm_t hash_alg, const uint8_t *hash, size_t hash_len,
                                     uint8_t *out, size_t out_size, size_t *out_len)
{
    const char *oid = NULL;
    size_t oid_len = 0;
    int ret;

    if (keyward_der_hash_oid(hash_alg, &oid, &oid_len) != PSA_SUCCESS) {
        return PSA_ERROR_NOT_SUPPORTED;
    }
    if (PSA_HASH_LENGTH(hash_alg) != hash_len) {
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    ret = digest_info(oid, oid_len, hash, hash_len, out, out_size, out_len);
    return ret == 0 ? PSA_SUCCESS : from_asn1(ret);
}
