/*
 * The ATECC608 model: the configuration, OTP and data zones and their lock
 * rules, and the commands on them (Info, Read, Write, Lock).
 */
#include "chip_internal.h"

#include <string.h>

const uint8_t zone_revision[4] = {0x00, 0x00, 0x60, 0x02}; /* ATECC608A */

/* Byte range [off, off+len) of a zone from Read/Write's param2, or -1. */
static int zone_range(const chip_t *c, uint8_t zone, unsigned p2, size_t len, unsigned *slot,
                      size_t *off)
{
    (void)c;
    return wire_zone_range(zone, p2, len, slot, off);
}

uint8_t zone_read(chip_t *c, uint8_t p1, unsigned p2)
{
    uint8_t zone = p1 & 3u, buf[32];
    size_t len = (p1 & 0x80u) ? 32u : 4u, off;
    unsigned slot = 0;

    if (zone == 3 || (p1 & 0x7Cu) != 0 || zone_range(c, zone, p2, len, &slot, &off) != 0) {
        return ST_PARSE;
    }
    if (zone == 0) {
        memcpy(buf, c->config + off, len);
    } else if (zone == 1) {
        memcpy(buf, c->otp + off, len);
    } else {
        /* Data can be read only once locked, never from a private-key slot,
         * and secret slots only encrypted (not emulated: refused). */
        if (!data_locked(c) || is_private(c, slot) || (slot_config(c, slot) & 0x80u)) {
            return ST_EXEC;
        }
        memcpy(buf, c->data[slot] + off, len);
    }
    chip_reply_data(c, buf, len);
    return ST_OK;
}

uint8_t zone_write(chip_t *c, uint8_t p1, unsigned p2, const uint8_t *d, size_t dlen)
{
    uint8_t zone = p1 & 3u;
    size_t len = (p1 & 0x80u) ? 32u : 4u, off;
    unsigned slot = 0;

    if (zone == 3 || (p1 & 0x3Cu) != 0 || dlen != len ||
        zone_range(c, zone, p2, len, &slot, &off) != 0) {
        return ST_PARSE;
    }
    if (p1 & 0x40u) {
        return ST_EXEC; /* encrypted writes: CHOICE, not emulated */
    }
    if (zone == 0) {
        /* Bytes 0-15 are never writable; 84-87 only by UpdateExtra/Lock.
         * CHOICE: a write touching them is refused as a whole. */
        if (config_locked(c) || off < 16 || (off < 88 && off + len > 84)) {
            return ST_EXEC;
        }
        memcpy(c->config + off, d, len);
    } else if (zone == 1) {
        if (data_locked(c)) {
            return ST_EXEC; /* OTP locks with the data zone (read-only mode) */
        }
        memcpy(c->otp + off, d, len);
    } else {
        if (!config_locked(c) || is_private(c, slot)) {
            return ST_EXEC; /* private keys: GenKey or PrivWrite only */
        }
        if (data_locked(c) && (slot_locked(c, slot) || (slot_config(c, slot) >> 12) != 0)) {
            return ST_EXEC; /* WriteConfig 0 = always; others need encryption */
        }
        memcpy(c->data[slot] + off, d, len);
    }
    return ST_OK;
}

static uint16_t data_zone_crc(const chip_t *c)
{
    static uint8_t all[16 * 416 + 64];
    size_t n = 0;

    for (unsigned s = 0; s < 16; s++) {
        if (!is_private(c, s)) {
            memcpy(all + n, c->data[s], slot_size(s));
            n += slot_size(s);
        }
    }
    memcpy(all + n, c->otp, 64);
    n += 64;
    return wire_crc16(all, n);
}

uint8_t zone_lock(chip_t *c, uint8_t p1, unsigned p2)
{
    int check = (p1 & 0x80u) == 0;
    unsigned zone = p1 & 3u, slot = (p1 >> 2) & 0xFu;

    if ((p1 & 0x40u) != 0 || zone == 3) {
        return ST_PARSE;
    }
    if (zone == 0) {
        if (config_locked(c) || (check && wire_crc16(c->config, 128) != p2)) {
            return ST_EXEC;
        }
        c->config[CFG_LOCKCONFIG] = 0x00;
    } else if (zone == 1) {
        if (!config_locked(c) || data_locked(c) || (check && data_zone_crc(c) != p2)) {
            return ST_EXEC;
        }
        c->config[CFG_LOCKVALUE] = 0x00;
    } else {
        unsigned locked = u16(c->config + CFG_SLOTLOCKED);
        /* CHOICE: a private slot's contents are unknown to the host, so its
         * CRC is not checked. */
        if (!data_locked(c) || (key_config(c, slot) & 0x20u) == 0 || slot_locked(c, slot) ||
            (check && !is_private(c, slot) && wire_crc16(c->data[slot], slot_size(slot)) != p2)) {
            return ST_EXEC;
        }
        locked &= ~(1u << slot);
        c->config[CFG_SLOTLOCKED] = (uint8_t)(locked & 0xff);
        c->config[CFG_SLOTLOCKED + 1] = (uint8_t)(locked >> 8);
    }
    return ST_OK;
}

uint8_t zone_info(chip_t *c, uint8_t p1, unsigned p2)
{
    uint8_t r[4] = {0, 0, 0, 0};
    if (p1 == 0x00) {
        chip_reply_data(c, zone_revision, 4);
        return ST_OK;
    }
    if (p1 == 0x01 && p2 < 16) { /* KeyValid */
        r[0] = c->key_valid[p2];
        chip_reply_data(c, r, 4);
        return ST_OK;
    }
    return ST_PARSE;
}
