/*
 * memory/dispatch-internal.h — the dispatch page map's data structures, shared by
 * dispatch.c (which builds, updates and searches them) and the access layer (which
 * only reads the most-recently-used section inline, through dispatch_lookup()).
 * See dispatch.c for how the map works. Private to memory/.
 */
#ifndef XENDM_MEMORY_DISPATCH_INTERNAL_H
#define XENDM_MEMORY_DISPATCH_INTERNAL_H

#include "memory/memory-internal.h"

#define DISPATCH_LEVEL_BITS 9                  /* a node has 512 entries */
#define DISPATCH_PTR_BITS   26

typedef struct PageEntry {
    uint32_t skip : 6;
    uint32_t ptr : DISPATCH_PTR_BITS;
} PageEntry;

typedef struct PageNode {
    PageEntry e[1u << DISPATCH_LEVEL_BITS];
} PageNode;

typedef struct SubpagePiece {
    uint16_t start;             /* offset within the page */
    uint32_t section;           /* HOLE_ID for a gap */
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

/* address_space_dispatch_lookup() with its MRU test inlined into the caller. */
static inline const MemoryRegionSection *dispatch_lookup(AddressSpaceDispatch *d, hwaddr addr)
{
    const MemoryRegionSection *s = d->mru;
    if (__builtin_expect((MemSize)(addr - s->offset_within_address_space) < s->size, 1))
        return s;
    return address_space_dispatch_lookup(d, addr);
}

#endif
