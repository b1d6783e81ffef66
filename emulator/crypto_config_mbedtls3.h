/*
 * The emulator's own Mbed TLS 3.6 configuration (MBEDTLS_CONFIG_FILE: it
 * replaces mbedtls_config.h, it is not laid over it).
 *
 * The emulator models a chip, not keyward: it links a plain crypto library
 * compiled from the pristine Mbed TLS tree with this file, so no keyward
 * driver, builtin key or PKCS#11/TPM library can reach it
 * (src/se/atecc608/tests/emu_independent.sh checks the binary).  It holds only
 * what the chip model computes: P-256 keys (generate, import, export),
 * ECDSA signatures, SHA-256 and random numbers.
 */
#ifndef EMU_CRYPTO_CONFIG_MBEDTLS3_H
#define EMU_CRYPTO_CONFIG_MBEDTLS3_H

#define MBEDTLS_PSA_CRYPTO_C
#define MBEDTLS_PLATFORM_C
/* The random numbers: the default DRBG fed by the OS entropy source. */
#define MBEDTLS_ENTROPY_C
#define MBEDTLS_CTR_DRBG_C
#define MBEDTLS_AES_C
/* SHA-256 (the SHA command, message digests) and the ECDSA hash. */
#define MBEDTLS_MD_C
#define MBEDTLS_SHA256_C
/* P-256 ECDSA keys and signatures (GenKey, Sign, PrivWrite). */
#define MBEDTLS_BIGNUM_C
#define MBEDTLS_ECP_C
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED
#define MBEDTLS_ECP_NIST_OPTIM
#define MBEDTLS_ECDSA_C
#define MBEDTLS_ASN1_PARSE_C
#define MBEDTLS_ASN1_WRITE_C

#endif
