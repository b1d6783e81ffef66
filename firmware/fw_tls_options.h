/*
 * The firmware's X.509 and TLS options, the same on both Mbed TLS lines:
 * included by mbedtls_config_fw.h (3.6) and mbedtls4_config_fw.h (4.x).
 */
#ifndef KEYWARD_FW_TLS_OPTIONS_H
#define KEYWARD_FW_TLS_OPTIONS_H

/* ---- X.509 and TLS ---- */
#define MBEDTLS_X509_USE_C
#define MBEDTLS_X509_CRT_PARSE_C
#define MBEDTLS_SSL_TLS_C
#define MBEDTLS_SSL_CLI_C
#define MBEDTLS_SSL_PROTO_TLS1_2
#define MBEDTLS_SSL_PROTO_TLS1_3
#define MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_EPHEMERAL_ENABLED
#define MBEDTLS_SSL_TLS1_3_COMPATIBILITY_MODE
#define MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA_ENABLED
#define MBEDTLS_SSL_SERVER_NAME_INDICATION
#define MBEDTLS_SSL_EXTENDED_MASTER_SECRET
#define MBEDTLS_SSL_ENCRYPT_THEN_MAC
/* TLS 1.3 servers send NewSessionTicket after the handshake; the client
 * must parse it (and ignores it). */
#define MBEDTLS_SSL_SESSION_TICKETS
/* Mbed TLS 3.6 requires it with TLS 1.3; 4.x keeps the same option. */
#define MBEDTLS_SSL_KEEP_PEER_CERTIFICATE
/* A server may send full 16 KiB records; ours are small. */
#define MBEDTLS_SSL_IN_CONTENT_LEN 16384
#define MBEDTLS_SSL_OUT_CONTENT_LEN 4096

#endif
