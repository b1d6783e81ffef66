/*
 * The one socket I/O loop of the simulated I2C bus (i2c_socket_proto.h),
 * compiled into both ends: the host transport (i2c_socket.c) and
 * keyward-atecc608-emu.  Its own file, so the emulator takes this loop and
 * nothing else of keyward.
 */
#include "i2c_socket_proto.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/types.h>

int kw_sock_io_all(int fd, uint8_t *buf, size_t len, int writing)
{
    while (len > 0) {
        ssize_t n = writing ? send(fd, buf, len, MSG_NOSIGNAL) : recv(fd, buf, len, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}
