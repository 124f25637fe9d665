# tests/xs-server/xs-server.mk — included by the top-level Makefile, after
# tools/mockxen/mockxen.mk.
#
# Build glue for mockxen's xenstore (tools/mockxen/xs_*.c) on its own:
#   - xs-serve (tests/xs-server/xs_serve.c): the server alone, which
#     tests/integration/mockxen_xenstore.sh drives with Debian's xenstore-utils;
#   - the link of its unit tests test_mockxen_xs_*: of mockxen only the xenstore
#     objects and the array helper they use, grow.c (so they build whatever state the
#     rest of mockxen is in); the xendm libraries tests/unit/support.o draws on; for
#     the server test, the real libxenstore it uses as the client. These explicit rules
#     take precedence over mockxen.mk's pattern rule for test_mockxen_%.

XS_OBJ_SRCS := $(wildcard tools/mockxen/xs_*.c) tools/mockxen/grow.c
XS_UNIT     := $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/test_mockxen_xs_*.c))

# $(1) = variant
define xs_variant
XS_OBJS_$(1) := $(patsubst %.c,build/$(1)/%.o,$(XS_OBJ_SRCS))
XS_SERVE_$(1) := build/$(1)/tests/xs-server/xs-serve

build/$(1)/tests/xs-server/xs-serve: build/$(1)/tests/xs-server/xs_serve.o $$(XS_OBJS_$(1)) build/$(1)/libutil.a
	@mkdir -p $$(dir $$@)
	$(Q)$$(CC_$(1)) $$(CFLAGS_$(1)) $$(LDFLAGS_$(1)) -o $$@ $$^ -lpthread
endef

# $(1) = variant, $(2) = test name
define xs_unit_rule
build/$(1)/tests/unit/$(2): build/$(1)/tests/unit/$(2).o build/$(1)/tests/unit/support.o $$(XS_OBJS_$(1)) $$(LIBS_$(1))
	$(Q)$$(CC_$(1)) $$(CFLAGS_$(1)) $$(LDFLAGS_$(1)) -o $$@ $$^ -lcmocka $$(shell $$(PKG_CONFIG_$(1)) --libs xenstore) $$(SYS_LIBS_$(1)) -lpthread
endef

$(foreach v,$(VARIANTS),$(eval $(call xs_variant,$(v))))
$(foreach v,$(VARIANTS),$(foreach t,$(XS_UNIT),$(eval $(call xs_unit_rule,$(v),$(t)))))

# The integration test needs xs-serve built with the rest of the test binaries.
test-build: build/asan/tests/xs-server/xs-serve
