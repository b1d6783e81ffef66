/*
 * keyward: certificates from files or from the secure element.
 *
 * CERTREF grammar (one string names a certificate, beside the KEYREF of its key):
 *   PATH | file:PATH                  PEM (one or more certificates) or DER file
 *   pkcs11:<RFC 7512 path>;type=cert[?<query>]
 *                                     a PKCS#11 certificate object, matched by object= and/or
 *                                     id=; it must match exactly one.  e.g.
 *                                     pkcs11:token=dev;object=device;type=cert?module-path=...
 *   tpm2:nv=0x01XXXXXX[;tcti=...]     a TPM 2.0 NV index holding one DER certificate.  Owner
 *                                     indexes 0x01000000..0x013FFFFF are read and written;
 *                                     TCG's range from 0x01C00000 (EK certificates) is read only.
 * A PATH that happens to start with "pkcs11:" or "tpm2:" is written file:PATH.
 * An SE holds one certificate per object or index: intermediates come from a file.
 *
 * Errors are PSA statuses; keyward_last_error() has the detail.
 */
#ifndef KEYWARD_CERT_H
#define KEYWARD_CERT_H

#include <stddef.h>
#include <stdint.h>

#include <psa/crypto.h>

#include "mbedtls/x509_crt.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The largest certificate read from or written to an SE, bytes. */
#ifndef KEYWARD_CERT_MAX
#define KEYWARD_CERT_MAX 16384u
#endif

/* Appends the certificate(s) named by certref to chain (initialised by the
 * caller with mbedtls_x509_crt_init; for a TLS client the first certificate
 * loaded is the end-entity one, then any intermediates).
 * [in] certref  a CERTREF (above)
 * Returns PSA_SUCCESS;
 *   PSA_ERROR_INVALID_ARGUMENT  malformed reference, or a URI matching several certificates;
 *   PSA_ERROR_DOES_NOT_EXIST    no such file, object or NV index;
 *   PSA_ERROR_DATA_INVALID      what is there is not a (DER/PEM) X.509 certificate;
 *   PSA_ERROR_NOT_SUPPORTED     an SE with no certificate storage, or not in this build;
 *   or the SE's error (PSA_ERROR_COMMUNICATION_FAILURE, PSA_ERROR_NOT_PERMITTED ...).
 * On failure chain is left as it was. */
psa_status_t keyward_cert_load(mbedtls_x509_crt *chain, const char *certref);

/* Reads the DER certificate an SE holds at certref (pkcs11: or tpm2:, not a file).
 * [out] der, der_len   at most der_size bytes (KEYWARD_CERT_MAX is always enough).
 * Same statuses as keyward_cert_load, plus PSA_ERROR_BUFFER_TOO_SMALL. */
psa_status_t keyward_cert_read(const char *certref, uint8_t *der, size_t der_size, size_t *der_len);

/* Stores one certificate (DER, or PEM: the first certificate of it) in the
 * SE at certref (pkcs11:...;type=cert with object= and/or id=, or
 * tpm2:nv=0x01000000..0x013FFFFF).
 * [in] overwrite  0: PSA_ERROR_ALREADY_EXISTS if an object or NV index is
 *                 there; 1: replace it.
 * PSA_ERROR_NOT_PERMITTED for TCG's NV range (0x01C00000 up) or what the SE refuses;
 * PSA_ERROR_DATA_INVALID when data is not a certificate. */
psa_status_t keyward_cert_store(const char *certref, const uint8_t *data, size_t data_len,
                                int overwrite);

#ifdef __cplusplus
}
#endif
#endif
