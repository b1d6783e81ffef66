/*
 * The ATECC608 model's control channel (not a chip feature: the emulator's
 * own): counters, state, and the faults a test injects.
 */
#include "chip_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- faults ----------------------------------------------------------------- */

/* OCC of a fault spec, the text in [d, q): "*" (every one: 0) or digits
 * only, 1..1000000 (no sign, no 0: it would never fire).  0 or -1. */
static int fault_parse_occ(const char *d, const char *q, unsigned *occ)
{
    unsigned long x = 0;
    const char *start = d;

    if (d[0] == '*' && q == d + 1) {
        *occ = 0;
        return 0;
    }
    while (d < q && *d >= '0' && *d <= '9' && x <= 1000000ul) {
        x = x * 10u + (unsigned long)(*d - '0');
        d++;
    }
    if (d != q || d == start || x == 0 || x > 1000000ul) {
        return -1;
    }
    *occ = (unsigned)x;
    return 0;
}

/* KIND of a fault spec into f->kind (and f->status).  0 or -1. */
static int fault_parse_kind(const char *text, chip_fault_t *f)
{
    char kind[32];

    if (strlen(text) >= sizeof(kind)) {
        return -1;
    }
    snprintf(kind, sizeof(kind), "%s", text);
    if (strcmp(kind, "crc") == 0) {
        f->kind = FAULT_CRC;
    } else if (strcmp(kind, "nak") == 0) {
        f->kind = FAULT_NAK;
    } else if (strcmp(kind, "lostwake") == 0) {
        f->kind = FAULT_LOSTWAKE;
    } else if (strcmp(kind, "watchdog") == 0) {
        f->kind = FAULT_WATCHDOG;
    } else if (strcmp(kind, "slow") == 0) {
        f->kind = FAULT_SLOW;
    } else if (strncmp(kind, "status=", 7) == 0) {
        f->kind = FAULT_STATUS;
        size_t nd = strlen(kind + 7);
        int hi = nd == 2 ? state_hex_digit(kind[7]) : 0;
        int lo = nd >= 1 ? state_hex_digit(kind[6 + nd]) : -1;
        if (nd < 1 || nd > 2 || hi < 0 || lo < 0) {
            return -1;
        }
        f->status = (uint8_t)(hi << 4 | lo);
    } else {
        return -1;
    }
    return 0;
}

int chip_add_fault(chip_t *c, const char *spec)
{
    chip_fault_t f;
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
    if (q == NULL || fault_parse_occ(p + 1, q, &f.occ) != 0 || fault_parse_kind(q + 1, &f) != 0) {
        return -1;
    }
    if ((f.kind == FAULT_LOSTWAKE) != (strcmp(f.target, "wake") == 0)) {
        return -1; /* lostwake is the wake's only fault, and only its fault */
    }
    c->faults[c->nfaults++] = f;
    return 0;
}

/* The fault armed for this occurrence of target, or NULL. */
chip_fault_t *control_fault_for(chip_t *c, const char *target)
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

/* ---- control ---------------------------------------------------------------------- */

/* Appends to the answer in out (size bytes, *n used); a full answer is
 * truncated, never overrun. */
__attribute__((format(printf, 4, 5))) static void control_out(char *out, size_t size, size_t *n,
                                                              const char *fmt, ...)
{
    va_list ap;

    if (*n < size) {
        va_start(ap, fmt);
        int w = vsnprintf(out + *n, size - *n, fmt, ap);
        va_end(ap);
        *n += w > 0 ? (size_t)w : 0;
    }
}

/* The "stats" answer: one NAME=VALUE line per counter. */
static void control_stats(const chip_stats_t *s, char *out, size_t size, size_t *n)
{
    control_out(out, size, n,
                "transactions=%llu\nbytes_to_chip=%llu\nbytes_from_chip=%llu\nbytes=%llu\n",
                (unsigned long long)s->transactions, (unsigned long long)s->bytes_to_chip,
                (unsigned long long)s->bytes_from_chip,
                (unsigned long long)(s->bytes_to_chip + s->bytes_from_chip));
    control_out(out, size, n,
                "naks=%llu\npolls=%llu\nwakes=%llu\nwakes_lost=%llu\nwakes_ignored=%llu\n",
                (unsigned long long)s->naks, (unsigned long long)s->polls,
                (unsigned long long)s->wakes, (unsigned long long)s->wakes_lost,
                (unsigned long long)s->wakes_ignored);
    control_out(out, size, n, "idles=%llu\nsleeps=%llu\nwatchdog_expiries=%llu\ncommands=%llu\n",
                (unsigned long long)s->idles, (unsigned long long)s->sleeps,
                (unsigned long long)s->watchdog_expiries, (unsigned long long)s->commands);
    control_out(out, size, n,
                "crc_errors=%llu\nerror_status=%llu\nfaults_fired=%llu\nawake_max_ms=%llu\n",
                (unsigned long long)s->crc_errors, (unsigned long long)s->error_status,
                (unsigned long long)s->faults_fired, (unsigned long long)s->awake_max_ms);
    control_out(out, size, n, "save_failures=%llu\nwatchdog_refusals=%llu\nrng_seed_updates=%llu\n",
                (unsigned long long)s->save_failures, (unsigned long long)s->watchdog_refusals,
                (unsigned long long)s->rng_seed_updates);
    for (int i = 0; i < CHIP_NOPS; i++) {
        control_out(out, size, n, "cmd_%s=%llu\n", chip_op_names[i],
                    (unsigned long long)s->per_op[i]);
    }
}

int chip_control(chip_t *c, const char *cmd, char *out, size_t size)
{
    size_t n = 0;

    out[0] = '\0';
    if (strcmp(cmd, "ping") == 0) {
        control_out(out, size, &n, "pong\n");
    } else if (strcmp(cmd, "stats") == 0) {
        control_stats(&c->st, out, size, &n);
    } else if (strcmp(cmd, "stats reset") == 0) {
        memset(&c->st, 0, sizeof(c->st));
        control_out(out, size, &n, "ok\n");
    } else if (strcmp(cmd, "fault clear") == 0) {
        memset(c->faults, 0, sizeof(c->faults));
        c->nfaults = 0;
        control_out(out, size, &n, "ok\n");
    } else if (strncmp(cmd, "fault ", 6) == 0) {
        if (chip_add_fault(c, cmd + 6) != 0) {
            control_out(
                out, size, &n,
                "error: bad fault '%s' (TARGET:OCC|*:crc|nak|lostwake|watchdog|slow|status=XX)\n",
                cmd + 6);
            return -1;
        }
        control_out(out, size, &n, "ok\n");
    } else if (strcmp(cmd, "state") == 0) {
        static const char *const p[] = {"sleep", "idle", "awake"};
        chip_tick(c, chip_now());
        control_out(out, size, &n,
                    "power=%s\nconfig_locked=%d\ndata_locked=%d\ntempkey_valid=%d\n"
                    "msgdigbuf_valid=%d\nrng_seed_updated=%d\n",
                    p[c->power], config_locked(c), data_locked(c), c->tk_valid, c->md_valid,
                    c->seed_updated);
    } else {
        control_out(out, size, &n, "error: unknown control command '%s'\n", cmd);
        return -1;
    }
    return 0;
}
