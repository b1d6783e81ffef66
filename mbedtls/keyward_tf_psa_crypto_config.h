/*
 * keyward's TF-PSA-Crypto 1.x configuration fragment (Mbed TLS 4.x), applied
 * through TF_PSA_CRYPTO_USER_CONFIG_FILE on top of TF-PSA-Crypto's default
 * psa/crypto_config.h.  The TLS side is in keyward_mbedtls4_config.h; the
 * Mbed TLS 3.6 equivalent of both is keyward_mbedtls_config.h.
 *
 * Compared with 3.6: MBEDTLS_PSA_CRYPTO_DRIVERS is gone (drivers are always
 * dispatched), MBEDTLS_USE_PSA_CRYPTO is gone (TLS, X.509 and PK always use
 * PSA), and threading moved to the crypto side.
 */
#ifndef KEYWARD_TF_PSA_CRYPTO_CONFIG_H
#define KEYWARD_TF_PSA_CRYPTO_CONFIG_H

/* Builtin keys: ids bound to SE slots, used without import ("openless"). */
#define MBEDTLS_PSA_CRYPTO_BUILTIN_KEYS
/* Backends may be used from several threads (PKCS#11, ATECC608 Nonce+Sign),
 * and the PSA core's key slots then need their locks. */
#define MBEDTLS_THREADING_C
#define MBEDTLS_THREADING_PTHREAD

/* Turns on the case labels that the wrapper hook inserted. */
#define KEYWARD_PSA_DRIVER

#endif
