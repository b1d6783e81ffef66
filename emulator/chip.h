/*
 * A model of the ATECC608 as seen from its I2C pins: power states
 * (sleep / idle / awake), the watchdog, the I/O buffer, the configuration,
 * OTP and data zones with their lock rules, TempKey and the message-digest
 * buffer, and the commands keyward uses.  Cryptography is real: ECDSA
 * P-256 and the RNG through Mbed TLS's PSA API.  See docs/atecc608.md for
 * the rules and the choices where the public record is silent.
 */
#ifndef KEYWARD_EMU_CHIP_H
#define KEYWARD_EMU_CHIP_H

#include <stddef.h>
#include <stdint.h>

enum chip_power { CHIP_SLEEP, CHIP_IDLE, CHIP_AWAKE };

enum fault_kind { FAULT_CRC, FAULT_NAK, FAULT_LOSTWAKE, FAULT_WATCHDOG, FAULT_SLOW, FAULT_STATUS };

typedef struct {
    char target[12]; /* "wake" or a command name ("sign", "nonce"...) */
    unsigned occ;    /* 1-based occurrence; 0: every one */
    unsigned seen;   /* occurrences of target since the fault was armed */
    int kind;
    uint8_t status; /* FAULT_STATUS: the status byte sent instead */
    int spent;
} chip_fault_t;

#define CHIP_NOPS 9 /* per-command counters: see chip_op_names */

typedef struct {
    uint64_t transactions, bytes_to_chip, bytes_from_chip, naks, polls;
    uint64_t wakes, wakes_lost, wakes_ignored, idles, sleeps, watchdog_expiries;
    uint64_t commands, crc_errors, error_status, faults_fired;
    uint64_t watchdog_refusals; /* commands answered 0xEE: too close to the watchdog */
    uint64_t rng_seed_updates;
    uint64_t save_failures; /* commands refused because the state could not be saved */
    uint64_t awake_max_ms;  /* longest wake ... idle/sleep/watchdog session */
    uint64_t per_op[CHIP_NOPS];
} chip_stats_t;

#define CHIP_MAX_FAULTS 32

typedef struct {
    /* persistent (state file) */
    uint8_t config[128];
    uint8_t otp[64];
    uint8_t data[16][416];
    uint8_t key_valid[16];
    /* volatile */
    int power;
    double wd_deadline, busy_until;
    double woke_at; /* start of the current session */
    uint8_t out[160];
    size_t out_len, out_pos;
    int silent; /* FAULT_NAK: no answer to this command */
    uint8_t tempkey[64];
    int tk_valid;
    int tk_input;     /* TempKey SourceFlag: 1 Input (pass-through), 0 Rand */
    int seed_updated; /* RNG seed refreshed since the last sleep */
    uint8_t msgdig[64];
    int md_valid;
    /* options */
    double time_scale; /* execution times x this (0: instant) */
    double watchdog_s;
    const char *state_path;
    chip_fault_t faults[CHIP_MAX_FAULTS];
    size_t nfaults;
    chip_stats_t st;
} chip_t;

extern const char *const chip_op_names[CHIP_NOPS];

/* Loads the state file, or creates a blank (factory, unlocked) chip there.
 * 0, or -1 with a one-line reason in why (an incomplete or corrupt file is
 * refused, never half-loaded nor replaced). */
int chip_init(chip_t *c, const char *state_path, double time_scale, double watchdog_s, char *why,
              size_t why_size);

/* Bus transactions.  Return 0 ACK, 1 NAK. */
int chip_wake(chip_t *c);
int chip_write(chip_t *c, uint8_t addr, const uint8_t *buf, size_t len);
int chip_read(chip_t *c, uint8_t addr, uint8_t *buf, size_t len);

/* Control: "stats", "stats reset", "fault SPEC", "fault clear", "state",
 * "ping".  Writes a NUL-terminated answer; returns 0, or -1 (answer says why). */
int chip_control(chip_t *c, const char *cmd, char *out, size_t out_size);

/* "TARGET:OCC:KIND" with KIND crc|nak|lostwake|watchdog|slow|status=XX. 0 or -1. */
int chip_add_fault(chip_t *c, const char *spec);

#endif
