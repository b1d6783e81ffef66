/*
 * The emulator's "I2C bus" over a Unix stream socket, shared by the host
 * transport (i2c_socket.c) and keyward-atecc608-emu.
 *
 * Every bus transaction is one request and one reply, each a 4- / 3-byte
 * header and a payload:
 *
 *   request: op(1) addr(1) len(2, LE) payload
 *     'W' wake pulse           len 0 (addr ignored)
 *     'w' write                payload = the bytes after the address byte
 *     'r' read                 len = bytes to read, no payload
 *     'C' control (emulator)   payload = a text command (see emulator/)
 *   reply:   result(1) len(2, LE) payload
 *     result 0 ACK, 1 NAK (address not acknowledged); payload = bytes read
 *     for 'r', the text answer for 'C', empty otherwise.
 *
 * A NAK has the meaning it has on a real bus: asleep, idle, busy or not this
 * address.  Timing (tWHI, execution time) is real time on the emulator side.
 */
#ifndef KEYWARD_I2C_SOCKET_PROTO_H
#define KEYWARD_I2C_SOCKET_PROTO_H

#define KW_SOCK_OP_WAKE 'W'
#define KW_SOCK_OP_WRITE 'w'
#define KW_SOCK_OP_READ 'r'
#define KW_SOCK_OP_CONTROL 'C'

#define KW_SOCK_ACK 0u
#define KW_SOCK_NAK 1u

#define KW_SOCK_MAX_PAYLOAD 4096u

#include <stddef.h>
#include <stdint.h>

/* Sends (writing != 0) or receives exactly len bytes on a stream socket,
 * retrying on EINTR; 0, or -1 when the peer is gone.  Both ends compile it
 * (i2c_socket_io.c): the emulator links no keyward library. */
int kw_sock_io_all(int fd, uint8_t *buf, size_t len, int writing);

#endif
