/*
 * What the parts of the chip model share, and nothing more: status codes,
 * configuration-zone offsets and the accessors for the configuration bits,
 * and the functions one part calls in another.  Parts (one prefix each):
 *   chip.c          bus transactions, power states, watchdog and timing,
 *                   the command dispatch (chip_)
 *   chip_zones.c    config, OTP and data zones and their locks: Info, Read,
 *                   Write, Lock (zone_)
 *   chip_crypto.c   RNG, TempKey, P-256 keys: Random, Nonce, GenKey, Sign
 *                   (crypto_)
 *   chip_state.c    the state file and the factory chip (state_)
 *   chip_control.c  the control channel: counters, fault injection
 *                   (control_)
 */
#ifndef KEYWARD_EMU_CHIP_INTERNAL_H
#define KEYWARD_EMU_CHIP_INTERNAL_H

#include "chip.h"
#include "wire.h" /* the emulator's own protocol knowledge: nothing from the driver */

#define ST_OK WIRE_ST_OK
#define ST_PARSE WIRE_ST_PARSE
#define ST_ECC_FAULT WIRE_ST_ECC_FAULT
#define ST_EXEC WIRE_ST_EXEC
#define ST_AFTER_WAKE WIRE_ST_AFTER_WAKE
#define ST_WATCHDOG WIRE_ST_WATCHDOG
#define ST_COMM WIRE_ST_COMM

/* Config zone offsets. */
#define CFG_I2C_ADDRESS 16
#define CFG_CHIPMODE 19
#define CFG_SLOTCONFIG 20
#define CFG_LOCKVALUE 86
#define CFG_LOCKCONFIG 87
#define CFG_SLOTLOCKED 88
#define CFG_KEYCONFIG 96

/* The configuration bits every part reads: header-only accessors, named
 * after the datasheet's fields rather than prefixed, as they were when the
 * model was one file. */
static inline size_t slot_size(unsigned slot)
{
    return wire_slot_size(slot);
}

static inline unsigned u16(const uint8_t *p)
{
    return (unsigned)p[0] | ((unsigned)p[1] << 8);
}

static inline unsigned slot_config(const chip_t *c, unsigned s)
{
    return u16(c->config + CFG_SLOTCONFIG + 2 * s);
}

static inline unsigned key_config(const chip_t *c, unsigned s)
{
    return u16(c->config + CFG_KEYCONFIG + 2 * s);
}

static inline int config_locked(const chip_t *c)
{
    return c->config[CFG_LOCKCONFIG] != 0x55;
}

static inline int data_locked(const chip_t *c)
{
    return c->config[CFG_LOCKVALUE] != 0x55;
}

static inline int slot_locked(const chip_t *c, unsigned s)
{
    return ((u16(c->config + CFG_SLOTLOCKED) >> s) & 1u) == 0; /* 0 = locked */
}

static inline int is_private(const chip_t *c, unsigned s)
{
    return (key_config(c, s) & 1u) != 0;
}

static inline int is_p256_key(const chip_t *c, unsigned s)
{
    return is_private(c, s) && ((key_config(c, s) >> 2) & 7u) == 4u;
}

/* chip.c */
double chip_now(void);
void chip_tick(chip_t *c, double now);
void chip_reply_status(chip_t *c, uint8_t status);
void chip_reply_data(chip_t *c, const uint8_t *data, size_t n);

/* chip_zones.c: the handlers return the status byte (ST_*). */
extern const uint8_t zone_revision[4];
uint8_t zone_read(chip_t *c, uint8_t p1, unsigned p2);
uint8_t zone_write(chip_t *c, uint8_t p1, unsigned p2, const uint8_t *d, size_t dlen);
uint8_t zone_lock(chip_t *c, uint8_t p1, unsigned p2);
uint8_t zone_info(chip_t *c, uint8_t p1, unsigned p2);

/* chip_crypto.c */
uint8_t crypto_random(chip_t *c, uint8_t p1, unsigned p2, size_t dlen);
uint8_t crypto_nonce(chip_t *c, uint8_t p1, const uint8_t *d, size_t dlen);
uint8_t crypto_genkey(chip_t *c, uint8_t p1, unsigned p2);
uint8_t crypto_sign(chip_t *c, uint8_t p1, unsigned p2);

/* chip_state.c */
int state_save(const chip_t *c);
int state_hex_digit(char ch);

/* chip_control.c */
chip_fault_t *control_fault_for(chip_t *c, const char *target);

#endif
