/*
 * memory/dispatch-internal.h — the dispatch page map's data structures and the
 * operations its two files share: dispatch.c keeps the radix tree (storage, lookup,
 * filling page ranges, compaction) and dispatch_build.c turns FlatViews into it (full
 * builds and incremental updates). The access layer only uses dispatch_lookup(), the
 * lookup with its most-recently-used test inlined. See dispatch.c for how the map
 * works. Private to memory/.
 */
#ifndef XENDM_MEMORY_DISPATCH_INTERNAL_H
#define XENDM_MEMORY_DISPATCH_INTERNAL_H

#include "memory/memory-internal.h"

#define DISPATCH_PAGE_BITS      12
#define DISPATCH_PAGE_SIZE      (1ULL << DISPATCH_PAGE_BITS)
#define DISPATCH_LEVEL_BITS     9                       /* a node has 512 entries */
#define DISPATCH_LEVEL_SIZE     (1u << DISPATCH_LEVEL_BITS)
#define DISPATCH_LEVELS         6                       /* 6 * 9 = 54 >= 64 - 12 */
#define DISPATCH_ROOT_LEVEL     DISPATCH_LEVELS         /* the root slot, above level 5 */
#define DISPATCH_PTR_BITS       26
/* A leaf's ptr is a section id, or this flag and a subpage id; both stay below it. */
#define DISPATCH_SUBPAGE_FLAG   (1u << (DISPATCH_PTR_BITS - 1))
#define DISPATCH_SECTION_LIMIT  DISPATCH_SUBPAGE_FLAG
#define DISPATCH_HOLE_ID        0u                      /* section 0: nothing answers */

typedef struct PageEntry {
    uint32_t skip : 6;
    uint32_t ptr : DISPATCH_PTR_BITS;
} PageEntry;

#define DISPATCH_HOLE_ENTRY     ((PageEntry){ .skip = 0, .ptr = DISPATCH_HOLE_ID })

typedef struct PageNode {
    PageEntry e[DISPATCH_LEVEL_SIZE];
} PageNode;

typedef struct SubpagePiece {
    uint16_t start;             /* offset within the page */
    uint32_t section;           /* DISPATCH_HOLE_ID for a gap */
} SubpagePiece;

typedef struct Subpage {
    uint64_t page;              /* page number this table answers for */
    unsigned nr;
    SubpagePiece piece[];       /* sorted by start, piece[0].start == 0 */
} Subpage;

/* A stack of free ids. */
typedef struct IdPool {
    uint32_t *ids;
    uint32_t nr, alloc;
} IdPool;

struct AddressSpaceDispatch {
    FlatView *fv;
    const MemoryRegionSection *mru;
    PageEntry root;                 /* the slot above the top level */

    PageNode *nodes;
    uint64_t *node_base;            /* first page covered by each node (to undo skips) */
    uint32_t nodes_nb, nodes_alloc, node_base_alloc;
    IdPool free_nodes;
    /* The level-0 node the last fill wrote to and its first page, so that a build in
     * address order need not walk down from the root for every section. UINT32_MAX
     * when unknown; reset whenever a node is freed. */
    uint32_t cursor_node;
    uint64_t cursor_base;

    MemoryRegionSection *sections;  /* [0] is the hole: mr NULL, size 0 */
    uint32_t sections_nb, sections_alloc;
    IdPool free_sections;

    Subpage **subpages;
    uint32_t subpages_nb, subpages_alloc;
    IdPool free_subpages;
};

/* ---- dispatch.c: storage and tree edits, for dispatch_build.c ------------------- */

/* Grow *array (of *alloc elements of elem bytes) to hold need; -E2BIG past limit. */
int dispatch_grow(void **array, uint32_t *alloc, uint32_t need, size_t elem, uint32_t limit);
/* A new section id (its contents are the caller's to fill); 0 or -errno. */
int dispatch_section_alloc(AddressSpaceDispatch *d, uint32_t *out);
/* Free a section id once (later calls for the same id are no-ops). */
int dispatch_section_release(AddressSpaceDispatch *d, uint32_t id);
/* Take ownership of sp under a new subpage id / free a subpage. */
int dispatch_subpage_store(AddressSpaceDispatch *d, Subpage *sp, uint32_t *out);
int dispatch_subpage_release(AddressSpaceDispatch *d, uint32_t id);
/* Point pages [first, first + count) at leaf. With release, the sections and subpages
 * they named are freed too; nodes left unused are always freed. */
int dispatch_fill_pages(AddressSpaceDispatch *d, uint64_t first, uint64_t count,
                        PageEntry leaf, bool release);
/* Fold single-child chains into skips (after a full build). */
void dispatch_compact(AddressSpaceDispatch *d);

/* ---- lookups, inline for the hot paths -------------------------------------------- */

/* Bit position of a level's index in the page number. */
static inline unsigned dispatch_level_shift(unsigned level)
{
    return DISPATCH_LEVEL_BITS * level;
}

/* End (exclusive) of a section. */
static inline MemSize dispatch_section_end(const MemoryRegionSection *s)
{
    return (MemSize)s->offset_within_address_space + s->size;
}

static inline bool dispatch_section_covers(const MemoryRegionSection *s, hwaddr addr)
{
    /* Unsigned wrap makes addr < start fail too, since start + size <= 2^64. */
    return (MemSize)(addr - s->offset_within_address_space) < s->size;
}

/* The leaf answering for page (possibly a foreign one reached through a skip). */
static inline PageEntry dispatch_leaf(const AddressSpaceDispatch *d, uint64_t page)
{
    PageEntry e = d->root;
    unsigned level = DISPATCH_ROOT_LEVEL;
    while (e.skip) {
        level -= e.skip;
        unsigned idx = (page >> dispatch_level_shift(level)) & (DISPATCH_LEVEL_SIZE - 1);
        e = d->nodes[e.ptr].e[idx];
    }
    return e;
}

/* Index of the piece holding offset `off` (the last piece starting at or before it). */
static inline unsigned dispatch_subpage_find(const Subpage *sp, unsigned off)
{
    unsigned lo = 0, hi = sp->nr;          /* piece[lo].start <= off < piece[hi].start */
    while (hi - lo > 1) {
        unsigned mid = (lo + hi) / 2;
        if (sp->piece[mid].start <= off)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* The subpage a leaf names, if it is the one for `page` (skips may lead elsewhere). */
static inline const Subpage *dispatch_subpage_of(const AddressSpaceDispatch *d, PageEntry e,
                                                 uint64_t page)
{
    const Subpage *sp = d->subpages[e.ptr & ~DISPATCH_SUBPAGE_FLAG];
    return sp->page == page ? sp : NULL;
}

/* The id of the section holding addr, DISPATCH_HOLE_ID if none. */
static inline uint32_t dispatch_lookup_id(const AddressSpaceDispatch *d, hwaddr addr)
{
    uint64_t page = addr >> DISPATCH_PAGE_BITS;
    PageEntry e = dispatch_leaf(d, page);
    if (e.ptr & DISPATCH_SUBPAGE_FLAG) {
        const Subpage *sp = dispatch_subpage_of(d, e, page);
        if (!sp)
            return DISPATCH_HOLE_ID;
        return sp->piece[dispatch_subpage_find(sp, addr & (DISPATCH_PAGE_SIZE - 1))].section;
    }
    return dispatch_section_covers(&d->sections[e.ptr], addr) ? e.ptr : DISPATCH_HOLE_ID;
}

/* address_space_dispatch_lookup() with its MRU test inlined into the caller. */
static inline const MemoryRegionSection *dispatch_lookup(AddressSpaceDispatch *d, hwaddr addr)
{
    const MemoryRegionSection *s = d->mru;
    if (__builtin_expect(dispatch_section_covers(s, addr), 1))
        return s;
    return address_space_dispatch_lookup(d, addr);
}

#endif
