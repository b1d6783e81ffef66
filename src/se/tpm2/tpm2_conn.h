/*
 * TPM 2.0 backend, layer 4: connections, the cross-process lock, and
 * running an operation (tpm2_conn.c).  Closing a connection flushes its
 * cached objects and parks its session, the layers below.
 */
#ifndef KEYWARD_TPM2_CONN_H
#define KEYWARD_TPM2_CONN_H

#include "tpm2_session.h"

/* An operation run on a connection by kw_tpm2_run_op: sets *rc to the TSS2
 * code behind a failure (0 for failures of its own). */
typedef psa_status_t (*kw_tpm2_op_fn_t)(kw_tpm2_conn_t *c, const kw_tpm2_ref_t *r, void *arg,
                                        TSS2_RC *rc);

/* tpm2_conn.c ------------------------------------------------------------ */

psa_status_t kw_tpm2_run_op(const kw_tpm2_ref_t *r, kw_tpm2_op_fn_t fn, void *arg);

/* fn runs, under the backend's mutex, when keyward_tpm2_release forgets the
 * connections: for state an upper layer keeps (tpm2_pss.c's verdicts and
 * encoding keys), without this layer calling up into it. */
void kw_tpm2_on_release(void (*fn)(void));

#endif
