/*
 * PKCS#11 backend: return values (CK_RV) -> PSA statuses and messages, and
 * which of them mean the session is gone.  No token access here.
 */
#include <p11-kit/p11-kit.h>
#include <p11-kit/pkcs11.h>

#include "keyward/port/backend.h"
#include "pkcs11_internal.h"

/* long-function: one flat switch, a table of PKCS#11 codes to PSA statuses
 * grouped by meaning; split, the groups could no longer be read side by side. */
psa_status_t keyward_pkcs11_status(CK_RV rv)
{
    switch (rv) {
    case CKR_OK:
        return PSA_SUCCESS;
    case CKR_HOST_MEMORY:
    case CKR_DEVICE_MEMORY:
        return PSA_ERROR_INSUFFICIENT_MEMORY;
    case CKR_SLOT_ID_INVALID:
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_TOKEN_NOT_RECOGNIZED:
    case CKR_DEVICE_REMOVED:
        return PSA_ERROR_COMMUNICATION_FAILURE;
    case CKR_GENERAL_ERROR:
    case CKR_FUNCTION_FAILED:
    case CKR_DEVICE_ERROR:
        return PSA_ERROR_HARDWARE_FAILURE;
    case CKR_PIN_INCORRECT:
    case CKR_PIN_INVALID:
    case CKR_PIN_LEN_RANGE:
    case CKR_PIN_EXPIRED:
    case CKR_PIN_LOCKED:
    case CKR_USER_NOT_LOGGED_IN:
    case CKR_USER_PIN_NOT_INITIALIZED:
    case CKR_KEY_FUNCTION_NOT_PERMITTED:
    case CKR_ATTRIBUTE_SENSITIVE:
    case CKR_KEY_UNEXTRACTABLE:
    case CKR_TOKEN_WRITE_PROTECTED:
    case CKR_ACTION_PROHIBITED:
        return PSA_ERROR_NOT_PERMITTED;
    case CKR_MECHANISM_INVALID:
    case CKR_MECHANISM_PARAM_INVALID:
    case CKR_FUNCTION_NOT_SUPPORTED:
    case CKR_KEY_SIZE_RANGE:
    case CKR_CURVE_NOT_SUPPORTED:
    case CKR_DOMAIN_PARAMS_INVALID:
        return PSA_ERROR_NOT_SUPPORTED;
    case CKR_BUFFER_TOO_SMALL:
        return PSA_ERROR_BUFFER_TOO_SMALL;
    case CKR_ARGUMENTS_BAD:
    case CKR_DATA_INVALID:
    case CKR_DATA_LEN_RANGE:
    case CKR_ATTRIBUTE_TYPE_INVALID:
    case CKR_ATTRIBUTE_VALUE_INVALID:
    case CKR_TEMPLATE_INCOMPLETE:
    case CKR_TEMPLATE_INCONSISTENT:
    case CKR_KEY_TYPE_INCONSISTENT:
    case CKR_KEY_NOT_NEEDED:
        return PSA_ERROR_INVALID_ARGUMENT;
    case CKR_OBJECT_HANDLE_INVALID:
    case CKR_KEY_HANDLE_INVALID:
        return PSA_ERROR_DOES_NOT_EXIST;
    case CKR_SIGNATURE_INVALID:
    case CKR_SIGNATURE_LEN_RANGE:
        return PSA_ERROR_INVALID_SIGNATURE;
    case CKR_RANDOM_NO_RNG:
    case CKR_RANDOM_SEED_NOT_SUPPORTED:
        return PSA_ERROR_INSUFFICIENT_ENTROPY;
    case CKR_SESSION_CLOSED:
    case CKR_SESSION_HANDLE_INVALID:
    case CKR_SESSION_COUNT:
    case CKR_SESSION_READ_ONLY:
    case CKR_OPERATION_ACTIVE:
    case CKR_OPERATION_NOT_INITIALIZED:
    case CKR_CRYPTOKI_NOT_INITIALIZED:
    case CKR_USER_TYPE_INVALID:
    case CKR_USER_ANOTHER_ALREADY_LOGGED_IN:
        return PSA_ERROR_BAD_STATE;
    case CKR_CANCEL:
    case CKR_FUNCTION_CANCELED:
        return PSA_ERROR_COMMUNICATION_FAILURE;
    default:
        /* vendor-defined or newer codes: we cannot tell more */
        return PSA_ERROR_HARDWARE_FAILURE;
    }
}

psa_status_t p11_fail(const char *what, CK_RV rv)
{
    keyward_set_error("%s: %s (CKR 0x%lx)", what, p11_kit_strerror(rv), (unsigned long)rv);
    return keyward_pkcs11_status(rv);
}

int p11_session_lost(CK_RV rv)
{
    return rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED ||
           rv == CKR_USER_NOT_LOGGED_IN || rv == CKR_DEVICE_REMOVED;
}
