/*
 * Emulator conformance: each rule of docs/atecc608.md "What the emulator
 * enforces", driven through the real host command layer and the socket HAL
 * (the same path as production), so a wrong rule or a wrong driver shows.
 */
#include <string.h>
#include <time.h>

#include "emu_helper.h"
#include "hal/i2c_socket.h"
#include "se/atecc608/atecc608_proto.h"

static kw_emu_t emu;
static keyward_i2c_socket_t bus;
static keyward_atecc608_t dev;

/* The chip's own timing is what these sleeps test (execution time, the watchdog): they are
 * the case, not a synchronisation. */
static void msleep(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void connect_bus(void)
{
    keyward_i2c_socket_close(&bus);
    REQUIRE(keyward_i2c_socket_open(&bus, emu.socket) == 0);
    keyward_atecc608_init(&dev, &keyward_i2c_socket_class, &bus, 0x60);
}

static const char *state(void)
{
    return kw_emu_ctl(&emu, "state");
}

static int verify(const uint8_t pub[64], const uint8_t digest[32], const uint8_t sig[64])
{
    psa_key_attributes_t a = PSA_KEY_ATTRIBUTES_INIT;
    psa_key_id_t id;
    uint8_t point[65];
    psa_status_t s;

    point[0] = 0x04;
    memcpy(point + 1, pub, 64);
    psa_set_key_type(&a, PSA_KEY_TYPE_ECC_PUBLIC_KEY(PSA_ECC_FAMILY_SECP_R1));
    psa_set_key_usage_flags(&a, PSA_KEY_USAGE_VERIFY_HASH);
    psa_set_key_algorithm(&a, PSA_ALG_ECDSA(PSA_ALG_SHA_256));
    REQUIRE(psa_import_key(&a, point, 65, &id) == PSA_SUCCESS);
    s = psa_verify_hash(id, PSA_ALG_ECDSA(PSA_ALG_SHA_256), digest, 32, sig, 64);
    psa_destroy_key(id);
    return s == PSA_SUCCESS;
}

static void put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

int main(void)
{
    static const char *const args[] = {"--time-scale", "0.02", NULL};
    static const char *const short_wd[] = {"--time-scale", "0.02", "--watchdog-ms", "200", NULL};
    uint8_t buf[160], cfg[128], pub0[64], pub0b[64], sig[64], digest[32], word[4];
    int r;

    REQUIRE(psa_crypto_init() == PSA_SUCCESS);
    kw_emu_start(&emu, args);
    bus.fd = -1;
    connect_bus();

    /* Asleep: the chip NAKs everything; a command fails without a wake. */
    REQUIRE(strstr(state(), "power=sleep") != NULL);
    REQUIRE_EQ(keyward_atecc608_info(&dev, buf), KEYWARD_ATECC608_E_NAK);
    /* Wrong I2C address: NAK even when awake. */
    REQUIRE_EQ(keyward_atecc608_wake(&dev), 0);
    REQUIRE(keyward_i2c_socket_class.read(&bus, 0x61, buf, 1) == KEYWARD_I2C_NAK);
    /* A wake while awake is ignored (counted), the chip stays awake. */
    REQUIRE(keyward_i2c_socket_class.wake(&bus) == KEYWARD_I2C_OK);
    REQUIRE_EQ(kw_emu_stat(&emu, "wakes_ignored"), 1);
    REQUIRE(strstr(state(), "power=awake") != NULL);

    /* Info: the 608A revision. */
    REQUIRE_EQ(keyward_atecc608_info(&dev, buf), 0);
    REQUIRE(memcmp(buf, "\x00\x00\x60\x02", 4) == 0);
    /* A packet with a bad CRC is answered FF and not executed. */
    {
        size_t n = keyward_atecc608_packet(buf, sizeof(buf), 0x30, 0, 0, NULL, 0);
        uint8_t rep[4];
        buf[n - 1] ^= 0xFF;
        REQUIRE(keyward_i2c_socket_class.write(&bus, 0x60, buf, n) == KEYWARD_I2C_OK);
        msleep(2);
        REQUIRE(keyward_i2c_socket_class.read(&bus, 0x60, rep, 4) == KEYWARD_I2C_OK);
        REQUIRE(rep[0] == 4 && rep[1] == 0xFF);
        REQUIRE_EQ(kw_emu_stat(&emu, "crc_errors"), 1);
    }
    /* An unknown opcode is a parse error. */
    REQUIRE_EQ(keyward_atecc608_command(&dev, 0x7E, 0, 0, NULL, 0, buf, 4), 0x03);
    /* Reset word address: the same reply can be read again. */

    /* Unlocked config: Random is the fixed pattern, GenKey refused. */
    REQUIRE_EQ(keyward_atecc608_random(&dev, buf), 0);
    REQUIRE(memcmp(buf, "\xFF\xFF\x00\x00\xFF\xFF\x00\x00", 8) == 0);
    REQUIRE_EQ(keyward_atecc608_genkey(&dev, 0x04, 0, pub0), 0x0F);
    /* Data zone unlocked: no data read at all. */
    REQUIRE_EQ(keyward_atecc608_read(&dev, 2, 9 << 3, word, 4), 0x0F);
    /* Config bytes 0-15 and 84-87 are not writable by Write. */
    memset(word, 0, 4);
    REQUIRE_EQ(keyward_atecc608_write(&dev, 0, 0, word, 4), 0x0F);
    REQUIRE_EQ(keyward_atecc608_write(&dev, 0, 3, word, 4), 0x0F);
    REQUIRE_EQ(keyward_atecc608_write(&dev, 0, 21, word, 4), 0x0F);
    REQUIRE_EQ(keyward_atecc608_write(&dev, 0, 2u << 3, cfg, 32), 0x0F); /* block 2 holds 84-87 */
    /* Bad addresses are parse errors. */
    REQUIRE_EQ(keyward_atecc608_read(&dev, 0, 32, word, 4), 0x03);

    /* Configure: slot 0 key + GenKey allowed + lockable; slot 1 key without
     * GenKey; slot 2 key with ExtSign off; slot 9 clear data. */
    for (int b = 0; b < 4; b++) {
        REQUIRE_EQ(keyward_atecc608_read(&dev, 0, (uint16_t)(b << 3), cfg + 32 * b, 32), 0);
    }
    REQUIRE(cfg[87] == 0x55 && cfg[86] == 0x55 && cfg[0] == 0x01 && cfg[1] == 0x23);
    put16(cfg + 20, 0x2083);
    put16(cfg + 22, 0x0083);
    put16(cfg + 24, 0x2082);
    put16(cfg + 26, 0x0000);
    for (int s = 0; s < 16; s++) {
        put16(cfg + 96 + 2 * s, s <= 2 ? 0x0033 : 0x001C);
    }
    REQUIRE_EQ(keyward_atecc608_write(&dev, 0, 5, cfg + 20, 4), 0);
    REQUIRE_EQ(keyward_atecc608_write(&dev, 0, 6, cfg + 24, 4), 0);
    REQUIRE_EQ(keyward_atecc608_write(&dev, 0, 3u << 3, cfg + 96, 32), 0);
    REQUIRE_EQ(keyward_atecc608_read(&dev, 0, 5, word, 4), 0);
    REQUIRE(memcmp(word, cfg + 20, 4) == 0);
    /* Lock config: wrong CRC refused, right CRC accepted, second lock refused. */
    REQUIRE_EQ(keyward_atecc608_lock(&dev, 0x00, (uint16_t)(keyward_atecc608_crc16(cfg, 128) ^ 1)),
               0x0F);
    REQUIRE_EQ(keyward_atecc608_lock(&dev, 0x00, keyward_atecc608_crc16(cfg, 128)), 0);
    REQUIRE_EQ(keyward_atecc608_lock(&dev, 0x00, keyward_atecc608_crc16(cfg, 128)), 0x0F);
    REQUIRE_EQ(keyward_atecc608_write(&dev, 0, 5, cfg + 20, 4), 0x0F);
    REQUIRE(strstr(state(), "config_locked=1") != NULL);

    /* GenKey: only in private P-256 slots; public key only once made. */
    REQUIRE_EQ(keyward_atecc608_genkey(&dev, 0x00, 0, pub0), 0x0F);
    REQUIRE_EQ(keyward_atecc608_genkey(&dev, 0x04, 9, pub0), 0x0F);
    REQUIRE_EQ(keyward_atecc608_genkey(&dev, 0x04, 0, pub0), 0);
    REQUIRE_EQ(keyward_atecc608_genkey(&dev, 0x00, 0, pub0b), 0);
    REQUIRE(memcmp(pub0, pub0b, 64) == 0);
    REQUIRE_EQ(keyward_atecc608_genkey(&dev, 0x04, 1, buf), 0); /* data unlocked: allowed */
    REQUIRE_EQ(keyward_atecc608_genkey(&dev, 0x04, 2, buf), 0);
    /* RNG is real once the config is locked. */
    REQUIRE_EQ(keyward_atecc608_random(&dev, buf), 0);
    REQUIRE(memcmp(buf, "\xFF\xFF\x00\x00\xFF\xFF\x00\x00", 8) != 0);

    /* Sign needs a valid TempKey: none yet. */
    REQUIRE_EQ(keyward_atecc608_sign(&dev, 0x80, 0, sig), 0x0F);
    memset(digest, 0x3C, 32);
    REQUIRE_EQ(keyward_atecc608_nonce_load(&dev, 0x00, digest), 0);
    REQUIRE_EQ(keyward_atecc608_sign(&dev, 0x80, 0, sig), 0);
    REQUIRE(verify(pub0, digest, sig));
    /* TempKey is consumed by Sign. */
    REQUIRE_EQ(keyward_atecc608_sign(&dev, 0x80, 0, sig), 0x0F);
    /* ExtSign off: refused. */
    REQUIRE_EQ(keyward_atecc608_nonce_load(&dev, 0x00, digest), 0);
    REQUIRE_EQ(keyward_atecc608_sign(&dev, 0x80, 2, sig), 0x0F);
    /* TempKey survives idle... */
    REQUIRE_EQ(keyward_atecc608_nonce_load(&dev, 0x00, digest), 0);
    REQUIRE_EQ(keyward_atecc608_idle(&dev), 0);
    REQUIRE(strstr(state(), "tempkey_valid=1") != NULL);
    REQUIRE_EQ(keyward_atecc608_wake(&dev), 0);
    REQUIRE_EQ(keyward_atecc608_sign(&dev, 0x80, 0, sig), 0);
    REQUIRE(verify(pub0, digest, sig));
    /* ...but not sleep. */
    REQUIRE_EQ(keyward_atecc608_nonce_load(&dev, 0x00, digest), 0);
    REQUIRE_EQ(keyward_atecc608_sleep(&dev), 0);
    REQUIRE_EQ(keyward_atecc608_wake(&dev), 0);
    REQUIRE_EQ(keyward_atecc608_sign(&dev, 0x80, 0, sig), 0x0F);
    /* The 608's message-digest buffer path (Nonce 0x43, Sign 0xA0). */
    REQUIRE_EQ(keyward_atecc608_nonce_load(&dev, 0x40, digest), 0);
    REQUIRE_EQ(keyward_atecc608_command(&dev, 0x41, 0xA0, 0, NULL, 0, sig, 64), 0);
    REQUIRE(verify(pub0, digest, sig));
    /* Sign's source flags.  MsgDigBuf consumed: refused. */
    REQUIRE_EQ(keyward_atecc608_sign(&dev, 0xA0, 0, sig), 0x0F);
    /* A TempKey made by a random Nonce (SourceFlag Rand) is not an external
     * message: refused; a pass-through one (Input) is signed. */
    {
        uint8_t numin[20], rnd[32];
        memset(numin, 0x11, sizeof(numin));
        REQUIRE_EQ(keyward_atecc608_command(&dev, 0x16, 0x00, 0, numin, 20, rnd, 32), 0);
        REQUIRE(strstr(state(), "tempkey_valid=1") != NULL);
        REQUIRE(strstr(state(), "rng_seed_updated=1") != NULL);
        REQUIRE_EQ(keyward_atecc608_sign(&dev, 0x80, 0, sig), 0x0F);
    }
    /* Low mode bits set: parse error; internal-message Sign: not emulated. */
    REQUIRE_EQ(keyward_atecc608_nonce_load(&dev, 0x00, digest), 0);
    REQUIRE_EQ(keyward_atecc608_sign(&dev, 0x81, 0, sig), 0x03);
    REQUIRE_EQ(keyward_atecc608_sign(&dev, 0x00, 0, sig), 0x0F);
    /* A wrong length for the opcode is a parse error, executing nothing:
     * Sign with data, Random with the 20 bytes an old driver sent. */
    REQUIRE_EQ(keyward_atecc608_command(&dev, 0x41, 0x80, 0, digest, 32, sig, 64), 0x03);
    REQUIRE(strstr(state(), "tempkey_valid=1") != NULL);
    REQUIRE_EQ(keyward_atecc608_command(&dev, 0x1B, 0x00, 0, digest, 20, buf, 32), 0x03);
    REQUIRE_EQ(keyward_atecc608_sign(&dev, 0x80, 0, sig), 0);
    REQUIRE(verify(pub0, digest, sig));
    /* The RNG seed: refreshed by Random mode 0, forgotten at sleep. */
    REQUIRE_EQ(keyward_atecc608_sleep(&dev), 0);
    REQUIRE_EQ(keyward_atecc608_wake(&dev), 0);
    REQUIRE(strstr(state(), "rng_seed_updated=0") != NULL);
    REQUIRE_EQ(keyward_atecc608_command(&dev, 0x1B, 0x01, 0, NULL, 0, buf, 32), 0);
    REQUIRE(strstr(state(), "rng_seed_updated=0") != NULL); /* mode 1: no seed update */
    REQUIRE_EQ(keyward_atecc608_random(&dev, buf), 0);
    REQUIRE(strstr(state(), "rng_seed_updated=1") != NULL);

    /* Private keys are never readable. */
    REQUIRE_EQ(keyward_atecc608_read(&dev, 2, 0, word, 4), 0x0F);
    /* Lock data; then GenKey needs WriteConfig=GenKey (slot 0 yes, slot 1 no). */
    REQUIRE_EQ(keyward_atecc608_lock(&dev, 0x01, 0x1234), 0x0F); /* wrong CRC */
    REQUIRE_EQ(keyward_atecc608_lock(&dev, 0x81, 0), 0);
    REQUIRE_EQ(keyward_atecc608_lock(&dev, 0x81, 0), 0x0F);
    REQUIRE_EQ(keyward_atecc608_read(&dev, 2, 0, word, 4), 0x0F);
    REQUIRE_EQ(keyward_atecc608_read(&dev, 2, 0, buf, 32), 0x0F);
    REQUIRE_EQ(keyward_atecc608_genkey(&dev, 0x04, 1, buf), 0x0F);
    REQUIRE_EQ(keyward_atecc608_genkey(&dev, 0x04, 0, pub0), 0);
    /* Clear data slot 9: writable (WriteConfig 0) and readable after the lock. */
    memset(word, 0xAB, 4);
    REQUIRE_EQ(keyward_atecc608_write(&dev, 2, 9 << 3, word, 4), 0);
    memset(word, 0, 4);
    REQUIRE_EQ(keyward_atecc608_read(&dev, 2, 9 << 3, word, 4), 0);
    REQUIRE(memcmp(word, "\xAB\xAB\xAB\xAB", 4) == 0);
    /* OTP is read-only once the data zone is locked. */
    REQUIRE_EQ(keyward_atecc608_write(&dev, 1, 0, word, 4), 0x0F);
    /* Slot lock: slot 9 is not Lockable; slot 0 is, then GenKey is refused
     * but signing goes on. */
    REQUIRE_EQ(keyward_atecc608_lock(&dev, (uint8_t)(0x82 | (9 << 2)), 0), 0x0F);
    REQUIRE_EQ(keyward_atecc608_lock(&dev, 0x82, 0), 0);
    REQUIRE_EQ(keyward_atecc608_lock(&dev, 0x82, 0), 0x0F);
    REQUIRE_EQ(keyward_atecc608_genkey(&dev, 0x04, 0, buf), 0x0F);
    REQUIRE_EQ(keyward_atecc608_nonce_load(&dev, 0x00, digest), 0);
    REQUIRE_EQ(keyward_atecc608_sign(&dev, 0x80, 0, sig), 0);
    REQUIRE(verify(pub0, digest, sig));
    REQUIRE_EQ(keyward_atecc608_idle(&dev), 0);

    /* State survives a restart of the emulator: same key, still locked. */
    kw_emu_restart(&emu, short_wd);
    connect_bus();
    REQUIRE_EQ(keyward_atecc608_wake(&dev), 0);
    REQUIRE_EQ(keyward_atecc608_genkey(&dev, 0x00, 0, pub0b), 0);
    REQUIRE(memcmp(pub0, pub0b, 64) == 0);
    REQUIRE(strstr(state(), "config_locked=1") != NULL && strstr(state(), "data_locked=1") != NULL);
    /* The watchdog (200 ms here) puts an awake chip to sleep, TempKey lost. */
    REQUIRE_EQ(keyward_atecc608_nonce_load(&dev, 0x00, digest), 0);
    msleep(300);
    r = keyward_atecc608_sign(&dev, 0x80, 0, sig);
    REQUIRE_EQ(r, KEYWARD_ATECC608_E_NAK);
    REQUIRE(strstr(state(), "power=sleep") != NULL);
    REQUIRE(kw_emu_stat(&emu, "watchdog_expiries") >= 1);
    /* Idle stops the watchdog. */
    REQUIRE_EQ(keyward_atecc608_wake(&dev), 0);
    REQUIRE_EQ(keyward_atecc608_nonce_load(&dev, 0x00, digest), 0);
    REQUIRE_EQ(keyward_atecc608_idle(&dev), 0);
    msleep(300);
    REQUIRE(strstr(state(), "power=idle") != NULL);
    REQUIRE_EQ(keyward_atecc608_wake(&dev), 0);
    REQUIRE_EQ(keyward_atecc608_sign(&dev, 0x80, 0, sig), 0);
    REQUIRE(verify(pub0, digest, sig));
    REQUIRE_EQ(keyward_atecc608_idle(&dev), 0);

    keyward_i2c_socket_close(&bus);
    mbedtls_psa_crypto_free();
    return kw_test_end("atecc608_conformance");
}
