/* The backend table the build generated from the keyward_backend() declarations
 * (src/se/<name>/CMakeLists.txt): each ops table says the id, location and scheme its
 * folder declared, the lookups find it by each, and a KEYREF whose scheme no backend of
 * this build owns is refused naming that scheme. */
#include <string.h>

#include "keyward/keyward.h"
#include "keyward/port/backend.h"
#include "keyward_backends_table.h"
#include "kwcheck.h"

typedef struct {
    const keyward_backend_t *ops;
    uint8_t id;
    uint32_t location;
    const char *scheme;
} declared_t;

static const declared_t declared[] = {KEYWARD_BACKEND_DECLARED{NULL, 0, 0, NULL}};

static void tables_match_declarations(void)
{
    size_t n = 0;

    for (size_t i = 0; declared[i].ops != NULL; i++, n++) {
        const declared_t *d = &declared[i];
        char keyref[32];

        CHECK(d->ops->id == d->id);
        CHECK(d->ops->location == d->location);
        CHECK(strcmp(d->ops->scheme, d->scheme) == 0);
        CHECK(keyward_backend_by_id(d->id) == d->ops);
        CHECK(keyward_backend_by_location(d->location) == d->ops);
        (void)snprintf(keyref, sizeof(keyref), "%s:x", d->scheme);
        CHECK(keyward_backend_by_keyref(keyref) == d->ops);
        CHECK(strstr(KEYWARD_KEY_SCHEMES, d->scheme) != NULL);
        /* a backend that keeps certificates declares its CERT_SCHEMES, and only then */
        CHECK((d->ops->cert_read != NULL) == (strstr(KEYWARD_CERT_SCHEMES, d->scheme) != NULL));
    }
    CHECK(n == KEYWARD_BACKEND_COUNT);
    CHECK(keyward_backends[n] == NULL);
}

static void unknown_scheme_named(void)
{
    psa_key_id_t key = 0;

    CHECK(keyward_ref_scheme_len("tpm2:handle=1") == 5);
    CHECK(keyward_ref_scheme_len("Tpm2:x") == 0);
    CHECK(keyward_ref_scheme_len("/tmp/a:b") == 0);
    CHECK(keyward_ref_scheme_len("nocolon") == 0);
    CHECK(keyward_ref_scheme_len(NULL) == 0);
    CHECK_STATUS(keyward_key_open("zz9:slot=1;pin-value=Secret1", &key),
                 PSA_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(keyward_last_error(), "no backend for scheme 'zz9:'") != NULL);
    CHECK(strstr(keyward_last_error(), "Secret1") == NULL);
    CHECK(strstr(keyward_last_error(), KEYWARD_KEY_SCHEMES) != NULL);
    CHECK_STATUS(keyward_key_generate("zz9:slot=1",
                                      PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1), 256, &key),
                 PSA_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(keyward_last_error(), "no backend for scheme 'zz9:'") != NULL);
}

int main(void)
{
    CHECK_STATUS(keyward_init(), PSA_SUCCESS);
    tables_match_declarations();
    unknown_scheme_named();
    keyward_deinit();
    return kw_test_end("test_contract_table");
}
