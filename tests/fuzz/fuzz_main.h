/*
 * The self-driving half of keyward's fuzz targets: without libFuzzer
 * (KW_LIBFUZZER undefined), main() feeds LLVMFuzzerTestOneInput a
 * deterministic stream of mutations of the target's seeds (bit flips, byte
 * sets, truncation, extension, splices), so ctest runs every target, under
 * ASan + UBSan in the sanitizer build.  With clang -fsanitize=fuzzer the
 * same target is a libFuzzer target (cmake -DKEYWARD_FUZZ=ON with clang):
 * this file then only gives it LLVMFuzzerInitialize, which writes the
 * target's seeds (kw_fuzz_seeds, the same ones ctest mutates) into the
 * directory named by $KW_FUZZ_WRITE_SEEDS, to be passed as its corpus.
 *
 * A target defines LLVMFuzzerTestOneInput and
 *   static void kw_fuzz_seeds(void (*add)(const uint8_t *, size_t));
 * then includes this file.
 */
#ifndef KW_FUZZ_MAIN_H
#define KW_FUZZ_MAIN_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#if defined(KW_LIBFUZZER)
#include <sys/stat.h>

static void kw_fuzz_seeds(void (*add)(const uint8_t *, size_t));
static const char *kw_seed_dir;
static unsigned kw_seed_count;

static void kw_write_seed(const uint8_t *d, size_t n)
{
    char path[4096];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/seed-%u", kw_seed_dir, kw_seed_count++);
    fp = fopen(path, "wb");
    if (fp == NULL || fwrite(d, 1, n, fp) != n || fclose(fp) != 0) {
        fprintf(stderr, "cannot write seed %s\n", path);
        exit(1);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    kw_seed_dir = getenv("KW_FUZZ_WRITE_SEEDS");
    if (kw_seed_dir != NULL && kw_seed_dir[0] != '\0') {
        (void)mkdir(kw_seed_dir, 0700);
        kw_fuzz_seeds(kw_write_seed);
    }
    return 0;
}
#else
#define KW_FUZZ_MAX_SEEDS 32
#define KW_FUZZ_MAX_LEN 4096

static struct {
    uint8_t data[KW_FUZZ_MAX_LEN];
    size_t len;
} kw_seeds[KW_FUZZ_MAX_SEEDS];
static size_t kw_nseeds;
static uint64_t kw_rng = 0x9e3779b97f4a7c15u;

static uint32_t kw_next(void)
{
    kw_rng ^= kw_rng << 13;
    kw_rng ^= kw_rng >> 7;
    kw_rng ^= kw_rng << 17;
    return (uint32_t)kw_rng;
}

static void kw_add_seed(const uint8_t *d, size_t n)
{
    if (kw_nseeds < KW_FUZZ_MAX_SEEDS && n <= KW_FUZZ_MAX_LEN) {
        memcpy(kw_seeds[kw_nseeds].data, d, n);
        kw_seeds[kw_nseeds++].len = n;
    }
}

static void kw_fuzz_seeds(void (*add)(const uint8_t *, size_t));

int main(int argc, char **argv)
{
    static uint8_t buf[KW_FUZZ_MAX_LEN];
    long iterations = argc > 1 ? atol(argv[1]) : 100000;

    kw_fuzz_seeds(kw_add_seed);
    if (kw_nseeds == 0) {
        fprintf(stderr, "no seeds\n");
        return 1;
    }
    for (size_t i = 0; i < kw_nseeds; i++) { /* the seeds themselves */
        LLVMFuzzerTestOneInput(kw_seeds[i].data, kw_seeds[i].len);
    }
    for (long it = 0; it < iterations; it++) {
        const size_t s = kw_next() % kw_nseeds;
        size_t len = kw_seeds[s].len;
        memcpy(buf, kw_seeds[s].data, len);
        for (uint32_t m = 1 + kw_next() % 4; m > 0 && len > 0; m--) {
            size_t at = kw_next() % len;
            switch (kw_next() % 6) {
            case 0:
                buf[at] ^= (uint8_t)(1u << (kw_next() % 8));
                break;
            case 1:
                buf[at] = (uint8_t)kw_next();
                break;
            case 2:
                buf[at] = (uint8_t)(kw_next() % 2 ? 0x00 : 0xff);
                break;
            case 3:
                len = at;
                break; /* truncate */
            case 4:    /* extend with noise */
                for (size_t n = kw_next() % 64; n > 0 && len < sizeof(buf); n--) {
                    buf[len++] = (uint8_t)kw_next();
                }
                break;
            default: { /* splice a piece of another seed */
                const size_t o = kw_next() % kw_nseeds;
                size_t from = kw_seeds[o].len ? kw_next() % kw_seeds[o].len : 0;
                size_t n = kw_next() % 32;
                if (from + n > kw_seeds[o].len) {
                    n = kw_seeds[o].len - from;
                }
                if (at + n > sizeof(buf)) {
                    n = sizeof(buf) - at;
                }
                memcpy(buf + at, kw_seeds[o].data + from, n);
                if (at + n > len) {
                    len = at + n;
                }
            }
            }
        }
        LLVMFuzzerTestOneInput(buf, len);
    }
    printf("%s: %ld mutated inputs from %zu seeds: 1 passed, 0 failed\n", argv[0], iterations,
           kw_nseeds);
    return 0;
}
#endif
#endif
