/*
 * The ATECC608 protocol as keyward's driver speaks it: internal to keyward
 * (the backend and its tests), not part of the port API
 * (include/keyward/port/atecc608.h holds the HAL class and the chip;
 * include/keyward/port/atecc608_admin.h the return codes this layer
 * shares with it, the configuration-zone layout and its administration).
 *
 * Command layer: wake, command framing with CRC-16, polling, idle/sleep,
 * and one function per command.  No heap, no globals: the caller owns the
 * keyward_atecc608_t.  Return codes (int): 0 success; 1..255 the chip's
 * status byte (KEYWARD_ATECC608_STATUS_*); negative: a transport error
 * (KEYWARD_ATECC608_E_*).  keyward_atecc608_to_psa() maps either to PSA.
 */
#ifndef KEYWARD_ATECC608_PROTO_H
#define KEYWARD_ATECC608_PROTO_H

#include "keyward/port/atecc608_admin.h"

/* Opcodes (those this driver sends). */
#define KEYWARD_ATECC608_OP_READ 0x02u
#define KEYWARD_ATECC608_OP_WRITE 0x12u
#define KEYWARD_ATECC608_OP_NONCE 0x16u
#define KEYWARD_ATECC608_OP_LOCK 0x17u
#define KEYWARD_ATECC608_OP_RANDOM 0x1Bu
#define KEYWARD_ATECC608_OP_INFO 0x30u
#define KEYWARD_ATECC608_OP_GENKEY 0x40u
#define KEYWARD_ATECC608_OP_SIGN 0x41u

/* keyward_atecc608_crc16 (port/atecc608_admin.h) is stored little endian
 * after the bytes it covers. */

/* Builds a command packet (word address 0x03 first) into out.
 * Returns its length, or 0 if out_size is too small or dlen too long. */
size_t keyward_atecc608_packet(uint8_t *out, size_t out_size, uint8_t opcode, uint8_t p1,
                               uint16_t p2, const uint8_t *data, size_t dlen);

/* Checks a response packet (count..crc): 0 and (*payload, *plen) on success,
 * E_LENGTH or E_CRC otherwise. */
int keyward_atecc608_parse(const uint8_t *pkt, size_t len, const uint8_t **payload, size_t *plen);

/* Wake the chip and check its reply (04 11 33 43, CRC computed); retries a
 * lost wake.  0, a status byte (e.g. 07 self-test failure) or E_WAKE. */
int keyward_atecc608_wake(keyward_atecc608_t *dev);
/* Idle keeps TempKey and stops the watchdog; sleep clears volatile state. */
int keyward_atecc608_idle(keyward_atecc608_t *dev);
int keyward_atecc608_sleep(keyward_atecc608_t *dev);

/* Sends one command to an awake chip, polls until it answers (within the
 * command's execution-time budget) and reads the response.  resp may be
 * NULL when resp_len is 0 (status-only commands).  Returns 0 when the chip
 * answered with exactly resp_len bytes (or status 00 when resp_len is 0),
 * else the status byte or an E_ code. */
int keyward_atecc608_command(keyward_atecc608_t *dev, uint8_t opcode, uint8_t p1, uint16_t p2,
                             const uint8_t *data, size_t dlen, uint8_t *resp, size_t resp_len);

/* Commands.  The chip must be awake (keyward_atecc608_wake). */
int keyward_atecc608_info(keyward_atecc608_t *dev, uint8_t revision[4]);
/* zone KEYWARD_ATECC608_ZONE_*, addr as the datasheet (config: block<<3|word),
 * len 4 or 32. */
int keyward_atecc608_read(keyward_atecc608_t *dev, uint8_t zone, uint16_t addr, uint8_t *buf,
                          size_t len);
int keyward_atecc608_write(keyward_atecc608_t *dev, uint8_t zone, uint16_t addr, const uint8_t *buf,
                           size_t len);
/* mode 0x00 config, 0x01 data+OTP, 0x02|slot<<2 one slot; |0x80 skips the
 * CRC check; crc = CRC-16 of the zone being locked. */
int keyward_atecc608_lock(keyward_atecc608_t *dev, uint8_t mode, uint16_t crc);
int keyward_atecc608_random(keyward_atecc608_t *dev, uint8_t out[32]);
/* Nonce pass-through: 32 bytes into TempKey (target 0x00) or MsgDigBuf (0x40). */
int keyward_atecc608_nonce_load(keyward_atecc608_t *dev, uint8_t target, const uint8_t in[32]);
/* Sign an external message with the key in slot; sig = R||S.  mode
 * KEYWARD_ATECC608_SIGN_TEMPKEY (0x80) or KEYWARD_ATECC608_SIGN_MSGDIGBUF
 * (0xA0, 608 only). */
#define KEYWARD_ATECC608_SIGN_TEMPKEY 0x80u
#define KEYWARD_ATECC608_SIGN_MSGDIGBUF 0xA0u
int keyward_atecc608_sign(keyward_atecc608_t *dev, uint8_t mode, uint8_t slot, uint8_t sig[64]);
/* mode 0x04 creates a private key in slot, 0x00 computes its public key. */
int keyward_atecc608_genkey(keyward_atecc608_t *dev, uint8_t mode, uint8_t slot, uint8_t pub[64]);

/* Non-zero for errors worth a fresh wake and a retry: transport errors,
 * CRC/communication status, watchdog about to expire, an unexpected
 * after-wake status.  Never for execution errors or a mis-compare. */
int keyward_atecc608_retryable(int rc);
/* The closest PSA status for a return code of this layer. */
psa_status_t keyward_atecc608_to_psa(int rc);

/* ---- Platform layer -------------------------------------------------------- */

/* The platform layer finds the chip for a KEYREF and serialises its users.
 * On Linux (atecc608_linux.c) bus is "unix:PATH" or "/dev/i2c-N" (len 0:
 * $KEYWARD_ATECC608_BUS) and a mutex plus an flock per chip make each
 * wake ... idle sequence atomic across threads and processes.  On
 * an MCU, atecc608_single.c serves the one chip given to
 * keyward_atecc608_attach() and ignores bus. */
psa_status_t keyward_atecc608_platform_get(const char *bus, size_t bus_len, uint8_t addr,
                                           keyward_atecc608_t **dev);
void keyward_atecc608_platform_lock(keyward_atecc608_t *dev);
void keyward_atecc608_platform_unlock(keyward_atecc608_t *dev);

#endif
