/*
 * keyward-atecc608-emu: an ATECC608 on a Unix-socket "I2C bus".
 *
 *   keyward-atecc608-emu --state FILE --socket PATH [--time-scale F]
 *                        [--watchdog-ms N] [--fault SPEC]...
 *   keyward-atecc608-emu --socket PATH --ctl "COMMAND"     (talk to a running one)
 *
 * The private keys exist only in this process and in FILE.  Bus framing:
 * src/hal/i2c_socket_proto.h.  Control commands (also over the socket):
 *   stats | stats reset | fault TARGET:OCC:KIND | fault clear | state | ping
 * FAULT: TARGET wake|info|read|write|lock|random|nonce|genkey|sign, OCC the
 * 1-based occurrence counted from when the fault is armed (or * for every
 * one), KIND crc|nak|lostwake|watchdog|slow|status=XX.
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <psa/crypto.h>

#include "chip.h"
#include "i2c_socket_proto.h" /* the simulated wire, shared with the host transport */

#define MAX_CLIENTS 32

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static int reply(int fd, uint8_t result, const uint8_t *data, size_t len)
{
    uint8_t hdr[3] = {result, (uint8_t)(len & 0xff), (uint8_t)(len >> 8)};
    if (kw_sock_io_all(fd, hdr, 3, 1) != 0) {
        return -1;
    }
    return len > 0 ? kw_sock_io_all(fd, (uint8_t *)(uintptr_t)data, len, 1) : 0;
}

/* Serves one request; -1 when the client is gone or misbehaves. */
static int serve(chip_t *chip, int fd)
{
    static uint8_t payload[KW_SOCK_MAX_PAYLOAD + 1];
    static char answer[8192];
    uint8_t hdr[4];
    size_t len;
    int r;

    if (kw_sock_io_all(fd, hdr, 4, 0) != 0) {
        return -1;
    }
    len = (size_t)hdr[2] | ((size_t)hdr[3] << 8);
    if (len > KW_SOCK_MAX_PAYLOAD) {
        return -1;
    }
    switch (hdr[0]) {
    case KW_SOCK_OP_WAKE:
        r = chip_wake(chip);
        return reply(fd, (uint8_t)r, NULL, 0);
    case KW_SOCK_OP_WRITE:
        if (kw_sock_io_all(fd, payload, len, 0) != 0) {
            return -1;
        }
        r = chip_write(chip, hdr[1], payload, len);
        return reply(fd, (uint8_t)r, NULL, 0);
    case KW_SOCK_OP_READ:
        r = chip_read(chip, hdr[1], payload, len);
        return reply(fd, (uint8_t)r, payload, r == 0 ? len : 0);
    case KW_SOCK_OP_CONTROL:
        if (kw_sock_io_all(fd, payload, len, 0) != 0) {
            return -1;
        }
        payload[len] = '\0';
        r = chip_control(chip, (const char *)payload, answer, sizeof(answer));
        return reply(fd, r == 0 ? KW_SOCK_ACK : KW_SOCK_NAK, (const uint8_t *)answer,
                     strlen(answer));
    default:
        return -1;
    }
}

/* Connects to PATH: the fd, or -1 with errno (ECONNREFUSED: nobody listens). */
static int dial(const char *path)
{
    struct sockaddr_un sa;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        return -1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    strcpy(sa.sun_path, path); /* length checked by the caller */
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/*
 * Never harms what is at PATH (issue 7 section 7): a path that exists and
 * is not a socket is refused, so is a socket that answers (another
 * emulator); only a stale socket -- one nobody listens on -- is removed.
 * *ino identifies the socket we bound, so that we remove only our own at exit.
 */
static int listen_on(const char *path, dev_t *dev, ino_t *ino)
{
    struct sockaddr_un sa;
    struct stat st;
    int fd;

    if (strlen(path) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "keyward-atecc608-emu: --socket: path longer than %zu bytes: %s\n",
                sizeof(sa.sun_path) - 1, path);
        return -1;
    }
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            fprintf(stderr,
                    "keyward-atecc608-emu: --socket: %s exists and is not a socket; "
                    "refusing to replace it\n",
                    path);
            return -1;
        }
        fd = dial(path);
        if (fd >= 0) {
            close(fd);
            fprintf(stderr,
                    "keyward-atecc608-emu: --socket: %s is in use (another emulator "
                    "answers there)\n",
                    path);
            return -1;
        }
        if (errno != ECONNREFUSED) {
            fprintf(stderr,
                    "keyward-atecc608-emu: --socket: cannot tell whether %s is in use: "
                    "%s\n",
                    path, strerror(errno));
            return -1;
        }
        if (unlink(path) != 0) { /* stale: its emulator is gone */
            fprintf(stderr,
                    "keyward-atecc608-emu: --socket: cannot remove the stale socket %s: "
                    "%s\n",
                    path, strerror(errno));
            return -1;
        }
    } else if (errno != ENOENT) {
        fprintf(stderr, "keyward-atecc608-emu: --socket: %s: %s\n", path, strerror(errno));
        return -1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    strcpy(sa.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    /* bind fails with EADDRINUSE if someone else created PATH meanwhile. */
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 16) != 0 ||
        lstat(path, &st) != 0) {
        fprintf(stderr, "keyward-atecc608-emu: cannot listen on %s: %s\n", path, strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    *dev = st.st_dev;
    *ino = st.st_ino;
    return fd;
}

/* Removes PATH at exit only if it is still the socket we bound. */
static void unlink_own(const char *path, dev_t dev, ino_t ino)
{
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == dev && st.st_ino == ino) {
        unlink(path);
    }
}

/* --ctl: one control command to a running emulator; prints the answer. */
static int control_client(const char *path, const char *cmd)
{
    uint8_t hdr[4];
    static char answer[8193];
    size_t len = strlen(cmd), n;
    int fd;

    if (len > KW_SOCK_MAX_PAYLOAD) {
        fprintf(stderr, "keyward-atecc608-emu: --ctl: command longer than %u bytes\n",
                KW_SOCK_MAX_PAYLOAD);
        return 2;
    }
    fd = dial(path);
    if (fd < 0) {
        fprintf(stderr, "keyward-atecc608-emu: cannot connect to %s: %s\n", path, strerror(errno));
        return 2;
    }
    hdr[0] = KW_SOCK_OP_CONTROL;
    hdr[1] = 0;
    hdr[2] = (uint8_t)(len & 0xff);
    hdr[3] = (uint8_t)(len >> 8);
    if (kw_sock_io_all(fd, hdr, 4, 1) != 0 ||
        kw_sock_io_all(fd, (uint8_t *)(uintptr_t)cmd, len, 1) != 0 ||
        kw_sock_io_all(fd, hdr, 3, 0) != 0) {
        fprintf(stderr, "keyward-atecc608-emu: %s closed the connection\n", path);
        close(fd);
        return 2;
    }
    n = (size_t)hdr[1] | ((size_t)hdr[2] << 8);
    if (n >= sizeof(answer) || kw_sock_io_all(fd, (uint8_t *)answer, n, 0) != 0) {
        fprintf(stderr, "keyward-atecc608-emu: bad answer from %s\n", path);
        close(fd);
        return 2;
    }
    answer[n] = '\0';
    close(fd);
    fputs(answer, hdr[0] == KW_SOCK_ACK ? stdout : stderr);
    return hdr[0] == KW_SOCK_ACK ? 0 : 1;
}

/* Option values: a finite decimal number in [lo, hi], nothing after it. */
static int parse_real(const char *opt, const char *v, double lo, double hi, double *out)
{
    char *end;
    double x;

    errno = 0;
    x = strtod(v, &end);
    if (end == v || *end != '\0' || errno != 0 || !isfinite(x) || x < lo || x > hi) {
        fprintf(stderr, "keyward-atecc608-emu: %s: '%.40s' is not a number from %g to %g\n", opt, v,
                lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}

/* Decimal digits only (no sign, no spaces), value in [lo, hi]. */
static int parse_count(const char *opt, const char *v, unsigned long lo, unsigned long hi,
                       unsigned long *out)
{
    unsigned long x = 0;
    size_t i;

    for (i = 0; v[i] >= '0' && v[i] <= '9' && i < 10; i++) {
        x = x * 10u + (unsigned long)(v[i] - '0');
    }
    if (i == 0 || v[i] != '\0' || x < lo || x > hi) {
        fprintf(stderr, "keyward-atecc608-emu: %s: '%.40s' is not a whole number from %lu to %lu\n",
                opt, v, lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}

static void usage(void)
{
    fprintf(stdout, "usage: keyward-atecc608-emu --state FILE --socket PATH [--time-scale F]\n"
                    "                            [--watchdog-ms N] [--fault TARGET:OCC:KIND]...\n"
                    "       keyward-atecc608-emu --socket PATH --ctl COMMAND\n");
}

/* The command line. */
typedef struct {
    const char *state, *sock, *ctl;
    const char *faults[CHIP_MAX_FAULTS];
    size_t nfaults;
    double scale;
    unsigned long wd_ms;
} emu_opts_t;

#define EMU_GO (-1) /* parse_args: carry on (otherwise the exit code) */

/* One option a with its value v (NULL: none).  EMU_GO, or the exit code. */
static int parse_option(emu_opts_t *o, const char *a, const char *v)
{
    const char **slot = NULL;

    if (strncmp(a, "--", 2) != 0 ||
        (strcmp(a, "--state") != 0 && strcmp(a, "--socket") != 0 && strcmp(a, "--ctl") != 0 &&
         strcmp(a, "--time-scale") != 0 && strcmp(a, "--watchdog-ms") != 0 &&
         strcmp(a, "--fault") != 0)) {
        fprintf(stderr, "keyward-atecc608-emu: unknown argument '%.60s' (--help for usage)\n", a);
        return 2;
    }
    if (v == NULL) {
        fprintf(stderr, "keyward-atecc608-emu: %s needs a value\n", a);
        return 2;
    }
    if (strcmp(a, "--state") == 0) {
        slot = &o->state;
    } else if (strcmp(a, "--socket") == 0) {
        slot = &o->sock;
    } else if (strcmp(a, "--ctl") == 0) {
        slot = &o->ctl;
    } else if (strcmp(a, "--time-scale") == 0) {
        /* 0 = instant; above 100 a Sign would outlast the polling budget. */
        return parse_real(a, v, 0.0, 100.0, &o->scale) != 0 ? 2 : EMU_GO;
    } else if (strcmp(a, "--watchdog-ms") == 0) {
        return parse_count(a, v, 1, 600000, &o->wd_ms) != 0 ? 2 : EMU_GO;
    } else {
        if (o->nfaults == CHIP_MAX_FAULTS) {
            fprintf(stderr, "keyward-atecc608-emu: --fault: at most %d\n", CHIP_MAX_FAULTS);
            return 2;
        }
        o->faults[o->nfaults++] = v;
        return EMU_GO;
    }
    if (*slot != NULL) {
        fprintf(stderr, "keyward-atecc608-emu: %s given twice\n", a);
        return 2;
    }
    if (v[0] == '\0') {
        fprintf(stderr, "keyward-atecc608-emu: %s: empty value\n", a);
        return 2;
    }
    *slot = v;
    return EMU_GO;
}

/* EMU_GO, or the exit code (0 after --help, 2 for a bad command line). */
static int parse_args(int argc, char **argv, emu_opts_t *o)
{
    for (int i = 1; i < argc; i++) {
        int r;

        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage();
            return 0;
        }
        r = parse_option(o, argv[i], i + 1 < argc ? argv[i + 1] : NULL);
        if (r != EMU_GO) {
            return r;
        }
        i++;
    }
    if (o->sock == NULL) {
        fprintf(stderr, "keyward-atecc608-emu: --socket PATH is required (--help for usage)\n");
        return 2;
    }
    if (o->ctl == NULL && o->state == NULL) {
        fprintf(stderr, "keyward-atecc608-emu: --state FILE is required (--help for usage)\n");
        return 2;
    }
    return EMU_GO;
}

/* Faults are checked on a scratch chip first, so that a bad --fault never
 * creates a state file.  0, or 2 (the exit code). */
static int check_faults(const emu_opts_t *o)
{
    for (size_t i = 0; i < o->nfaults; i++) {
        static chip_t scratch;
        if (chip_add_fault(&scratch, o->faults[i]) != 0) {
            fprintf(stderr,
                    "keyward-atecc608-emu: --fault: bad '%.60s' (TARGET:OCC:KIND, OCC "
                    "1..1000000 or *, KIND crc|nak|lostwake|watchdog|slow|status=XX)\n",
                    o->faults[i]);
            return 2;
        }
    }
    return 0;
}

static void on_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* Serves the bus on the listening socket lfd until SIGTERM/SIGINT (or a
 * poll error); closes every socket it has, lfd included. */
static void serve_bus(chip_t *chip, int lfd)
{
    struct pollfd pfd[MAX_CLIENTS + 1];
    int nfd = 1;

    pfd[0].fd = lfd;
    pfd[0].events = POLLIN;
    while (!stop) {
        int n = poll(pfd, (nfds_t)nfd, 500);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        for (int i = nfd - 1; i >= 1; i--) {
            if (pfd[i].revents != 0 && serve(chip, pfd[i].fd) != 0) {
                close(pfd[i].fd);
                pfd[i] = pfd[--nfd];
            }
        }
        if (pfd[0].revents & POLLIN) {
            int c = accept(lfd, NULL, NULL);
            if (c >= 0 && nfd <= MAX_CLIENTS) {
                pfd[nfd].fd = c;
                pfd[nfd].events = POLLIN;
                pfd[nfd].revents = 0;
                nfd++;
            } else if (c >= 0) {
                close(c);
            }
        }
    }
    for (int i = 0; i < nfd; i++) {
        close(pfd[i].fd);
    }
}

int main(int argc, char **argv)
{
    static chip_t chip;
    emu_opts_t o = {.scale = 1.0, .wd_ms = 1300};
    int lfd, r = parse_args(argc, argv, &o);
    char why[200];
    dev_t sock_dev = 0;
    ino_t sock_ino = 0;

    if (r != EMU_GO) {
        return r;
    }
    if (o.ctl != NULL) {
        return control_client(o.sock, o.ctl);
    }
    if (psa_crypto_init() != PSA_SUCCESS) {
        fprintf(stderr, "keyward-atecc608-emu: psa_crypto_init failed\n");
        return 1;
    }
    if (check_faults(&o) != 0) {
        return 2;
    }
    on_signals();
    umask(077);
    /* The socket first: a refused socket must not create a state file. */
    lfd = listen_on(o.sock, &sock_dev, &sock_ino);
    if (lfd < 0) {
        return 1;
    }
    if (chip_init(&chip, o.state, o.scale, (double)o.wd_ms / 1000.0, why, sizeof(why)) != 0) {
        fprintf(stderr, "keyward-atecc608-emu: --state %s: %s\n", o.state, why);
        close(lfd);
        unlink_own(o.sock, sock_dev, sock_ino);
        return 1;
    }
    for (size_t i = 0; i < o.nfaults; i++) {
        (void)chip_add_fault(&chip, o.faults[i]); /* checked above */
    }
    fprintf(stderr, "keyward-atecc608-emu: listening on %s (state %s, time scale %g)\n", o.sock,
            o.state, o.scale);
    serve_bus(&chip, lfd);
    unlink_own(o.sock, sock_dev, sock_ino);
    mbedtls_psa_crypto_free();
    return 0;
}
