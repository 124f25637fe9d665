/*
 * memory/memory-internal.h — interfaces private to the files of memory/.
 *
 * memory.h is the public face of the memory model; this header is how its parts talk
 * to each other: the region tree (region.c, with region_index.c, region_path.c,
 * region_property.c, region_eventfd.c), transactions (transaction.c), address spaces
 * (address_space.c, as_update.c), rendering (flatview.c), listeners (listener.c),
 * dumps (mtree.c), the RAM region initialisers (region_ram.c) and dispatch/access
 * (dispatch*.c, access*.c). Nothing outside memory/ and its unit tests and benchmarks
 * may include it.
 *
 * Ownership rules that cross files:
 *  - Every memory_region_init_*() starts with memory_region_init_common(); an init that
 *    allocates something (a RAMBlock) sets mr->destructor, which
 *    memory_region_finalize() calls before freeing name and path.
 *  - mr->ops is never NULL: init_common sets &unassigned_mem_ops, which init_io keeps
 *    when given NULL ops (as QEMU).
 *  - A FlatView that is referenced only by its AddressSpace (fv->ref == 1) may be
 *    edited in place at a commit (ranges spliced, fv->ranges reallocated). Dispatch must
 *    therefore never keep FlatRange pointers or indexes into fv->ranges across commits;
 *    it copies what it needs into its own sections.
 *  - Where the memory_region_* functions of memory.h live: region_ram.c defines the
 *    block-backed initialisers (memory_region_init_ram, _ram_backed, _ram_ptr, _rom,
 *    _rom_device) and memory_region_get_ram_ptr / _get_ram_addr; region.c defines
 *    every other one, including is_ram/is_romd, set_log and rom_device_set_romd.
 */
#ifndef XENDM_MEMORY_INTERNAL_H
#define XENDM_MEMORY_INTERNAL_H

#include "memory/memory.h"

/* ---- region.c -------------------------------------------------------------------- */

/*
 * Common part of every memory_region_init_*(): zeroes *mr, then sets name (copied),
 * canonical path, owner, size (MemSize: may be MEMSIZE_2_64), kind,
 * ops = &unassigned_mem_ops, enabled = true, romd_mode = true, terminates (true for
 * io/ram/rom/rom_device) and empty subregion and alias lists. Callers set
 * ops/opaque/ram_block/destructor afterwards.
 */
void memory_region_init_common(MemoryRegion *mr, const char *owner, const char *name,
                               MemSize size, enum memory_region_kind kind);

/* Canonical paths (region_path.c): claim "owner/escaped-name[N]" with the lowest free
 * N (NULL for a NULL name or when memory is exhausted); release it at finalize. */
char *memory_region_escape_name(const char *name);
char *memory_region_path_claim(const char *owner, const char *name);
void memory_region_path_release(const char *path);

/* Children by address (region_index.c). insert/remove return 0 or -ENOMEM; query
 * appends to *out every child whose [addr, addr + size) intersects [start, end), in no
 * particular order. A child is removed before its addr or size changes and re-inserted
 * after. */
int child_index_insert(MemoryRegion *container, MemoryRegion *child);
/* Room for one more child in either half of the index, so that the remove and
 * re-insert of a child whose addr or size changes cannot fail. 0 or -ENOMEM. */
int child_index_reserve_move(MemoryRegion *container);
void child_index_remove(MemoryRegion *container, MemoryRegion *child);
int child_index_query(const MemoryRegion *container, MemSize start, MemSize end,
                      MemoryRegion ***out, size_t *nr, size_t *cap);
void child_index_free(MemoryRegion *container);

/* Grow *buf (elements of elem_size bytes, *cap of them) to hold need (vec.c). */
int memory_vec_reserve(void **buf, size_t *cap, size_t need, size_t elem_size);

/* Total order on ioeventfds: addr, size, match_data, data (if matched), fd. */
int memory_ioeventfd_compare(const MemoryRegionIoeventfd *a, const MemoryRegionIoeventfd *b);

/* Convert an API size (UINT64_MAX means 2^64) to a MemSize. */
static inline MemSize memory_size_from_u64(uint64_t size)
{
    return size == UINT64_MAX ? MEMSIZE_2_64 : (MemSize)size;
}

/*
 * Tell the transaction layer that what mr renders is about to change (call before the
 * edit) and has changed (call after it): both calls record mr's current extent in
 * every address space that shows it (through containers and aliases), so the commit
 * re-renders the union of old and new extents. Only inside a transaction.
 */
void memory_region_note_change(MemoryRegion *mr);

/* ---- transaction.c, address_space.c, as_update.c ---------------------------------- */

/* Every initialised AddressSpace, in init order. */
TAILQ_HEAD(AddressSpaceList, AddressSpace);
extern struct AddressSpaceList memory_address_spaces;

/* Re-render the whole of every address space at the next outermost commit. */
void memory_mark_all_for_full_render(void);

/* Drop what is pending for as (address_space_destroy). */
void memory_address_space_forget(AddressSpace *as);

/* A half-open span of addresses; end may be 2^64. */
typedef struct MemSpan {
    MemSize start, end;
} MemSpan;

/*
 * Bring as->current_map up to date with the tree: re-render the given spans (sorted,
 * disjoint; NULL/0 with full = true for everything), splice the result into the view
 * (in place when nobody else holds it), update dispatch and the flattened ioeventfds,
 * and announce the differences to as's listeners. On failure (out of memory) the view
 * keeps its old contents for the spans not done; the error is returned.
 */
int address_space_update(AddressSpace *as, const MemSpan *spans, size_t nr_spans, bool full,
                         Error **errp);

/* ---- flatview.c ------------------------------------------------------------------ */

/* A growable array of ranges; r is heap-owned by the vector. */
typedef struct FlatRangeVec {
    FlatRange *r;
    size_t nr, cap;
} FlatRangeVec;

/* An empty FlatView for root (ref 1). NULL only if memory is exhausted. */
FlatView *flatview_new(MemoryRegion *root);
/* Render root's whole tree into a new FlatView (ref 1, no dispatch). */
FlatView *flatview_render(MemoryRegion *root, Error **errp);
/* Append to out the ranges root renders inside [start, end), sorted and merged. */
int flatview_render_window(MemoryRegion *root, MemSize start, MemSize end,
                           FlatRangeVec *out, Error **errp);
/* Give v's array to fv (freeing fv's old one); v is left empty. */
void flatview_adopt_ranges(FlatView *fv, FlatRangeVec *v);
/* Append fr, merging it into the last range when flatrange_can_merge(). */
int flatrange_vec_append(FlatRangeVec *v, const FlatRange *fr);
/* b directly follows a in both the address space and the region, same attributes. */
bool flatrange_can_merge(const FlatRange *a, const FlatRange *b);
/* Index of the first range of fv whose end is above addr (fv->nr if none). */
size_t flatview_first_ending_after(const FlatView *fv, MemSize addr);
/* mr's dirty_log_mask plus the migration bit for RAM while global logging is on. */
uint8_t memory_region_effective_log_mask(const MemoryRegion *mr);

/* The section describing one range of fv. */
static inline MemoryRegionSection flatrange_section(FlatView *fv, const FlatRange *fr)
{
    return (MemoryRegionSection){
        .mr = fr->mr,
        .fv = fv,
        .offset_within_region = fr->offset_in_region,
        .offset_within_address_space = fr->addr,
        .size = fr->size,
        .readonly = fr->readonly,
    };
}
/* End (exclusive) of a range, as MemSize so that 2^64 is representable. */
static inline MemSize flatrange_end(const FlatRange *fr)
{
    return (MemSize)fr->addr + fr->size;
}

/* ---- listener.c ------------------------------------------------------------------ */

/* What one commit changed in an address space, in address order. */
enum flatview_change_kind { FV_CHANGE_DEL, FV_CHANGE_ADD, FV_CHANGE_NOP };
typedef struct FlatViewChange {
    enum flatview_change_kind kind;
    FlatRange fr;               /* old range for DEL, new range for ADD/NOP */
    uint8_t old_log_mask;       /* NOP: the mask before, for log_start/log_stop */
} FlatViewChange;

typedef struct IoeventfdVec {
    MemoryRegionIoeventfd *e;
    size_t nr, cap;
} IoeventfdVec;

typedef struct FlatViewChanges {
    FlatViewChange *dels, *adds;        /* adds holds ADD and NOP */
    size_t nr_dels, cap_dels, nr_adds, cap_adds;
    IoeventfdVec efd_dels, efd_adds;
} FlatViewChanges;

void flatview_changes_free(FlatViewChanges *c);
/* Tell as's listeners: begin, region_del (listeners in reverse), region_add/region_nop
 * with log_start/log_stop (forward), eventfd_del, eventfd_add, commit (reverse). */
void memory_listeners_announce(AddressSpace *as, FlatView *fv, const FlatViewChanges *c);
bool memory_global_dirty_log_active(void);
/* Detach every listener of as (called by address_space_destroy after the final
 * announcement). */
void memory_listeners_detach_all(AddressSpace *as);

/* ---- dispatch.c ------------------------------------------------------------------ */

/*
 * Incremental update, used by the commit (as_update.c) when fv was edited in place and
 * only the ranges inside [start, start + size) changed (ranges outside are unchanged in
 * mr/offset/attributes, though their index in fv->ranges may have moved). Brings d up
 * to date for fv and returns 0, or returns -errno with errp set, in which case d is
 * left so that address_space_dispatch_free() still works, and the caller rebuilds
 * with address_space_dispatch_new().
 */
int address_space_dispatch_update(AddressSpaceDispatch *d, FlatView *fv, hwaddr start,
                                  MemSize size, Error **errp);

#endif
