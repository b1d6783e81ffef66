/*
 * The ATECC608 platform layer for hosted (Linux) builds: finds the chip of a
 * KEYREF's bus= / addr= (or $KEYWARD_ATECC608_BUS), opens its transport once
 * -- the emulator's socket or /dev/i2c-N -- and makes each wake ... idle
 * sequence atomic: a mutex per chip across this process's threads, and an
 * flock(2) across processes.
 *
 * The cross-process lock (issue 7 section 3): two processes each doing
 * Nonce+Sign would otherwise overwrite each other's TempKey, or one would
 * send idle while the other waits for its answer.  The lock is taken before
 * the wake and released after the idle, so the time spent waiting for it
 * never counts against the chip's watchdog (which starts at the wake).
 *   - /dev/i2c-N: flock on the adapter itself, i.e. per bus.  A wake pulse
 *     reaches every ATECC on the bus, so serialising per bus rather than per
 *     address is the safe reading of "per bus and address".
 *   - unix:PATH (emulator, one chip per socket): flock on PATH.lock, created
 *     next to the socket (mode 0666 less the umask; opened read-only when it
 *     exists and cannot be written: flock needs no write access).
 * Another program driving the same chip must take the same flock (LOCK_EX)
 * around each of its own wake ... idle/sleep sequences; docs/atecc608.md.
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "atecc608_internal.h"
#include "hal/i2c_linux.h"
#include "hal/i2c_socket.h"

#define MAX_CHIPS 4
#define BUS_MAX 200

typedef struct {
    int used;
    char bus[BUS_MAX];
    uint8_t addr;
    int is_socket;
    keyward_i2c_socket_t sock;
    keyward_i2c_linux_t i2c;
    pthread_mutex_t mu;
    int lock_fd; /* the flock(2) target: the i2c-dev fd or PATH.lock */
    keyward_atecc608_t dev;
} chip_t;

static chip_t chips[MAX_CHIPS];

/* PATH.lock beside the emulator socket: -1 (errno set) when it can be
 * neither created nor opened. */
static int open_lock_file(const char *sock_path)
{
    char p[BUS_MAX + 8];
    int fd;

    if (strlen(sock_path) + 6 > sizeof(p)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(p, sock_path);
    strcat(p, ".lock");
    fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (fd < 0 && (errno == EACCES || errno == EROFS)) {
        fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    }
    return fd;
}
static pthread_mutex_t registry = PTHREAD_MUTEX_INITIALIZER;

/* "B", "B;addr=A" or "bus=B;addr=A" (bus first) from the environment variable. */
static psa_status_t from_env(const char **bus, size_t *bus_len, uint8_t *addr)
{
    static const char pfx[] = "atecc608:";
    char text[BUS_MAX + 32];
    const char *env = getenv("KEYWARD_ATECC608_BUS");
    kw608_keyref_t kr;
    psa_status_t status;
    size_t n;

    if (env == NULL || env[0] == '\0') {
        keyward_set_error("ATECC608 KEYREF has no bus= and KEYWARD_ATECC608_BUS is not set");
        return PSA_ERROR_BAD_STATE;
    }
    n = strlen(env);
    if (n + sizeof(pfx) + 4 > sizeof(text)) {
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    strcpy(text, pfx);
    if (strncmp(env, "bus=", 4) != 0) {
        strcat(text, "bus=");
    }
    strcat(text, env);
    status = kw608_keyref_parse((const uint8_t *)text, strlen(text), &kr);
    if (status != PSA_SUCCESS || kr.bus != text + strlen(pfx) + 4 || kr.slot >= 0) {
        keyward_set_error("bad KEYWARD_ATECC608_BUS '%.60s' (unix:PATH or /dev/i2c-N[;addr=0x60])",
                          env);
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    /* The bus name as a pointer into the environment string, which lives on. */
    *bus = env + (strncmp(env, "bus=", 4) == 0 ? 4 : 0);
    *bus_len = kr.bus_len;
    if (*addr == 0) {
        *addr = kr.addr;
    }
    return PSA_SUCCESS;
}

psa_status_t keyward_atecc608_platform_get(const char *bus, size_t bus_len, uint8_t addr,
                                           keyward_atecc608_t **dev)
{
    psa_status_t status = PSA_ERROR_CORRUPTION_DETECTED;
    chip_t *c = NULL;

    if (bus == NULL || bus_len == 0) {
        status = from_env(&bus, &bus_len, &addr);
        if (status != PSA_SUCCESS) {
            return status;
        }
    }
    if (addr == 0) {
        addr = KEYWARD_ATECC608_ADDR_DEFAULT;
    }
    if (bus_len >= BUS_MAX) {
        keyward_set_error("ATECC608 bus name longer than %d bytes", BUS_MAX - 1);
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    pthread_mutex_lock(&registry);
    for (size_t i = 0; i < MAX_CHIPS; i++) {
        if (chips[i].used && chips[i].addr == addr && strlen(chips[i].bus) == bus_len &&
            memcmp(chips[i].bus, bus, bus_len) == 0) {
            *dev = &chips[i].dev;
            status = PSA_SUCCESS;
            goto exit;
        }
        if (!chips[i].used && c == NULL) {
            c = &chips[i];
        }
    }
    if (c == NULL) {
        keyward_set_error("more than %d ATECC608 chips in use", MAX_CHIPS);
        status = PSA_ERROR_INSUFFICIENT_MEMORY;
        goto exit;
    }
    memset(c, 0, sizeof(*c));
    memcpy(c->bus, bus, bus_len);
    c->bus[bus_len] = '\0';
    c->addr = addr;
    if (strncmp(c->bus, "unix:", 5) == 0) {
        c->is_socket = 1;
        if (keyward_i2c_socket_open(&c->sock, c->bus + 5) != 0) {
            keyward_set_error("cannot reach the ATECC608 emulator at %s: %s", c->bus + 5,
                              strerror(errno));
            status = PSA_ERROR_COMMUNICATION_FAILURE;
            goto exit;
        }
        c->lock_fd = open_lock_file(c->bus + 5);
        if (c->lock_fd < 0) {
            keyward_set_error("cannot open the ATECC608 lock file %s.lock: %s", c->bus + 5,
                              strerror(errno));
            keyward_i2c_socket_close(&c->sock);
            status = PSA_ERROR_COMMUNICATION_FAILURE;
            goto exit;
        }
        keyward_atecc608_init(&c->dev, &keyward_i2c_socket_class, &c->sock, addr);
    } else if (strncmp(c->bus, "/dev/", 5) == 0) {
        if (keyward_i2c_linux_open(&c->i2c, c->bus) != 0) {
            keyward_set_error("cannot open I2C adapter %s: %s", c->bus, strerror(errno));
            status = PSA_ERROR_COMMUNICATION_FAILURE;
            goto exit;
        }
        c->lock_fd = c->i2c.fd;
        keyward_atecc608_init(&c->dev, &keyward_i2c_linux_class, &c->i2c, addr);
    } else {
        keyward_set_error("ATECC608 bus '%s' is neither unix:PATH nor /dev/i2c-N", c->bus);
        status = PSA_ERROR_INVALID_ARGUMENT;
        goto exit;
    }
    pthread_mutex_init(&c->mu, NULL);
    c->used = 1;
    *dev = &c->dev;
    status = PSA_SUCCESS;
exit:
    pthread_mutex_unlock(&registry);
    return status;
}

static chip_t *chip_of(keyward_atecc608_t *dev)
{
    return (chip_t *)(void *)((char *)dev - offsetof(chip_t, dev));
}

void keyward_atecc608_platform_lock(keyward_atecc608_t *dev)
{
    chip_t *c = chip_of(dev);

    pthread_mutex_lock(&c->mu);
    /* Threads of this process are already serialised by the mutex, so one
     * open file description per chip is enough.  flock only fails on EINTR
     * (retried) or on a bad descriptor, which open() has ruled out. */
    while (flock(c->lock_fd, LOCK_EX) != 0 && errno == EINTR) {
    }
}

void keyward_atecc608_platform_unlock(keyward_atecc608_t *dev)
{
    chip_t *c = chip_of(dev);

    (void)flock(c->lock_fd, LOCK_UN);
    pthread_mutex_unlock(&c->mu);
}
