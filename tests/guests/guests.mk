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
GUEST_NAMES    := $(filter-out $(GUEST_SHARED) user64_entry,$(GUEST_SOURCES))
GUEST_IMAGES   := $(patsubst %,build/guests/%.bin,$(GUEST_NAMES))
GUEST_SHARED_O := $(patsubst %,build/guests/%.o,$(GUEST_SHARED))

build/guests/%.o: $(GUEST_DIR)/%.S $(GUEST_DIR)/guest.h
	@mkdir -p $(dir $@)
	$(Q)$(CC) -m32 -c -I. $< -o $@

# -N: no page alignment between text and data, so the image is only what it holds.
build/guests/%.bin: build/guests/%.o $(GUEST_SHARED_O)
	$(Q)ld -m elf_i386 -N -e _start -Ttext $(GUEST_LOAD) --oformat binary -o $@ $^

# 64-bit user-mode guests (user64.h): each tests/guests/<name>.c but user64.c becomes
# build/guests/<name>.bin: user64_entry.S first (long mode, ring 3), user64.c, the guest;
# freestanding, without SSE (the guest never enables it) or a red zone.
GUEST64_SHARED := user64
GUEST64_NAMES  := $(filter-out $(GUEST64_SHARED),$(basename $(notdir $(wildcard $(GUEST_DIR)/*.c))))
GUEST64_IMAGES := $(patsubst %,build/guests/%.bin,$(GUEST64_NAMES))
GUEST64_CFLAGS := -m64 -O2 -std=gnu11 $(WARN) -ffreestanding -fno-builtin -nostdlib -fno-pic -fno-pie \
                  -mno-red-zone -mgeneral-regs-only -fno-stack-protector -fcf-protection=none \
                  -fno-asynchronous-unwind-tables -I.
GUEST64_DEPS   := $(GUEST_DIR)/user64.h $(GUEST_DIR)/guest.h

build/guests/%.o64: $(GUEST_DIR)/%.c $(GUEST64_DEPS)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(GUEST64_CFLAGS) -c $< -o $@

build/guests/user64_entry.o64: $(GUEST_DIR)/user64_entry.S $(GUEST_DIR)/guest.h
	@mkdir -p $(dir $@)
	$(Q)$(CC) -m64 -c -I. $< -o $@

$(GUEST64_IMAGES): build/guests/%.bin: build/guests/user64_entry.o64 build/guests/user64.o64 build/guests/%.o64 \
                    $(GUEST_DIR)/user64.ld
	$(Q)ld -m elf_x86_64 -T $(GUEST_DIR)/user64.ld --oformat binary -o $@ $(filter %.o64,$^)

.PHONY: guests
guests: $(GUEST_IMAGES) $(GUEST64_IMAGES)
mockxen-rel mockxen-asan:: $(GUEST_IMAGES) $(GUEST64_IMAGES)
