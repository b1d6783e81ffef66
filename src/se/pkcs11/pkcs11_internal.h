#ifndef KEYWARD_PKCS11_INTERNAL_H
#define KEYWARD_PKCS11_INTERNAL_H
#include <p11-kit/pkcs11.h>
#include <psa/crypto.h>
/* The PSA status nearest to a PKCS#11 return value. */
psa_status_t keyward_pkcs11_status(CK_RV rv);
#endif
