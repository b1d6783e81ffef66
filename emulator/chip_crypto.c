/*
 * The ATECC608 model: the RNG, TempKey and the message-digest buffer, and
 * the P-256 key commands (Random, Nonce, GenKey, Sign).  The cryptography
 * is real, through the PSA API of the emulator's own crypto library.
 */
#include "chip_internal.h"

#include <string.h>

#include <psa/crypto.h>

/* The RNG seed in EEPROM is refreshed by Random or Nonce in mode 0.  CHOICE
 * (not public): counted at most once per wake from sleep, and not required
 * by any command; the counter shows whether a host refreshes it. */
static void seed_update(chip_t *c)
{
    if (!c->seed_updated) {
        c->seed_updated = 1;
        c->st.rng_seed_updates++;
    }
}

static void get_random(const chip_t *c, uint8_t *out, size_t n)
{
    if (!config_locked(c)) {
        /* Before the config lock the RNG only gives a fixed pattern. */
        for (size_t i = 0; i < n; i++) {
            out[i] = (i % 4) < 2 ? 0xFF : 0x00;
        }
        return;
    }
    psa_generate_random(out, n);
}

uint8_t crypto_random(chip_t *c, uint8_t p1, unsigned p2, size_t dlen)
{
    uint8_t r[32];
    /* Mode 0 updates the RNG seed, mode 1 does not (cryptoauthlib's
     * RANDOM_SEED_UPDATE / RANDOM_NO_SEED_UPDATE); param2 must be 0; no data. */
    if (p1 > 1 || p2 != 0 || dlen != 0) {
        return ST_PARSE;
    }
    if (p1 == 0) {
        seed_update(c);
    }
    get_random(c, r, sizeof(r));
    chip_reply_data(c, r, sizeof(r));
    return ST_OK;
}

uint8_t crypto_nonce(chip_t *c, uint8_t p1, const uint8_t *d, size_t dlen)
{
    unsigned mode = p1 & 3u, target = p1 & 0xC0u;
    size_t want = (p1 & 0x20u) ? 64u : 32u;

    if (mode == 3) {
        if (dlen != want || target == 0xC0u || (p1 & 0x1Cu) != 0) {
            return ST_PARSE;
        }
        if (target == 0x00u) {
            memset(c->tempkey, 0, sizeof(c->tempkey));
            memcpy(c->tempkey, d, dlen);
            c->tk_valid = 1;
            c->tk_input = 1; /* SourceFlag = Input: a fixed (pass-through) nonce */
        } else if (target == 0x40u) {
            memset(c->msgdig, 0, sizeof(c->msgdig));
            memcpy(c->msgdig, d, dlen);
            c->md_valid = 1;
        } /* AltKeyBuf (0x80): accepted, not used by anything emulated */
        chip_reply_status(c, ST_OK);
        return ST_OK;
    }
    if (mode == 2 || dlen != 20 || (p1 & 0xFCu) != 0) {
        return ST_PARSE;
    }
    if (mode == 0) {
        seed_update(c);
    }
    {
        /* TempKey = SHA-256(RandOut || NumIn || 0x16 || mode || 0x00) */
        uint8_t rnd[32], msg[32 + 20 + 3];
        size_t hl = 0;
        get_random(c, rnd, sizeof(rnd));
        memcpy(msg, rnd, 32);
        memcpy(msg + 32, d, 20);
        msg[52] = 0x16;
        msg[53] = (uint8_t)mode;
        msg[54] = 0x00;
        memset(c->tempkey, 0, sizeof(c->tempkey));
        if (psa_hash_compute(PSA_ALG_SHA_256, msg, sizeof(msg), c->tempkey, 32, &hl) != 0) {
            return ST_ECC_FAULT;
        }
        c->tk_valid = 1;
        c->tk_input = 0; /* SourceFlag = Rand */
        chip_reply_data(c, rnd, 32);
    }
    return ST_OK;
}

static int import_slot_key(const chip_t *c, unsigned slot, psa_key_usage_t usage, psa_key_id_t *id)
{
    psa_key_attributes_t a = PSA_KEY_ATTRIBUTES_INIT;
    psa_set_key_type(&a, PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1));
    psa_set_key_bits(&a, 256);
    psa_set_key_usage_flags(&a, usage);
    psa_set_key_algorithm(&a, PSA_ALG_ECDSA(PSA_ALG_SHA_256));
    return psa_import_key(&a, c->data[slot] + 4, 32, id) == PSA_SUCCESS ? 0 : -1;
}

uint8_t crypto_genkey(chip_t *c, uint8_t p1, unsigned p2)
{
    psa_key_attributes_t a = PSA_KEY_ATTRIBUTES_INIT;
    psa_key_id_t id = 0;
    uint8_t pub[65];
    size_t n = 0;
    unsigned slot = p2;

    if ((p1 != 0x00 && p1 != 0x04) || slot > 15) {
        return ST_PARSE;
    }
    if (!config_locked(c) || !is_p256_key(c, slot)) {
        return ST_EXEC;
    }
    if (p1 == 0x04) {
        /* After the data lock, only slots whose WriteConfig allows GenKey
         * (SlotConfig bit 13) and which are not locked. */
        if (data_locked(c) && (!((slot_config(c, slot) >> 13) & 1u) || slot_locked(c, slot))) {
            return ST_EXEC;
        }
        psa_set_key_type(&a, PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1));
        psa_set_key_bits(&a, 256);
        psa_set_key_usage_flags(&a, PSA_KEY_USAGE_EXPORT);
        if (psa_generate_key(&a, &id) != PSA_SUCCESS ||
            psa_export_key(id, c->data[slot] + 4, 32, &n) != PSA_SUCCESS || n != 32) {
            psa_destroy_key(id);
            return ST_ECC_FAULT;
        }
        memset(c->data[slot], 0, 4);
        c->key_valid[slot] = 1;
    } else {
        /* PubInfo (KeyConfig bit 1) must allow the public key to be computed. */
        if (!c->key_valid[slot] || (key_config(c, slot) & 0x02u) == 0) {
            return ST_EXEC;
        }
        if (import_slot_key(c, slot, 0, &id) != 0) {
            return ST_ECC_FAULT;
        }
    }
    if (psa_export_public_key(id, pub, sizeof(pub), &n) != PSA_SUCCESS || n != 65) {
        psa_destroy_key(id);
        return ST_ECC_FAULT;
    }
    psa_destroy_key(id);
    chip_reply_data(c, pub + 1, 64);
    return ST_OK;
}

uint8_t crypto_sign(chip_t *c, uint8_t p1, unsigned p2)
{
    psa_key_id_t id = 0;
    uint8_t sig[64];
    size_t n = 0;
    unsigned slot = p2;
    int from_md = (p1 & 0x20u) != 0;
    psa_status_t s;

    /* Mode: bit 7 external message, bit 6 include the serial number, bit 5
     * source (0 TempKey, 1 message-digest buffer, 608 only); the other bits
     * must be 0.  External: 0x80/0xC0 sign TempKey, 0xA0/0xE0 MsgDigBuf
     * (Microchip's TNGTLS/TFLXTLS data sheets, "Sign - External Message").
     * Internal-message signing (GenDig/GenKey digests) is not emulated. */
    if ((p1 & 0x1Fu) != 0 || slot > 15) {
        return ST_PARSE;
    }
    if ((p1 & 0x80u) == 0) {
        return ST_EXEC; /* CHOICE: internal messages need GenDig/GenKey TempKey, not emulated */
    }
    /* CHOICE: the config zone must be locked; the data zone need not be. */
    if (!config_locked(c) || !is_p256_key(c, slot) || !c->key_valid[slot] ||
        (slot_config(c, slot) & 0x01u) == 0) {
        return ST_EXEC;
    }
    /* The source must hold a message loaded "via the Nonce command run in
     * fixed mode" (the data sheets): MsgDigBuf only ever is; TempKey must
     * carry SourceFlag = Input, so a random nonce's TempKey is refused.
     * Nothing loaded since the wake, or already signed: refused too. */
    if (from_md ? !c->md_valid : (!c->tk_valid || !c->tk_input)) {
        return ST_EXEC;
    }
    if (import_slot_key(c, slot, PSA_KEY_USAGE_SIGN_HASH, &id) != 0) {
        return ST_ECC_FAULT;
    }
    s = psa_sign_hash(id, PSA_ALG_ECDSA(PSA_ALG_SHA_256), from_md ? c->msgdig : c->tempkey, 32, sig,
                      sizeof(sig), &n);
    psa_destroy_key(id);
    /* The message buffer is consumed by the signature either way. */
    if (from_md) {
        c->md_valid = 0;
    } else {
        c->tk_valid = 0;
    }
    if (s != PSA_SUCCESS || n != 64) {
        return ST_ECC_FAULT;
    }
    chip_reply_data(c, sig, 64);
    return ST_OK;
}
