/*
 * keyward on a board with a Microchip ATECC608: what a firmware author
 * writes.  Implement the I2C HAL (four functions), bind a chip to it, hand
 * it to keyward, and declare the slots the application uses as builtin PSA
 * keys:
 *
 *   static const keyward_i2c_class_t my_i2c = {.name = "stm32-i2c1", .wake = my_wake,
 *       .write = my_write, .read = my_read, .delay_us = my_delay_us};
 *   static keyward_atecc608_t chip;                   (yours: no heap)
 *   keyward_atecc608_init(&chip, &my_i2c, &hi2c1, KEYWARD_ATECC608_ADDR_DEFAULT);
 *   keyward_atecc608_attach(&chip);
 *   KEYWARD_ATECC608_BUILTIN(DEVICE_KEY_ID, "0");     slot 0 as a PSA key id
 *   mbedtls_pk_setup_opaque(&pk, DEVICE_KEY_ID);
 *
 * Provisioning (configuration zone, locks, the chip's identity) is
 * keyward/port/atecc608_admin.h.  The chip protocol itself (commands,
 * packets, polling) is internal to keyward; docs/mcu-port.md and
 * docs/atecc608.md describe the port.
 */
#ifndef KEYWARD_ATECC608_H
#define KEYWARD_ATECC608_H

#include <stddef.h>
#include <stdint.h>
#include <psa/crypto.h>

#include "keyward/keyward.h"
#include "keyward/port/i2c.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- The chip ------------------------------------------------------------------- */

#define KEYWARD_ATECC608_ADDR_DEFAULT 0x60u

#ifndef KEYWARD_ATECC608_PUBKEY_CACHE
#define KEYWARD_ATECC608_PUBKEY_CACHE 4 /* slots whose public key is remembered */
#endif

/* One chip on one bus.  Owned by the caller (static or on the stack). */
typedef struct {
    const keyward_i2c_class_t *i2c;
    void *i2c_ctx;
    uint8_t addr;       /* 7-bit */
    uint16_t key_slots; /* bit n: slot n checked to be a P-256 private key */
    uint8_t pub_next;   /* round-robin victim in pub[] */
    struct {
        uint8_t slot;   /* 0xFF: empty */
        uint8_t xy[64]; /* X||Y, big endian */
    } pub[KEYWARD_ATECC608_PUBKEY_CACHE];
} keyward_atecc608_t;

/* [out] dev bound to a bus (no bus traffic). */
void keyward_atecc608_init(keyward_atecc608_t *dev, const keyward_i2c_class_t *i2c, void *i2c_ctx,
                           uint8_t addr);

/* The chip keyward's ATECC608 backend uses (MCU builds, atecc608_single.c;
 * hosted builds find chips from the KEYREF's bus= instead). */
void keyward_atecc608_attach(keyward_atecc608_t *dev);

/* ---- Entropy --------------------------------------------------------------------- */

/* len bytes from the attached chip's Random command (atecc608_entropy.c,
 * MCU builds), the entropy source behind mbedtls_hardware_poll (Mbed TLS
 * 3.6, MBEDTLS_ENTROPY_HARDWARE_ALT) and mbedtls_platform_get_entropy (4.x,
 * MBEDTLS_PSA_DRIVER_GET_ENTROPY), which the same file provides.
 * PSA_ERROR_BAD_STATE while the configuration zone is unlocked (the RNG then
 * gives a fixed pattern); out is zeroed on any failure. */
psa_status_t keyward_atecc608_entropy(uint8_t *out, size_t len);

/* ---- Builtin keys ------------------------------------------------------------------ */

/* Declares slot SLOT (a string literal, "0".."15") as the builtin PSA key
 * ID: ECDSA P-256 with SHA-256, sign only.  A macro over
 * keyward_builtin_add, so that it costs no code of its own; the KEYREF is a
 * literal, as KEYWARD_BUILTIN_KEYREF_BY_REFERENCE builds require. */
#define KEYWARD_ATECC608_BUILTIN(id, slot)                                      \
    keyward_builtin_add((id), "atecc608:slot=" slot,                            \
                        PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1), 256, \
                        PSA_KEY_USAGE_SIGN_HASH, PSA_ALG_ECDSA(PSA_ALG_SHA_256), 0)

#ifdef __cplusplus
}
#endif
#endif
