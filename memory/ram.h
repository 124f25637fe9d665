/*
 * memory/ram.h — RAM blocks and dirty memory (included by memory/memory.h).
 *
 * Guest RAM lives in RAMBlocks placed in one linear "ram_addr" space. A block gets the
 * smallest gap that fits (best fit, as QEMU's find_ram_offset), the block list is kept
 * sorted biggest → smallest, and every change resets the MRU block and bumps the list
 * version. Without Xen a block's host memory is an anonymous 2 MiB-aligned mapping with
 * QEMU's madvise policy; with a backend hook installed (xen_ram_alloc) the frames come
 * from the hypervisor, host stays NULL and accesses go through the RAM translate hook.
 *
 * Dirty memory: one bitmap per client (VGA, CODE, MIGRATION) over the ram_addr space, in
 * 4 KiB pages, grown with the RAM (old bits kept). Setting bits is atomic per word.
 *
 * Ownership: a RAMBlock belongs to the global ram list from qemu_ram_alloc*() until
 * qemu_ram_free(); memory_region_init_ram() ties one to a region, and finalising the
 * region frees it. Single-threaded, except dirty-bit updates which are atomic.
 */
#ifndef XENDM_MEMORY_RAM_H
#define XENDM_MEMORY_RAM_H

#include <stdbool.h>
#include <stdint.h>

#define RAM_PAGE_BITS 12
#define RAM_PAGE_SIZE (1ULL << RAM_PAGE_BITS)

#define RAM_PREALLOC   (1u << 0)    /* host memory supplied by the caller */
#define RAM_RESIZEABLE (1u << 1)    /* used_length may change up to max_length */

struct RAMBlock {
    MemoryRegion *mr;
    uint8_t *host;              /* NULL under Xen */
    ram_addr_t offset;          /* start in ram_addr space */
    ram_addr_t used_length;
    ram_addr_t max_length;
    size_t page_size;
    uint32_t flags;
    int fd;                     /* -1: anonymous */
    void (*resized)(const char *idstr, uint64_t new_size, void *host);
    char idstr[256];
    /* list linkage and gap-tree bookkeeping are private to memory/ram_block.c */
    struct RAMBlock *next;
};

/* Allocate a block of `size` bytes (rounded up to 4 KiB). Returns 0 or -errno with the
 * message in errp: size 0 is -EINVAL, "cannot find a gap of N bytes" is -ENOSPC,
 * "cannot set up guest memory '<name>': <strerror>" for a failed mapping. */
RAMBlock *qemu_ram_alloc(ram_addr_t size, MemoryRegion *mr, Error **errp);
RAMBlock *qemu_ram_alloc_from_ptr(ram_addr_t size, void *host, MemoryRegion *mr, Error **errp);
RAMBlock *qemu_ram_alloc_resizeable(ram_addr_t size, ram_addr_t max_size,
                                    void (*resized)(const char *, uint64_t, void *),
                                    MemoryRegion *mr, Error **errp);
int qemu_ram_resize(RAMBlock *block, ram_addr_t newsize, Error **errp);
void qemu_ram_free(RAMBlock *block);
ram_addr_t last_ram_offset(void);

/* List state, for tools and tests. */
RAMBlock *ram_list_first(void);             /* biggest block; then block->next */
uint32_t ram_list_version(void);
RAMBlock *ram_list_mru(void);

/* Translation. */
RAMBlock *qemu_get_ram_block(ram_addr_t addr);          /* NULL if no block holds addr */
void *ram_block_host_ptr(RAMBlock *block, ram_addr_t offset);   /* NULL if no host memory */
/* Host pointer → block and ram_addr; NULL if the pointer is not guest RAM. */
RAMBlock *qemu_ram_block_from_host(const void *ptr, ram_addr_t *ram_addr);

/* Host-memory policy (the seed's qemu_anon_ram_alloc + madvise). */
void ram_set_mem_merge(bool enabled);       /* MADV_MERGEABLE; default off */
void ram_set_dump_guest_core(bool enabled); /* off → MADV_DONTDUMP; default on */

/* Backend hook: when set, ram_block_add calls it instead of mapping host memory (the Xen
 * side provides xen_ram_alloc). Return 0 or -errno with errp set. */
typedef int (*RamBackendAlloc)(ram_addr_t ram_addr, ram_addr_t size, MemoryRegion *mr,
                               Error **errp);
void ram_set_backend(RamBackendAlloc alloc);

/* Dirty memory. */
void cpu_physical_memory_set_dirty_range(ram_addr_t start, ram_addr_t length, uint8_t mask);
bool cpu_physical_memory_get_dirty(ram_addr_t start, ram_addr_t length, unsigned client);
bool cpu_physical_memory_test_and_clear_dirty(ram_addr_t start, ram_addr_t length,
                                              unsigned client);
/* Copy the bits for [start, start+length) into dest (one bit per page, LSB first) and
 * clear them. Returns the number of dirty pages. */
uint64_t cpu_physical_memory_snapshot_and_clear_dirty(ram_addr_t start, ram_addr_t length,
                                                      unsigned client, unsigned long *dest);
/* Mask of clients whose logging is on (VGA/CODE per region users, MIGRATION while a
 * migration runs); set_dirty_range only touches these plus the ones in its mask. */
void ram_dirty_migration_start(void);
void ram_dirty_migration_stop(void);
/* Called by set_dirty_range for every range it marks (Xen: xen_modified_memory). */
typedef void (*RamModifiedHook)(ram_addr_t start, ram_addr_t length, void *opaque);
void ram_set_modified_memory_hook(RamModifiedHook hook, void *opaque);

#endif
