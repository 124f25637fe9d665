# Device DMA shows up in the dirty log and in mockxen's modified_memory counter.
# Uses the PCI test device as pci-testdev.gs sets it up.
include "pci-testdev.gs"

log-dirty on
dirty 0x20, 16, clean                           # forget whatever came before
mmio-write $bar + 0x10, 8, 0                    # DMA_SRC: buffer offset
mmio-write $bar + 0x18, 8, 0x21000              # DMA_DST: pfn 0x21
mmio-write $bar + 0x20, 8, 4096
mmio-write $bar + 0x28, 4, 0x3                  # START, to guest
dirty 0x20, 16 -> $n
expect $n >= 1
dirty 0x21, 1 == 1
expect-count modified_memory_bulk >= 1          # xendm batches its reports
log-dirty off
