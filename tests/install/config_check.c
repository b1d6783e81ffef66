/* Built against an installed keyward (tests/install): the headers must see
 * keyward's Mbed TLS configuration with no flag, and the library must be the
 * version the package files name. */
#include <stdio.h>
#include <string.h>

#include <keyward/keyward.h>
#include <mbedtls/build_info.h>
#include <psa/crypto.h>

#if !defined(KEYWARD_PSA_DRIVER) || !defined(MBEDTLS_PSA_CRYPTO_BUILTIN_KEYS) || \
    !defined(MBEDTLS_THREADING_C)
#error "the installed Mbed TLS headers do not carry keyward's configuration"
#endif
#if MBEDTLS_VERSION_NUMBER < 0x03060000
#error "an Mbed TLS older than keyward's (the system's 2.28?) came first on the include path"
#endif

int main(int argc, char **argv)
{
    if (keyward_init() != PSA_SUCCESS) {
        return 1;
    }
    printf("keyward %s, Mbed TLS %s\n", keyward_version(), MBEDTLS_VERSION_STRING);
    keyward_deinit();
    return argc > 1 && strcmp(argv[1], keyward_version()) != 0;
}
