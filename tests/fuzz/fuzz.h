/*
 * tests/fuzz/fuzz.h — the contract of a fuzz target.
 *
 * Each tests/fuzz/fuzz_*.c defines LLVMFuzzerTestOneInput() and nothing else global,
 * and may use the helpers of tests/fuzz/support.h. `make test` links it with
 * tests/fuzz/driver.c, which replays its seeds (tests/fuzz/corpus/<target>/) and feeds
 * it seeded random inputs under ASan+UBSan (a smoke run); `make fuzz` links it with
 * clang's libFuzzer for coverage-guided runs from those seeds. A target must never
 * crash, leak or trip a sanitizer, whatever the bytes: they stand for what a hostile
 * guest controls.
 */
#ifndef XENDM_FUZZ_H
#define XENDM_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
