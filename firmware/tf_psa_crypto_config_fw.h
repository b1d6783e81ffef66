/*
 * TF-PSA-Crypto 1.x configuration of the QEMU firmware on Mbed TLS 4.x
 * (TF_PSA_CRYPTO_CONFIG_FILE: a whole configuration, not a fragment).  The
 * 4.x counterpart of the crypto half of mbedtls_config_fw.h; the TLS half is
 * mbedtls4_config_fw.h.
 *
 * The same job as on 3.6: ECDHE on P-256, the client key an ECDSA P-256 key
 * in the ATECC608 (keyward's PSA driver, a builtin key), AES-128-GCM +
 * SHA-256.  4.x states algorithms as PSA_WANT_* and keeps the built-in
 * implementation modules internal.  No platform entropy: the chip's Random
 * seeds the DRBG through mbedtls_platform_get_entropy
 * (MBEDTLS_PSA_DRIVER_GET_ENTROPY, src/se/atecc608/atecc608_entropy.c).
 */
#ifndef KEYWARD_FW_TF_PSA_CRYPTO_CONFIG_H
#define KEYWARD_FW_TF_PSA_CRYPTO_CONFIG_H

#define TF_PSA_CRYPTO_CONFIG_VERSION 0x01000000

/* ---- what the TLS client needs, as PSA mechanisms ---- */
#define PSA_WANT_ALG_ECDH
#define PSA_WANT_ALG_ECDSA
#define PSA_WANT_ALG_GCM
#define PSA_WANT_ALG_HKDF
#define PSA_WANT_ALG_HKDF_EXTRACT
#define PSA_WANT_ALG_HKDF_EXPAND
#define PSA_WANT_ALG_HMAC
#define PSA_WANT_ALG_SHA_256
#define PSA_WANT_ALG_TLS12_PRF
#define PSA_WANT_ECC_SECP_R1_256
#define PSA_WANT_KEY_TYPE_AES
#define PSA_WANT_KEY_TYPE_DERIVE
#define PSA_WANT_KEY_TYPE_HMAC
#define PSA_WANT_KEY_TYPE_RAW_DATA
#define PSA_WANT_KEY_TYPE_ECC_PUBLIC_KEY
#define PSA_WANT_KEY_TYPE_ECC_KEY_PAIR_BASIC
#define PSA_WANT_KEY_TYPE_ECC_KEY_PAIR_IMPORT
#define PSA_WANT_KEY_TYPE_ECC_KEY_PAIR_EXPORT
#define PSA_WANT_KEY_TYPE_ECC_KEY_PAIR_GENERATE

/* ---- platform ---- */
#define MBEDTLS_HAVE_ASM
#define MBEDTLS_PLATFORM_C
#define MBEDTLS_PLATFORM_MEMORY
#define MBEDTLS_MEMORY_BUFFER_ALLOC_C
#define MBEDTLS_MEMORY_DEBUG /* mbedtls_memory_buffer_alloc_max_get(): the peak */
/* Certificate validity is checked against the semihosting clock: newlib's
 * time() is SYS_TIME through librdimon. */
#define MBEDTLS_HAVE_TIME
#define MBEDTLS_HAVE_TIME_DATE
/* Milliseconds (TLS 1.3 ticket ages): the board's SysTick (main.c). */
#define MBEDTLS_PLATFORM_MS_TIME_ALT

/* ---- PSA core and keyward ---- */
#define MBEDTLS_PSA_CRYPTO_C
#define MBEDTLS_PSA_CRYPTO_BUILTIN_KEYS
#define MBEDTLS_PSA_DRIVER_GET_ENTROPY /* the ATECC608 Random */
#define MBEDTLS_PSA_KEY_SLOT_COUNT 8
#define MBEDTLS_CTR_DRBG_C
#define KEYWARD_PSA_DRIVER

/* ---- the built-in modules behind them (size options as on 3.6) ---- */
#define MBEDTLS_AES_ROM_TABLES
#define MBEDTLS_AES_FEWER_TABLES
#define MBEDTLS_ECP_NIST_OPTIM
#define MBEDTLS_MD_C
#define MBEDTLS_ASN1_PARSE_C
#define MBEDTLS_ASN1_WRITE_C
#define MBEDTLS_PK_C
#define MBEDTLS_PK_PARSE_C
#define MBEDTLS_BASE64_C
#define MBEDTLS_PEM_PARSE_C

#endif
