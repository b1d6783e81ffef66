/*
 * ATECC608 administration: the configuration zone, the zone locks and the
 * chip's identity, for a provisioning tool (keyward-tool info / provision)
 * or a firmware's start-up check.  A port API: applications name keys with
 * KEYREFs and never need it.  Implemented in src/se/atecc608/atecc608_admin.c;
 * the command layer underneath (framing, CRC, polling) stays internal.
 *
 * Return codes (int) are the chip layer's: 0 success; 1..255 the chip's
 * status byte (KEYWARD_ATECC608_STATUS_*); negative a transport error
 * (KEYWARD_ATECC608_E_*).  keyward_atecc608_rc_name() words them.  Each
 * call runs its commands between one wake and one idle, and retries the
 * whole of it after a fresh wake when the failure is a transport one
 * (at most 3 times), as the backend does.
 *
 *   keyward_atecc608_t *dev;
 *   keyward_atecc608_admin_open("atecc608:bus=/dev/i2c-1", &dev);   finds and locks the chip
 *   keyward_atecc608_admin_read_config(dev, cfg, rev);
 *   ... write, check, lock ...
 *   keyward_atecc608_admin_close(dev);                              lets other users in
 */
#ifndef KEYWARD_PORT_ATECC608_ADMIN_H
#define KEYWARD_PORT_ATECC608_ADMIN_H

#include <stddef.h>
#include <stdint.h>
#include <psa/crypto.h>

#include "keyward/port/atecc608.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Return codes ------------------------------------------------------------ */

/* The chip's status bytes (datasheet, "Status/Error Codes"). */
#define KEYWARD_ATECC608_STATUS_MISCOMPARE 0x01u
#define KEYWARD_ATECC608_STATUS_PARSE 0x03u
#define KEYWARD_ATECC608_STATUS_ECC_FAULT 0x05u
#define KEYWARD_ATECC608_STATUS_SELFTEST 0x07u
#define KEYWARD_ATECC608_STATUS_HEALTH 0x08u
#define KEYWARD_ATECC608_STATUS_EXECUTION 0x0Fu
#define KEYWARD_ATECC608_STATUS_AFTER_WAKE 0x11u
#define KEYWARD_ATECC608_STATUS_WATCHDOG 0xEEu
#define KEYWARD_ATECC608_STATUS_COMM 0xFFu

#define KEYWARD_ATECC608_E_NAK (-1)    /* no answer within the command's time budget */
#define KEYWARD_ATECC608_E_CRC (-2)    /* response CRC wrong */
#define KEYWARD_ATECC608_E_LENGTH (-3) /* response of an unexpected size */
#define KEYWARD_ATECC608_E_WAKE (-4)   /* no valid wake reply (04 11 33 43) */
#define KEYWARD_ATECC608_E_BUS (-5)    /* the HAL reported a bus failure */
#define KEYWARD_ATECC608_E_ARG (-6)    /* bad argument from the caller */

/* A short name for a return code ("execution error (0x0F)"). */
const char *keyward_atecc608_rc_name(int rc);

/* ---- The configuration zone ---------------------------------------------------- */

#define KEYWARD_ATECC608_ZONE_CONFIG 0u
#define KEYWARD_ATECC608_ZONE_OTP 1u
#define KEYWARD_ATECC608_ZONE_DATA 2u

#define KEYWARD_ATECC608_CONFIG_SIZE 128u
/* Byte offsets in the configuration zone (datasheet, "Configuration Zone"). */
#define KEYWARD_ATECC608_CFG_SLOTCONFIG 20u /* 16 x 2 bytes, little endian */
#define KEYWARD_ATECC608_CFG_LOCKVALUE 86u  /* data/OTP zones: 0x55 unlocked */
#define KEYWARD_ATECC608_CFG_LOCKCONFIG 87u /* config zone: 0x55 unlocked */
#define KEYWARD_ATECC608_CFG_SLOTLOCKED 88u /* bit n clear: slot n locked */
#define KEYWARD_ATECC608_CFG_KEYCONFIG 96u  /* 16 x 2 bytes, little endian */
#define KEYWARD_ATECC608_UNLOCKED 0x55u
#define KEYWARD_ATECC608_KEYCONFIG_PRIVATE 0x0001u
#define KEYWARD_ATECC608_KEYCONFIG_KEYTYPE(kc) (((kc) >> 2) & 7u)
#define KEYWARD_ATECC608_KEYTYPE_P256 4u

/* CRC-16 of the datasheet: poly 0x8005, init 0, bits LSB first, no final
 * XOR.  A config-zone lock carries the CRC of the 128 bytes it locks. */
uint16_t keyward_atecc608_crc16(const uint8_t *data, size_t len);

/* ---- Sessions ---------------------------------------------------------------------- */

/* Finds the chip named by keyref ("atecc608:[bus=...][;addr=...]", slot=
 * ignored; on an MCU the attached chip) and locks it against the backend's
 * other users, threads and processes alike, until
 * keyward_atecc608_admin_close().  PSA_ERROR_INVALID_ARGUMENT for a
 * malformed KEYREF; the platform layer's status when there is no such bus;
 * keyward_last_error() has the detail. */
psa_status_t keyward_atecc608_admin_open(const char *keyref, keyward_atecc608_t **dev);
void keyward_atecc608_admin_close(keyward_atecc608_t *dev);

/* [out] config the whole configuration zone, revision the Info command's
 * answer (4 bytes: 00 00 60 0x: 02 and below ATECC608A, 03 up ATECC608B). */
int keyward_atecc608_admin_read_config(keyward_atecc608_t *dev,
                                       uint8_t config[KEYWARD_ATECC608_CONFIG_SIZE],
                                       uint8_t revision[4]);

/* Writes len (4 or 32) bytes of the configuration zone at addr (datasheet
 * addressing: block << 3 | word).  The chip refuses a locked zone and the
 * read-only bytes. */
int keyward_atecc608_admin_write_config(keyward_atecc608_t *dev, uint16_t addr, const uint8_t *in,
                                        size_t len);

/* Lock modes: the config zone, or the data and OTP zones together;
 * | KEYWARD_ATECC608_LOCK_NO_CRC skips the chip's check of crc (the CRC-16
 * of the zone's contents, keyward_atecc608_crc16). */
#define KEYWARD_ATECC608_LOCK_CONFIG 0x00u
#define KEYWARD_ATECC608_LOCK_DATA 0x01u
#define KEYWARD_ATECC608_LOCK_NO_CRC 0x80u
int keyward_atecc608_admin_lock(keyward_atecc608_t *dev, uint8_t mode, uint16_t crc);

/* What a firmware checks at start-up before it relies on the chip. */
typedef struct {
    uint8_t revision[4]; /* the Info command's answer */
    uint8_t config0[32]; /* config bytes 0..31: serial number in 0..3 and 8..12 */
    uint8_t locks[4];    /* config bytes 84..87: [2] LockValue, [3] LockConfig (0x55 unlocked) */
    int attempts;        /* wakes it took, 1..3 (on failure, how many were made) */
} keyward_atecc608_ident_t;

/* Wakes the chip, reads Info, config bytes 0..31 and 84..87, and lets it
 * idle; up to 3 attempts as above.  On an MCU dev is the chip the firmware
 * bound and attached itself (no session needed).  Returns 0, or the last
 * attempt's return code. */
int keyward_atecc608_admin_identify(keyward_atecc608_t *dev, keyward_atecc608_ident_t *id);

#ifdef __cplusplus
}
#endif
#endif
