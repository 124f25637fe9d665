/*
 * memory/ram.h — RAM blocks and dirty memory (included by memory/memory.h).
 *
 * Guest RAM lives in RAMBlocks placed in one linear "ram_addr" space of a fixed size
 * (RAM_ADDR_SPACE_DEFAULT unless changed with ram_set_addr_space_size). A new block
 * gets the same offset QEMU's find_ram_offset would give it: the smallest gap after
 * the end of some block that fits (the first block of an empty list goes at 0), ties
 * going to the block that comes first in the list. Unlike QEMU the search is
 * O(log n), and running out of space is an error, not an abort. The block list is kept
 * sorted biggest → smallest (equal sizes: oldest first); every change resets the MRU
 * block, then bumps the list version (write barrier in between, so a reader that sees
 * the new version sees the new list).
 *
 * Host memory: a block made without a backend gets an anonymous 2 MiB-aligned mapping
 * with QEMU's madvise policy (MERGEABLE when memory merging is on, DONTDUMP when guest
 * core dumps are off, HUGEPAGE, DONTFORK). A block made with a RamBackend has no host
 * memory of ours (host stays NULL): its backend prepares the frames (under Xen:
 * xen_ram_alloc populates them in the domain), maps them for each access (the
 * mapcache) and is told which of them emulation wrote (Xen's log-dirty). Whoever
 * creates the block chooses its backend; the block keeps a copy and uses it for
 * itself only, so blocks of different machines, with different backends, coexist.
 *
 * Dirty memory: one bitmap per client (VGA, CODE, MIGRATION) over the ram_addr space,
 * one bit per 4 KiB page, grown with the RAM (old bits kept, new bits zero, then a new
 * block is marked dirty for every client). Bits are set and cleared with atomic word
 * operations, so a dirty-log reader may run on another thread than the writers.
 *
 * Ownership: a RAMBlock belongs to the global ram list from qemu_ram_alloc*() until
 * qemu_ram_free(), which also releases host memory it mapped (never caller-supplied
 * memory). memory_region_init_ram*() ties a block to a region, and finalising the
 * region frees it. A backend's opaque must outlive every block made with it.
 * Everything except the dirty bitmaps is single-threaded.
 *
 * What is process-wide, as in QEMU: the ram_addr space, the block list, the dirty
 * bitmaps over it and the migration state. Blocks of several machines share the one
 * ram_addr space, each at its own offsets, so a ram_addr names one block of one
 * machine; nothing machine-specific (where frames come from, how they are reached,
 * who hears of writes) is global: it is the block's backend.
 */
#ifndef XENDM_MEMORY_RAM_H
#define XENDM_MEMORY_RAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "memory/ram_tree.h"

#define RAM_PAGE_BITS 12
#define RAM_PAGE_SIZE (1ULL << RAM_PAGE_BITS)

/* Size of the ram_addr space, [0, size): 1 TiB unless set otherwise. */
#define RAM_ADDR_SPACE_DEFAULT (1ULL << 40)

#define RAM_PREALLOC   (1u << 0)    /* host memory supplied by the caller */
#define RAM_RESIZEABLE (1u << 1)    /* used_length may change up to max_length */
#define RAM_BACKED     (1u << 2)    /* memory from the block's backend: host is NULL */

#define DIRTY_CLIENTS_ALL ((uint8_t)((1u << DIRTY_MEMORY_NUM) - 1))

/*
 * Where a block's memory comes from, how it is reached and who hears of writes to it,
 * for a block that has no host memory of ours. Each function gets `opaque`.
 *   alloc     prepare the frames of a new block [ram_addr, ram_addr + size) before it
 *             is published (NULL: they exist already). 0, or -errno with errp set; a
 *             failure fails the allocation. Never undone by the memory model (Xen
 *             frees a domain's frames with the domain).
 *   map       a host pointer for *len bytes at ram_addr, shortening *len if only a
 *             prefix is mapped; NULL on failure (the access then fails with
 *             MEMTX_DECODE_ERROR). NULL function: the block cannot be accessed.
 *   release   (optional) called with each pointer map returned once the copy is done.
 *   modified  (optional) told of every non-empty range of the block that is marked
 *             written, whatever the dirty mask, as the seed calls xen_modified_memory:
 *             the sink knows whether its own logging is on (Xen: log-dirty mode) and
 *             returns at once when it is not. Never told of RAM that appears or grows.
 */
struct RamBackend {
    int (*alloc)(void *opaque, ram_addr_t ram_addr, ram_addr_t size, MemoryRegion *mr,
                 Error **errp);
    void *(*map)(void *opaque, ram_addr_t ram_addr, hwaddr *len, bool is_write);
    void (*release)(void *opaque, void *host, hwaddr len, bool is_write);
    void (*modified)(void *opaque, ram_addr_t start, ram_addr_t length);
    void *opaque;
};

/*
 * Field order is for the placement trees (memory/ram_gaps.c): a block is allocated on a
 * cache-line boundary, the gap-tree key and node share the first line and the
 * address-tree key and node the second, so a tree walk touches one line per level.
 */
struct RAMBlock {
    ram_addr_t max_length;      /* what is reserved in ram_addr space and host memory */
    ram_addr_t gap;             /* private: free bytes from this block's end to the next */
    uint64_t seq;               /* private: insertion order, breaks ties among equal sizes */
    RamTreeNode by_gap;         /* private: ordered by (gap, list position) */
    ram_addr_t used_length;     /* what the guest sees; <= max_length */
    struct RAMBlock *prev;      /* private: previous (bigger) block in the list */

    ram_addr_t offset;          /* start in ram_addr space */
    RamTreeNode by_addr;        /* private: ordered by offset */
    struct RAMBlock *addr_prev, *addr_next;    /* private: neighbours by offset */
    struct RAMBlock *next;      /* next smaller block in the list; read-only outside */
    MemoryRegion *mr;           /* may be NULL for blocks made without a region */

    RamTreeNode by_size_tail;   /* private: in that tree iff newest block of its size */
    uint8_t *host;              /* NULL when the block has a backend */
    size_t page_size;           /* RAM_PAGE_SIZE */
    uint64_t align;             /* alignment of an anonymous host mapping, else 0 */
    uint32_t flags;             /* RAM_PREALLOC, RAM_RESIZEABLE, RAM_BACKED */
    int fd;                     /* -1: anonymous */
    void (*resized)(const char *idstr, uint64_t new_size, void *host);
    RamBackend backend;         /* RAM_BACKED: a copy of the creator's; else all NULL */
    char idstr[256];            /* the region's name, or "ram@<offset>" */
};

/*
 * Allocate a block of `size` bytes (rounded up to 4 KiB), its memory from `backend`
 * (copied into the block), or anonymous host memory when backend is NULL. Returns the
 * block, or NULL with the message in errp: "cannot allocate a RAM block of 0 bytes",
 * "cannot find a gap of N bytes" when no gap fits (also for a size beyond the whole
 * space), "cannot set up guest memory '<name>': <why>" when host memory (or the
 * backend) fails. On failure nothing is left behind: the list, its version and the
 * dirty bitmaps are unchanged.
 */
RAMBlock *qemu_ram_alloc(ram_addr_t size, const RamBackend *backend, MemoryRegion *mr,
                         Error **errp);
/* Caller-owned host memory (RAM_PREALLOC); it must outlive the block. */
RAMBlock *qemu_ram_alloc_from_ptr(ram_addr_t size, void *host, MemoryRegion *mr, Error **errp);
/* used_length = size, max_length = max_size (reserved up front); `resized` (optional)
 * is called after every successful qemu_ram_resize. */
RAMBlock *qemu_ram_alloc_resizeable(ram_addr_t size, ram_addr_t max_size,
                                    void (*resized)(const char *, uint64_t, void *),
                                    const RamBackend *backend, MemoryRegion *mr,
                                    Error **errp);
/* Change used_length (rounded up to 4 KiB). The old range's dirty bits are cleared and
 * the new range marked dirty for all clients; the region (if any) takes the new size.
 * -EINVAL if the block is not resizeable or newsize exceeds max_length. */
int qemu_ram_resize(RAMBlock *block, ram_addr_t newsize, Error **errp);
/* Remove from the list and release host memory that the block mapped. NULL is a no-op. */
void qemu_ram_free(RAMBlock *block);
/* End of the highest block (0 when there is none). */
ram_addr_t last_ram_offset(void);

/* The ram_addr space is [0, size); size must be a non-zero multiple of 4 KiB and cover
 * last_ram_offset(). Returns 0 or -EINVAL. */
int ram_set_addr_space_size(ram_addr_t size, Error **errp);
ram_addr_t ram_addr_space_size(void);

/* List state, for tools and tests. */
RAMBlock *ram_list_first(void);             /* biggest block; then block->next */
uint32_t ram_list_version(void);            /* read with acquire ordering */
RAMBlock *ram_list_mru(void);

/* Translation. */
RAMBlock *qemu_get_ram_block(ram_addr_t addr);          /* NULL if no block holds addr */
/* Host pointer at offset within the block; NULL if offset >= used_length or the block
 * has no host memory (its backend maps it). */
void *ram_block_host_ptr(RAMBlock *block, ram_addr_t offset);
/* Host pointer → block and ram_addr; NULL if the pointer is not guest RAM. */
RAMBlock *qemu_ram_block_from_host(const void *ptr, ram_addr_t *ram_addr);

/* Host-memory policy (the seed's qemu_anon_ram_alloc + madvise). */
void ram_set_mem_merge(bool enabled);       /* MADV_MERGEABLE; default off */
void ram_set_dump_guest_core(bool enabled); /* off → MADV_DONTDUMP; default on */

/* ---- Dirty memory (memory/dirty.c) ----------------------------------------------- */

/* Mark [start, start+length) dirty (whole pages) for the clients in mask (bits of enum
 * dirty_client), then tell the modified sink of each block the range overlaps which
 * part of it was written. Pages beyond the bitmaps (no block ever there) are ignored. */
void cpu_physical_memory_set_dirty_range(ram_addr_t start, ram_addr_t length, uint8_t mask);
/* The same for [offset, offset+length) of one block (within max_length), which the
 * caller already holds: only this block's modified sink is told. */
void ram_block_set_dirty(RAMBlock *block, ram_addr_t offset, ram_addr_t length, uint8_t mask);
/* Clear every client's bits for the pages of [start, start+length). */
void cpu_physical_memory_clear_dirty_range(ram_addr_t start, ram_addr_t length);
/* Is any page of the range dirty for client? */
bool cpu_physical_memory_get_dirty(ram_addr_t start, ram_addr_t length, unsigned client);
/* Clear client's bits for the range; true if any was set. */
bool cpu_physical_memory_test_and_clear_dirty(ram_addr_t start, ram_addr_t length,
                                              unsigned client);
/* Copy client's bits for the pages of [start, start+length) into dest (bit i is page
 * (start >> 12) + i, LSB first, whole words written) and clear them, each word
 * atomically. Returns the number of dirty pages. */
uint64_t cpu_physical_memory_snapshot_and_clear_dirty(ram_addr_t start, ram_addr_t length,
                                                      unsigned client, unsigned long *dest);
/* Pages covered by the dirty bitmaps (grows with last_ram_offset, never shrinks). */
uint64_t ram_dirty_bitmap_pages(void);

/*
 * Migration (log-dirty) state, as QEMU's ram_save_setup / migration_bitmap_extend: start
 * creates the migration bitmap with every page set and counts the used pages as dirty;
 * a block added while it runs extends the bitmap with its new pages set. Start returns
 * 0, -EBUSY if already running, or -ENOMEM.
 */
int ram_dirty_migration_start(Error **errp);
void ram_dirty_migration_stop(void);
bool ram_dirty_migration_active(void);
/* The migration bitmap (NULL when not migrating) and its length in pages. */
const unsigned long *ram_migration_bitmap(uint64_t *pages);
uint64_t ram_migration_dirty_pages(void);

/* ---- Test support ---------------------------------------------------------------- */

/* Replace mmap() for anonymous guest memory (NULL restores mmap). */
typedef void *(*RamMmapFn)(void *addr, size_t len, int prot, int flags, int fd, off_t off);
void ram_set_mmap_hook(RamMmapFn fn);
/* Test-only: free every block (without region destructors), the dirty and migration
 * bitmaps, and restore every setting above to its default. */
void ram_reset_for_tests(void);

#endif
