# tools/mockxen/mockxen.mk — included by the top-level Makefile.
#
# The daemon: every tools/mockxen/*.c except main.c (and the files for other
# architectures, NOT_FOR_<variant> in the Makefile) goes into libmockxen.a (so unit tests
# can link the pieces), main.c makes the `mockxen` program. Unit tests named
# tests/unit/test_mockxen_*.c link libmockxen.a as well.
# The shim libraries (tools/mockxen/shim/) are built once per architecture, without
# sanitizers, into build/shim/ (build/arm64/shim/ for arm64): they are loaded by
# programs that are not ours (Debian's QEMU) too. Each
# is its .c file(s) plus shim/client.c and wire.c, with a version script giving the
# symbol version nodes of Debian's library. Programs that use the Xen APIs like a
# device model would (the null DM, the test client) are built against the REAL
# libraries and pointed at the shims with LD_LIBRARY_PATH at run time.

MX_DIR  := tools/mockxen

# ---- shim libraries ---------------------------------------------------------------------
SHIM_CFLAGS := $(WARN) -g -O2 -D_GNU_SOURCE -I. -pthread -fPIC -fno-strict-aliasing
SHIM_COMMON := $(MX_DIR)/shim/client.c $(MX_DIR)/wire.c
SHIM_DIR_rel   := build/shim
SHIM_DIR_asan  := build/shim
SHIM_DIR_arm64 := build/arm64/shim
SHIM_OBJ        = $(patsubst %.c,$(SHIM_DIR_$(1))/obj/%.o,$(2))

# $(1) = the variant whose tools build them (rel: the host's shims; arm64),
# $(2) = library (xenctrl), $(3) = soname version (4.17), $(4) = own sources,
# $(5) = shim libraries it links against
define mockxen_shim
$(SHIM_DIR_$(1))/lib$(2).so.$(3): $(call SHIM_OBJ,$(1),$(4) $(SHIM_COMMON)) $(MX_DIR)/shim/lib$(2).map $(5)
	@mkdir -p $$(dir $$@)
	$(Q)$$(CC_$(1)) -shared -o $$@ -Wl,-soname,lib$(2).so.$(3) \
	    -Wl,--version-script=$(MX_DIR)/shim/lib$(2).map -Wl,-z,defs \
	    $(call SHIM_OBJ,$(1),$(4) $(SHIM_COMMON)) $(5) -pthread
SHIM_LIBS_$(1) += $(SHIM_DIR_$(1))/lib$(2).so.$(3)
endef

# $(1) = variant
define mockxen_shims
$(SHIM_DIR_$(1))/obj/%.o: %.c | $$(FIRST_$(1))
	@mkdir -p $$(dir $$@)
	$(Q)$$(CC_$(1)) $(SHIM_CFLAGS) $$(XEN_CFLAGS_$(1)) -MMD -MP -c $$< -o $$@

SHIM_TOOLCORE_$(1) := $(SHIM_DIR_$(1))/libxentoolcore.so.1
$$(eval $$(call mockxen_shim,$(1),xentoolcore,1,$(MX_DIR)/shim/toolcore.c,))
$$(eval $$(call mockxen_shim,$(1),xenctrl,4.17,$(MX_DIR)/shim/ctrl.c,$$(SHIM_TOOLCORE_$(1))))
$$(eval $$(call mockxen_shim,$(1),xenforeignmemory,1,$(MX_DIR)/shim/foreignmemory.c,$$(SHIM_TOOLCORE_$(1))))
$$(eval $$(call mockxen_shim,$(1),xendevicemodel,1,$(MX_DIR)/shim/devicemodel.c,$$(SHIM_TOOLCORE_$(1))))
$$(eval $$(call mockxen_shim,$(1),xenevtchn,1,$(MX_DIR)/shim/evtchn.c,$$(SHIM_TOOLCORE_$(1))))
$$(eval $$(call mockxen_shim,$(1),xengnttab,1,$(MX_DIR)/shim/gnttab.c,$$(SHIM_TOOLCORE_$(1))))
endef

$(eval $(call mockxen_shims,rel))
$(eval $(call mockxen_shims,arm64))
SHIM_LIBS_asan := $(SHIM_LIBS_rel)
SHIM_LIBS      := $(SHIM_LIBS_rel)

.PHONY: mockxen-shims
mockxen-shims: $(SHIM_LIBS)

# ---- daemon, null device model, test client, unit tests -----------------------------------
# $(1) = variant
define mockxen_variant
MX_SRCS_$(1) := $(filter-out $(MX_DIR)/main.c $(NOT_FOR_$(1)),$(wildcard $(MX_DIR)/*.c))
build/$(1)/libmockxen.a: $$(patsubst %.c,build/$(1)/%.o,$$(MX_SRCS_$(1)))
	@mkdir -p $$(dir $$@)
	$(Q)rm -f $$@ && $$(AR_$(1)) rcs $$@ $$^

build/$(1)/$(MX_DIR)/mockxen: build/$(1)/$(MX_DIR)/main.o build/$(1)/libmockxen.a build/$(1)/libutil.a
	$(Q)$$(CC_$(1)) $$(CFLAGS_$(1)) $$(LDFLAGS_$(1)) -o $$@ $$^ -lpthread -lm

build/$(1)/$(MX_DIR)/mockxen-null-dm: build/$(1)/$(MX_DIR)/nulldm/null_dm.o
	$(Q)$$(CC_$(1)) $$(CFLAGS_$(1)) $$(LDFLAGS_$(1)) -o $$@ $$^ $$(XEN_LIBS_$(1)) -lxengnttab -lpthread

build/$(1)/tests/mockxen-client/mxclient: $(patsubst %.c,build/$(1)/%.o,$(wildcard tests/mockxen-client/*.c))
	$(Q)$$(CC_$(1)) $$(CFLAGS_$(1)) $$(LDFLAGS_$(1)) -o $$@ $$^ $$(XEN_LIBS_$(1)) -lxengnttab -lpthread

MX_UNIT_$(1) := $(filter $(UNIT_$(1)),$(patsubst tests/unit/%.c,build/$(1)/tests/unit/%,$(wildcard tests/unit/test_mockxen_*.c)))
build/$(1)/tests/unit/test_mockxen_%: build/$(1)/tests/unit/test_mockxen_%.o build/$(1)/tests/unit/support.o build/$(1)/libmockxen.a $$(LIBS_$(1))
	$(Q)$$(CC_$(1)) $$(CFLAGS_$(1)) $$(LDFLAGS_$(1)) -o $$@ $$(filter-out %.a,$$^) \
	    $$(filter %.a,$$^) -lcmocka $$(SYS_LIBS_$(1)) -lpthread -lm

# The devicemodel and gnttab shims are linked into their own unit tests, next to the daemon it talks to
# (and compiled like the daemon, sanitizers included).
build/$(1)/tests/unit/test_mockxen_shim_devicemodel: \
    $(patsubst %.c,build/$(1)/%.o,$(addprefix $(MX_DIR)/shim/,devicemodel.c client.c toolcore.c))
build/$(1)/tests/unit/test_mockxen_shim_gnttab: \
    $(patsubst %.c,build/$(1)/%.o,$(addprefix $(MX_DIR)/shim/,gnttab.c client.c toolcore.c))

MX_PROGRAMS_$(1) := $(if $(wildcard $(MX_DIR)/main.c),build/$(1)/$(MX_DIR)/mockxen) \
	$(if $(wildcard $(MX_DIR)/nulldm/null_dm.c),build/$(1)/$(MX_DIR)/mockxen-null-dm) \
	$(if $(wildcard tests/mockxen-client/mxclient.c),build/$(1)/tests/mockxen-client/mxclient)
mockxen-$(1):: $$(MX_PROGRAMS_$(1)) $$(MX_UNIT_$(1)) $$(SHIM_LIBS_$(1))
endef

$(foreach v,$(VARIANTS),$(eval $(call mockxen_variant,$(v))))
