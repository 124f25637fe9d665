/* bench/support.c — see support.h. */
#include "bench/support.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

double bench_clock_ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

double bench_cpu_ns(void)
{
    return bench_clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

double bench_wall_ns(void)
{
    return bench_clock_ns(CLOCK_MONOTONIC);
}

uint64_t bench_rand(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

uint64_t bench_rand_below(uint64_t n)
{
    return bench_rand() % n;
}
