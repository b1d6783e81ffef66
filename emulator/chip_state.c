/*
 * The ATECC608 model: the state file (the persistent zones) and the blank
 * factory chip that chip_init creates when there is none.
 */
#include "chip_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <psa/crypto.h>

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

int state_hex_digit(char ch)
{
    return ch >= '0' && ch <= '9'   ? ch - '0'
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
        int hi = state_hex_digit(s[2 * i]), lo = state_hex_digit(s[2 * i + 1]);
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

int state_save(const chip_t *c)
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
        fprintf(stderr, "keyward-atecc608-emu: cannot save the state to %s: %s\n", c->state_path,
                strerror(errno));
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

/* Opens the state file for reading.  1: no file (ENOENT); 0: *out open;
 * -1 with a one-line reason in why. */
static int state_open(const char *path, FILE **out, char *why, size_t why_size)
{
    struct stat st;
    int fd;

    /* O_NONBLOCK: a FIFO given as the state must not block the open. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
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
    *out = fdopen(fd, "r");
    if (*out == NULL) {
        snprintf(why, why_size, "cannot read: %s", strerror(errno));
        close(fd);
        return -1;
    }
    return 0;
}

/* What the lines read so far have given; the chip takes it only complete. */
typedef struct {
    uint8_t config[128], otp[64], valid[16];
    uint8_t data[16][416];
    unsigned seen_slots, lineno;
    int have_cfg, have_otp;
} state_file_t;

/* Takes one line (newline still on) into p.  0, or -1 with why. */
static int state_parse_line(state_file_t *p, char *line, char *why, size_t why_size)
{
    size_t len = strlen(line);
    unsigned s, v;
    int n = 0;

    p->lineno++;
    if (len == 0 || line[len - 1] != '\n') {
        snprintf(why, why_size, "line %u is too long or not terminated (truncated file?)",
                 p->lineno);
        return -1;
    }
    line[len - 1] = '\0';
    if (p->lineno == 1) {
        if (strcmp(line, STATE_HEADER) != 0) {
            snprintf(why, why_size, "not a keyward-atecc608-emu state file (bad first line)");
            return -1;
        }
    } else if (strncmp(line, "config ", 7) == 0) {
        if (p->have_cfg++ || get_hex(line + 7, p->config, 128) != 0) {
            snprintf(why, why_size, "line %u: bad or repeated config line", p->lineno);
            return -1;
        }
    } else if (strncmp(line, "otp ", 4) == 0) {
        if (p->have_otp++ || get_hex(line + 4, p->otp, 64) != 0) {
            snprintf(why, why_size, "line %u: bad or repeated otp line", p->lineno);
            return -1;
        }
    } else if (sscanf(line, "slot %2u %1u %n", &s, &v, &n) == 2 && n > 0 && s < 16 && v <= 1) {
        if ((p->seen_slots >> s) & 1u || get_hex(line + n, p->data[s], slot_size(s)) != 0) {
            snprintf(why, why_size, "line %u: bad or repeated line for slot %u", p->lineno, s);
            return -1;
        }
        p->seen_slots |= 1u << s;
        p->valid[s] = (uint8_t)v;
    } else {
        snprintf(why, why_size, "line %u: unrecognised", p->lineno);
        return -1;
    }
    return 0;
}

/* 0 when every part of the file was there, or -1 naming the first missing. */
static int state_complete(const state_file_t *p, char *why, size_t why_size)
{
    unsigned missing = 0;

    if (p->lineno > 0 && p->have_cfg && p->have_otp && p->seen_slots == 0xFFFFu) {
        return 0;
    }
    while (missing < 16 && ((p->seen_slots >> missing) & 1u)) {
        missing++;
    }
    snprintf(why, why_size, "incomplete: %s missing",
             p->lineno == 0 ? "everything"
             : !p->have_cfg ? "the config line"
             : !p->have_otp ? "the otp line"
                            : "a slot line");
    if (p->lineno > 0 && p->have_cfg && p->have_otp) {
        snprintf(why, why_size, "incomplete: the line for slot %u is missing", missing);
    }
    return -1;
}

/* Loads into c only a complete, well-formed file.  1: no file (ENOENT);
 * 0: loaded; -1 with a one-line reason in why. */
static int load_state(chip_t *c, char *why, size_t why_size)
{
    static char line[1200];
    static state_file_t p; /* 7 KiB: not on the stack */
    FILE *f = NULL;
    int r = state_open(c->state_path, &f, why, why_size);

    if (r != 0) {
        return r;
    }
    r = -1;
    memset(&p, 0, sizeof(p));
    while (fgets(line, sizeof(line), f) != NULL) {
        if (state_parse_line(&p, line, why, why_size) != 0) {
            goto exit;
        }
    }
    if (ferror(f)) {
        snprintf(why, why_size, "read error: %s", strerror(errno));
        goto exit;
    }
    if (state_complete(&p, why, why_size) != 0) {
        goto exit;
    }
    /* Complete: only now does the chip take it. */
    memcpy(c->config, p.config, sizeof(p.config));
    memcpy(c->otp, p.otp, sizeof(p.otp));
    memcpy(c->data, p.data, sizeof(p.data));
    memcpy(c->key_valid, p.valid, sizeof(p.valid));
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
    memcpy(cfg + 4, zone_revision, 4);
    psa_generate_random(cfg + 8, 4);
    cfg[12] = 0xEE;
    cfg[14] = 0x01;              /* I2C_Enable */
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
        r = state_save(c);
        if (r != 0) {
            snprintf(why, why_size, "cannot create it: %s", strerror(errno));
        }
    }
    return r;
}
