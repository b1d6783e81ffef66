/*
 * PKCS#11 backend, lower layer: modules, tokens and their one logged-in
 * session each, and the RFC 7512 URIs that name them (pkcs11_uri.c,
 * pkcs11_session.c).  Knows nothing of keys; pkcs11_key.h builds on it.
 *
 * A PKCS#11 session may run one operation at a time, so all token work is
 * serialised by p11_lock: every function here that touches a token expects
 * it held, except keyward_pkcs11_with_session, which takes it.
 */
#ifndef KEYWARD_PKCS11_SESSION_H
#define KEYWARD_PKCS11_SESSION_H

#include <pthread.h>

#include <p11-kit/pkcs11.h>
#include <p11-kit/uri.h>
#include <psa/crypto.h>

#include "keyward/port/backend.h"
#include "pkcs11_internal.h"

#define MAX_MODULES 4
#define MAX_TOKENS 8
#define PIN_MAX 256

typedef struct {
    char path[512];
    void *dl;
    CK_FUNCTION_LIST_PTR f;
} module_t;

typedef struct {
    module_t *mod;
    CK_SLOT_ID slot;
    CK_TOKEN_INFO info;
    CK_SESSION_HANDLE session;
    int open;
} token_t;

/* A parsed URI and its text (which may hold pin-value: wiped by p11_uri_free). */
typedef struct {
    P11KitUri *uri;
    char text[KEYWARD_REF_MAX + 1];
} parsed_uri_t;

/* Serialises all token work (see above). */
extern pthread_mutex_t p11_lock;

/* pkcs11_uri.c ------------------------------------------------------------ */

/* Parses a key URI strictly: no attribute twice, type= only private. */
psa_status_t p11_uri_parse(const uint8_t *ref, size_t ref_len, parsed_uri_t *u);
void p11_uri_free(parsed_uri_t *u);
/* Keeps the URI's pin-value, if any, in process memory for ref. */
psa_status_t p11_keep_pin(const parsed_uri_t *u, const uint8_t *ref, size_t ref_len);

/* pkcs11_session.c -------------------------------------------------------- */

/* The token the URI names, with an open (and logged-in) session. */
psa_status_t p11_token_get(const parsed_uri_t *u, token_t **out);
/* (Re-)opens the token's session and logs in with the URI's PIN. */
psa_status_t p11_session_open(token_t *tok, const parsed_uri_t *u);
/* keyward_deinit(): log out and close every session, forget the tokens. */
void p11_tokens_close(void);
/* keyward_deinit(): finalize and unload every module. */
void p11_modules_unload(void);

#endif
