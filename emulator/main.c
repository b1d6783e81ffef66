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
#include "hal/i2c_socket_proto.h"

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
    if (keyward_sock_io_all(fd, hdr, 3, 1) != 0) {
        return -1;
    }
    return len > 0 ? keyward_sock_io_all(fd, (uint8_t *)(uintptr_t)data, len, 1) : 0;
}

/* Serves one request; -1 when the client is gone or misbehaves. */
static int serve(chip_t *chip, int fd)
{
    static uint8_t payload[KW_SOCK_MAX_PAYLOAD + 1];
    static char answer[8192];
    uint8_t hdr[4];
    size_t len;
    int r;

    if (keyward_sock_io_all(fd, hdr, 4, 0) != 0) {
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
        if (keyward_sock_io_all(fd, payload, len, 0) != 0) {
            return -1;
        }
        r = chip_write(chip, hdr[1], payload, len);
        return reply(fd, (uint8_t)r, NULL, 0);
    case KW_SOCK_OP_READ:
        r = chip_read(chip, hdr[1], payload, len);
        return reply(fd, (uint8_t)r, payload, r == 0 ? len : 0);
    case KW_SOCK_OP_CONTROL:
        if (keyward_sock_io_all(fd, payload, len, 0) != 0) {
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

static int listen_on(const char *path)
{
    struct sockaddr_un sa;
    int fd;

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "keyward-atecc608-emu: socket path too long: %s\n", path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    unlink(path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 16) != 0) {
        fprintf(stderr, "keyward-atecc608-emu: cannot listen on %s: %s\n", path, strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    return fd;
}

/* --ctl: one control command to a running emulator; prints the answer. */
static int control_client(const char *path, const char *cmd)
{
    struct sockaddr_un sa;
    uint8_t hdr[4];
    static char answer[8193];
    size_t len = strlen(cmd), n;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (fd < 0 || strlen(path) >= sizeof(sa.sun_path) || len > KW_SOCK_MAX_PAYLOAD) {
        return 2;
    }
    strcpy(sa.sun_path, path);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        fprintf(stderr, "keyward-atecc608-emu: cannot connect to %s: %s\n", path,
                strerror(errno));
        close(fd);
        return 2;
    }
    hdr[0] = KW_SOCK_OP_CONTROL;
    hdr[1] = 0;
    hdr[2] = (uint8_t)(len & 0xff);
    hdr[3] = (uint8_t)(len >> 8);
    if (keyward_sock_io_all(fd, hdr, 4, 1) != 0 || keyward_sock_io_all(fd, (uint8_t *)(uintptr_t)cmd, len, 1) != 0 ||
        keyward_sock_io_all(fd, hdr, 3, 0) != 0) {
        close(fd);
        return 2;
    }
    n = (size_t)hdr[1] | ((size_t)hdr[2] << 8);
    if (n >= sizeof(answer) || keyward_sock_io_all(fd, (uint8_t *)answer, n, 0) != 0) {
        close(fd);
        return 2;
    }
    answer[n] = '\0';
    close(fd);
    fputs(answer, hdr[0] == KW_SOCK_ACK ? stdout : stderr);
    return hdr[0] == KW_SOCK_ACK ? 0 : 1;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: keyward-atecc608-emu --state FILE --socket PATH [--time-scale F]\n"
            "                            [--watchdog-ms N] [--fault TARGET:OCC:KIND]...\n"
            "       keyward-atecc608-emu --socket PATH --ctl COMMAND\n");
}

int main(int argc, char **argv)
{
    static chip_t chip;
    const char *state = NULL, *sock = NULL, *ctl = NULL;
    const char *faults[CHIP_MAX_FAULTS];
    size_t nfaults = 0;
    double scale = 1.0, wd_ms = 1300.0;
    struct pollfd pfd[MAX_CLIENTS + 1];
    int nfd = 1, lfd;
    struct sigaction sa;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL) {
            usage();
            return 2;
        }
        if (strcmp(a, "--state") == 0) {
            state = v;
        } else if (strcmp(a, "--socket") == 0) {
            sock = v;
        } else if (strcmp(a, "--ctl") == 0) {
            ctl = v;
        } else if (strcmp(a, "--time-scale") == 0) {
            scale = atof(v);
        } else if (strcmp(a, "--watchdog-ms") == 0) {
            wd_ms = atof(v);
        } else if (strcmp(a, "--fault") == 0 && nfaults < CHIP_MAX_FAULTS) {
            faults[nfaults++] = v;
        } else {
            usage();
            return 2;
        }
        i++;
    }
    if (sock != NULL && ctl != NULL) {
        return control_client(sock, ctl);
    }
    if (state == NULL || sock == NULL || scale < 0 || wd_ms <= 0) {
        usage();
        return 2;
    }
    if (psa_crypto_init() != PSA_SUCCESS) {
        fprintf(stderr, "keyward-atecc608-emu: psa_crypto_init failed\n");
        return 1;
    }
    if (chip_init(&chip, state, scale, wd_ms / 1000.0) != 0) {
        fprintf(stderr, "keyward-atecc608-emu: cannot load or create the state file %s\n", state);
        return 1;
    }
    for (size_t i = 0; i < nfaults; i++) {
        if (chip_add_fault(&chip, faults[i]) != 0) {
            fprintf(stderr, "keyward-atecc608-emu: bad --fault '%s'\n", faults[i]);
            return 2;
        }
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    umask(077);
    lfd = listen_on(sock);
    if (lfd < 0) {
        return 1;
    }
    fprintf(stderr, "keyward-atecc608-emu: listening on %s (state %s, time scale %g)\n", sock,
            state, scale);
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
            if (pfd[i].revents != 0 && serve(&chip, pfd[i].fd) != 0) {
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
    unlink(sock);
    mbedtls_psa_crypto_free();
    return 0;
}
