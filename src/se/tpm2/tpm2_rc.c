/*
 * TPM 2.0 backend: TSS2 and TPM response codes -> PSA status codes and
 * keyward_last_error() texts.
 */
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tpm2_types.h>

#include "keyward/port/backend.h"
#include "tpm2_base.h"

/* ---- errors --------------------------------------------------------------- */

static int rc_is_tpm(TSS2_RC rc)
{
    TSS2_RC layer = rc & TSS2_RC_LAYER_MASK;
    return layer == TSS2_TPM_RC_LAYER || layer == TSS2_RESMGR_TPM_RC_LAYER;
}

/* The TPM response code without handle/session/parameter numbers. */
TSS2_RC kw_tpm2_rc_base(TSS2_RC rc)
{
    if (!rc_is_tpm(rc)) {
        return rc;
    }
    rc &= 0xfff;
    return (rc & TPM2_RC_FMT1) ? (rc & (TPM2_RC_FMT1 | 0x3f)) : rc;
}

/* A TSS-side failure that means the TPM connection is gone or confused. */
int kw_tpm2_rc_is_comm(TSS2_RC rc)
{
    if (rc == TSS2_RC_SUCCESS || rc_is_tpm(rc)) {
        return 0;
    }
    switch (rc & 0xffff) {
    case TSS2_BASE_RC_IO_ERROR:
    case TSS2_BASE_RC_NO_CONNECTION:
    case TSS2_BASE_RC_TRY_AGAIN:
    case TSS2_BASE_RC_INSUFFICIENT_RESPONSE:
    case TSS2_BASE_RC_MALFORMED_RESPONSE:
    case TSS2_BASE_RC_BAD_SEQUENCE:
        return 1;
    default:
        return 0;
    }
}

int kw_tpm2_rc_is_stale_handle(TSS2_RC rc)
{
    TSS2_RC b = kw_tpm2_rc_base(rc);
    return rc_is_tpm(rc) &&
           (b == TPM2_RC_HANDLE || (b >= TPM2_RC_REFERENCE_H0 && b <= TPM2_RC_REFERENCE_H6));
}

/* long-function: a flat table of TSS2 and TPM codes to PSA statuses,
 * grouped by meaning; split, the groups could no longer be read side by side. */
static psa_status_t psa_of_rc(TSS2_RC rc)
{
    if (rc == TSS2_RC_SUCCESS) {
        return PSA_SUCCESS;
    }
    if (kw_tpm2_rc_is_comm(rc)) {
        return PSA_ERROR_COMMUNICATION_FAILURE;
    }
    if (!rc_is_tpm(rc)) {
        switch (rc & 0xffff) {
        case TSS2_BASE_RC_MEMORY:
            return PSA_ERROR_INSUFFICIENT_MEMORY;
        case TSS2_BASE_RC_BAD_VALUE:
        case TSS2_BASE_RC_BAD_SIZE:
        case TSS2_BASE_RC_BAD_REFERENCE:
            return PSA_ERROR_INVALID_ARGUMENT;
        case TSS2_BASE_RC_NOT_SUPPORTED:
        case TSS2_BASE_RC_NOT_IMPLEMENTED:
            return PSA_ERROR_NOT_SUPPORTED;
        case TSS2_BASE_RC_BAD_TR:
            return PSA_ERROR_BAD_STATE;
        default:
            return PSA_ERROR_HARDWARE_FAILURE;
        }
    }
    switch (kw_tpm2_rc_base(rc)) {
    case TPM2_RC_AUTH_FAIL:
    case TPM2_RC_BAD_AUTH:
    case TPM2_RC_AUTH_MISSING:
    case TPM2_RC_AUTH_TYPE:
    case TPM2_RC_AUTH_UNAVAILABLE:
    case TPM2_RC_POLICY_FAIL:
    case TPM2_RC_LOCKOUT:
    case TPM2_RC_ATTRIBUTES:
    case TPM2_RC_PP:
        return PSA_ERROR_NOT_PERMITTED;
    case TPM2_RC_SCHEME:
    case TPM2_RC_HASH:
    case TPM2_RC_KEY_SIZE:
    case TPM2_RC_CURVE:
    case TPM2_RC_ASYMMETRIC:
    case TPM2_RC_SYMMETRIC:
    case TPM2_RC_COMMAND_CODE:
        return PSA_ERROR_NOT_SUPPORTED;
    case TPM2_RC_INTEGRITY:
    case TPM2_RC_KEY:
    case TPM2_RC_SIZE:
    case TPM2_RC_VALUE:
    case TPM2_RC_TYPE:
    case TPM2_RC_BINDING:
    case TPM2_RC_ECC_POINT:
    case TPM2_RC_INSUFFICIENT:
        return PSA_ERROR_DATA_INVALID;
    case TPM2_RC_HANDLE:
        return PSA_ERROR_DOES_NOT_EXIST;
    case TPM2_RC_OBJECT_MEMORY:
    case TPM2_RC_SESSION_MEMORY:
    case TPM2_RC_MEMORY:
    case TPM2_RC_OBJECT_HANDLES:
    case TPM2_RC_SESSION_HANDLES:
        return PSA_ERROR_INSUFFICIENT_MEMORY;
    case TPM2_RC_INITIALIZE:
        return PSA_ERROR_BAD_STATE;
    default:
        if (kw_tpm2_rc_base(rc) >= TPM2_RC_REFERENCE_H0 &&
            kw_tpm2_rc_base(rc) <= TPM2_RC_REFERENCE_H6) {
            return PSA_ERROR_DOES_NOT_EXIST;
        }
        return PSA_ERROR_HARDWARE_FAILURE;
    }
}

psa_status_t kw_tpm2_fail_rc(const char *what, TSS2_RC rc)
{
    if (kw_tpm2_rc_base(rc) == TPM2_RC_OBJECT_MEMORY) {
        keyward_set_error("%s: the TPM's transient object slots are full (objects left by other "
                          "programs? without a resource manager, flush them with "
                          "'tpm2_flushcontext -t') (0x%x)",
                          what, (unsigned)rc);
    } else {
        keyward_set_error("%s: %s (0x%x)", what, Tss2_RC_Decode(rc), (unsigned)rc);
    }
    return psa_of_rc(rc);
}
