/*
 * keyward's Mbed TLS 3.6 configuration fragment (MBEDTLS_USER_CONFIG_FILE),
 * applied on top of Mbed TLS's default mbedtls_config.h.
 */
#ifndef KEYWARD_MBEDTLS_CONFIG_H
#define KEYWARD_MBEDTLS_CONFIG_H

/* Dispatch opaque keys to drivers (keyward's locations). */
#define MBEDTLS_PSA_CRYPTO_DRIVERS
/* Builtin keys: ids bound to SE slots, used without import ("openless"). */
#define MBEDTLS_PSA_CRYPTO_BUILTIN_KEYS
/* TLS, X.509 and PK go through PSA, so opaque keys work everywhere. */
#define MBEDTLS_USE_PSA_CRYPTO
#define MBEDTLS_SSL_PROTO_TLS1_2
#define MBEDTLS_SSL_PROTO_TLS1_3
#define MBEDTLS_SSL_TLS1_3_COMPATIBILITY_MODE
#define MBEDTLS_SSL_KEEP_PEER_CERTIFICATE
/* Backends may be used from several threads (PKCS#11, ATECC608 Nonce+Sign). */
#define MBEDTLS_THREADING_C
#define MBEDTLS_THREADING_PTHREAD

/* Turns on the case labels that the wrapper hook inserted. */
#define KEYWARD_PSA_DRIVER

#endif
