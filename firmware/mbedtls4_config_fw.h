/*
 * Mbed TLS 4.x configuration of the QEMU firmware, TLS and X.509 half
 * (MBEDTLS_CONFIG_FILE: a whole configuration).  The crypto half is
 * tf_psa_crypto_config_fw.h; together they are the 4.x counterpart of
 * mbedtls_config_fw.h (3.6), with the same TLS options.
 */
#ifndef KEYWARD_FW_MBEDTLS4_CONFIG_H
#define KEYWARD_FW_MBEDTLS4_CONFIG_H

#define MBEDTLS_CONFIG_VERSION 0x04000000

/* ---- X.509 and TLS: the same on both lines ---- */
#include "fw_tls_options.h"

#endif
