/*
 * memory/ram_block.c — the RAM block list: allocation, resize, free, translation.
 *
 * The path of a new block is QEMU's qemu_ram_alloc_internal → ram_block_add, reordered
 * so that every step that can fail comes first:
 *   1. place it (ram_gaps_find: best fit, as find_ram_offset),
 *   2. get memory (caller's pointer, the block's backend, or an anonymous mapping with
 *      MADV_MERGEABLE when merging is on),
 *   3. make room in the dirty bitmaps,
 * and only then publish it: index it, link it into the list at its sorted place,
 * reset the MRU block, write barrier, bump the version. After publishing, the bitmaps
 * are zero-extended, the block is marked dirty for every client and the rest of the
 * madvise policy is applied. A failure in 1–3 undoes 2 and leaves the list as it was.
 */
#include "memory/ram-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static RAMBlock *block_of_tail_node(const RamTreeNode *n)
{
    return RAM_TREE_ENTRY(n, RAMBlock, by_size_tail);
}

/* The size-tail tree holds one block per distinct max_length, biggest first. */
static int cmp_by_size(const RamTreeNode *a, const RamTreeNode *b)
{
    ram_addr_t x = block_of_tail_node(a)->max_length, y = block_of_tail_node(b)->max_length;
    return x > y ? -1 : x < y;
}

RAMList ram_list = { .size_tails = RAM_TREE_INIT(cmp_by_size) };

/* The gap index needs its comparators set up once; limit 0 means "not yet". */
static void ram_list_init_once(void)
{
    if (!ram_list.gaps.limit)
        ram_gaps_init(&ram_list.gaps, RAM_ADDR_SPACE_DEFAULT);
}

static ram_addr_t page_align(ram_addr_t size)
{
    return (size + RAM_PAGE_SIZE - 1) & ~(RAM_PAGE_SIZE - 1);
}

/* ---- publishing -------------------------------------------------------------------- */

/* QEMU's write ordering: the list edit and MRU reset are visible before the version. */
static void bump_version(void)
{
    ram_list.mru_block = NULL;
    __atomic_thread_fence(__ATOMIC_RELEASE);
    __atomic_store_n(&ram_list.version, ram_list.version + 1, __ATOMIC_RELAXED);
}

/* "Before" a block of size *key: at least as big (equal sizes: older goes first). */
static int probe_not_smaller(const RamTreeNode *n, const void *key)
{
    return block_of_tail_node(n)->max_length >= *(const ram_addr_t *)key ? -1 : 0;
}

static bool is_size_tail(const RAMBlock *block)
{
    return !block->next || block->next->max_length != block->max_length;
}

/*
 * Link block at its sorted place: right after the newest block that is at least as big,
 * which is the tail of its own size group or of the next bigger one. The size-tail tree
 * finds that in O(log distinct sizes); the new block becomes its group's tail.
 */
static void list_insert(RAMBlock *block)
{
    RAMBlock *prev = block_of_tail_node(
        ram_tree_last_before(&ram_list.size_tails, probe_not_smaller, &block->max_length));

    if (prev && prev->max_length == block->max_length)
        ram_tree_remove(&ram_list.size_tails, &prev->by_size_tail);
    ram_tree_insert(&ram_list.size_tails, &block->by_size_tail);
    block->prev = prev;
    block->next = prev ? prev->next : ram_list.blocks;
    if (block->next)
        block->next->prev = block;
    if (prev)
        prev->next = block;
    else
        ram_list.blocks = block;
}

static void list_remove(RAMBlock *block)
{
    if (is_size_tail(block)) {
        ram_tree_remove(&ram_list.size_tails, &block->by_size_tail);
        if (block->prev && block->prev->max_length == block->max_length)
            ram_tree_insert(&ram_list.size_tails, &block->prev->by_size_tail);
    }
    if (block->prev)
        block->prev->next = block->next;
    else
        ram_list.blocks = block->next;
    if (block->next)
        block->next->prev = block->prev;
    block->next = block->prev = NULL;
}

/* ---- host memory ------------------------------------------------------------------- */

static int backend_provide(RAMBlock *block, Error **errp)
{
    const RamBackend *be = &block->backend;
    if (!be->alloc)
        return 0;
    Error *err = NULL;
    int ret = be->alloc(be->opaque, block->offset, block->max_length, block->mr, &err);
    if (!ret)
        return 0;
    if (ret > 0)
        ret = -EIO;
    if (err) {
        error_prepend(&err, "cannot set up guest memory '%s'", block->idstr);
        error_propagate(errp, err);
    } else {
        error_setg_errno(errp, -ret, "cannot set up guest memory '%s'", block->idstr);
    }
    return ret;
}

static int provide_memory(RAMBlock *block, Error **errp)
{
    if (block->host)
        return 0;
    if (block->flags & RAM_BACKED)
        return backend_provide(block, errp);
    errno = 0;
    block->host = ram_host_alloc(block->max_length, &block->align);
    if (!block->host) {
        int err = errno ? errno : ENOMEM;
        error_setg_errno(errp, err, "cannot set up guest memory '%s'", block->idstr);
        return -err;
    }
    ram_host_try_enable_merging(block->host, block->max_length);
    return 0;
}

/* Undo provide_memory (a backend has no release: Xen frees with the domain). */
static void release_host_memory(RAMBlock *block)
{
    if (block->host && !(block->flags & RAM_PREALLOC))
        ram_host_free(block->host, block->max_length);
}

/* ---- allocation -------------------------------------------------------------------- */

static int ram_block_add(RAMBlock *block, Error **errp)
{
    uint64_t old_pages = last_ram_offset() >> RAM_PAGE_BITS;
    RAMBlock *after;
    int ret = ram_gaps_find(&ram_list.gaps, block->max_length, &block->offset, &after, errp);
    if (ret)
        return ret;
    if (!block->idstr[0])
        snprintf(block->idstr, sizeof(block->idstr), "ram@0x%" PRIx64, block->offset);
    ret = provide_memory(block, errp);
    if (ret)
        return ret;
    uint64_t end_pages = (block->offset + block->max_length) >> RAM_PAGE_BITS;
    uint64_t new_pages = end_pages > old_pages ? end_pages : old_pages;
    ret = ram_dirty_reserve(new_pages, errp);
    if (ret) {
        release_host_memory(block);
        return ret;
    }

    ram_gaps_insert(&ram_list.gaps, block, after);
    list_insert(block);
    bump_version();

    ram_dirty_extend(old_pages, new_pages);
    ram_dirty_mark(block->offset, block->used_length, DIRTY_CLIENTS_ALL);
    if (block->host)
        ram_host_apply_policy(block->host, block->max_length);
    return 0;
}

int ram_alloc_internal(ram_addr_t size, ram_addr_t max_size,
                       void (*resized)(const char *, uint64_t, void *), void *host,
                       const RamBackend *backend, bool resizeable, MemoryRegion *mr,
                       RAMBlock **out, Error **errp)
{
    ram_list_init_once();
    *out = NULL;
    if (size == 0) {
        error_setg(errp, "cannot allocate a RAM block of 0 bytes");
        return -EINVAL;
    }
    if (max_size < size) {
        error_setg(errp, "RAM block maximum size 0x%" PRIx64 " is below its size 0x%" PRIx64,
                   max_size, size);
        return -EINVAL;
    }
    if (max_size > ram_list.gaps.limit) {    /* also keeps page_align from wrapping */
        error_setg(errp, "cannot find a gap of %" PRIu64 " bytes", max_size);
        return -ENOSPC;
    }
    /* Cache-line aligned: see the field order in ram.h. */
    RAMBlock *block = aligned_alloc(64, (sizeof(*block) + 63) & ~(size_t)63);
    if (!block) {
        error_setg(errp, "cannot allocate a RAM block descriptor");
        return -ENOMEM;
    }
    memset(block, 0, sizeof(*block));
    block->mr = mr;
    block->used_length = page_align(size);
    block->max_length = page_align(max_size);
    block->page_size = RAM_PAGE_SIZE;
    block->resized = resized;
    block->fd = -1;
    block->host = host;
    block->flags = (host ? RAM_PREALLOC : 0) | (resizeable ? RAM_RESIZEABLE : 0);
    if (backend && !host) {
        block->backend = *backend;
        block->flags |= RAM_BACKED;
    }
    block->seq = ram_list.next_seq++;
    if (mr && mr->name)
        snprintf(block->idstr, sizeof(block->idstr), "%s", mr->name);
    int ret = ram_block_add(block, errp);
    if (ret) {
        free(block);
        return ret;
    }
    *out = block;
    return 0;
}

RAMBlock *qemu_ram_alloc(ram_addr_t size, const RamBackend *backend, MemoryRegion *mr,
                         Error **errp)
{
    RAMBlock *block;
    ram_alloc_internal(size, size, NULL, NULL, backend, false, mr, &block, errp);
    return block;
}

RAMBlock *qemu_ram_alloc_from_ptr(ram_addr_t size, void *host, MemoryRegion *mr, Error **errp)
{
    RAMBlock *block;
    if (!host) {
        error_setg(errp, "cannot use a NULL host pointer for RAM");
        return NULL;
    }
    ram_alloc_internal(size, size, NULL, host, NULL, false, mr, &block, errp);
    return block;
}

RAMBlock *qemu_ram_alloc_resizeable(ram_addr_t size, ram_addr_t max_size,
                                    void (*resized)(const char *, uint64_t, void *),
                                    const RamBackend *backend, MemoryRegion *mr,
                                    Error **errp)
{
    RAMBlock *block;
    ram_alloc_internal(size, max_size, resized, NULL, backend, true, mr, &block, errp);
    return block;
}

int qemu_ram_resize(RAMBlock *block, ram_addr_t newsize, Error **errp)
{
    /* Only align what can fit: aligning a huge value could wrap to a small one. */
    ram_addr_t aligned = newsize > block->max_length ? newsize : page_align(newsize);

    if (aligned == block->used_length)
        return 0;
    if (!(block->flags & RAM_RESIZEABLE)) {
        error_setg(errp, "length mismatch: %s: 0x%" PRIx64 " in != 0x%" PRIx64,
                   block->idstr, aligned, block->used_length);
        return -EINVAL;
    }
    if (aligned > block->max_length) {
        error_setg(errp, "length too large: %s: 0x%" PRIx64 " > 0x%" PRIx64,
                   block->idstr, aligned, block->max_length);
        return -EINVAL;
    }
    cpu_physical_memory_clear_dirty_range(block->offset, block->used_length);
    block->used_length = aligned;
    ram_dirty_mark(block->offset, block->used_length, DIRTY_CLIENTS_ALL);
    if (block->mr)
        memory_region_set_size(block->mr, aligned);
    if (block->resized)
        block->resized(block->idstr, aligned, block->host);
    return 0;
}

void qemu_ram_free(RAMBlock *block)
{
    if (!block)
        return;
    list_remove(block);
    ram_gaps_remove(&ram_list.gaps, block);
    bump_version();
    release_host_memory(block);
    free(block);
}

ram_addr_t last_ram_offset(void)
{
    return ram_gaps_end(&ram_list.gaps);
}

int ram_set_addr_space_size(ram_addr_t size, Error **errp)
{
    ram_list_init_once();
    return ram_gaps_set_limit(&ram_list.gaps, size, errp);
}

ram_addr_t ram_addr_space_size(void)
{
    ram_list_init_once();
    return ram_list.gaps.limit;
}

/* ---- list state and translation ------------------------------------------------------ */

RAMBlock *ram_list_first(void)
{
    return ram_list.blocks;
}

uint32_t ram_list_version(void)
{
    return __atomic_load_n(&ram_list.version, __ATOMIC_ACQUIRE);
}

RAMBlock *ram_list_mru(void)
{
    return ram_list.mru_block;
}

RAMBlock *qemu_get_ram_block(ram_addr_t addr)
{
    RAMBlock *block = ram_list.mru_block;
    if (block && addr - block->offset < block->max_length)
        return block;
    block = ram_gaps_block_containing(&ram_list.gaps, addr);
    if (block)
        ram_list.mru_block = block;
    return block;
}

void *ram_block_host_ptr(RAMBlock *block, ram_addr_t offset)
{
    if (!block->host || offset >= block->used_length)
        return NULL;
    return block->host + offset;
}

static bool block_holds_host(const RAMBlock *block, const void *ptr)
{
    return block->host && (uintptr_t)ptr - (uintptr_t)block->host < block->max_length;
}

/* As the seed: the MRU block, then a walk of the list (host pointers are not indexed:
 * this is for the rare host → guest question, not the access path). */
RAMBlock *qemu_ram_block_from_host(const void *ptr, ram_addr_t *ram_addr)
{
    RAMBlock *block = ram_list.mru_block;
    if (!block || !block_holds_host(block, ptr)) {
        for (block = ram_list.blocks; block; block = block->next) {
            if (block_holds_host(block, ptr))
                break;
        }
        if (!block)
            return NULL;
        ram_list.mru_block = block;
    }
    if (ram_addr)
        *ram_addr = block->offset + ((uintptr_t)ptr - (uintptr_t)block->host);
    return block;
}

void ram_reset_for_tests(void)
{
    while (ram_list.blocks) {
        RAMBlock *block = ram_list.blocks;
        list_remove(block);
        release_host_memory(block);
        free(block);
    }
    ram_dirty_reset_for_tests();
    ram_host_reset_for_tests();
    ram_gaps_init(&ram_list.gaps, RAM_ADDR_SPACE_DEFAULT);
    ram_list.size_tails.root = NULL;
    ram_list.mru_block = NULL;
    ram_list.next_seq = 0;
}
