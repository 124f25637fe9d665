# tests/guests/guests.mk — included by the top-level Makefile.
#
# The KVM test guests: each tests/guests/<name>.S that defines _start becomes a flat
# binary build/guests/<name>.bin, linked at 0x10000 (MX_KVM_LOAD_ADDR, where mockxen
# --kvm-guest loads and enters it) together with the shared helpers. The images are
# the same for every build variant, so they live outside build/rel and build/asan.

GUEST_DIR      := tests/guests
GUEST_LOAD     := 0x10000
GUEST_SHARED   := lib uart_checks
GUEST_SOURCES  := $(basename $(notdir $(wildcard $(GUEST_DIR)/*.S)))
GUEST_NAMES    := $(filter-out $(GUEST_SHARED),$(GUEST_SOURCES))
GUEST_IMAGES   := $(patsubst %,build/guests/%.bin,$(GUEST_NAMES))
GUEST_SHARED_O := $(patsubst %,build/guests/%.o,$(GUEST_SHARED))

build/guests/%.o: $(GUEST_DIR)/%.S $(GUEST_DIR)/guest.h
	@mkdir -p $(dir $@)
	$(Q)$(CC) -m32 -c -I. $< -o $@

# -N: no page alignment between text and data, so the image is only what it holds.
build/guests/%.bin: build/guests/%.o $(GUEST_SHARED_O)
	$(Q)ld -m elf_i386 -N -e _start -Ttext $(GUEST_LOAD) --oformat binary -o $@ $^

.PHONY: guests
guests: $(GUEST_IMAGES)
mockxen-rel mockxen-asan:: $(GUEST_IMAGES)
