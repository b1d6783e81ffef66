/*
 * LD_PRELOAD shim: a fake Linux i2c-dev adapter whose bus is the emulator's
 * socket, so that src/hal/i2c_linux.c (I2C_FUNCS, I2C_RDWR, the wake write
 * to address 0, flock on the adapter) runs end to end without hardware.
 *
 *   KW_SHIM_DEV   the device path to fake ("/dev/i2c-kwtest")
 *   KW_SHIM_FILE  a regular file opened in its place (flock works on it)
 *   KW_SHIM_SOCK  the emulator's socket
 *   KW_SHIM_LOG   every I2C message appended as "w|r ADDR LEN [HEX]" + result
 *
 * A message to address 0x00 is the wake pulse ('W' on the socket); it is
 * NAKed, as on a real bus where no device has address 0.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/i2c-dev.h>
#include <linux/i2c.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int fake_fd = -1, sock_fd = -1;

static int io_all(int fd, void *buf, size_t len, int writing)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = writing ? send(fd, p, len, MSG_NOSIGNAL) : recv(fd, p, len, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int dial(void)
{
    struct sockaddr_un sa;
    const char *path = getenv("KW_SHIM_SOCK");
    int fd;

    if (path == NULL || strlen(path) >= sizeof(sa.sun_path)) {
        return -1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    strcpy(sa.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

static int open_fake(const char *path, int flags, mode_t mode)
{
    int (*real_open)(const char *, int, ...) =
        (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
    const char *dev = getenv("KW_SHIM_DEV");

    if (dev != NULL && strcmp(path, dev) == 0) {
        fake_fd = real_open(getenv("KW_SHIM_FILE"), O_RDWR | O_CLOEXEC);
        sock_fd = dial();
        if (fake_fd < 0 || sock_fd < 0) {
            errno = ENODEV;
            return -1;
        }
        return fake_fd;
    }
    return real_open(path, flags, mode);
}

int open(const char *path, int flags, ...)
{
    mode_t mode = 0;
    if (flags & O_CREAT) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    return open_fake(path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
    mode_t mode = 0;
    if (flags & O_CREAT) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    return open_fake(path, flags, mode);
}

static void log_msg(const struct i2c_msg *m, int result)
{
    const char *path = getenv("KW_SHIM_LOG");
    FILE *f = path != NULL ? fopen(path, "a") : NULL;
    if (f == NULL) {
        return;
    }
    fprintf(f, "%c 0x%02x %u", (m->flags & I2C_M_RD) ? 'r' : 'w', m->addr, m->len);
    if (!(m->flags & I2C_M_RD)) {
        fputc(' ', f);
        for (unsigned i = 0; i < m->len && i < 8; i++) {
            fprintf(f, "%02x", m->buf[i]);
        }
    }
    fprintf(f, " %s\n", result == 0 ? "ack" : "nak");
    fclose(f);
}

/* One message over the emulator socket: 0 ACK, 1 NAK, -1 broken. */
static int transfer(struct i2c_msg *m)
{
    uint8_t hdr[4];
    size_t n;

    if (m->addr == 0 && !(m->flags & I2C_M_RD)) {
        hdr[0] = 'W';
        hdr[1] = 0;
        hdr[2] = hdr[3] = 0;
        if (io_all(sock_fd, hdr, 4, 1) != 0 || io_all(sock_fd, hdr, 3, 0) != 0) {
            return -1;
        }
        return 1; /* nobody answers at address 0 */
    }
    hdr[0] = (m->flags & I2C_M_RD) ? 'r' : 'w';
    hdr[1] = (uint8_t)m->addr;
    hdr[2] = (uint8_t)(m->len & 0xff);
    hdr[3] = (uint8_t)(m->len >> 8);
    if (io_all(sock_fd, hdr, 4, 1) != 0 ||
        (!(m->flags & I2C_M_RD) && io_all(sock_fd, m->buf, m->len, 1) != 0) ||
        io_all(sock_fd, hdr, 3, 0) != 0) {
        return -1;
    }
    n = (size_t)hdr[1] | ((size_t)hdr[2] << 8);
    if (n > 0 &&
        ((m->flags & I2C_M_RD) == 0 || n != m->len || io_all(sock_fd, m->buf, n, 0) != 0)) {
        return -1;
    }
    return hdr[0] == 0 ? 0 : 1;
}

int ioctl(int fd, unsigned long req, ...)
{
    int (*real_ioctl)(int, unsigned long, ...) =
        (int (*)(int, unsigned long, ...))dlsym(RTLD_NEXT, "ioctl");
    va_list ap;
    void *arg;

    va_start(ap, req);
    arg = va_arg(ap, void *);
    va_end(ap);
    if (fd < 0 || fd != fake_fd) {
        return real_ioctl(fd, req, arg);
    }
    if (req == I2C_FUNCS) {
        *(unsigned long *)arg = I2C_FUNC_I2C;
        return 0;
    }
    if (req == I2C_RDWR) {
        struct i2c_rdwr_ioctl_data *x = arg;
        for (unsigned i = 0; i < x->nmsgs; i++) {
            int r = transfer(&x->msgs[i]);
            log_msg(&x->msgs[i], r);
            if (r != 0) {
                errno = r > 0 ? ENXIO : EIO;
                return -1;
            }
        }
        return (int)x->nmsgs;
    }
    errno = ENOTTY;
    return -1;
}
