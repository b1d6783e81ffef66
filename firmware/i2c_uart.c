/*
 * I2C HAL over a UART to the emulator (see i2c_uart.h).  Each transfer is a
 * request (op, addr, len LE, payload) and a reply (result, len LE,
 * payload).  A reply that does not come within the timeout is a bus error
 * (KEYWARD_I2C_ERROR), never a hang; what arrives late is drained before
 * the next request so the framing stays in step.
 */
#include "i2c_uart.h"

#include "board.h"
#include "i2c_socket_proto.h" /* the simulated wire, shared with the emulator */

static int recv_bytes(fw_i2c_uart_t *b, uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        int c = uart_getc(b->uart, b->timeout_ms);
        if (c == FW_UART_TIMEOUT) {
            b->timeouts++;
            return -1;
        }
        buf[i] = (uint8_t)c;
    }
    return 0;
}

/* One transfer: KEYWARD_I2C_OK / _NAK / _ERROR. */
static int transfer(fw_i2c_uart_t *b, uint8_t op, uint8_t addr, const uint8_t *out, size_t out_len,
                    size_t req_len, uint8_t *in, size_t in_len)
{
    uint8_t hdr[4];
    size_t n;

    if (req_len > KW_SOCK_MAX_PAYLOAD) {
        return KEYWARD_I2C_ERROR;
    }
    if (b->drained != b->timeouts) {
        /* Only a timed-out reply can leave bytes behind: drop them. */
        uart_drain(b->uart);
        b->drained = b->timeouts;
    }
    hdr[0] = op;
    hdr[1] = addr;
    hdr[2] = (uint8_t)(req_len & 0xFFu);
    hdr[3] = (uint8_t)(req_len >> 8);
    uart_write(b->uart, hdr, sizeof(hdr));
    if (out_len > 0) {
        uart_write(b->uart, out, out_len);
    }
    if (recv_bytes(b, hdr, 3) != 0) {
        return KEYWARD_I2C_ERROR;
    }
    n = (size_t)hdr[1] | ((size_t)hdr[2] << 8);
    if (hdr[0] == KW_SOCK_ACK && n != in_len) {
        return KEYWARD_I2C_ERROR; /* framing lost, or a short read */
    }
    if (hdr[0] != KW_SOCK_ACK && n != 0) {
        return KEYWARD_I2C_ERROR;
    }
    if (n > 0 && recv_bytes(b, in, n) != 0) {
        return KEYWARD_I2C_ERROR;
    }
    if (hdr[0] == KW_SOCK_ACK) {
        return KEYWARD_I2C_OK;
    }
    return hdr[0] == KW_SOCK_NAK ? KEYWARD_I2C_NAK : KEYWARD_I2C_ERROR;
}

static int uart_wake(void *ctx)
{
    return transfer(ctx, KW_SOCK_OP_WAKE, 0, NULL, 0, 0, NULL, 0);
}

static int uart_i2c_write(void *ctx, uint8_t addr, const uint8_t *data, size_t len)
{
    return transfer(ctx, KW_SOCK_OP_WRITE, addr, data, len, len, NULL, 0);
}

static int uart_i2c_read(void *ctx, uint8_t addr, uint8_t *data, size_t len)
{
    return transfer(ctx, KW_SOCK_OP_READ, addr, NULL, 0, len, data, len);
}

static void uart_delay_us(void *ctx, uint32_t us)
{
    (void)ctx;
    board_delay_us(us);
}

const keyward_i2c_class_t fw_i2c_uart_class = {
    .name = "qemu-uart-emulator",
    .wake = uart_wake,
    .write = uart_i2c_write,
    .read = uart_i2c_read,
    .delay_us = uart_delay_us,
};
