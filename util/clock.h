/*
 * util/clock.h — the monotonic clock in nanoseconds, for the event loop's budgets and
 * deadlines. Not affected by changes to the wall clock; never goes back.
 */
#ifndef XENDM_UTIL_CLOCK_H
#define XENDM_UTIL_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t clock_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t clock_monotonic_ms(void)
{
    return clock_monotonic_ns() / 1000000u;
}

#endif
