/*
 * keyward_tls_identity_*: a client's certificate chain and SE key, checked
 * and handed to an mbedtls_ssl_config in one call (keyward/tls.h).
 */
#include <string.h>

#include "keyward/port/backend.h"
#include "keyward/cert.h"
#include "keyward/keyward.h"
#include "keyward/port/mbedtls_compat.h"
#include "keyward/tls.h"
#include "mbedtls/platform_util.h"
#include "mbedtls/ssl_ciphersuites.h"

/* Mbed TLS's default signature algorithms, in its order.  The list is
 * filtered further by Mbed TLS itself (what this build supports). */
static const uint16_t identity_sig_alg_candidates[] = {
    MBEDTLS_TLS1_3_SIG_ECDSA_SECP256R1_SHA256, MBEDTLS_TLS1_3_SIG_ECDSA_SECP384R1_SHA384,
    MBEDTLS_TLS1_3_SIG_ECDSA_SECP521R1_SHA512, MBEDTLS_TLS1_3_SIG_RSA_PSS_RSAE_SHA512,
    MBEDTLS_TLS1_3_SIG_RSA_PSS_RSAE_SHA384,    MBEDTLS_TLS1_3_SIG_RSA_PSS_RSAE_SHA256,
    MBEDTLS_TLS1_3_SIG_RSA_PKCS1_SHA512,       MBEDTLS_TLS1_3_SIG_RSA_PKCS1_SHA384,
    MBEDTLS_TLS1_3_SIG_RSA_PKCS1_SHA256,
};

/* Can the key's policy sign a hash computed with hash_alg (either of its
 * two algorithms, any padding)? */
static int identity_key_signs(const psa_key_attributes_t *attr, psa_algorithm_t hash_alg)
{
    psa_algorithm_t algs[2] = {psa_get_key_algorithm(attr), psa_get_key_enrollment_algorithm(attr)};
    int ok = 0;

    for (int i = 0; i < 2; i++) {
        psa_algorithm_t h = PSA_ALG_IS_SIGN_HASH(algs[i]) ? PSA_ALG_SIGN_GET_HASH(algs[i]) : 0;
        ok |= h == PSA_ALG_ANY_HASH || h == hash_alg;
    }
    return ok;
}

/* The kind of key (and, for ECDSA, the curve size: in TLS 1.3 each ECDSA
 * algorithm names its curve) and the hash of a signature algorithm. */
static void identity_sig_alg_parts(uint16_t sig_alg, int *is_ecc, size_t *ecc_bits,
                                   psa_algorithm_t *hash)
{
    switch (sig_alg & 0xff) {
    case 0x03: /* ECDSA: 0x0403 P-256/SHA-256, 0x0503 P-384/SHA-384, 0x0603 P-521/SHA-512 */
        *is_ecc = 1;
        *ecc_bits = (sig_alg >> 8) == 4 ? 256 : (sig_alg >> 8) == 5 ? 384 : 521;
        *hash = (sig_alg >> 8) == 4   ? PSA_ALG_SHA_256
                : (sig_alg >> 8) == 5 ? PSA_ALG_SHA_384
                                      : PSA_ALG_SHA_512;
        return;
    default: /* RSA: PKCS#1 0x0401/0x0501/0x0601, PSS-RSAE 0x0804/0x0805/0x0806 */
        *is_ecc = 0;
        *ecc_bits = 0;
        if ((sig_alg >> 8) == 0x08) {
            *hash = (sig_alg & 0xff) == 4   ? PSA_ALG_SHA_256
                    : (sig_alg & 0xff) == 5 ? PSA_ALG_SHA_384
                                            : PSA_ALG_SHA_512;
        } else {
            *hash = (sig_alg >> 8) == 4   ? PSA_ALG_SHA_256
                    : (sig_alg >> 8) == 5 ? PSA_ALG_SHA_384
                                          : PSA_ALG_SHA_512;
        }
        return;
    }
}

/* One list says both what the client may sign with and what it accepts
 * from the server, so only the algorithms of the key's own kind (RSA, or
 * ECDSA on the key's curve) with a hash the key cannot sign are dropped: a
 * server with another kind of key must still be able to authenticate. */
static void identity_pick_sig_algs(keyward_tls_identity_t *id, const psa_key_attributes_t *attr)
{
    psa_key_type_t type = psa_get_key_type(attr);
    size_t n = 0;

    for (size_t i = 0; i < sizeof(identity_sig_alg_candidates) / sizeof(uint16_t); i++) {
        uint16_t sa = identity_sig_alg_candidates[i];
        int is_ecc;
        size_t ecc_bits;
        psa_algorithm_t hash;
        int own_kind;

        identity_sig_alg_parts(sa, &is_ecc, &ecc_bits, &hash);
        own_kind = is_ecc ? PSA_KEY_TYPE_IS_ECC(type) && psa_get_key_bits(attr) == ecc_bits
                          : PSA_KEY_TYPE_IS_RSA(type);
        if (!own_kind || identity_key_signs(attr, hash)) {
            id->sig_algs[n++] = sa;
        }
    }
    id->sig_algs[n] = MBEDTLS_TLS1_3_SIG_NONE;
}

/* A TLS 1.2 client signs CertificateVerify with the suite's hash: SHA-384
 * for the SHA-384 suites (Mbed TLS 3.6 and 4.x).  A key that cannot (an
 * ATECC608 signs SHA-256 only) must not offer them, or the handshake fails
 * after the server picked one.  TLS 1.3 suites do not bind the signature
 * hash and stay. */
static void identity_pick_suites(keyward_tls_identity_t *id, const psa_key_attributes_t *attr)
{
    const int *all = mbedtls_ssl_list_ciphersuites();
    size_t n = 0;

    id->suites[0] = 0;
    if (identity_key_signs(attr, PSA_ALG_SHA_384)) {
        return; /* Mbed TLS's own list */
    }
    for (size_t i = 0; all[i] != 0 && n + 1 < KEYWARD_TLS_MAX_SUITES; i++) {
        const char *name = mbedtls_ssl_get_ciphersuite_name(all[i]);
        if (strncmp(name, "TLS1-3-", 7) == 0 || strstr(name, "SHA384") == NULL) {
            id->suites[n++] = all[i];
        }
    }
    id->suites[n] = 0;
}

/* Prefixes keyward_last_error() with what was being done. */
static void identity_error(const char *what)
{
    char detail[256];

    strncpy(detail, keyward_last_error(), sizeof(detail) - 1);
    detail[sizeof(detail) - 1] = '\0';
    keyward_set_error("%s%s%s", what, detail[0] ? ": " : "", detail);
}

psa_status_t keyward_tls_identity_open(keyward_tls_identity_t *id, const char *certref,
                                       const char *chainref, const char *keyref)
{
    psa_status_t status = PSA_ERROR_CORRUPTION_DETECTED;
    psa_key_attributes_t attr = PSA_KEY_ATTRIBUTES_INIT;

    if (id == NULL) {
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    memset(id, 0, sizeof(*id));
    mbedtls_x509_crt_init(&id->chain);
    mbedtls_pk_init(&id->pk);
    keyward_set_error("%s", "");
    if (certref == NULL || keyref == NULL) {
        id->failed_step = certref == NULL ? KEYWARD_TLS_STEP_CERT : KEYWARD_TLS_STEP_KEY;
        keyward_set_error("no %s reference", certref == NULL ? "certificate" : "key");
        status = PSA_ERROR_INVALID_ARGUMENT;
        goto exit;
    }
    id->failed_step = KEYWARD_TLS_STEP_CERT;
    if ((status = keyward_cert_load(&id->chain, certref)) != PSA_SUCCESS) {
        identity_error("cannot load the certificate");
        goto exit;
    }
    id->failed_step = KEYWARD_TLS_STEP_CHAIN;
    if (chainref != NULL && (status = keyward_cert_load(&id->chain, chainref)) != PSA_SUCCESS) {
        identity_error("cannot load the certificate chain");
        goto exit;
    }
    id->failed_step = KEYWARD_TLS_STEP_KEY;
    if ((status = keyward_key_open(keyref, &id->key)) != PSA_SUCCESS) {
        id->key = 0;
        goto exit; /* the backend's reason stands as it is */
    }
    id->failed_step = KEYWARD_TLS_STEP_PAIR;
    if ((status = keyward_tls_check_pair(&id->chain, id->key)) != PSA_SUCCESS) {
        goto exit;
    }
    id->failed_step = KEYWARD_TLS_STEP_WRAP;
    if ((status = psa_get_key_attributes(id->key, &attr)) != PSA_SUCCESS) {
        keyward_set_error("cannot read the key's attributes");
        goto exit;
    }
    if (keyward_compat_pk_wrap_psa(&id->pk, id->key) != 0) {
        keyward_set_error("Mbed TLS cannot sign with this key");
        status = PSA_ERROR_NOT_SUPPORTED;
        goto exit;
    }
    identity_pick_suites(id, &attr);
    identity_pick_sig_algs(id, &attr);
    id->failed_step = KEYWARD_TLS_STEP_NONE;
    status = PSA_SUCCESS;
exit:
    psa_reset_key_attributes(&attr);
    if (status != PSA_SUCCESS) {
        keyward_tls_step_t step = id->failed_step;
        keyward_tls_identity_close(id);
        id->failed_step = step;
    }
    return status;
}

psa_status_t keyward_tls_conf_identity(mbedtls_ssl_config *conf, keyward_tls_identity_t *id)
{
    int rc;

    if (conf == NULL || id == NULL) {
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    if (id->key == 0 || id->chain.raw.p == NULL) {
        keyward_set_error("the TLS identity is not open");
        return PSA_ERROR_BAD_STATE;
    }
    keyward_compat_ssl_conf_rng(conf);
    if (id->suites[0] != 0) {
        mbedtls_ssl_conf_ciphersuites(conf, id->suites);
    }
    mbedtls_ssl_conf_sig_algs(conf, id->sig_algs);
    rc = mbedtls_ssl_conf_own_cert(conf, &id->chain, &id->pk);
    if (rc != 0) {
        keyward_set_error("mbedtls_ssl_conf_own_cert: -0x%04x", (unsigned)-rc);
        return PSA_ERROR_INSUFFICIENT_MEMORY;
    }
    return PSA_SUCCESS;
}

void keyward_tls_identity_close(keyward_tls_identity_t *id)
{
    if (id == NULL) {
        return;
    }
    mbedtls_pk_free(&id->pk);
    mbedtls_x509_crt_free(&id->chain);
    if (id->key != 0) {
        (void)keyward_key_close(id->key);
    }
    /* Nothing secret is left in it, but nothing of it is left either: a
     * later close, or a stale pointer, finds a closed identity. */
    mbedtls_platform_zeroize(id, sizeof(*id));
}
