/*
 * I2C HAL on Linux i2c-dev.  Each transfer is one I2C_RDWR message so that
 * the kernel does not split or combine it; ENXIO / EREMOTEIO / EIO are what
 * adapters report for an unacknowledged address.
 *
 * Wake: i2c-dev cannot hold SDA low directly.  A write to address 0x00
 * drives SDA low for the 8 address bits plus the missing ACK, 90 us at
 * 100 kHz, above tWLO (60 us).  This needs the adapter clocked at 100 kHz
 * or less (dtparam=i2c_arm_baudrate=100000 on a Raspberry Pi); at 400 kHz
 * the pulse is 22 us and the chip does not wake.  The NAK of that write is
 * expected and ignored.  Address 0x00 is the I2C general call, so the data
 * byte is chosen as cryptoauthlib's calib_wakeup_i2c chooses it: 0x01, not
 * 0x00.  A general call's second byte with bit 0 set is a "hardware general
 * call" (a master announcing itself), which ordinary devices ignore, whereas
 * 0x06 / 0x04 would make some reset or re-address themselves (and 0x00 is
 * not a valid second byte at all).
 */
#include "i2c_linux.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/i2c-dev.h>
#include <linux/i2c.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static int transfer(keyward_i2c_linux_t *bus, uint8_t addr, uint16_t flags, uint8_t *buf,
                    size_t len)
{
    struct i2c_msg msg;
    struct i2c_rdwr_ioctl_data xfer;

    if (bus->fd < 0 || len > 0xffffu) {
        return KEYWARD_I2C_ERROR;
    }
    msg.addr = addr;
    msg.flags = flags;
    msg.len = (uint16_t)len;
    msg.buf = buf;
    xfer.msgs = &msg;
    xfer.nmsgs = 1;
    if (ioctl(bus->fd, I2C_RDWR, &xfer) >= 0) {
        return KEYWARD_I2C_OK;
    }
    return (errno == ENXIO || errno == EREMOTEIO || errno == EIO || errno == EAGAIN)
               ? KEYWARD_I2C_NAK
               : KEYWARD_I2C_ERROR;
}

static int linux_wake(void *ctx)
{
    uint8_t second = 0x01; /* not a general-call command: see above */
    int rc = transfer(ctx, 0x00, 0, &second, 1);
    return rc == KEYWARD_I2C_ERROR ? rc : KEYWARD_I2C_OK;
}

static int linux_write(void *ctx, uint8_t addr, const uint8_t *data, size_t len)
{
    /* struct i2c_msg.buf is not const; the kernel only reads it for writes. */
    return transfer(ctx, addr, 0, (uint8_t *)(uintptr_t)data, len);
}

static int linux_read(void *ctx, uint8_t addr, uint8_t *data, size_t len)
{
    return transfer(ctx, addr, I2C_M_RD, data, len);
}

static void linux_delay_us(void *ctx, uint32_t us)
{
    struct timespec ts;
    (void)ctx;
    ts.tv_sec = (time_t)(us / 1000000u);
    ts.tv_nsec = (long)(us % 1000000u) * 1000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

const keyward_i2c_class_t keyward_i2c_linux_class = {
    "linux-i2c-dev", linux_wake, linux_write, linux_read, linux_delay_us,
};

int keyward_i2c_linux_open(keyward_i2c_linux_t *bus, const char *device)
{
    unsigned long funcs = 0;

    bus->fd = open(device, O_RDWR | O_CLOEXEC);
    if (bus->fd < 0) {
        return -1;
    }
    if (ioctl(bus->fd, I2C_FUNCS, &funcs) < 0 || (funcs & I2C_FUNC_I2C) == 0) {
        close(bus->fd);
        bus->fd = -1;
        errno = EOPNOTSUPP;
        return -1;
    }
    return 0;
}

void keyward_i2c_linux_close(keyward_i2c_linux_t *bus)
{
    if (bus->fd >= 0) {
        close(bus->fd);
        bus->fd = -1;
    }
}
