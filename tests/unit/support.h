/*
 * tests/unit/support.h — shared helpers for the cmocka unit tests.
 *
 * Every unit test binary includes this (it pulls in cmocka's prerequisites in the
 * right order) and links tests/unit/support.c.
 */
#ifndef XENDM_TEST_SUPPORT_H
#define XENDM_TEST_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* Seed for randomized tests: $XENDM_TEST_SEED if set, else time-based. Printed so a
 * failure can be replayed. */
uint64_t test_seed(const char *test_name);
/* xorshift64* PRNG; state must be non-zero. */
uint64_t test_rand(uint64_t *state);
/* Uniform in [0, n). */
uint64_t test_rand_below(uint64_t *state, uint64_t n);

#endif
