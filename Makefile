# xendm — top-level build.
#
# Three build variants live side by side:
#   build/rel   optimised, what `make`, `make bench` and `make demo` use;
#   build/asan  the same sources under AddressSanitizer + UBSan, what `make test` uses;
#   build/arm64 cross-compiled for arm64 (`make ARCH=arm64`), optimised, without
#               sanitizers; `make test` runs its tests under qemu-user (see below).
# Each top-level module (util/, memory/, mapcache/, block/, devices/, xen/, sandbox/) is a static
# library built from every .c file in its folder; dm/ links them into the `xendm` program. tools/mockxen
# brings its own rules in tools/mockxen/mockxen.mk. Unit tests are tests/unit/test_*.c
# (cmocka, one binary each); integration tests are tests/integration/*.sh; benchmarks are
# bench/bench_*.c (one binary each) and bench/*.sh.

CC       ?= gcc
V        ?= 0
Q        := $(if $(filter 1,$(V)),,@)

# Libraries by pkg-config name: Xen's, and what the modules need besides (block/:
# liburing; sandbox/: libseccomp). Each variant asks its own pkg-config
# (PKG_CONFIG_<variant>).
XEN_PKGS := xencontrol xenforeignmemory xendevicemodel xenevtchn xengnttab xenstore xentoolcore
SYS_PKGS := liburing libseccomp

WARN     := -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
            -Wmissing-prototypes -Wstrict-prototypes -Wformat=2 -Wvla
BASE_CFLAGS := $(WARN) -g -D_GNU_SOURCE -I. -pthread -fno-strict-aliasing
SAN      := -fsanitize=address,undefined -fno-omit-frame-pointer \
            -fno-sanitize-recover=undefined

CFLAGS_rel  := $(BASE_CFLAGS) -O2
CFLAGS_asan := $(BASE_CFLAGS) -O1 $(SAN)
LDFLAGS_rel :=
LDFLAGS_asan := $(SAN)

# ---- the arm64 cross build -----------------------------------------------------------
# Debian's cross toolchain (gcc-aarch64-linux-gnu) against Debian's arm64 libraries,
# unpacked into build/arm64/sysroot by scripts/arm64-sysroot.sh (libxen-dev is not
# Multi-Arch: same, so it is not installed on the host). No sanitizers: ASan does not
# work under qemu-user. build/arm64/qemu/P runs build/arm64/P under qemu-user with the
# sysroot as its library root, without binfmt_misc; `make test` runs those.
ARCH ?= amd64
ARM64_SYSROOT := $(CURDIR)/build/arm64/sysroot
ARM64_LIBDIRS := $(ARM64_SYSROOT)/usr/lib/aarch64-linux-gnu $(ARM64_SYSROOT)/lib/aarch64-linux-gnu
CC_arm64      := aarch64-linux-gnu-gcc
AR_arm64      := aarch64-linux-gnu-ar
LD_arm64      := aarch64-linux-gnu-ld
PKG_CONFIG_arm64 := PKG_CONFIG_SYSROOT_DIR=$(ARM64_SYSROOT) \
    PKG_CONFIG_LIBDIR=$(ARM64_SYSROOT)/usr/lib/aarch64-linux-gnu/pkgconfig:$(ARM64_SYSROOT)/usr/share/pkgconfig pkg-config
# The sysroot's headers are system headers, as the host's are (GCC then drops the
# same folder from pkg-config's -I).
CFLAGS_arm64  := $(BASE_CFLAGS) -O2 -isystem $(ARM64_SYSROOT)/usr/include
LDFLAGS_arm64 := $(foreach d,$(ARM64_LIBDIRS),-L$(d) -Wl,-rpath-link,$(d))
FIRST_arm64   := $(ARM64_SYSROOT)/.packages
QEMU_ARM64    := qemu-aarch64-static

# Sources for x86-64 only: mockxen's KVM guests run x86 code (tools/mockxen/kvm_guest.h)
# and their tests with them. Elsewhere kvm_absent.c says KVM guests are unavailable.
# test_sandbox.c too: its children make raw x86-64 system calls (fork, open), and
# qemu-user refuses seccomp filters (PR_SET_SECCOMP), so it cannot run there anyway.
X86_ONLY_SRCS := tools/mockxen/kvm_vcpu.c tools/mockxen/kvm_exit.c \
                 tests/unit/test_mockxen_kvm_exit.c tests/unit/test_mockxen_kvm_vcpu.c \
                 tests/unit/test_sandbox.c
NON_X86_SRCS  := tools/mockxen/kvm_absent.c
NOT_FOR_rel   := $(NON_X86_SRCS)
NOT_FOR_asan  := $(NON_X86_SRCS)
NOT_FOR_arm64 := $(X86_ONLY_SRCS)

MODULES  := util memory mapcache block devices xen sandbox
# Link order: later modules depend on earlier ones.
LINK_ORDER := xen devices block mapcache memory sandbox util

.PRECIOUS: build/%.o
.DELETE_ON_ERROR:

# What fuzz targets link besides their own file: the helpers of tests/fuzz/ and dm/
# without its main().
FUZZ_HELPERS := $(filter-out tests/fuzz/fuzz_% tests/fuzz/driver.c,$(wildcard tests/fuzz/*.c))
DM_LIB_SRCS  := $(filter-out dm/main.c,$(wildcard dm/*.c))

# The xendm program exists once dm/ has sources.
XENDM_rel  := $(if $(wildcard dm/*.c),build/rel/xendm)
XENDM_asan := $(if $(wildcard dm/*.c),build/asan/xendm)
XENDM_arm64 := $(if $(wildcard dm/*.c),build/arm64/xendm)

.PHONY: fuzz all deps test unit-test integration-test bench demo clean help arm64
ifeq ($(ARCH),arm64)
all: arm64
else
all: $(XENDM_rel) build/rel/xendm-ctl mockxen-rel
endif

help:
	@echo "make          build xendm, xendm-ctl and mockxen (optimised, build/rel)"
	@echo "make ARCH=arm64  cross-compile them and the tests for arm64 (build/arm64)"
	@echo "make test     install missing packages (as root), build under ASan+UBSan, run every test"
	@echo "make bench    build optimised and print the benchmark table"
	@echo "make demo     start mockxen and xendm, run a guest, show what happened"
	@echo "make deps     only install (or name) the missing Debian packages"
	@echo "make fuzz     coverage-guided fuzzing with clang's libFuzzer, every target in turn"
	@echo "              (FUZZ_SECONDS=60 each, or FUZZ_RUNS=N executions each)"

deps:
	$(Q)scripts/deps.sh

# Unit tests that inject allocation failures (test_oom_arm in tests/unit/support.h)
# route the allocator through support.c's wrappers with ld --wrap: the code under test
# is the same objects, unchanged.
UNIT_OOM_TESTS := test_block_errors test_flatview_random test_mapcache test_memory_region \
                  test_ram_random
$(foreach t,$(UNIT_OOM_TESTS),$(eval UNIT_LDFLAGS_$(t) := \
    -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=aligned_alloc))
# test_block_host_op stands in for pwritev2 and fdatasync the same way.
UNIT_LDFLAGS_test_block_host_op := -Wl,--wrap=pwritev2,--wrap=fdatasync

# ---- per-variant rules --------------------------------------------------------------
# $(1) = variant name (rel|asan|arm64). Native variants use the host's tools.
define variant_rules
CC_$(1) ?= $$(CC)
AR_$(1) ?= ar
LD_$(1) ?= ld
PKG_CONFIG_$(1) ?= pkg-config
XEN_CFLAGS_$(1) = $$(shell $$(PKG_CONFIG_$(1)) --cflags $$(XEN_PKGS) 2>/dev/null)
XEN_LIBS_$(1)   = $$(shell $$(PKG_CONFIG_$(1)) --libs $$(XEN_PKGS) 2>/dev/null)
SYS_LIBS_$(1)   = $$(shell $$(PKG_CONFIG_$(1)) --libs $$(SYS_PKGS) 2>/dev/null)
EXT_LIBS_$(1)   = $$(XEN_LIBS_$(1)) $$(SYS_LIBS_$(1))
$(foreach m,$(MODULES),$(eval $(call module_rules,$(1),$(m))))

build/$(1)/%.o: %.c | $$(FIRST_$(1))
	@mkdir -p $$(dir $$@)
	$(Q)$$(CC_$(1)) $$(CFLAGS_$(1)) $$(XEN_CFLAGS_$(1)) -MMD -MP -c $$< -o $$@

LIBS_$(1) := $(foreach m,$(LINK_ORDER),build/$(1)/lib$(m).a)

build/$(1)/xendm: $(patsubst %.c,build/$(1)/%.o,$(wildcard dm/*.c)) $$(LIBS_$(1))
	@mkdir -p $$(dir $$@)
	$(Q)$$(CC_$(1)) $$(CFLAGS_$(1)) $$(LDFLAGS_$(1)) -o $$@ $$^ $$(EXT_LIBS_$(1)) -lm

# The control client needs nothing but libc.
build/$(1)/xendm-ctl: build/$(1)/tools/xendm-ctl.o
	$(Q)$$(CC_$(1)) $$(CFLAGS_$(1)) $$(LDFLAGS_$(1)) -o $$@ $$<

UNIT_$(1) := $(patsubst tests/unit/%.c,build/$(1)/tests/unit/%,$(filter-out $(NOT_FOR_$(1)),$(wildcard tests/unit/test_*.c)))
build/$(1)/tests/unit/%: build/$(1)/tests/unit/%.o build/$(1)/tests/unit/support.o $$(LIBS_$(1))
	$(Q)$$(CC_$(1)) $$(CFLAGS_$(1)) $$(LDFLAGS_$(1)) $$(UNIT_LDFLAGS_$$*) -o $$@ $$< build/$(1)/tests/unit/support.o $$(LIBS_$(1)) -lcmocka $$(EXT_LIBS_$(1)) -lm
# A unit test of dm/ pieces that need no Xen also links those objects.
UNIT_DM_OBJS_$(1) := build/$(1)/dm/xenstore_device_spec.o build/$(1)/dm/machines.o
build/$(1)/tests/unit/test_xenstore_devices: $$(UNIT_DM_OBJS_$(1))
build/$(1)/tests/unit/test_xenstore_devices: UNIT_LDFLAGS_test_xenstore_devices := $$(UNIT_DM_OBJS_$(1))

# Small programs that drive xen/ against mockxen for integration tests.
XENCHECK_$(1) := $(patsubst tests/xen-check/%.c,build/$(1)/tests/xen-check/%,$(wildcard tests/xen-check/*.c))
build/$(1)/tests/xen-check/%: build/$(1)/tests/xen-check/%.o $$(LIBS_$(1))
	$(Q)$$(CC_$(1)) $$(CFLAGS_$(1)) $$(LDFLAGS_$(1)) -o $$@ $$< $$(LIBS_$(1)) $$(EXT_LIBS_$(1)) -lm

# Fuzz targets with the seeded random driver (make test); make fuzz builds libFuzzer ones.
# They link dm/ too (the control protocol, the options), from libdm.a: all but main().
FUZZ_$(1) := $(patsubst tests/fuzz/%.c,build/$(1)/tests/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SUPPORT_$(1) := build/$(1)/tests/fuzz/driver.o $(patsubst %.c,build/$(1)/%.o,$(FUZZ_HELPERS))
build/$(1)/libdm.a: $(patsubst %.c,build/$(1)/%.o,$(DM_LIB_SRCS))
	$(Q)rm -f $$@ && $$(AR_$(1)) rcs $$@ $$^
build/$(1)/tests/fuzz/%: build/$(1)/tests/fuzz/%.o $$(FUZZ_SUPPORT_$(1)) build/$(1)/libdm.a $$(LIBS_$(1))
	$(Q)$$(CC_$(1)) $$(CFLAGS_$(1)) $$(LDFLAGS_$(1)) -o $$@ $$< $$(FUZZ_SUPPORT_$(1)) build/$(1)/libdm.a $$(LIBS_$(1)) $$(EXT_LIBS_$(1)) -lm

BENCH_$(1) := $(patsubst bench/%.c,build/$(1)/bench/%,$(wildcard bench/bench_*.c))
build/$(1)/bench/%: build/$(1)/bench/%.o build/$(1)/bench/support.o $$(LIBS_$(1))
	$(Q)$$(CC_$(1)) $$(CFLAGS_$(1)) $$(LDFLAGS_$(1)) -o $$@ $$< build/$(1)/bench/support.o $$(LIBS_$(1)) $$(EXT_LIBS_$(1)) -lm
endef

# $(1) = variant, $(2) = module
# Device types register themselves from constructors, which the linker would leave out
# of a program if their archive member is never referenced by name; so libdevices.a
# holds a single object merged with `ld -r`, linked in whole as soon as anything is used.
define module_rules
OBJS_$(1)_$(2) := $(patsubst %.c,build/$(1)/%.o,$(wildcard $(2)/*.c))
build/$(1)/lib$(2).a: $$(OBJS_$(1)_$(2))
	@mkdir -p $$(dir $$@)
	$(Q)rm -f $$@ && $(if $(filter devices,$(2)),$$(LD_$(1)) -r -o $$@.o $$^ && $$(AR_$(1)) rcs $$@ $$@.o,$$(AR_$(1)) rcs $$@ $$^)
endef

VARIANTS := rel asan arm64
$(foreach v,$(VARIANTS),$(eval $(call variant_rules,$(v))))

-include tools/mockxen/mockxen.mk
-include tests/xs-server/xs-server.mk
-include tests/guests/guests.mk
mockxen-rel mockxen-asan mockxen-arm64::

# Everything for arm64, and a qemu-user wrapper for each program.
ARM64_PROGRAMS := $(XENDM_arm64) build/arm64/xendm-ctl $(UNIT_arm64) $(MX_PROGRAMS_arm64) \
                  $(XS_SERVE_arm64)
arm64: $(ARM64_PROGRAMS) $(patsubst build/arm64/%,build/arm64/qemu/%,$(ARM64_PROGRAMS)) \
       $(SHIM_LIBS_arm64)

$(ARM64_SYSROOT)/.packages: scripts/arm64-sysroot.sh
	$(Q)scripts/arm64-sysroot.sh $(ARM64_SYSROOT)

build/arm64/qemu/%: build/arm64/%
	@mkdir -p $(dir $@)
	$(Q)printf '#!/bin/sh\n# %s under qemu-user, with the arm64 sysroot as its library root\nexec %s -L %s %s "$$@"\n' \
	    $< $(QEMU_ARM64) $(ARM64_SYSROOT) $(CURDIR)/$< >$@ && chmod +x $@

# ---- test, bench, demo ---------------------------------------------------------------
# The arm64 part is built and run where scripts/arm64-ready.sh finds the cross packages
# and the sysroot (deps installs them as root); elsewhere run-tests.sh says why not.
ARM64_TEST = $(if $(shell scripts/arm64-ready.sh),,arm64)

test: deps
	$(Q)$(MAKE) --no-print-directory test-build
	$(Q)XENDM_X86_ONLY="$(X86_ONLY_SRCS)" scripts/run-tests.sh build/asan build/rel build/arm64

test-build: $(UNIT_asan) $(FUZZ_asan) $(XENCHECK_asan) $(XENDM_asan) build/asan/xendm-ctl \
            mockxen-asan $(XENDM_rel) mockxen-rel $(ARM64_TEST)

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
#   make fuzz FUZZ_RUNS=1000000       a number of executions per target instead of a time
# The targets run one after the other. Each starts from its seeds
# (tests/fuzz/corpus/<target>/, copied to build/fuzz/corpus/<target>/, which the run
# grows: the repository's seeds stay as they are); crashes land in
# build/fuzz/artifacts/<target>/.
FUZZ_SECONDS ?= 60
FUZZ_RUNS    ?=
FUZZ_TARGETS ?= $(basename $(notdir $(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_LIMIT   := $(if $(FUZZ_RUNS),-runs=$(FUZZ_RUNS),-max_total_time=$(FUZZ_SECONDS))
fuzz:
	$(Q)command -v clang >/dev/null || { echo "make fuzz needs clang (apt-get install clang)"; exit 1; }
	$(Q)mkdir -p build/fuzz
	$(Q)for n in $(FUZZ_TARGETS); do \
	    clang $(WARN) -Wno-error -g -O1 -D_GNU_SOURCE -I. -pthread $(XEN_CFLAGS_rel) \
	        -fsanitize=fuzzer,address,undefined -o build/fuzz/$$n tests/fuzz/$$n.c \
	        $(FUZZ_HELPERS) $(DM_LIB_SRCS) \
	        $(foreach m,$(LINK_ORDER),$(wildcard $(m)/*.c)) $(EXT_LIBS_rel) -lm || exit 1; \
	    mkdir -p build/fuzz/corpus/$$n build/fuzz/artifacts/$$n; \
	    [ ! -d tests/fuzz/corpus/$$n ] || cp -n tests/fuzz/corpus/$$n/* build/fuzz/corpus/$$n/; \
	    echo "== $$n ($(FUZZ_LIMIT))"; \
	    build/fuzz/$$n $(FUZZ_LIMIT) -max_len=4096 \
	        -artifact_prefix=build/fuzz/artifacts/$$n/ build/fuzz/corpus/$$n || exit 1; \
	done

clean:
	rm -rf build

-include $(shell find build -path build/arm64/sysroot -prune -o -name '*.d' -type f -print 2>/dev/null)
