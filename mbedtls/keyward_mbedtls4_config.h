/*
 * keyward's Mbed TLS 4.x configuration fragment for the TLS side
 * (MBEDTLS_USER_CONFIG_FILE), applied on top of Mbed TLS's default
 * mbedtls_config.h.  The crypto side (builtin keys, threading, the driver)
 * is keyward_tf_psa_crypto_config.h.
 */
#ifndef KEYWARD_MBEDTLS4_CONFIG_H
#define KEYWARD_MBEDTLS4_CONFIG_H

/* The defaults already have these; keyward's TLS tests need them, so they
 * are stated here and a changed default cannot drop them. */
#define MBEDTLS_SSL_PROTO_TLS1_2
#define MBEDTLS_SSL_PROTO_TLS1_3
#define MBEDTLS_SSL_TLS1_3_COMPATIBILITY_MODE
#define MBEDTLS_SSL_KEEP_PEER_CERTIFICATE

#endif
