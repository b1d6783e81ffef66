/*
 * I2C HAL over a Unix stream socket to keyward-atecc608-emu; the framing is
 * in i2c_socket_proto.h.  A broken connection (emulator restarted) is
 * reported as KEYWARD_I2C_ERROR once and re-dialled on the next transfer,
 * so the driver's retry finds a working bus again.
 */
#include "i2c_socket.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "i2c_socket_proto.h"

static int connect_path(const char *path)
{
    struct sockaddr_un sa;
    int fd;

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa.sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(sa.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* One request/reply.  Returns the reply's result byte, or -1 on a broken
 * connection (which is then closed). */
static int exchange(keyward_i2c_socket_t *s, uint8_t op, uint8_t addr, const uint8_t *out,
                    size_t out_len, size_t req_len, uint8_t *in, size_t in_size, size_t *in_len)
{
    uint8_t hdr[4];
    size_t n;

    if (s->fd < 0) {
        s->fd = connect_path(s->path);
        if (s->fd < 0) {
            return -1;
        }
    }
    hdr[0] = op;
    hdr[1] = addr;
    hdr[2] = (uint8_t)(req_len & 0xffu);
    hdr[3] = (uint8_t)(req_len >> 8);
    if (kw_sock_io_all(s->fd, hdr, 4, 1) != 0 ||
        (out_len > 0 && kw_sock_io_all(s->fd, (uint8_t *)(uintptr_t)out, out_len, 1) != 0) ||
        kw_sock_io_all(s->fd, hdr, 3, 0) != 0) {
        goto broken;
    }
    n = (size_t)hdr[1] | ((size_t)hdr[2] << 8);
    if (n > in_size) {
        goto broken;
    }
    if (n > 0 && kw_sock_io_all(s->fd, in, n, 0) != 0) {
        goto broken;
    }
    if (in_len != NULL) {
        *in_len = n;
    }
    return hdr[0];
broken:
    close(s->fd);
    s->fd = -1;
    return -1;
}

static int result(int r)
{
    return r < 0 ? KEYWARD_I2C_ERROR : r == KW_SOCK_ACK ? KEYWARD_I2C_OK : KEYWARD_I2C_NAK;
}

static int sock_wake(void *ctx)
{
    return result(exchange(ctx, KW_SOCK_OP_WAKE, 0, NULL, 0, 0, NULL, 0, NULL));
}

static int sock_write(void *ctx, uint8_t addr, const uint8_t *data, size_t len)
{
    if (len > KW_SOCK_MAX_PAYLOAD) {
        return KEYWARD_I2C_ERROR;
    }
    return result(exchange(ctx, KW_SOCK_OP_WRITE, addr, data, len, len, NULL, 0, NULL));
}

static int sock_read(void *ctx, uint8_t addr, uint8_t *data, size_t len)
{
    size_t got = 0;
    int r;

    if (len > KW_SOCK_MAX_PAYLOAD) {
        return KEYWARD_I2C_ERROR;
    }
    r = exchange(ctx, KW_SOCK_OP_READ, addr, NULL, 0, len, data, len, &got);
    if (r == KW_SOCK_ACK && got != len) {
        return KEYWARD_I2C_ERROR;
    }
    return result(r);
}

static void sock_delay_us(void *ctx, uint32_t us)
{
    struct timespec ts;
    (void)ctx;
    ts.tv_sec = (time_t)(us / 1000000u);
    ts.tv_nsec = (long)(us % 1000000u) * 1000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

const keyward_i2c_class_t keyward_i2c_socket_class = {
    "emulator-socket", sock_wake, sock_write, sock_read, sock_delay_us,
};

int keyward_i2c_socket_open(keyward_i2c_socket_t *s, const char *path)
{
    s->fd = -1;
    if (strlen(path) >= sizeof(s->path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(s->path, path);
    s->fd = connect_path(path);
    return s->fd < 0 ? -1 : 0;
}

void keyward_i2c_socket_close(keyward_i2c_socket_t *s)
{
    if (s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
}

int keyward_i2c_socket_control(keyward_i2c_socket_t *s, const char *cmd, char *out, size_t out_size)
{
    size_t got = 0;
    size_t len = strlen(cmd);
    int r;

    if (out_size == 0 || len > KW_SOCK_MAX_PAYLOAD) {
        return -1;
    }
    r = exchange(s, KW_SOCK_OP_CONTROL, 0, (const uint8_t *)cmd, len, len, (uint8_t *)out,
                 out_size - 1, &got);
    if (r != KW_SOCK_ACK) {
        out[0] = '\0';
        return -1;
    }
    out[got] = '\0';
    return 0;
}
