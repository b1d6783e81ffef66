/*
 * The ATECC608 model.  Timing is real time: a command keeps the chip busy
 * (NAKing its address) for its execution time x time_scale; the watchdog
 * puts an awake chip to sleep watchdog_s after its wake, whatever it is
 * doing.  Rules whose public source is missing are marked CHOICE and listed
 * in docs/atecc608.md.
 */
#include "chip.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <psa/crypto.h>

#include "wire.h" /* the emulator's own protocol knowledge: nothing from the driver */

const char *const chip_op_names[CHIP_NOPS] = {"info",  "read",   "write", "lock", "random",
                                              "nonce", "genkey", "sign",  "other"};

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

static const uint8_t revision[4] = {0x00, 0x00, 0x60, 0x02}; /* ATECC608A */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t slot_size(unsigned slot)
{
    return wire_slot_size(slot);
}

static unsigned u16(const uint8_t *p)
{
    return (unsigned)p[0] | ((unsigned)p[1] << 8);
}

static unsigned slot_config(const chip_t *c, unsigned s)
{
    return u16(c->config + CFG_SLOTCONFIG + 2 * s);
}

static unsigned key_config(const chip_t *c, unsigned s)
{
    return u16(c->config + CFG_KEYCONFIG + 2 * s);
}

static int config_locked(const chip_t *c)
{
    return c->config[CFG_LOCKCONFIG] != 0x55;
}

static int data_locked(const chip_t *c)
{
    return c->config[CFG_LOCKVALUE] != 0x55;
}

static int slot_locked(const chip_t *c, unsigned s)
{
    return ((u16(c->config + CFG_SLOTLOCKED) >> s) & 1u) == 0; /* 0 = locked */
}

static int is_private(const chip_t *c, unsigned s)
{
    return (key_config(c, s) & 1u) != 0;
}

static int is_p256_key(const chip_t *c, unsigned s)
{
    return is_private(c, s) && ((key_config(c, s) >> 2) & 7u) == 4u;
}

/* ---- state file ------------------------------------------------------------- */

/*
 * The state file: a header line, "config HEX" (128 bytes), "otp HEX" (64),
 * then "slot N VALID HEX" for each of the 16 slots, each exactly once, in
 * any order.  Saved atomically (write FILE.tmp, fsync, rename, fsync the
 * directory) after every command that changes it; a failed save fails the
 * command and the chip keeps its previous state.  Loaded all or nothing.
 */
#define STATE_HEADER "keyward-atecc608-emu state 1"
#define STATE_MAX_BYTES 16384 /* a complete file is about 7 KiB */

static int put_hex(FILE *f, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (fprintf(f, "%02x", p[i]) != 2) {
            return -1;
        }
    }
    return fputc('\n', f) == EOF ? -1 : 0;
}

static int hex_digit(char ch)
{
    return ch >= '0' && ch <= '9' ? ch - '0'
           : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
           : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                    : -1;
}

/* Exactly 2n hex digits and nothing else. */
static int get_hex(const char *s, uint8_t *p, size_t n)
{
    if (strlen(s) != 2 * n) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return -1;
        }
        p[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

/* fsync of the directory holding path, so that the rename is durable. */
static int sync_dir(const char *path)
{
    char dir[4200];
    const char *slash = strrchr(path, '/');
    int fd, r;

    if (slash == NULL) {
        strcpy(dir, ".");
    } else if (slash == path) {
        strcpy(dir, "/");
    } else {
        if ((size_t)(slash - path) >= sizeof(dir)) {
            return -1;
        }
        memcpy(dir, path, (size_t)(slash - path));
        dir[slash - path] = '\0';
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    r = fsync(fd);
    close(fd);
    return r;
}

static int save_state(const chip_t *c)
{
    char tmp[4200];
    FILE *f = NULL;
    int fd, ok = 1;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp", c->state_path) >= (int)sizeof(tmp)) {
        fprintf(stderr, "keyward-atecc608-emu: state path too long\n");
        return -1;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
        fprintf(stderr, "keyward-atecc608-emu: cannot save the state to %s: %s\n", tmp,
                strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        return -1;
    }
    ok &= fprintf(f, STATE_HEADER "\nconfig ") > 0 && put_hex(f, c->config, 128) == 0;
    ok &= fprintf(f, "otp ") > 0 && put_hex(f, c->otp, 64) == 0;
    for (unsigned s = 0; s < 16 && ok; s++) {
        ok &= fprintf(f, "slot %u %u ", s, c->key_valid[s]) > 0 &&
              put_hex(f, c->data[s], slot_size(s)) == 0;
    }
    ok &= fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok &= fclose(f) == 0;
    if (!ok || rename(tmp, c->state_path) != 0) {
        fprintf(stderr, "keyward-atecc608-emu: cannot save the state to %s: %s\n",
                c->state_path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    if (sync_dir(c->state_path) != 0) {
        fprintf(stderr, "keyward-atecc608-emu: cannot sync the directory of %s: %s\n",
                c->state_path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Loads into c only a complete, well-formed file.  1: no file (ENOENT);
 * 0: loaded; -1 with a one-line reason in why. */
static int load_state(chip_t *c, char *why, size_t why_size)
{
    static char line[1200];
    static uint8_t data[16][416];
    uint8_t config[128], otp[64], valid[16];
    unsigned seen_slots = 0, lineno = 0;
    int have_cfg = 0, have_otp = 0, r = -1;
    struct stat st;
    FILE *f;
    int fd;

    /* O_NONBLOCK: a FIFO given as the state must not block the open. */
    fd = open(c->state_path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT) {
            return 1;
        }
        snprintf(why, why_size, "cannot open: %s", strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(why, why_size, "not a regular file");
        close(fd);
        return -1;
    }
    if (st.st_size > STATE_MAX_BYTES) {
        snprintf(why, why_size, "%lld bytes, more than a state file holds (%d)",
                 (long long)st.st_size, STATE_MAX_BYTES);
        close(fd);
        return -1;
    }
    f = fdopen(fd, "r");
    if (f == NULL) {
        snprintf(why, why_size, "cannot read: %s", strerror(errno));
        close(fd);
        return -1;
    }
    memset(data, 0, sizeof(data));
    while (fgets(line, sizeof(line), f) != NULL) {
        size_t len = strlen(line);
        unsigned s, v;
        int n = 0;

        lineno++;
        if (len == 0 || line[len - 1] != '\n') {
            snprintf(why, why_size, "line %u is too long or not terminated (truncated file?)",
                     lineno);
            goto exit;
        }
        line[len - 1] = '\0';
        if (lineno == 1) {
            if (strcmp(line, STATE_HEADER) != 0) {
                snprintf(why, why_size, "not a keyward-atecc608-emu state file (bad first line)");
                goto exit;
            }
        } else if (strncmp(line, "config ", 7) == 0) {
            if (have_cfg++ || get_hex(line + 7, config, 128) != 0) {
                snprintf(why, why_size, "line %u: bad or repeated config line", lineno);
                goto exit;
            }
        } else if (strncmp(line, "otp ", 4) == 0) {
            if (have_otp++ || get_hex(line + 4, otp, 64) != 0) {
                snprintf(why, why_size, "line %u: bad or repeated otp line", lineno);
                goto exit;
            }
        } else if (sscanf(line, "slot %2u %1u %n", &s, &v, &n) == 2 && n > 0 && s < 16 &&
                   v <= 1) {
            if ((seen_slots >> s) & 1u || get_hex(line + n, data[s], slot_size(s)) != 0) {
                snprintf(why, why_size, "line %u: bad or repeated line for slot %u", lineno, s);
                goto exit;
            }
            seen_slots |= 1u << s;
            valid[s] = (uint8_t)v;
        } else {
            snprintf(why, why_size, "line %u: unrecognised", lineno);
            goto exit;
        }
    }
    if (ferror(f)) {
        snprintf(why, why_size, "read error: %s", strerror(errno));
        goto exit;
    }
    if (lineno == 0 || !have_cfg || !have_otp || seen_slots != 0xFFFFu) {
        unsigned missing = 0;
        while (missing < 16 && ((seen_slots >> missing) & 1u)) {
            missing++;
        }
        snprintf(why, why_size, "incomplete: %s missing",
                 lineno == 0 ? "everything" : !have_cfg ? "the config line"
                                          : !have_otp   ? "the otp line"
                                                        : "a slot line");
        if (lineno > 0 && have_cfg && have_otp) {
            snprintf(why, why_size, "incomplete: the line for slot %u is missing", missing);
        }
        goto exit;
    }
    /* Complete: only now does the chip take it. */
    memcpy(c->config, config, sizeof(config));
    memcpy(c->otp, otp, sizeof(otp));
    memcpy(c->data, data, sizeof(data));
    memcpy(c->key_valid, valid, sizeof(valid));
    r = 0;
exit:
    fclose(f);
    return r;
}

static void factory_config(chip_t *c)
{
    uint8_t *cfg = c->config;

    memset(cfg, 0, 128);
    cfg[0] = 0x01;
    cfg[1] = 0x23;
    psa_generate_random(cfg + 2, 2);
    memcpy(cfg + 4, revision, 4);
    psa_generate_random(cfg + 8, 4);
    cfg[12] = 0xEE;
    cfg[14] = 0x01;             /* I2C_Enable */
    cfg[CFG_I2C_ADDRESS] = 0xC0; /* 0x60 << 1 */
    for (int i = 52; i < 68; i += 8) {
        memset(cfg + i, 0xFF, 4); /* counters at their initial value */
    }
    cfg[72] = 0x69;
    cfg[73] = 0x76; /* KdfIv default */
    cfg[CFG_LOCKVALUE] = 0x55;
    cfg[CFG_LOCKCONFIG] = 0x55;
    cfg[CFG_SLOTLOCKED] = 0xFF;
    cfg[CFG_SLOTLOCKED + 1] = 0xFF;
}

int chip_init(chip_t *c, const char *state_path, double time_scale, double watchdog_s, char *why,
              size_t why_size)
{
    int r;

    memset(c, 0, sizeof(*c));
    c->state_path = state_path;
    c->time_scale = time_scale;
    c->watchdog_s = watchdog_s;
    c->power = CHIP_SLEEP;
    why[0] = '\0';
    r = load_state(c, why, why_size);
    if (r == 1) {
        factory_config(c);
        r = save_state(c);
        if (r != 0) {
            snprintf(why, why_size, "cannot create it: %s", strerror(errno));
        }
    }
    return r;
}

/* ---- faults ----------------------------------------------------------------- */

int chip_add_fault(chip_t *c, const char *spec)
{
    chip_fault_t f;
    char kind[32];
    const char *p = strchr(spec, ':'), *q;
    int known = 0;

    memset(&f, 0, sizeof(f));
    if (p == NULL || (size_t)(p - spec) >= sizeof(f.target) || c->nfaults == CHIP_MAX_FAULTS) {
        return -1;
    }
    memcpy(f.target, spec, (size_t)(p - spec));
    known = strcmp(f.target, "wake") == 0;
    for (int i = 0; i < CHIP_NOPS - 1; i++) {
        known |= strcmp(f.target, chip_op_names[i]) == 0;
    }
    if (!known) {
        return -1;
    }
    q = strchr(p + 1, ':');
    if (q == NULL) {
        return -1;
    }
    if (p[1] == '*' && q == p + 2) {
        f.occ = 0;
    } else {
        /* Digits only, 1..1000000: no sign, no 0 (it would never fire). */
        unsigned long x = 0;
        const char *d = p + 1;
        while (d < q && *d >= '0' && *d <= '9' && x <= 1000000ul) {
            x = x * 10u + (unsigned long)(*d - '0');
            d++;
        }
        if (d != q || d == p + 1 || x == 0 || x > 1000000ul) {
            return -1;
        }
        f.occ = (unsigned)x;
    }
    if (strlen(q + 1) >= sizeof(kind)) {
        return -1;
    }
    snprintf(kind, sizeof(kind), "%s", q + 1);
    if (strcmp(kind, "crc") == 0) {
        f.kind = FAULT_CRC;
    } else if (strcmp(kind, "nak") == 0) {
        f.kind = FAULT_NAK;
    } else if (strcmp(kind, "lostwake") == 0) {
        f.kind = FAULT_LOSTWAKE;
    } else if (strcmp(kind, "watchdog") == 0) {
        f.kind = FAULT_WATCHDOG;
    } else if (strcmp(kind, "slow") == 0) {
        f.kind = FAULT_SLOW;
    } else if (strncmp(kind, "status=", 7) == 0) {
        f.kind = FAULT_STATUS;
        size_t nd = strlen(kind + 7);
        int hi = nd == 2 ? hex_digit(kind[7]) : 0, lo = nd >= 1 ? hex_digit(kind[6 + nd]) : -1;
        if (nd < 1 || nd > 2 || hi < 0 || lo < 0) {
            return -1;
        }
        f.status = (uint8_t)(hi << 4 | lo);
    } else {
        return -1;
    }
    if ((f.kind == FAULT_LOSTWAKE) != (strcmp(f.target, "wake") == 0)) {
        return -1; /* lostwake is the wake's only fault, and only its fault */
    }
    c->faults[c->nfaults++] = f;
    return 0;
}

/* The fault armed for this occurrence of target, or NULL. */
static chip_fault_t *fault_for(chip_t *c, const char *target)
{
    chip_fault_t *hit = NULL;

    for (size_t i = 0; i < c->nfaults; i++) {
        chip_fault_t *f = &c->faults[i];
        if (f->spent || strcmp(f->target, target) != 0) {
            continue;
        }
        f->seen++;
        if (hit == NULL && (f->occ == 0 || f->seen == f->occ)) {
            hit = f;
            if (f->occ != 0) {
                f->spent = 1;
            }
        }
    }
    if (hit != NULL) {
        c->st.faults_fired++;
    }
    return hit;
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
    session_end(c, now_s());
    c->power = CHIP_SLEEP;
    c->seed_updated = 0;
    clear_volatile(c);
}

/* The watchdog runs while awake (busy or not) and is stopped by idle. */
static void tick(chip_t *c, double now)
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

static void reply_status(chip_t *c, uint8_t status)
{
    c->out_len = wire_reply(c->out, &status, 1);
    c->out_pos = 0;
    if (status != ST_OK && status != ST_AFTER_WAKE) {
        c->st.error_status++;
    }
}

static void reply_data(chip_t *c, const uint8_t *data, size_t n)
{
    c->out_len = wire_reply(c->out, data, n);
    c->out_pos = 0;
}

int chip_wake(chip_t *c)
{
    double now = now_s();
    chip_fault_t *f;

    c->st.transactions++;
    c->st.bytes_to_chip++; /* the 0x00 byte whose address phase is the pulse */
    tick(c, now);
    if (c->power == CHIP_AWAKE) {
        c->st.wakes_ignored++; /* a wake while awake is ignored */
        return 0;
    }
    f = fault_for(c, "wake");
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
    reply_status(c, ST_AFTER_WAKE);
    return 0;
}

/* ---- commands ------------------------------------------------------------------ */

static int op_index(uint8_t op)
{
    switch (op) {
    case WIRE_OP_INFO: return 0;
    case WIRE_OP_READ: return 1;
    case WIRE_OP_WRITE: return 2;
    case WIRE_OP_LOCK: return 3;
    case WIRE_OP_RANDOM: return 4;
    case WIRE_OP_NONCE: return 5;
    case WIRE_OP_GENKEY: return 6;
    case WIRE_OP_SIGN: return 7;
    default: return 8;
    }
}

/* Nominal execution times in ms (cryptoauthlib's 608 table, clock divider 0). */
static double exec_ms(uint8_t op)
{
    static const double t[CHIP_NOPS] = {5, 5, 45, 35, 23, 20, 115, 115, 1};
    return t[op_index(op)];
}

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

/* Byte range [off, off+len) of a zone from Read/Write's param2, or -1. */
static int zone_range(const chip_t *c, uint8_t zone, unsigned p2, size_t len, unsigned *slot,
                      size_t *off)
{
    (void)c;
    return wire_zone_range(zone, p2, len, slot, off);
}

static uint8_t cmd_read(chip_t *c, uint8_t p1, unsigned p2)
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
    reply_data(c, buf, len);
    return ST_OK;
}

static uint8_t cmd_write(chip_t *c, uint8_t p1, unsigned p2, const uint8_t *d, size_t dlen)
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

static uint8_t cmd_lock(chip_t *c, uint8_t p1, unsigned p2)
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
            (check && !is_private(c, slot) &&
             wire_crc16(c->data[slot], slot_size(slot)) != p2)) {
            return ST_EXEC;
        }
        locked &= ~(1u << slot);
        c->config[CFG_SLOTLOCKED] = (uint8_t)(locked & 0xff);
        c->config[CFG_SLOTLOCKED + 1] = (uint8_t)(locked >> 8);
    }
    return ST_OK;
}

static uint8_t cmd_random(chip_t *c, uint8_t p1, unsigned p2, size_t dlen)
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
    reply_data(c, r, sizeof(r));
    return ST_OK;
}

static uint8_t cmd_nonce(chip_t *c, uint8_t p1, const uint8_t *d, size_t dlen)
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
        reply_status(c, ST_OK);
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
        reply_data(c, rnd, 32);
    }
    return ST_OK;
}

static uint8_t cmd_info(chip_t *c, uint8_t p1, unsigned p2)
{
    uint8_t r[4] = {0, 0, 0, 0};
    if (p1 == 0x00) {
        reply_data(c, revision, 4);
        return ST_OK;
    }
    if (p1 == 0x01 && p2 < 16) { /* KeyValid */
        r[0] = c->key_valid[p2];
        reply_data(c, r, 4);
        return ST_OK;
    }
    return ST_PARSE;
}

static int import_slot_key(const chip_t *c, unsigned slot, psa_key_usage_t usage,
                           psa_key_id_t *id)
{
    psa_key_attributes_t a = PSA_KEY_ATTRIBUTES_INIT;
    psa_set_key_type(&a, PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1));
    psa_set_key_bits(&a, 256);
    psa_set_key_usage_flags(&a, usage);
    psa_set_key_algorithm(&a, PSA_ALG_ECDSA(PSA_ALG_SHA_256));
    return psa_import_key(&a, c->data[slot] + 4, 32, id) == PSA_SUCCESS ? 0 : -1;
}

static uint8_t cmd_genkey(chip_t *c, uint8_t p1, unsigned p2)
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
    reply_data(c, pub + 1, 64);
    return ST_OK;
}

static uint8_t cmd_sign(chip_t *c, uint8_t p1, unsigned p2)
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
    s = psa_sign_hash(id, PSA_ALG_ECDSA(PSA_ALG_SHA_256), from_md ? c->msgdig : c->tempkey, 32,
                      sig, sizeof(sig), &n);
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
    reply_data(c, sig, 64);
    return ST_OK;
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

static void command(chip_t *c, const uint8_t *pkt, size_t len, double now, chip_fault_t *f)
{
    wire_cmd_t cmd;
    uint8_t op, p1, st;
    unsigned p2;
    double t;

    if (wire_parse_command(pkt, len, &cmd) != 0) {
        /* A garbled packet: reported before anything else, nothing run. */
        c->st.crc_errors++;
        reply_status(c, ST_COMM);
        c->busy_until = now;
        return;
    }
    op = cmd.opcode;
    p1 = cmd.p1;
    p2 = cmd.p2;
    c->st.commands++;
    c->st.per_op[op_index(op)]++;
    t = exec_ms(op) / 1000.0 * c->time_scale;
    if (f != NULL && f->kind == FAULT_STATUS) {
        reply_status(c, f->status);
        c->busy_until = now + t;
        return;
    }
    if (f != NULL && f->kind == FAULT_NAK) {
        c->silent = 1; /* the chip never answers this command */
        c->out_len = c->out_pos = 0;
        return;
    }
    c->out_len = c->out_pos = 0;
    if (!wire_length_ok(&cmd)) {
        reply_status(c, ST_PARSE); /* wrong count for this opcode: executes nothing */
        c->busy_until = now;
        return;
    }
    /* Status 0xEE: "insufficient time to execute the given command before
     * the watchdog timer will expire" -- not executed; the host must idle
     * or sleep and wake again. */
    if (now + t > c->wd_deadline) {
        c->st.watchdog_refusals++;
        reply_status(c, ST_WATCHDOG);
        c->busy_until = now;
        return;
    }
    persistent_snapshot(c);
    switch (op) {
    case WIRE_OP_READ: st = cmd_read(c, p1, p2); break;
    case WIRE_OP_WRITE: st = cmd_write(c, p1, p2, cmd.data, cmd.dlen); break;
    case WIRE_OP_LOCK: st = cmd_lock(c, p1, p2); break;
    case WIRE_OP_RANDOM: st = cmd_random(c, p1, p2, cmd.dlen); break;
    case WIRE_OP_NONCE: st = cmd_nonce(c, p1, cmd.data, cmd.dlen); break;
    case WIRE_OP_INFO: st = cmd_info(c, p1, p2); break;
    case WIRE_OP_GENKEY: st = cmd_genkey(c, p1, p2); break;
    case WIRE_OP_SIGN: st = cmd_sign(c, p1, p2); break;
    default: st = ST_PARSE; break; /* Verify, ECDH, SHA...: not emulated */
    }
    if (st == ST_OK && persistent_changed(c) && save_state(c) != 0) {
        /* The chip must not report a key or a lock it could lose: the
         * command fails and the chip keeps its state from before it. */
        persistent_restore(c);
        c->st.save_failures++;
        st = ST_EXEC;
    }
    if (st != ST_OK || c->out_len == 0) {
        reply_status(c, st); /* status-only answer (Write, Lock, errors) */
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
    double now = now_s();

    c->st.transactions++;
    tick(c, now);
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
        chip_fault_t *f = fault_for(c, chip_op_names[op_index(len >= 3 ? buf[2] : 0xFF)]);
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
    double now = now_s();

    c->st.transactions++;
    c->st.bytes_to_chip++; /* the address byte */
    tick(c, now);
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

/* ---- control ---------------------------------------------------------------------- */

int chip_control(chip_t *c, const char *cmd, char *out, size_t size)
{
    size_t n = 0;

#define OUT(...)                                                                  \
    do {                                                                          \
        if (n < size) {                                                           \
            int w_ = snprintf(out + n, size - n, __VA_ARGS__);                    \
            n += w_ > 0 ? (size_t)w_ : 0;                                         \
        }                                                                         \
    } while (0)
    out[0] = '\0';
    if (strcmp(cmd, "ping") == 0) {
        OUT("pong\n");
    } else if (strcmp(cmd, "stats") == 0) {
        const chip_stats_t *s = &c->st;
        OUT("transactions=%llu\nbytes_to_chip=%llu\nbytes_from_chip=%llu\nbytes=%llu\n",
            (unsigned long long)s->transactions, (unsigned long long)s->bytes_to_chip,
            (unsigned long long)s->bytes_from_chip,
            (unsigned long long)(s->bytes_to_chip + s->bytes_from_chip));
        OUT("naks=%llu\npolls=%llu\nwakes=%llu\nwakes_lost=%llu\nwakes_ignored=%llu\n",
            (unsigned long long)s->naks, (unsigned long long)s->polls,
            (unsigned long long)s->wakes, (unsigned long long)s->wakes_lost,
            (unsigned long long)s->wakes_ignored);
        OUT("idles=%llu\nsleeps=%llu\nwatchdog_expiries=%llu\ncommands=%llu\n",
            (unsigned long long)s->idles, (unsigned long long)s->sleeps,
            (unsigned long long)s->watchdog_expiries, (unsigned long long)s->commands);
        OUT("crc_errors=%llu\nerror_status=%llu\nfaults_fired=%llu\nawake_max_ms=%llu\n",
            (unsigned long long)s->crc_errors, (unsigned long long)s->error_status,
            (unsigned long long)s->faults_fired, (unsigned long long)s->awake_max_ms);
        OUT("save_failures=%llu\nwatchdog_refusals=%llu\nrng_seed_updates=%llu\n",
            (unsigned long long)s->save_failures, (unsigned long long)s->watchdog_refusals,
            (unsigned long long)s->rng_seed_updates);
        for (int i = 0; i < CHIP_NOPS; i++) {
            OUT("cmd_%s=%llu\n", chip_op_names[i], (unsigned long long)s->per_op[i]);
        }
    } else if (strcmp(cmd, "stats reset") == 0) {
        memset(&c->st, 0, sizeof(c->st));
        OUT("ok\n");
    } else if (strcmp(cmd, "fault clear") == 0) {
        memset(c->faults, 0, sizeof(c->faults));
        c->nfaults = 0;
        OUT("ok\n");
    } else if (strncmp(cmd, "fault ", 6) == 0) {
        if (chip_add_fault(c, cmd + 6) != 0) {
            OUT("error: bad fault '%s' (TARGET:OCC|*:crc|nak|lostwake|watchdog|slow|status=XX)\n",
                cmd + 6);
            return -1;
        }
        OUT("ok\n");
    } else if (strcmp(cmd, "state") == 0) {
        static const char *const p[] = {"sleep", "idle", "awake"};
        tick(c, now_s());
        OUT("power=%s\nconfig_locked=%d\ndata_locked=%d\ntempkey_valid=%d\nmsgdigbuf_valid=%d\n"
            "rng_seed_updated=%d\n",
            p[c->power], config_locked(c), data_locked(c), c->tk_valid, c->md_valid,
            c->seed_updated);
    } else {
        OUT("error: unknown control command '%s'\n", cmd);
        return -1;
    }
#undef OUT
    return 0;
}
