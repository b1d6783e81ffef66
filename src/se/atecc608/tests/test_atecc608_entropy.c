/*
 * The ATECC608 entropy source (src/se/atecc608/atecc608_entropy.c, built
 * here with MBEDTLS_ENTROPY_HARDWARE_ALT as an MCU image builds it) against
 * the emulator: refused while the config zone is unlocked, without sending
 * a single Random; after provisioning, mbedtls_hardware_poll fills any
 * length with 32-byte Random commands, and plugs into Mbed TLS's entropy
 * module as a strong source.
 */
#include <stdlib.h>
#include <string.h>

#include "emu_helper.h"
#include "keyward/port/atecc608.h"
#include "keyward/keyward.h"
#include "mbedtls/build_info.h"

/* The hook Mbed TLS 3.6 calls: mbedtls_hardware_poll
 * (MBEDTLS_ENTROPY_HARDWARE_ALT), from atecc608_entropy.c. */
#if MBEDTLS_VERSION_MAJOR >= 4
/* The hosted 4.x library brings its own mbedtls_platform_get_entropy, so
 * this test drives keyward_atecc608_entropy, the function behind the 4.x
 * hook (which bench/footprint.sh compiles for the 4.x line), with the
 * hook's semantics. */
static int mbedtls_hardware_poll(void *data, unsigned char *output, size_t len, size_t *olen)
{
    psa_status_t status = keyward_atecc608_entropy(output, len);

    (void)data;
    *olen = status == PSA_SUCCESS ? len : 0;
    return status == PSA_SUCCESS ? 0 : PSA_ERROR_INSUFFICIENT_ENTROPY;
}
#define POLL_FAILED PSA_ERROR_INSUFFICIENT_ENTROPY
#else
#include "mbedtls/entropy.h"
#define POLL_FAILED MBEDTLS_ERR_ENTROPY_SOURCE_FAILED
int mbedtls_hardware_poll(void *data, unsigned char *output, size_t len, size_t *olen);
#endif

static int is_pattern(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != ((i % 4) < 2 ? 0xFF : 0x00)) {
            return 0;
        }
    }
    return 1;
}

int main(void)
{
    static const char *const args[] = {"--time-scale", "0.05", NULL};
    kw_emu_t emu;
    char chip[400];
    uint8_t a[100], b[100];
    size_t olen = 99;

    kw_emu_start(&emu, args);
    REQUIRE(psa_crypto_init() == PSA_SUCCESS);
    REQUIRE(keyward_init() == PSA_SUCCESS);
    setenv("KEYWARD_ATECC608_BUS", emu.bus, 1);
    snprintf(chip, sizeof(chip), "atecc608:bus=%s", emu.bus);

    /* Unlocked: refused, output zeroed, no Random sent. */
    memset(a, 0xAA, sizeof(a));
    kw_emu_ctl(&emu, "stats reset");
    REQUIRE(mbedtls_hardware_poll(NULL, a, sizeof(a), &olen) == POLL_FAILED);
    REQUIRE_EQ(olen, 0);
    REQUIRE(strstr(keyward_last_error(), "unlocked") != NULL);
    for (size_t i = 0; i < sizeof(a); i++) {
        REQUIRE_EQ(a[i], 0);
    }
    REQUIRE_EQ(kw_emu_stat(&emu, "cmd_random"), 0);
    REQUIRE_EQ(kw_emu_stat(&emu, "cmd_read"), 1);
    REQUIRE(keyward_atecc608_entropy(a, 32) == PSA_ERROR_BAD_STATE);

    REQUIRE_EQ(kw_tool("provision", chip), 0);
    kw_emu_ctl(&emu, "stats reset");
    REQUIRE(mbedtls_hardware_poll(NULL, a, sizeof(a), &olen) == 0);
    REQUIRE_EQ(olen, sizeof(a));
    REQUIRE_EQ(kw_emu_stat(&emu, "cmd_random"), 4); /* 100 bytes: 4 x 32, one per wake */
    REQUIRE_EQ(kw_emu_stat(&emu, "wakes"), 4);
    REQUIRE(mbedtls_hardware_poll(NULL, b, sizeof(b), &olen) == 0);
    REQUIRE(!is_pattern(a, 32) && memcmp(a, b, sizeof(a)) != 0);
    /* 300 bytes: ten sessions of one Random each (the lock byte read again in each). */
    {
        static uint8_t big[300];
        kw_emu_ctl(&emu, "stats reset");
        REQUIRE(keyward_atecc608_entropy(big, sizeof(big)) == PSA_SUCCESS);
        REQUIRE_EQ(kw_emu_stat(&emu, "cmd_random"), 10);
        REQUIRE_EQ(kw_emu_stat(&emu, "wakes"), 10);
        REQUIRE_EQ(kw_emu_stat(&emu, "cmd_read"), 10);
    }
    /* A chip that keeps failing: the source fails, the output is zero. */
    kw_emu_ctl(&emu, "fault random:*:status=0f");
    memset(a, 0xAA, sizeof(a));
    REQUIRE(mbedtls_hardware_poll(NULL, a, 64, &olen) != 0);
    REQUIRE(a[0] == 0 && a[63] == 0);
    kw_emu_ctl(&emu, "fault clear");

#if MBEDTLS_VERSION_MAJOR < 4
    /* As Mbed TLS 3.6's entropy module uses it. */
    {
        uint8_t seed[MBEDTLS_ENTROPY_BLOCK_SIZE];
        mbedtls_entropy_context ctx;
        mbedtls_entropy_init(&ctx);
        REQUIRE(mbedtls_entropy_add_source(&ctx, mbedtls_hardware_poll, NULL, 32,
                                           MBEDTLS_ENTROPY_SOURCE_STRONG) == 0);
        kw_emu_ctl(&emu, "stats reset");
        REQUIRE(mbedtls_entropy_func(&ctx, seed, sizeof(seed)) == 0);
        REQUIRE(kw_emu_stat(&emu, "cmd_random") >= 1);
        mbedtls_entropy_free(&ctx);
    }
#endif
    return kw_test_end("atecc608_entropy");
}
