/* Shared by the ATECC608 backend's files and its tests; not a public API. */
#ifndef KEYWARD_ATECC608_INTERNAL_H
#define KEYWARD_ATECC608_INTERNAL_H

#include "atecc608_proto.h"
#include "keyward/port/backend.h"

/* A parsed KEYREF "atecc608:slot=N;bus=B;addr=A" (any order, each optional).
 * bus points into the parsed text (not NUL-terminated). */
typedef struct {
    int slot;        /* -1: absent */
    const char *bus; /* NULL: absent */
    size_t bus_len;
    uint8_t addr; /* 0: absent */
} kw608_keyref_t;

/* PSA_ERROR_INVALID_ARGUMENT (with keyward_set_error) for anything but the
 * grammar above: unknown or repeated keys, slot outside 0..15, address
 * outside 0x08..0x77, empty values, NUL bytes. */
psa_status_t kw608_keyref_parse(const uint8_t *ref, size_t len, kw608_keyref_t *kr);

/* Runs fn between a wake and an idle, on a chip already locked by the
 * caller.  A retryable failure (keyward_atecc608_retryable) sends the chip
 * to sleep, which drops TempKey, and runs the whole of fn again after a
 * fresh wake: at most KW608_ATTEMPTS times. */
#define KW608_ATTEMPTS 3
int kw608_run(keyward_atecc608_t *dev, int (*fn)(keyward_atecc608_t *dev, void *arg), void *arg);

/* Resolves and locks the chip of a parsed KEYREF. */
psa_status_t kw608_open(const kw608_keyref_t *kr, keyward_atecc608_t **dev);

#endif
