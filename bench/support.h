/*
 * bench/support.h — helpers shared by the bench/bench_*.c programs (linked into each,
 * as tests/unit/support.c is into the unit tests): clocks and a reproducible PRNG.
 */
#ifndef XENDM_BENCH_SUPPORT_H
#define XENDM_BENCH_SUPPORT_H

#include <stdint.h>
#include <time.h>

/* Nanoseconds on `clock`. */
double bench_clock_ns(clockid_t clock);
/* This thread's CPU time: what an operation costs, not how long other processes ran
 * (the benchmark machine is shared with builds and other benchmarks). */
double bench_cpu_ns(void);
/* Wall-clock (monotonic) time. */
double bench_wall_ns(void);

/* xorshift64* with a fixed seed, so every run of a benchmark sees the same sequence. */
uint64_t bench_rand(void);
/* Uniform in [0, n); n must be non-zero. */
uint64_t bench_rand_below(uint64_t n);

#endif
