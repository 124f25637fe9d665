# tools/mockxen/mockxen.mk — included by the top-level Makefile.
#
# The daemon: every tools/mockxen/*.c except main.c goes into libmockxen.a (so unit tests
# can link the pieces), main.c makes the `mockxen` program. Unit tests named
# tests/unit/test_mockxen_*.c link libmockxen.a as well.
# The shim libraries (tools/mockxen/shim/) are built once, without sanitizers, into
# build/shim/: they are loaded by programs that are not ours (Debian's QEMU) too. Each
# is its .c file(s) plus shim/client.c and wire.c, with a version script giving the
# symbol version nodes of Debian's library. Programs that use the Xen APIs like a
# device model would (the null DM, the test client) are built against the REAL
# libraries and pointed at the shims with LD_LIBRARY_PATH at run time.

MX_DIR  := tools/mockxen
MX_SRCS := $(filter-out $(MX_DIR)/main.c,$(wildcard $(MX_DIR)/*.c))

# ---- shim libraries ---------------------------------------------------------------------
SHIM_CFLAGS := $(WARN) -g -O2 -D_GNU_SOURCE -I. -pthread -fPIC -fno-strict-aliasing
SHIM_COMMON := $(MX_DIR)/shim/client.c $(MX_DIR)/wire.c
SHIM_OBJ     = $(patsubst %.c,build/shim/obj/%.o,$(1))

build/shim/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(SHIM_CFLAGS) $(XEN_CFLAGS) -MMD -MP -c $< -o $@

# $(1) = library (xenctrl), $(2) = soname version (4.17), $(3) = own sources,
# $(4) = shim libraries it links against
define mockxen_shim
build/shim/lib$(1).so.$(2): $(call SHIM_OBJ,$(3) $(SHIM_COMMON)) $(MX_DIR)/shim/lib$(1).map $(4)
	@mkdir -p $$(dir $$@)
	$(Q)$$(CC) -shared -o $$@ -Wl,-soname,lib$(1).so.$(2) \
	    -Wl,--version-script=$(MX_DIR)/shim/lib$(1).map -Wl,-z,defs \
	    $(call SHIM_OBJ,$(3) $(SHIM_COMMON)) $(4) -pthread
SHIM_LIBS += build/shim/lib$(1).so.$(2)
endef

SHIM_TOOLCORE := build/shim/libxentoolcore.so.1
$(eval $(call mockxen_shim,xentoolcore,1,$(MX_DIR)/shim/toolcore.c,))
$(eval $(call mockxen_shim,xenctrl,4.17,$(MX_DIR)/shim/ctrl.c,$(SHIM_TOOLCORE)))
$(eval $(call mockxen_shim,xenforeignmemory,1,$(MX_DIR)/shim/foreignmemory.c,$(SHIM_TOOLCORE)))
$(eval $(call mockxen_shim,xendevicemodel,1,$(MX_DIR)/shim/devicemodel.c,$(SHIM_TOOLCORE)))
$(eval $(call mockxen_shim,xenevtchn,1,$(MX_DIR)/shim/evtchn.c,$(SHIM_TOOLCORE)))
$(eval $(call mockxen_shim,xengnttab,1,$(MX_DIR)/shim/gnttab.c,$(SHIM_TOOLCORE)))

.PHONY: mockxen-shims
mockxen-shims: $(SHIM_LIBS)

# ---- daemon, null device model, test client, unit tests -----------------------------------
# $(1) = variant
define mockxen_variant
build/$(1)/libmockxen.a: $(patsubst %.c,build/$(1)/%.o,$(MX_SRCS))
	@mkdir -p $$(dir $$@)
	$(Q)rm -f $$@ && ar rcs $$@ $$^

build/$(1)/$(MX_DIR)/mockxen: build/$(1)/$(MX_DIR)/main.o build/$(1)/libmockxen.a build/$(1)/libutil.a
	$(Q)$$(CC) $$(CFLAGS_$(1)) $$(LDFLAGS_$(1)) -o $$@ $$^ -lpthread -lm

build/$(1)/$(MX_DIR)/mockxen-null-dm: build/$(1)/$(MX_DIR)/nulldm/null_dm.o
	$(Q)$$(CC) $$(CFLAGS_$(1)) $$(LDFLAGS_$(1)) -o $$@ $$^ $$(XEN_LIBS) -lxengnttab -lpthread

build/$(1)/tests/mockxen-client/mxclient: $(patsubst %.c,build/$(1)/%.o,$(wildcard tests/mockxen-client/*.c))
	$(Q)$$(CC) $$(CFLAGS_$(1)) $$(LDFLAGS_$(1)) -o $$@ $$^ $$(XEN_LIBS) -lxengnttab -lpthread

MX_UNIT_$(1) := $(patsubst tests/unit/%.c,build/$(1)/tests/unit/%,$(wildcard tests/unit/test_mockxen_*.c))
build/$(1)/tests/unit/test_mockxen_%: build/$(1)/tests/unit/test_mockxen_%.o build/$(1)/tests/unit/support.o build/$(1)/libmockxen.a $$(LIBS_$(1))
	$(Q)$$(CC) $$(CFLAGS_$(1)) $$(LDFLAGS_$(1)) -o $$@ $$(filter-out %.a,$$^) \
	    $$(filter %.a,$$^) -lcmocka $$(SYS_LIBS) -lpthread -lm

# The devicemodel and gnttab shims are linked into their own unit tests, next to the daemon it talks to
# (and compiled like the daemon, sanitizers included).
build/$(1)/tests/unit/test_mockxen_shim_devicemodel: \
    $(patsubst %.c,build/$(1)/%.o,$(addprefix $(MX_DIR)/shim/,devicemodel.c client.c toolcore.c))
build/$(1)/tests/unit/test_mockxen_shim_gnttab: \
    $(patsubst %.c,build/$(1)/%.o,$(addprefix $(MX_DIR)/shim/,gnttab.c client.c toolcore.c))

mockxen-$(1):: $(if $(wildcard $(MX_DIR)/main.c),build/$(1)/$(MX_DIR)/mockxen) \
	$(if $(wildcard $(MX_DIR)/nulldm/null_dm.c),build/$(1)/$(MX_DIR)/mockxen-null-dm) \
	$(if $(wildcard tests/mockxen-client/mxclient.c),build/$(1)/tests/mockxen-client/mxclient) \
	$$(MX_UNIT_$(1)) $(SHIM_LIBS)
endef

$(eval $(call mockxen_variant,rel))
$(eval $(call mockxen_variant,asan))
