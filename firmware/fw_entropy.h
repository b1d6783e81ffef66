/*
 * TEMPORARY: the ATECC608 Random command as Mbed TLS 3.6's hardware entropy
 * source (mbedtls_hardware_poll, MBEDTLS_ENTROPY_HARDWARE_ALT), written for
 * the firmware before the backend's own entropy source existed.  To be
 * replaced by the ATECC608 backend's function when that lands (issue 10,
 * "The chip's RNG as an entropy source"); the firmware then only calls its
 * attach function instead of fw_entropy_attach().
 */
#ifndef FW_ENTROPY_H
#define FW_ENTROPY_H

#include "keyward/atecc608.h"

/* The chip whose RNG seeds the DRBG. */
void fw_entropy_attach(keyward_atecc608_t *dev);

/* Why the last poll failed: 0, a keyward_atecc608_* return code, or
 * FW_ENTROPY_UNLOCKED (the config zone is unlocked: the RNG would only
 * give its fixed pattern, so it is refused). */
#define FW_ENTROPY_UNLOCKED 0x100
int fw_entropy_last_error(void);

#endif
