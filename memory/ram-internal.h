/*
 * memory/ram-internal.h — how the RAM files of memory/ talk to each other. Private to
 * memory/ and its unit tests.
 *
 *   ram_block.c  the ram list: alloc/free/resize, list order, MRU, version, translation
 *   ram_gaps.c   where a block goes: the gap index (best fit in O(log n)), address
 *                neighbours and the address index (block containing an address)
 *   ram_host.c   anonymous host memory and the madvise policy
 *   dirty.c      the per-client dirty bitmaps and the migration bitmap
 *
 * ram_list is the one piece of global RAM state; ram_block.c defines it, dirty.c keeps
 * the bitmaps in it. Allocation order in ram_block_add: everything that can fail (gap,
 * host memory, bitmap growth) happens before the block is published, so a failure
 * leaves the list untouched.
 */
#ifndef XENDM_MEMORY_RAM_INTERNAL_H
#define XENDM_MEMORY_RAM_INTERNAL_H

#include "memory/memory.h"

/* List order (QEMU's ram_block_add insertion): bigger max_length first, then older
 * first. A strict total order, since seq is unique. */
static inline int ram_block_list_cmp(const RAMBlock *a, const RAMBlock *b)
{
    if (a->max_length != b->max_length)
        return a->max_length > b->max_length ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* ---- ram_gaps.c ------------------------------------------------------------------ */

typedef struct RamGaps {
    RamTree by_addr;            /* every block, by offset: address lookups */
    RamTree by_gap;             /* every block, by (gap, list position): placement */
    RAMBlock *highest;          /* block with the highest offset (addr_next chain end) */
    ram_addr_t limit;           /* ram_addr space is [0, limit) */
} RamGaps;

void ram_gaps_init(RamGaps *g, ram_addr_t limit);
/* Move the end of the space; -EINVAL unless 0 < limit, 4 KiB aligned, >= ram_gaps_end. */
int ram_gaps_set_limit(RamGaps *g, ram_addr_t limit, Error **errp);
/* Best-fit offset for `size` bytes (size > 0), as QEMU's find_ram_offset: *offset is
 * the end of *after, the block whose gap is taken (NULL: empty list, offset 0).
 * Returns 0 or -ENOSPC ("cannot find a gap of N bytes"). */
int ram_gaps_find(const RamGaps *g, ram_addr_t size, ram_addr_t *offset, RAMBlock **after,
                  Error **errp);
/* Index a block placed by ram_gaps_find (offset, max_length and seq set), with the
 * `after` it returned. */
void ram_gaps_insert(RamGaps *g, RAMBlock *block, RAMBlock *after);
void ram_gaps_remove(RamGaps *g, RAMBlock *block);
RAMBlock *ram_gaps_block_containing(const RamGaps *g, ram_addr_t addr);
/* The lowest block whose end is above addr (it holds addr or lies after it), or NULL;
 * the blocks after it by address follow addr_next. */
RAMBlock *ram_gaps_first_ending_after(const RamGaps *g, ram_addr_t addr);
ram_addr_t ram_gaps_end(const RamGaps *g);      /* end of the highest block, or 0 */

/* ---- ram_block.c ----------------------------------------------------------------- */

typedef struct RAMList {
    RAMBlock *blocks;           /* head of the list: biggest block */
    RAMBlock *mru_block;        /* last block qemu_get_ram_block found, or NULL */
    uint32_t version;           /* bumped after every list change */
    RamTree size_tails;         /* newest block of each distinct size: list insertion */
    RamGaps gaps;
    uint64_t next_seq;
    /* dirty.c */
    unsigned long *dirty_memory[DIRTY_MEMORY_NUM];
    uint64_t dirty_pages;       /* bits in use in each bitmap */
    uint64_t dirty_capacity;    /* bits allocated in each bitmap */
} RAMList;

extern RAMList ram_list;

/* QEMU's qemu_ram_alloc_internal: the qemu_ram_alloc* functions, returning 0 or -errno
 * (-EINVAL, -ENOSPC, -ENOMEM, or the mapping's/backend's errno) with *out set to the
 * block or NULL. Memory comes from host (caller's), else backend, else an anonymous
 * mapping. region_ram.c uses it to report the error code. */
int ram_alloc_internal(ram_addr_t size, ram_addr_t max_size,
                       void (*resized)(const char *, uint64_t, void *), void *host,
                       const RamBackend *backend, bool resizeable, MemoryRegion *mr,
                       RAMBlock **out, Error **errp);

/* ---- ram_host.c ------------------------------------------------------------------ */

/* QEMU's qemu_anon_ram_alloc: `size` bytes at a 2 MiB boundary (*align set to it).
 * NULL with errno set on failure. */
void *ram_host_alloc(size_t size, uint64_t *align);
void ram_host_free(void *host, size_t size);
/* MADV_MERGEABLE if memory merging is enabled. */
void ram_host_try_enable_merging(void *host, size_t size);
/* DONTDUMP unless guest core dumps are wanted, then HUGEPAGE and DONTFORK. */
void ram_host_apply_policy(void *host, size_t size);
void ram_host_reset_for_tests(void);

/* ---- dirty.c --------------------------------------------------------------------- */

/* Make room for new_pages in every bitmap (and the migration bitmap while migration
 * runs). Can fail (-ENOMEM); changes nothing visible. */
int ram_dirty_reserve(uint64_t new_pages, Error **errp);
/* QEMU's bitmap_zero_extend + migration_bitmap_extend, after a successful reserve:
 * bits [old_pages, new_pages) cleared, the rest kept; the migration bitmap, if any,
 * gets the new pages set. Cannot fail. */
void ram_dirty_extend(uint64_t old_pages, uint64_t new_pages);
/* Set the dirty bits of [start, start+length) for the clients in mask, without telling
 * any modified sink: for RAM that appears or grows, which is "dirty" for the
 * local clients but was not written by emulation (under Xen the toolstack or
 * populate_physmap provided it, so there is nothing to report to log-dirty). */
void ram_dirty_mark(ram_addr_t start, ram_addr_t length, uint8_t mask);
void ram_dirty_reset_for_tests(void);
/* Mark whole bitmap lines with word stores even where wider ones are used (dirty.c's
 * portable path, tested on any machine). */
void ram_dirty_set_word_stores_for_tests(bool on);

#endif
