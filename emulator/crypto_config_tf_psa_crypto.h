/*
 * The emulator's own TF-PSA-Crypto 1.x configuration (Mbed TLS 4.x;
 * TF_PSA_CRYPTO_CONFIG_FILE: it replaces psa/crypto_config.h, it is not
 * laid over it).  The Mbed TLS 3.6 equivalent is crypto_config_mbedtls3.h,
 * which says why the emulator has a crypto library of its own.
 */
#ifndef EMU_CRYPTO_CONFIG_TF_PSA_CRYPTO_H
#define EMU_CRYPTO_CONFIG_TF_PSA_CRYPTO_H

#define TF_PSA_CRYPTO_CONFIG_VERSION 0x01000000

/* P-256 ECDSA keys and signatures (GenKey, Sign, PrivWrite). */
#define PSA_WANT_ALG_ECDSA 1
#define PSA_WANT_ECC_SECP_R1_256 1
#define PSA_WANT_KEY_TYPE_ECC_PUBLIC_KEY 1
#define PSA_WANT_KEY_TYPE_ECC_KEY_PAIR_BASIC 1
#define PSA_WANT_KEY_TYPE_ECC_KEY_PAIR_IMPORT 1
#define PSA_WANT_KEY_TYPE_ECC_KEY_PAIR_EXPORT 1
#define PSA_WANT_KEY_TYPE_ECC_KEY_PAIR_GENERATE 1
#define MBEDTLS_ECP_NIST_OPTIM
/* SHA-256 (the SHA command, message digests) and the ECDSA hash. */
#define PSA_WANT_ALG_SHA_256 1
/* The random numbers: the default DRBG fed by the OS entropy source. */
#define PSA_WANT_KEY_TYPE_AES 1
#define MBEDTLS_CTR_DRBG_C
#define MBEDTLS_PSA_BUILTIN_GET_ENTROPY

#define MBEDTLS_PSA_CRYPTO_C
#define MBEDTLS_PLATFORM_C
#define MBEDTLS_MD_C
#define MBEDTLS_ASN1_PARSE_C
#define MBEDTLS_ASN1_WRITE_C
#define MBEDTLS_HAVE_ASM

#endif
