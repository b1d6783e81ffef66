/*
 * Why a keyward call failed.  Every call returns a psa_status_t; the text
 * behind it is per thread and never holds a secret.
 */
#ifndef KEYWARD_ERRORS_H
#define KEYWARD_ERRORS_H

#include <stddef.h>
#include <psa/crypto.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Detail of the last failure in this thread ("" if none), e.g.
 * "C_Login: CKR_PIN_INCORRECT". */
const char *keyward_last_error(void);

/* Name of a PSA status ("PSA_ERROR_NOT_PERMITTED"). */
const char *keyward_status_name(psa_status_t status);

/* Writes keyref to out (out_size bytes, always NUL-terminated when
 * out_size > 0) with the value of every secret attribute (pin-value, auth,
 * parent-auth, so-pin, any *auth or *password) replaced by "***".  Works on
 * any text, so a message that quotes a KEYREF can go through it too.
 * Returns the length of the whole redacted text (as snprintf): out holds
 * all of it when the result is < out_size. */
size_t keyward_keyref_redact(const char *keyref, char *out, size_t out_size);

#ifdef __cplusplus
}
#endif
#endif
