/*
 * keyward-tool's ATECC608 subcommands: info and provision (hosted builds),
 * over the administration port API (keyward/port/atecc608_admin.h); the
 * chip protocol stays inside the backend.
 *
 * The default configuration written by provision (docs/atecc608.md):
 *   slots 0-4  P-256 private keys: SlotConfig 0x2083 (ExtSign, IntSign,
 *              IsSecret, WriteConfig=GenKey so keyward-tool keygen works
 *              after the data zone is locked), KeyConfig 0x0033 (Private,
 *              PubInfo, KeyType P-256, Lockable: a product line may lock
 *              slot 0 for good once its key is made)
 *   slots 5-15 clear-text data slots: SlotConfig 0x0000, KeyConfig 0x001C
 * Bytes 16-19 (I2C address, CountMatch, ChipMode) and 52-95 keep the
 * values the chip came with.  Then the config zone is locked with its CRC
 * and the data/OTP zone is locked.
 */
#include <stdio.h>
#include <string.h>

#include "atecc608_tool.h"
#include "keyward/keyward.h"
#include "keyward/port/atecc608_admin.h"

static int open_chip(const char *keyref, keyward_atecc608_t **dev)
{
    if (strncmp(keyref, "atecc608:", 9) != 0) {
        fprintf(stderr, "keyward-tool: expected an atecc608: KEYREF\n");
        return -1;
    }
    if (keyward_atecc608_admin_open(keyref, dev) != PSA_SUCCESS) {
        fprintf(stderr, "keyward-tool: %s: %s\n", keyref, keyward_last_error());
        return -1;
    }
    return 0;
}

/* cfg: 128 bytes of config then 4 bytes of Info revision. */
static int read_config(keyward_atecc608_t *dev, uint8_t cfg[132])
{
    int rc = keyward_atecc608_admin_read_config(dev, cfg, cfg + 128);

    if (rc != 0) {
        fprintf(stderr, "keyward-tool: reading the configuration zone: %s\n",
                keyward_atecc608_rc_name(rc));
    }
    return rc;
}

static unsigned u16le(const uint8_t *p)
{
    return (unsigned)p[0] | ((unsigned)p[1] << 8);
}

static void print_info(const uint8_t cfg[132])
{
    static const char *const keytypes[8] = {"?", "?", "?", "?", "P-256", "?", "AES", "data"};
    const uint8_t *rev = cfg + 128;
    unsigned slot_locked = u16le(cfg + KEYWARD_ATECC608_CFG_SLOTLOCKED);

    printf("serial number: %02X%02X%02X%02X%02X%02X%02X%02X%02X\n", cfg[0], cfg[1], cfg[2], cfg[3],
           cfg[8], cfg[9], cfg[10], cfg[11], cfg[12]);
    printf("revision:      %02X %02X %02X %02X%s\n", rev[0], rev[1], rev[2], rev[3],
           rev[2] == 0x60 ? (rev[3] <= 0x02 ? " (ATECC608A)" : " (ATECC608B)") : "");
    printf("i2c address:   0x%02X\n", cfg[16] >> 1);
    printf("config zone:   %s\n", cfg[KEYWARD_ATECC608_CFG_LOCKCONFIG] == KEYWARD_ATECC608_UNLOCKED
                                      ? "unlocked"
                                      : "locked");
    printf("data/otp zone: %s\n", cfg[KEYWARD_ATECC608_CFG_LOCKVALUE] == KEYWARD_ATECC608_UNLOCKED
                                      ? "unlocked"
                                      : "locked");
    printf("slot SlotConfig KeyConfig  content\n");
    for (unsigned s = 0; s < 16; s++) {
        unsigned sc = u16le(cfg + KEYWARD_ATECC608_CFG_SLOTCONFIG + 2 * s);
        unsigned kc = u16le(cfg + KEYWARD_ATECC608_CFG_KEYCONFIG + 2 * s);
        unsigned kt = KEYWARD_ATECC608_KEYCONFIG_KEYTYPE(kc);
        int priv = (kc & KEYWARD_ATECC608_KEYCONFIG_PRIVATE) != 0;
        printf("%4u 0x%04X     0x%04X     %s%s%s%s%s\n", s, sc, kc, priv ? "private " : "",
               keytypes[kt], priv && kt == 4 && (sc & 1u) ? ", ExtSign" : "",
               priv && kt == 4 && ((sc >> 12) & 2u) ? ", GenKey allowed" : "",
               (slot_locked >> s) & 1u ? "" : ", slot locked");
    }
}

int keyward_atecc608_tool_info(const char *keyref)
{
    keyward_atecc608_t *dev = NULL;
    uint8_t cfg[132];
    int rc;

    if (open_chip(keyref, &dev) != 0) {
        return 1;
    }
    rc = read_config(dev, cfg);
    keyward_atecc608_admin_close(dev);
    if (rc != 0) {
        return 1;
    }
    print_info(cfg);
    return 0;
}

static void default_config(uint8_t cfg[128])
{
    for (unsigned s = 0; s < 16; s++) {
        unsigned sc = s <= 4 ? 0x2083u : 0x0000u;
        unsigned kc = s <= 4 ? 0x0033u : 0x001Cu;
        cfg[KEYWARD_ATECC608_CFG_SLOTCONFIG + 2 * s] = (uint8_t)(sc & 0xff);
        cfg[KEYWARD_ATECC608_CFG_SLOTCONFIG + 2 * s + 1] = (uint8_t)(sc >> 8);
        cfg[KEYWARD_ATECC608_CFG_KEYCONFIG + 2 * s] = (uint8_t)(kc & 0xff);
        cfg[KEYWARD_ATECC608_CFG_KEYCONFIG + 2 * s + 1] = (uint8_t)(kc >> 8);
    }
}

static int do_write(keyward_atecc608_t *dev, uint16_t addr, const uint8_t *in, size_t len)
{
    int rc = keyward_atecc608_admin_write_config(dev, addr, in, len);

    if (rc != 0) {
        fprintf(stderr, "keyward-tool: writing config address 0x%02X: %s\n", addr,
                keyward_atecc608_rc_name(rc));
    }
    return rc;
}

static int do_lock(keyward_atecc608_t *dev, uint8_t mode, uint16_t crc, const char *what)
{
    int rc = keyward_atecc608_admin_lock(dev, mode, crc);

    if (rc != 0) {
        fprintf(stderr, "keyward-tool: locking the %s: %s\n", what, keyward_atecc608_rc_name(rc));
    } else {
        printf("locked the %s\n", what);
    }
    return rc;
}

static int provision(keyward_atecc608_t *dev)
{
    uint8_t cfg[132], want[128];

    if (read_config(dev, cfg) != 0) {
        return 1;
    }
    if (cfg[KEYWARD_ATECC608_CFG_LOCKCONFIG] != KEYWARD_ATECC608_UNLOCKED) {
        printf("config zone already locked: configuration left as it is\n");
    } else {
        memcpy(want, cfg, 128);
        default_config(want);
        /* Words 5-7 (bytes 20-31), block 1 (32-63), block 3 (96-127): the
         * slot and key configurations, never touching the read-only bytes
         * 0-15 or the lock bytes 84-87. */
        if (do_write(dev, 5, want + 20, 4) != 0 || do_write(dev, 6, want + 24, 4) != 0 ||
            do_write(dev, 7, want + 28, 4) != 0 || do_write(dev, 1u << 3, want + 32, 32) != 0 ||
            do_write(dev, 3u << 3, want + 96, 32) != 0) {
            return 1;
        }
        if (read_config(dev, cfg) != 0) {
            return 1;
        }
        if (memcmp(cfg + 16, want + 16, 128 - 16) != 0) {
            fprintf(stderr, "keyward-tool: the configuration read back differs from the one "
                            "written; not locking\n");
            return 1;
        }
        printf("wrote the default configuration (slots 0-4 P-256 keys, GenKey allowed)\n");
        /* The CRC makes the chip refuse the lock if what it holds is not
         * what we just checked. */
        if (do_lock(dev, KEYWARD_ATECC608_LOCK_CONFIG, keyward_atecc608_crc16(cfg, 128),
                    "config zone") != 0) {
            return 1;
        }
    }
    if (cfg[KEYWARD_ATECC608_CFG_LOCKVALUE] != KEYWARD_ATECC608_UNLOCKED) {
        printf("data/otp zone already locked\n");
    } else if (do_lock(dev, KEYWARD_ATECC608_LOCK_DATA | KEYWARD_ATECC608_LOCK_NO_CRC, 0,
                       "data/otp zone") != 0) {
        /* No CRC: the data zone holds nothing we wrote to check. */
        return 1;
    }
    return 0;
}

int keyward_atecc608_tool_provision(const char *keyref)
{
    keyward_atecc608_t *dev = NULL;
    int ret;

    if (open_chip(keyref, &dev) != 0) {
        return 1;
    }
    ret = provision(dev);
    keyward_atecc608_admin_close(dev);
    return ret;
}
