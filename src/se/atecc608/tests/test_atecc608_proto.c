/*
 * Protocol unit tests: CRC-16 against the published vectors, packet
 * encoding/decoding, status mapping, KEYREF grammar, and the command layer
 * (wake check, polling, retries) over a scripted in-memory HAL.
 */
#include <string.h>

#include "kwcheck.h"
#include "se/atecc608/atecc608_internal.h"

static void crc_vectors(void)
{
    static const struct {
        const char *in;
        uint16_t crc; /* as stored: low byte first */
    } v[] = {
        {"\x04\x11", 0x4333},
        {"\x04\x00", 0x4003},
        {"\x07\x30\x00\x00\x00", 0x5D03},
        {"\x07\x00\x00\x60\x02", 0x3880},
        {"\x07\x1B\x00\x00\x00", 0xCD24},
        {"\x04\x0F", 0x4223},
        {"\x04\xEE", 0x4131},
    };
    static const size_t len[] = {2, 2, 5, 5, 5, 2, 2};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        REQUIRE_EQ(keyward_atecc608_crc16((const uint8_t *)v[i].in, len[i]), v[i].crc);
    }
    REQUIRE_EQ(keyward_atecc608_crc16(NULL, 0), 0);
}

static void packets(void)
{
    uint8_t buf[200], big[200];
    const uint8_t *p;
    size_t n, plen;
    static const uint8_t info[] = {0x03, 0x07, 0x30, 0x00, 0x00, 0x00, 0x03, 0x5D};
    static const uint8_t wake[] = {0x04, 0x11, 0x33, 0x43};
    uint8_t digest[32];

    n = keyward_atecc608_packet(buf, sizeof(buf), 0x30, 0, 0, NULL, 0);
    REQUIRE_EQ(n, sizeof(info));
    REQUIRE(memcmp(buf, info, n) == 0);
    /* Nonce pass-through: count 39, param2 little endian, CRC over count..data. */
    memset(digest, 0xA5, sizeof(digest));
    n = keyward_atecc608_packet(buf, sizeof(buf), 0x16, 0x03, 0x1234, digest, 32);
    REQUIRE_EQ(n, 40);
    REQUIRE_EQ(buf[1], 39);
    REQUIRE_EQ(buf[4], 0x34);
    REQUIRE_EQ(buf[5], 0x12);
    REQUIRE(keyward_atecc608_parse(buf + 1, 39, &p, &plen) == 0 && plen == 36);
    /* Too long, too small a buffer. */
    REQUIRE_EQ(keyward_atecc608_packet(buf, sizeof(buf), 0x12, 0, 0, big, 145), 0);
    REQUIRE_EQ(keyward_atecc608_packet(buf, 10, 0x16, 0x03, 0, digest, 32), 0);
    /* Replies. */
    REQUIRE(keyward_atecc608_parse(wake, 4, &p, &plen) == 0 && plen == 1 && p[0] == 0x11);
    memcpy(buf, wake, 4);
    buf[3] ^= 1;
    REQUIRE_EQ(keyward_atecc608_parse(buf, 4, &p, &plen), KEYWARD_ATECC608_E_CRC);
    buf[3] ^= 1;
    buf[0] = 5;
    REQUIRE_EQ(keyward_atecc608_parse(buf, 4, &p, &plen), KEYWARD_ATECC608_E_LENGTH);
    REQUIRE_EQ(keyward_atecc608_parse(buf, 3, &p, &plen), KEYWARD_ATECC608_E_LENGTH);
}

static void status_mapping(void)
{
    REQUIRE_EQ(keyward_atecc608_to_psa(0), PSA_SUCCESS);
    REQUIRE_EQ(keyward_atecc608_to_psa(0x01), PSA_ERROR_INVALID_SIGNATURE);
    REQUIRE_EQ(keyward_atecc608_to_psa(0x03), PSA_ERROR_NOT_SUPPORTED);
    REQUIRE_EQ(keyward_atecc608_to_psa(0x05), PSA_ERROR_HARDWARE_FAILURE);
    REQUIRE_EQ(keyward_atecc608_to_psa(0x07), PSA_ERROR_HARDWARE_FAILURE);
    REQUIRE_EQ(keyward_atecc608_to_psa(0x08), PSA_ERROR_INSUFFICIENT_ENTROPY);
    REQUIRE_EQ(keyward_atecc608_to_psa(0x0F), PSA_ERROR_NOT_PERMITTED);
    REQUIRE_EQ(keyward_atecc608_to_psa(0x11), PSA_ERROR_COMMUNICATION_FAILURE);
    REQUIRE_EQ(keyward_atecc608_to_psa(0xEE), PSA_ERROR_COMMUNICATION_FAILURE);
    REQUIRE_EQ(keyward_atecc608_to_psa(0xFF), PSA_ERROR_COMMUNICATION_FAILURE);
    REQUIRE_EQ(keyward_atecc608_to_psa(KEYWARD_ATECC608_E_NAK), PSA_ERROR_COMMUNICATION_FAILURE);
    REQUIRE_EQ(keyward_atecc608_to_psa(KEYWARD_ATECC608_E_CRC), PSA_ERROR_COMMUNICATION_FAILURE);
    /* Retry only what was not executed or lost on the wire. */
    REQUIRE(keyward_atecc608_retryable(0xFF) && keyward_atecc608_retryable(0xEE));
    REQUIRE(keyward_atecc608_retryable(KEYWARD_ATECC608_E_CRC));
    REQUIRE(!keyward_atecc608_retryable(0x01) && !keyward_atecc608_retryable(0x0F));
    REQUIRE(!keyward_atecc608_retryable(0x05) && !keyward_atecc608_retryable(0x03));
    REQUIRE(!keyward_atecc608_retryable(0));
}

static void keyrefs(void)
{
    static const char *const good[] = {
        "atecc608:slot=0",
        "atecc608:slot=15",
        "atecc608:slot=3;bus=unix:/tmp/x.sock",
        "atecc608:slot=0;bus=/dev/i2c-1;addr=0x60",
        "atecc608:addr=0x6A;slot=1",
        "atecc608:",
        "atecc608:bus=unix:/a b/c",
    };
    static const char *const bad[] = {
        "atecc608",
        "atecc:slot=0",
        "atecc608:slot=16",
        "atecc608:slot=-1",
        "atecc608:slot=",
        "atecc608:slot=01",
        "atecc608:slot=0x1",
        "atecc608:slot=0;slot=1",
        "atecc608:slot=0;",
        "atecc608:slot=0;bus=",
        "atecc608:slot=0;addr=0x78",
        "atecc608:slot=0;addr=0x07",
        "atecc608:slot=0;addr=zz",
        "atecc608:slot=0;colour=red",
        "atecc608:;slot=0",
        "atecc608:slot=0;bus=a;bus=b",
        "atecc608:slot",
    };
    kw608_keyref_t kr;

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (kw608_keyref_parse((const uint8_t *)good[i], strlen(good[i]), &kr) != PSA_SUCCESS) {
            fprintf(stderr, "rejected good KEYREF %s\n", good[i]);
            exit(1);
        }
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (kw608_keyref_parse((const uint8_t *)bad[i], strlen(bad[i]), &kr) == PSA_SUCCESS) {
            fprintf(stderr, "accepted bad KEYREF %s\n", bad[i]);
            exit(1);
        }
    }
    REQUIRE(kw608_keyref_parse((const uint8_t *)"atecc608:slot=0\0x", 17, &kr) != PSA_SUCCESS);
    REQUIRE(kw608_keyref_parse((const uint8_t *)good[3], strlen(good[3]), &kr) == PSA_SUCCESS);
    REQUIRE(kr.slot == 0 && kr.addr == 0x60 && kr.bus_len == 10 &&
            memcmp(kr.bus, "/dev/i2c-1", 10) == 0);
}

/* ---- a scripted HAL ------------------------------------------------------ */

typedef struct {
    int awake;
    int lost_wakes; /* next wake pulses that do nothing */
    int stale_wake; /* next wake reads a stale reply (chip already awake) */
    int busy_reads; /* NAKs before the reply is ready */
    int corrupt;    /* flip the reply CRC */
    uint8_t reply[80];
    size_t reply_len, pos;
    uint8_t last[200];
    size_t last_len;
    unsigned idles, sleeps, commands, resets;
    unsigned long delayed_us;
} mock_t;

static void mock_status(mock_t *m, uint8_t st)
{
    uint16_t crc;
    m->reply[0] = 4;
    m->reply[1] = st;
    crc = keyward_atecc608_crc16(m->reply, 2);
    m->reply[2] = (uint8_t)crc;
    m->reply[3] = (uint8_t)(crc >> 8);
    m->reply_len = 4;
    m->pos = 0;
}

static int m_wake(void *ctx)
{
    mock_t *m = ctx;
    if (m->lost_wakes > 0) {
        m->lost_wakes--;
        return KEYWARD_I2C_OK;
    }
    if (m->stale_wake > 0) {
        m->stale_wake--;
        m->awake = 1;
        mock_status(m, 0x00);
        return KEYWARD_I2C_OK;
    }
    m->awake = 1;
    mock_status(m, 0x11);
    return KEYWARD_I2C_OK;
}

static int m_write(void *ctx, uint8_t addr, const uint8_t *d, size_t n)
{
    mock_t *m = ctx;
    if (addr != 0x60 || !m->awake) {
        return KEYWARD_I2C_NAK;
    }
    if (d[0] == 0x00 && n == 1) {
        /* Reset of the read address: NAKed while busy (the poll). */
        if (m->busy_reads > 0) {
            m->busy_reads--;
            return KEYWARD_I2C_NAK;
        }
        m->resets++;
        m->pos = 0;
        return KEYWARD_I2C_OK;
    }
    memcpy(m->last, d, n);
    m->last_len = n;
    if (d[0] == 0x02) {
        m->idles++;
        m->awake = 0;
    } else if (d[0] == 0x01) {
        m->sleeps++;
        m->awake = 0;
    } else if (d[0] == 0x03) {
        m->commands++;
    }
    return KEYWARD_I2C_OK;
}

static int m_read(void *ctx, uint8_t addr, uint8_t *d, size_t n)
{
    mock_t *m = ctx;
    if (addr != 0x60 || !m->awake) {
        return KEYWARD_I2C_NAK;
    }
    if (m->busy_reads > 0) {
        m->busy_reads--;
        return KEYWARD_I2C_NAK;
    }
    for (size_t i = 0; i < n; i++) {
        d[i] = m->pos < m->reply_len ? m->reply[m->pos++] : 0xFF;
        if (m->corrupt && m->pos == m->reply_len) {
            d[i] ^= 0x01;
        }
    }
    return KEYWARD_I2C_OK;
}

static void m_delay(void *ctx, uint32_t us)
{
    ((mock_t *)ctx)->delayed_us += us;
}

static const keyward_i2c_class_t mock_class = {"mock", m_wake, m_write, m_read, m_delay};

static void command_layer(void)
{
    mock_t m;
    keyward_atecc608_t dev;
    uint8_t rev[4];

    memset(&m, 0, sizeof(m));
    keyward_atecc608_init(&dev, &mock_class, &m, 0x60);
    /* Wake: the reply 04 11 33 43 is accepted. */
    REQUIRE_EQ(keyward_atecc608_wake(&dev), 0);
    REQUIRE(m.delayed_us >= 1500);
    /* A lost pulse is pulsed again. */
    m.awake = 0;
    m.lost_wakes = 1;
    REQUIRE_EQ(keyward_atecc608_wake(&dev), 0);
    /* A chip already awake answers with a stale buffer: idle, then wake. */
    m.stale_wake = 1;
    m.idles = 0;
    REQUIRE_EQ(keyward_atecc608_wake(&dev), 0);
    REQUIRE_EQ(m.idles, 1);
    /* A chip that never wakes. */
    m.awake = 0;
    m.lost_wakes = 10;
    REQUIRE_EQ(keyward_atecc608_wake(&dev), KEYWARD_ATECC608_E_WAKE);
    m.lost_wakes = 0;
    REQUIRE_EQ(keyward_atecc608_wake(&dev), 0);

    /* A command answered after 5 busy polls. */
    m.reply[0] = 7;
    memcpy(m.reply + 1, "\x00\x00\x60\x02", 4);
    {
        uint16_t crc = keyward_atecc608_crc16(m.reply, 5);
        m.reply[5] = (uint8_t)crc;
        m.reply[6] = (uint8_t)(crc >> 8);
    }
    m.reply_len = 7;
    m.pos = 0;
    m.busy_reads = 5;
    m.delayed_us = 0;
    m.resets = 0;
    m.pos = 3; /* an earlier partial read: the reset must rewind it */
    REQUIRE_EQ(keyward_atecc608_info(&dev, rev), 0);
    REQUIRE(memcmp(rev, "\x00\x00\x60\x02", 4) == 0);
    /* 5 resets NAKed while busy, then one that reads the reply from its
     * count byte (cryptoauthlib's calib_execute_receive). */
    REQUIRE_EQ(m.resets, 1);
    REQUIRE_EQ(m.last_len, 8);
    REQUIRE(memcmp(m.last, "\x03\x07\x30\x00\x00\x00\x03\x5D", 8) == 0);
    REQUIRE_EQ(m.delayed_us, 1000 + 5 * 2000);
    /* A damaged CRC is reported as such. */
    m.pos = 0;
    m.corrupt = 1;
    REQUIRE_EQ(keyward_atecc608_info(&dev, rev), KEYWARD_ATECC608_E_CRC);
    m.corrupt = 0;
    /* A status reply where data was expected is that status. */
    mock_status(&m, 0x0F);
    REQUIRE_EQ(keyward_atecc608_info(&dev, rev), 0x0F);
    mock_status(&m, 0x00);
    REQUIRE_EQ(keyward_atecc608_info(&dev, rev), KEYWARD_ATECC608_E_LENGTH);
    mock_status(&m, 0x00);
    REQUIRE_EQ(keyward_atecc608_lock(&dev, 0x80, 0), 0);
    /* A silent chip: polling stops at the command's budget (Sign: 690 ms). */
    m.busy_reads = 1000000;
    m.delayed_us = 0;
    {
        uint8_t sig[64];
        REQUIRE_EQ(keyward_atecc608_sign(&dev, 0x80, 0, sig), KEYWARD_ATECC608_E_NAK);
        REQUIRE(m.delayed_us >= 690000 && m.delayed_us <= 700000);
    }
    m.busy_reads = 0;
    /* Sessions: a retryable error sleeps and runs everything again. */
    REQUIRE_EQ(keyward_atecc608_idle(&dev), 0);
    REQUIRE_EQ(keyward_atecc608_to_psa(KEYWARD_ATECC608_E_ARG), PSA_ERROR_INVALID_ARGUMENT);
    {
        uint8_t big[64];
        REQUIRE_EQ(keyward_atecc608_genkey(&dev, 0x08, 0, big), KEYWARD_ATECC608_E_ARG);
        REQUIRE_EQ(keyward_atecc608_read(&dev, 0, 0, big, 5), KEYWARD_ATECC608_E_ARG);
    }
}

static int fail_then_ok_calls;
static int fail_then_ok(keyward_atecc608_t *dev, void *arg)
{
    (void)dev;
    return fail_then_ok_calls++ < *(int *)arg ? KEYWARD_ATECC608_STATUS_COMM : 0;
}
static int exec_error(keyward_atecc608_t *dev, void *arg)
{
    (void)dev;
    (*(int *)arg)++;
    return KEYWARD_ATECC608_STATUS_EXECUTION;
}

static void sessions(void)
{
    mock_t m;
    keyward_atecc608_t dev;
    int fails, calls = 0;

    memset(&m, 0, sizeof(m));
    keyward_atecc608_init(&dev, &mock_class, &m, 0x60);
    fails = 2;
    REQUIRE_EQ(kw608_run(&dev, fail_then_ok, &fails), 0);
    REQUIRE_EQ(fail_then_ok_calls, 3);
    REQUIRE_EQ(m.sleeps, 2);
    REQUIRE_EQ(m.idles, 1);
    fails = 100;
    fail_then_ok_calls = 0;
    REQUIRE_EQ(kw608_run(&dev, fail_then_ok, &fails), KEYWARD_ATECC608_STATUS_COMM);
    REQUIRE_EQ(fail_then_ok_calls, KW608_ATTEMPTS);
    /* An execution error is final: one call, then idle. */
    REQUIRE_EQ(kw608_run(&dev, exec_error, &calls), KEYWARD_ATECC608_STATUS_EXECUTION);
    REQUIRE_EQ(calls, 1);
}

int main(void)
{
    crc_vectors();
    packets();
    status_mapping();
    keyrefs();
    command_layer();
    sessions();
    return kw_test_end("atecc608_proto");
}
