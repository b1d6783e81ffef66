/* I2C HAL over a Unix socket to keyward-atecc608-emu (hosted builds only). */
#ifndef KEYWARD_I2C_SOCKET_H
#define KEYWARD_I2C_SOCKET_H

#include "keyward/port/i2c.h" /* the HAL class; no backend header: the HAL builds without one */

typedef struct {
    int fd;         /* -1: not connected */
    char path[108]; /* sizeof(sockaddr_un.sun_path) */
} keyward_i2c_socket_t;

extern const keyward_i2c_class_t keyward_i2c_socket_class;

/* Connects to the emulator's socket.  0, or -1 with errno set. */
int keyward_i2c_socket_open(keyward_i2c_socket_t *s, const char *path);
void keyward_i2c_socket_close(keyward_i2c_socket_t *s);

/* Sends a control command ("stats", "fault sign:1:crc") and copies the
 * NUL-terminated answer into out.  0, or -1. */
int keyward_i2c_socket_control(keyward_i2c_socket_t *s, const char *cmd, char *out,
                               size_t out_size);

#endif
