/*
 * The ATECC608 model.  Timing is real time: a command keeps the chip busy
 * (NAKing its address) for its execution time x time_scale; the watchdog
 * puts an awake chip to sleep watchdog_s after its wake, whatever it is
 * doing.  Rules whose public source is missing are marked CHOICE and listed
 * in docs/atecc608.md.  This part: the bus transactions, the power states,
 * the watchdog and the command dispatch; the rest is listed in
 * chip_internal.h.
 */
#include "chip_internal.h"

#include <string.h>
#include <time.h>

const char *const chip_op_names[CHIP_NOPS] = {"info",  "read",   "write", "lock", "random",
                                              "nonce", "genkey", "sign",  "other"};

double chip_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- power, watchdog ---------------------------------------------------------- */

static void clear_volatile(chip_t *c)
{
    memset(c->tempkey, 0, sizeof(c->tempkey));
    memset(c->msgdig, 0, sizeof(c->msgdig));
    c->tk_valid = 0;
    c->md_valid = 0;
    c->out_len = c->out_pos = 0;
    c->silent = 0;
}

/* Ends an awake session (idle, sleep or watchdog) and records its length. */
static void session_end(chip_t *c, double now)
{
    if (c->power == CHIP_AWAKE) {
        double ms = (now - c->woke_at) * 1000.0;
        if (ms > (double)c->st.awake_max_ms) {
            c->st.awake_max_ms = (uint64_t)ms;
        }
    }
}

static void go_sleep(chip_t *c)
{
    session_end(c, chip_now());
    c->power = CHIP_SLEEP;
    c->seed_updated = 0;
    clear_volatile(c);
}

/* The watchdog runs while awake (busy or not) and is stopped by idle. */
void chip_tick(chip_t *c, double now)
{
    if (c->power == CHIP_AWAKE && now >= c->wd_deadline) {
        c->st.watchdog_expiries++;
        go_sleep(c);
    }
}

static double watchdog_len(const chip_t *c)
{
    /* ChipMode bit 2 selects the long (~13 s) watchdog. */
    return (c->config[CFG_CHIPMODE] & 0x04u) ? c->watchdog_s * 10.0 : c->watchdog_s;
}

void chip_reply_status(chip_t *c, uint8_t status)
{
    c->out_len = wire_reply(c->out, &status, 1);
    c->out_pos = 0;
    if (status != ST_OK && status != ST_AFTER_WAKE) {
        c->st.error_status++;
    }
}

void chip_reply_data(chip_t *c, const uint8_t *data, size_t n)
{
    c->out_len = wire_reply(c->out, data, n);
    c->out_pos = 0;
}

int chip_wake(chip_t *c)
{
    double now = chip_now();
    chip_fault_t *f;

    c->st.transactions++;
    c->st.bytes_to_chip++; /* the 0x00 byte whose address phase is the pulse */
    chip_tick(c, now);
    if (c->power == CHIP_AWAKE) {
        c->st.wakes_ignored++; /* a wake while awake is ignored */
        return 0;
    }
    f = control_fault_for(c, "wake");
    if (f != NULL && f->kind == FAULT_LOSTWAKE) {
        c->st.wakes_lost++;
        return 0;
    }
    c->st.wakes++;
    if (c->power == CHIP_SLEEP) {
        clear_volatile(c);
    }
    c->power = CHIP_AWAKE;
    c->woke_at = now;
    c->wd_deadline = now + watchdog_len(c);
    /* tWHI: the wake reply is ready 1.5 ms later. */
    c->busy_until = now + 0.0015 * (c->time_scale < 1.0 ? c->time_scale : 1.0);
    c->silent = 0;
    chip_reply_status(c, ST_AFTER_WAKE);
    return 0;
}

/* ---- commands ------------------------------------------------------------------ */

static int op_index(uint8_t op)
{
    switch (op) {
    case WIRE_OP_INFO:
        return 0;
    case WIRE_OP_READ:
        return 1;
    case WIRE_OP_WRITE:
        return 2;
    case WIRE_OP_LOCK:
        return 3;
    case WIRE_OP_RANDOM:
        return 4;
    case WIRE_OP_NONCE:
        return 5;
    case WIRE_OP_GENKEY:
        return 6;
    case WIRE_OP_SIGN:
        return 7;
    default:
        return 8;
    }
}

/* Nominal execution times in ms (cryptoauthlib's 608 table, clock divider 0). */
static double exec_ms(uint8_t op)
{
    static const double t[CHIP_NOPS] = {5, 5, 45, 35, 23, 20, 115, 115, 1};
    return t[op_index(op)];
}
/* The persistent part of the chip as it was before the current command. */
static struct {
    uint8_t config[128];
    uint8_t otp[64];
    uint8_t data[16][416];
    uint8_t key_valid[16];
} before;

static void persistent_snapshot(const chip_t *c)
{
    memcpy(before.config, c->config, sizeof(before.config));
    memcpy(before.otp, c->otp, sizeof(before.otp));
    memcpy(before.data, c->data, sizeof(before.data));
    memcpy(before.key_valid, c->key_valid, sizeof(before.key_valid));
}

static int persistent_changed(const chip_t *c)
{
    return memcmp(before.config, c->config, sizeof(before.config)) != 0 ||
           memcmp(before.otp, c->otp, sizeof(before.otp)) != 0 ||
           memcmp(before.data, c->data, sizeof(before.data)) != 0 ||
           memcmp(before.key_valid, c->key_valid, sizeof(before.key_valid)) != 0;
}

static void persistent_restore(chip_t *c)
{
    memcpy(c->config, before.config, sizeof(before.config));
    memcpy(c->otp, before.otp, sizeof(before.otp));
    memcpy(c->data, before.data, sizeof(before.data));
    memcpy(c->key_valid, before.key_valid, sizeof(before.key_valid));
    c->out_len = c->out_pos = 0;
}

/* What answers a parsed command before it runs: an injected status or
 * silence, a wrong length for its opcode, too little watchdog time left.
 * 1 when one of them did (the command is not run), 0 otherwise. */
static int command_preempted(chip_t *c, const wire_cmd_t *cmd, double now, double t,
                             const chip_fault_t *f)
{
    if (f != NULL && f->kind == FAULT_STATUS) {
        chip_reply_status(c, f->status);
        c->busy_until = now + t;
        return 1;
    }
    if (f != NULL && f->kind == FAULT_NAK) {
        c->silent = 1; /* the chip never answers this command */
        c->out_len = c->out_pos = 0;
        return 1;
    }
    c->out_len = c->out_pos = 0;
    if (!wire_length_ok(cmd)) {
        chip_reply_status(c, ST_PARSE); /* wrong count for this opcode: executes nothing */
        c->busy_until = now;
        return 1;
    }
    /* Status 0xEE: "insufficient time to execute the given command before
     * the watchdog timer will expire" -- not executed; the host must idle
     * or sleep and wake again. */
    if (now + t > c->wd_deadline) {
        c->st.watchdog_refusals++;
        chip_reply_status(c, ST_WATCHDOG);
        c->busy_until = now;
        return 1;
    }
    return 0;
}

/* Runs the command's handler; its status byte. */
static uint8_t command_run(chip_t *c, const wire_cmd_t *cmd)
{
    uint8_t p1 = cmd->p1;
    unsigned p2 = cmd->p2;

    switch (cmd->opcode) {
    case WIRE_OP_READ:
        return zone_read(c, p1, p2);
    case WIRE_OP_WRITE:
        return zone_write(c, p1, p2, cmd->data, cmd->dlen);
    case WIRE_OP_LOCK:
        return zone_lock(c, p1, p2);
    case WIRE_OP_RANDOM:
        return crypto_random(c, p1, p2, cmd->dlen);
    case WIRE_OP_NONCE:
        return crypto_nonce(c, p1, cmd->data, cmd->dlen);
    case WIRE_OP_INFO:
        return zone_info(c, p1, p2);
    case WIRE_OP_GENKEY:
        return crypto_genkey(c, p1, p2);
    case WIRE_OP_SIGN:
        return crypto_sign(c, p1, p2);
    default:
        return ST_PARSE; /* Verify, ECDH, SHA...: not emulated */
    }
}

static void command(chip_t *c, const uint8_t *pkt, size_t len, double now, chip_fault_t *f)
{
    wire_cmd_t cmd;
    uint8_t st;
    double t;

    if (wire_parse_command(pkt, len, &cmd) != 0) {
        /* A garbled packet: reported before anything else, nothing run. */
        c->st.crc_errors++;
        chip_reply_status(c, ST_COMM);
        c->busy_until = now;
        return;
    }
    c->st.commands++;
    c->st.per_op[op_index(cmd.opcode)]++;
    t = exec_ms(cmd.opcode) / 1000.0 * c->time_scale;
    if (command_preempted(c, &cmd, now, t, f)) {
        return;
    }
    persistent_snapshot(c);
    st = command_run(c, &cmd);
    if (st == ST_OK && persistent_changed(c) && state_save(c) != 0) {
        /* The chip must not report a key or a lock it could lose: the
         * command fails and the chip keeps its state from before it. */
        persistent_restore(c);
        c->st.save_failures++;
        st = ST_EXEC;
    }
    if (st != ST_OK || c->out_len == 0) {
        chip_reply_status(c, st); /* status-only answer (Write, Lock, errors) */
    }
    if (f != NULL && f->kind == FAULT_CRC) {
        c->out[c->out_len - 1] ^= 0x5A; /* the answer is damaged on the wire */
    }
    if (f != NULL && f->kind == FAULT_SLOW) {
        t = 3.0 * t + 0.020; /* well past the nominal time */
    }
    c->busy_until = now + t;
}

int chip_write(chip_t *c, uint8_t addr, const uint8_t *buf, size_t len)
{
    double now = chip_now();

    c->st.transactions++;
    chip_tick(c, now);
    if (addr != (c->config[CFG_I2C_ADDRESS] >> 1) || c->power != CHIP_AWAKE || len == 0) {
        c->st.bytes_to_chip++; /* NAKed at the address byte: nothing else is sent */
        c->st.naks++;
        return 1;
    }
    /* Busy: every address is NAKed.  A silent chip (FAULT_NAK) never gets
     * its answer ready, so the host's "reset the read address" poll is
     * NAKed like its reads; sleep, idle and new commands still reach it. */
    if (now < c->busy_until || (c->silent && buf[0] == WIRE_WA_RESET)) {
        c->st.bytes_to_chip++;
        c->st.naks++;
        c->st.polls++;
        return 1;
    }
    c->st.bytes_to_chip += 1 + len;
    switch (buf[0]) {
    case WIRE_WA_RESET: /* reset the I/O address counter */
        c->out_pos = 0;
        return 0;
    case WIRE_WA_SLEEP:
        c->st.sleeps++;
        go_sleep(c);
        return 0;
    case WIRE_WA_IDLE:
        c->st.idles++;
        session_end(c, now);
        c->power = CHIP_IDLE; /* keeps TempKey and MsgDigBuf; watchdog stopped */
        c->out_len = c->out_pos = 0;
        return 0;
    case WIRE_WA_COMMAND: {
        /* One fault lookup per command occurrence; the watchdog fault fires
         * before the command reaches the chip. */
        chip_fault_t *f = control_fault_for(c, chip_op_names[op_index(len >= 3 ? buf[2] : 0xFF)]);
        if (f != NULL && f->kind == FAULT_WATCHDOG) {
            c->st.watchdog_expiries++;
            go_sleep(c);
            c->st.naks++;
            return 1;
        }
        c->silent = 0;
        command(c, buf + 1, len - 1, now, f);
        return 0;
    }
    default:
        return 0; /* other word addresses: acknowledged, ignored */
    }
}

int chip_read(chip_t *c, uint8_t addr, uint8_t *buf, size_t len)
{
    double now = chip_now();

    c->st.transactions++;
    c->st.bytes_to_chip++; /* the address byte */
    chip_tick(c, now);
    if (addr != (c->config[CFG_I2C_ADDRESS] >> 1) || c->power != CHIP_AWAKE) {
        c->st.naks++;
        return 1;
    }
    if (now < c->busy_until || c->silent) {
        c->st.naks++;
        c->st.polls++;
        return 1;
    }
    for (size_t i = 0; i < len; i++) {
        buf[i] = c->out_pos < c->out_len ? c->out[c->out_pos++] : 0xFF;
    }
    c->st.bytes_from_chip += len;
    return 0;
}
