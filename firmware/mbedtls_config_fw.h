/*
 * Mbed TLS 3.6 configuration of the QEMU firmware (MBEDTLS_CONFIG_FILE: a
 * whole configuration, not a fragment over the default one).
 *
 * A TLS 1.2 + 1.3 client with one job: ECDHE on P-256, the client key an
 * ECDSA P-256 key in the ATECC608 (keyward's PSA driver, a builtin key),
 * AES-128-GCM + SHA-256, X.509 certificates in PEM.  No file system, no
 * sockets, no threads, no platform entropy: the chip's RNG seeds the DRBG
 * (MBEDTLS_ENTROPY_HARDWARE_ALT).  The heap is Mbed TLS's
 * memory_buffer_alloc on a static pool, so its peak can be measured.
 */
#ifndef KEYWARD_FW_MBEDTLS_CONFIG_H
#define KEYWARD_FW_MBEDTLS_CONFIG_H

/* ---- platform ---- */
#define MBEDTLS_HAVE_ASM
#define MBEDTLS_PLATFORM_C
#define MBEDTLS_PLATFORM_MEMORY
#define MBEDTLS_MEMORY_BUFFER_ALLOC_C
#define MBEDTLS_MEMORY_DEBUG /* mbedtls_memory_buffer_alloc_max_get(): the peak */
#define MBEDTLS_NO_PLATFORM_ENTROPY
#define MBEDTLS_ENTROPY_HARDWARE_ALT /* mbedtls_hardware_poll: the ATECC608 Random */
/* Certificate validity is checked against the semihosting clock: newlib's
 * time() is SYS_TIME through librdimon. */
#define MBEDTLS_HAVE_TIME
#define MBEDTLS_HAVE_TIME_DATE
/* Milliseconds (TLS 1.3 ticket ages): the board's SysTick (main.c). */
#define MBEDTLS_PLATFORM_MS_TIME_ALT

/* ---- PSA and keyward ---- */
#define MBEDTLS_PSA_CRYPTO_C
#define MBEDTLS_PSA_CRYPTO_DRIVERS
#define MBEDTLS_PSA_CRYPTO_BUILTIN_KEYS
#define MBEDTLS_USE_PSA_CRYPTO
#define MBEDTLS_PSA_KEY_SLOT_COUNT 8
#define KEYWARD_PSA_DRIVER

/* ---- crypto ---- */
#define MBEDTLS_ENTROPY_C
#define MBEDTLS_CTR_DRBG_C
#define MBEDTLS_AES_C
#define MBEDTLS_AES_ROM_TABLES
#define MBEDTLS_AES_FEWER_TABLES
#define MBEDTLS_GCM_C
#define MBEDTLS_CIPHER_C
#define MBEDTLS_MD_C
#define MBEDTLS_SHA224_C
#define MBEDTLS_SHA256_C
#define MBEDTLS_HKDF_C
#define MBEDTLS_BIGNUM_C
#define MBEDTLS_ECP_C
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED
#define MBEDTLS_ECP_NIST_OPTIM
#define MBEDTLS_ECDSA_C
#define MBEDTLS_ECDH_C
#define MBEDTLS_ASN1_PARSE_C
#define MBEDTLS_ASN1_WRITE_C
#define MBEDTLS_OID_C
#define MBEDTLS_PK_C
#define MBEDTLS_PK_PARSE_C
#define MBEDTLS_BASE64_C
#define MBEDTLS_PEM_PARSE_C

/* ---- X.509 and TLS: the same on both lines ---- */
#include "fw_tls_options.h"

#endif
