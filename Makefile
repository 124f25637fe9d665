# xendm — top-level build.
#
# Two build variants live side by side:
#   build/rel   optimised, what `make`, `make bench` and `make demo` use;
#   build/asan  the same sources under AddressSanitizer + UBSan, what `make test` uses.
# Each top-level module (util/, memory/, mapcache/, block/, devices/, xen/, sandbox/) is a static
# library built from every .c file in its folder; dm/ links them into the `xendm` program. tools/mockxen
# brings its own rules in tools/mockxen/mockxen.mk. Unit tests are tests/unit/test_*.c
# (cmocka, one binary each); integration tests are tests/integration/*.sh; benchmarks are
# bench/bench_*.c (one binary each) and bench/*.sh.

CC       ?= gcc
V        ?= 0
Q        := $(if $(filter 1,$(V)),,@)

XEN_PKGS := xencontrol xenforeignmemory xendevicemodel xenevtchn xenstore xentoolcore
XEN_CFLAGS = $(shell pkg-config --cflags $(XEN_PKGS) 2>/dev/null)
XEN_LIBS   = $(shell pkg-config --libs $(XEN_PKGS) 2>/dev/null)
# What the modules need from the system besides Xen (block/: liburing; sandbox/:
# libseccomp), and everything.
SYS_LIBS   := -luring $(shell pkg-config --libs libseccomp 2>/dev/null || echo -lseccomp)
EXT_LIBS   = $(XEN_LIBS) $(SYS_LIBS)

WARN     := -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
            -Wmissing-prototypes -Wstrict-prototypes -Wformat=2 -Wvla
BASE_CFLAGS := $(WARN) -g -D_GNU_SOURCE -I. -pthread -fno-strict-aliasing
SAN      := -fsanitize=address,undefined -fno-omit-frame-pointer \
            -fno-sanitize-recover=undefined

CFLAGS_rel  := $(BASE_CFLAGS) -O2
CFLAGS_asan := $(BASE_CFLAGS) -O1 $(SAN)
LDFLAGS_rel :=
LDFLAGS_asan := $(SAN)

MODULES  := util memory mapcache block devices xen sandbox
# Link order: later modules depend on earlier ones.
LINK_ORDER := xen devices block mapcache memory sandbox util

.PRECIOUS: build/%.o
.DELETE_ON_ERROR:

# The xendm program exists once dm/ has sources.
XENDM_rel  := $(if $(wildcard dm/*.c),build/rel/xendm)
XENDM_asan := $(if $(wildcard dm/*.c),build/asan/xendm)

.PHONY: fuzz all deps test unit-test integration-test bench demo clean help
all: $(XENDM_rel) build/rel/xendm-ctl mockxen-rel

help:
	@echo "make          build xendm, xendm-ctl and mockxen (optimised, build/rel)"
	@echo "make test     install missing packages (as root), build under ASan+UBSan, run every test"
	@echo "make bench    build optimised and print the benchmark table"
	@echo "make demo     start mockxen and xendm, run a guest, show what happened"
	@echo "make deps     only install (or name) the missing Debian packages"
	@echo "make fuzz     coverage-guided fuzzing with clang's libFuzzer (FUZZ_SECONDS=60 per target)"

deps:
	$(Q)scripts/deps.sh

# Unit tests that inject allocation failures (test_oom_arm in tests/unit/support.h)
# route the allocator through support.c's wrappers with ld --wrap: the code under test
# is the same objects, unchanged.
UNIT_OOM_TESTS := test_block_errors test_flatview_random test_mapcache test_memory_region \
                  test_ram_random
$(foreach t,$(UNIT_OOM_TESTS),$(eval UNIT_LDFLAGS_$(t) := \
    -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=aligned_alloc))

# ---- per-variant rules --------------------------------------------------------------
# $(1) = variant name (rel|asan)
define variant_rules
$(foreach m,$(MODULES),$(eval $(call module_rules,$(1),$(m))))

build/$(1)/%.o: %.c
	@mkdir -p $$(dir $$@)
	$(Q)$$(CC) $$(CFLAGS_$(1)) $$(XEN_CFLAGS) -MMD -MP -c $$< -o $$@

LIBS_$(1) := $(foreach m,$(LINK_ORDER),build/$(1)/lib$(m).a)

build/$(1)/xendm: $(patsubst %.c,build/$(1)/%.o,$(wildcard dm/*.c)) $$(LIBS_$(1))
	@mkdir -p $$(dir $$@)
	$(Q)$$(CC) $$(CFLAGS_$(1)) $$(LDFLAGS_$(1)) -o $$@ $$^ $$(EXT_LIBS) -lm

# The control client needs nothing but libc.
build/$(1)/xendm-ctl: build/$(1)/tools/xendm-ctl.o
	$(Q)$$(CC) $$(CFLAGS_$(1)) $$(LDFLAGS_$(1)) -o $$@ $$<

UNIT_$(1) := $(patsubst tests/unit/%.c,build/$(1)/tests/unit/%,$(wildcard tests/unit/test_*.c))
build/$(1)/tests/unit/%: build/$(1)/tests/unit/%.o build/$(1)/tests/unit/support.o $$(LIBS_$(1))
	$(Q)$$(CC) $$(CFLAGS_$(1)) $$(LDFLAGS_$(1)) $$(UNIT_LDFLAGS_$$*) -o $$@ $$< build/$(1)/tests/unit/support.o $$(LIBS_$(1)) -lcmocka $$(EXT_LIBS) -lm
# A unit test of dm/ pieces that need no Xen also links those objects.
UNIT_DM_OBJS_$(1) := build/$(1)/dm/xenstore_device_spec.o build/$(1)/dm/machines.o
build/$(1)/tests/unit/test_xenstore_devices: $$(UNIT_DM_OBJS_$(1))
build/$(1)/tests/unit/test_xenstore_devices: UNIT_LDFLAGS_test_xenstore_devices := $$(UNIT_DM_OBJS_$(1))

# Small programs that drive xen/ against mockxen for integration tests.
XENCHECK_$(1) := $(patsubst tests/xen-check/%.c,build/$(1)/tests/xen-check/%,$(wildcard tests/xen-check/*.c))
build/$(1)/tests/xen-check/%: build/$(1)/tests/xen-check/%.o $$(LIBS_$(1))
	$(Q)$$(CC) $$(CFLAGS_$(1)) $$(LDFLAGS_$(1)) -o $$@ $$< $$(LIBS_$(1)) $$(EXT_LIBS) -lm

# Fuzz targets with the seeded random driver (make test); make fuzz builds libFuzzer ones.
FUZZ_$(1) := $(patsubst tests/fuzz/%.c,build/$(1)/tests/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SUPPORT_$(1) := build/$(1)/tests/fuzz/driver.o build/$(1)/tests/fuzz/support.o
build/$(1)/tests/fuzz/%: build/$(1)/tests/fuzz/%.o $$(FUZZ_SUPPORT_$(1)) $$(LIBS_$(1))
	$(Q)$$(CC) $$(CFLAGS_$(1)) $$(LDFLAGS_$(1)) -o $$@ $$< $$(FUZZ_SUPPORT_$(1)) $$(LIBS_$(1)) $$(EXT_LIBS) -lm

BENCH_$(1) := $(patsubst bench/%.c,build/$(1)/bench/%,$(wildcard bench/bench_*.c))
build/$(1)/bench/%: build/$(1)/bench/%.o build/$(1)/bench/support.o $$(LIBS_$(1))
	$(Q)$$(CC) $$(CFLAGS_$(1)) $$(LDFLAGS_$(1)) -o $$@ $$< build/$(1)/bench/support.o $$(LIBS_$(1)) $$(EXT_LIBS) -lm
endef

# $(1) = variant, $(2) = module
# Device types register themselves from constructors, which the linker would leave out
# of a program if their archive member is never referenced by name; so libdevices.a
# holds a single object merged with `ld -r`, linked in whole as soon as anything is used.
define module_rules
OBJS_$(1)_$(2) := $(patsubst %.c,build/$(1)/%.o,$(wildcard $(2)/*.c))
build/$(1)/lib$(2).a: $$(OBJS_$(1)_$(2))
	@mkdir -p $$(dir $$@)
	$(Q)rm -f $$@ && $(if $(filter devices,$(2)),ld -r -o $$@.o $$^ && ar rcs $$@ $$@.o,ar rcs $$@ $$^)
endef

$(eval $(call variant_rules,rel))
$(eval $(call variant_rules,asan))

-include tools/mockxen/mockxen.mk
-include tests/xs-server/xs-server.mk
-include tests/guests/guests.mk
mockxen-rel mockxen-asan::

# ---- test, bench, demo ---------------------------------------------------------------
test: deps
	$(Q)$(MAKE) --no-print-directory test-build
	$(Q)scripts/run-tests.sh build/asan build/rel

test-build: $(UNIT_asan) $(FUZZ_asan) $(XENCHECK_asan) $(XENDM_asan) build/asan/xendm-ctl \
            mockxen-asan $(XENDM_rel) mockxen-rel

unit-test: $(UNIT_asan)
	$(Q)scripts/run-tests.sh --unit-only build/asan build/rel

bench: deps
	$(Q)$(MAKE) --no-print-directory bench-build
	$(Q)scripts/run-bench.sh build/rel

bench-build: $(BENCH_rel) $(XENDM_rel) mockxen-rel

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/demo.sh build/rel

# Coverage-guided fuzzing with clang's libFuzzer (not part of make test):
#   make fuzz FUZZ_SECONDS=60 [FUZZ_TARGETS="fuzz_ioreq fuzz_virtio_blk"]
# Each target starts from its seeds (tests/fuzz/corpus/<target>/, copied to
# build/fuzz/corpus/<target>/, which the run grows: the repository's seeds stay as
# they are); crashes land in build/fuzz/artifacts/<target>/.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= $(basename $(notdir $(wildcard tests/fuzz/fuzz_*.c)))
fuzz:
	$(Q)command -v clang >/dev/null || { echo "make fuzz needs clang (apt-get install clang)"; exit 1; }
	$(Q)mkdir -p build/fuzz
	$(Q)for n in $(FUZZ_TARGETS); do \
	    clang $(WARN) -Wno-error -g -O1 -D_GNU_SOURCE -I. -pthread $(XEN_CFLAGS) \
	        -fsanitize=fuzzer,address,undefined -o build/fuzz/$$n tests/fuzz/$$n.c \
	        tests/fuzz/support.c \
	        $(foreach m,$(LINK_ORDER),$(wildcard $(m)/*.c)) $(EXT_LIBS) -lm || exit 1; \
	    mkdir -p build/fuzz/corpus/$$n build/fuzz/artifacts/$$n; \
	    [ ! -d tests/fuzz/corpus/$$n ] || cp -n tests/fuzz/corpus/$$n/* build/fuzz/corpus/$$n/; \
	    echo "== $$n ($(FUZZ_SECONDS) s)"; \
	    build/fuzz/$$n -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
	        -artifact_prefix=build/fuzz/artifacts/$$n/ build/fuzz/corpus/$$n || exit 1; \
	done

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
