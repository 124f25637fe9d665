/* tests/unit/support.c — see support.h. */
#include "tests/unit/support.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

uint64_t test_seed(const char *test_name)
{
    const char *env = getenv("XENDM_TEST_SEED");
    uint64_t seed;
    if (env && *env) {
        seed = strtoull(env, NULL, 0);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid();
    }
    if (seed == 0)
        seed = 1;
    printf("# %s: seed %" PRIu64 " (replay with XENDM_TEST_SEED=%" PRIu64 ")\n",
           test_name, seed, seed);
    return seed;
}

uint64_t test_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

uint64_t test_rand_below(uint64_t *state, uint64_t n)
{
    return n ? test_rand(state) % n : 0;
}
