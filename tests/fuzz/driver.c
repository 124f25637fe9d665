/*
 * tests/fuzz/driver.c — run a fuzz target without libFuzzer.
 *
 * With file arguments, each file is one input (to replay a crash libFuzzer found).
 * Without, it runs $XENDM_FUZZ_RUNS (default 20000) random inputs of 0..1024 bytes from
 * a seeded generator ($XENDM_TEST_SEED to replay) and prints one TAP line.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "tests/fuzz/fuzz.h"

static uint64_t next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 1;
    }
    static uint8_t buf[1 << 20];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, n);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        int rc = 0;
        for (int i = 1; i < argc; i++)
            rc |= run_file(argv[i]);
        return rc;
    }
    const char *runs_env = getenv("XENDM_FUZZ_RUNS"), *seed_env = getenv("XENDM_TEST_SEED");
    unsigned long runs = runs_env ? strtoul(runs_env, NULL, 0) : 20000;
    uint64_t seed = seed_env ? strtoull(seed_env, NULL, 0) : (uint64_t)time(NULL);
    uint64_t s = seed ? seed : 1;
    static uint8_t buf[1024];
    for (unsigned long r = 0; r < runs; r++) {
        size_t len = next(&s) % (sizeof(buf) + 1);
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)next(&s);
        LLVMFuzzerTestOneInput(buf, len);
    }
    printf("ok 1 - %s: %lu random inputs (XENDM_TEST_SEED=%" PRIu64 ")\n1..1\n", argv[0], runs,
           seed);
    return 0;
}
