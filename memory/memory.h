/*
 * memory/memory.h — the memory model: MemoryRegion trees, AddressSpaces, FlatViews,
 * dispatch, listeners and guest-physical accesses.
 *
 * A device describes what it decodes as a tree of MemoryRegions (io, ram, rom, alias,
 * container). An AddressSpace has a root region; at the outermost transaction commit it
 * renders the tree into a FlatView (sorted, non-overlapping ranges, each naming the leaf
 * region that answers there) and tells the MemoryListeners what changed. Accesses
 * (`address_space_rw`) find the answering section through the dispatch page map and
 * call the region's MemoryRegionOps or copy to/from RAM.
 *
 * Ownership: the caller owns the MemoryRegion storage (usually embedded in a device
 * struct); memory_region_init_*() only initialises it, memory_region_finalize() releases
 * what init allocated (name, RAM block). A region must be removed from its container
 * before it is finalised. FlatViews are reference counted: a reader that must outlive
 * a commit takes flatview_ref(). The model is single-threaded: all edits and all
 * accesses happen on one thread (the ioreq loop), so there is no locking here.
 *
 * Sizes: a region or range may cover the full 2^64 bytes. Internally sizes are
 * 128-bit (MemSize); at the API, a uint64_t size of UINT64_MAX means 2^64, as in QEMU.
 */
#ifndef XENDM_MEMORY_H
#define XENDM_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "util/error.h"

typedef uint64_t hwaddr;
typedef uint64_t ram_addr_t;
typedef unsigned __int128 MemSize;      /* 0 .. 2^64 inclusive */

#define RAM_ADDR_INVALID  (~(ram_addr_t)0)
#define MEMSIZE_2_64      ((MemSize)1 << 64)

typedef struct MemoryRegion MemoryRegion;
typedef struct MemoryRegionOps MemoryRegionOps;
typedef struct MemoryRegionSection MemoryRegionSection;
typedef struct MemoryListener MemoryListener;
typedef struct AddressSpace AddressSpace;
typedef struct FlatView FlatView;
typedef struct FlatRange FlatRange;
typedef struct AddressSpaceDispatch AddressSpaceDispatch;
typedef struct RAMBlock RAMBlock;
typedef struct RamBackend RamBackend;

/* ---- MemoryRegionOps ------------------------------------------------------------- */

enum device_endian {
    DEVICE_NATIVE_ENDIAN,       /* the guest's (x86: little) */
    DEVICE_BIG_ENDIAN,
    DEVICE_LITTLE_ENDIAN,
};

/* Result of an access, as QEMU's MemTxResult: 0 is success. */
typedef uint32_t MemTxResult;
#define MEMTX_OK             0u
#define MEMTX_ERROR          (1u << 0)  /* device returned an error */
#define MEMTX_DECODE_ERROR   (1u << 1)  /* nothing answers at this address */
#define MEMTX_ACCESS_ERROR   (1u << 2)  /* access refused (size, alignment, readonly) */
/* The device cannot take this write yet (it waits for work in flight): nothing was done,
 * and the caller performs the same write again later (xen/ioreq_exec.c holds the
 * guest's request meanwhile, the way a bus holds a CPU's write to a slow device). */
#define MEMTX_RETRY          (1u << 3)

struct MemoryRegionOps {
    /* addr is relative to the region; size is 1, 2, 4 or 8 (within impl limits). */
    uint64_t (*read)(void *opaque, hwaddr addr, unsigned size);
    void (*write)(void *opaque, hwaddr addr, uint64_t data, unsigned size);
    /* Instead of write, for a device whose write may have to wait: it returns MEMTX_OK
     * or MEMTX_RETRY (the write had no effect; the same write comes again later, so it
     * must be idempotent). Such a device declares impl sizes that take every valid
     * write in one call, so that a retried write was not half done. */
    MemTxResult (*write_with_result)(void *opaque, hwaddr addr, uint64_t data,
                                     unsigned size);
    enum device_endian endianness;
    /* What the guest may do: accesses outside these are refused (MEMTX_ACCESS_ERROR,
     * reads return all ones). 0 means "no constraint" (min 1, max 4). */
    struct {
        unsigned min_access_size;
        unsigned max_access_size;
        bool unaligned;
        /* Optional finer check; false refuses the access. */
        bool (*accepts)(void *opaque, hwaddr addr, unsigned size, bool is_write);
    } valid;
    /* What the callbacks implement: valid accesses are split into or widened to
     * these sizes by the access layer. 0 means min 1, max 4. */
    struct {
        unsigned min_access_size;
        unsigned max_access_size;
        bool unaligned;
    } impl;
};

/* Answers like QEMU's unassigned_mem_ops: reads all ones, writes ignored. */
extern const MemoryRegionOps unassigned_mem_ops;

/* ---- MemoryRegion ---------------------------------------------------------------- */

typedef struct MemoryRegionIoeventfd {
    hwaddr addr;                /* relative to the region */
    unsigned size;              /* 0 means any size */
    bool match_data;
    uint64_t data;
    int fd;                     /* eventfd owned by the caller */
    MemoryRegion *mr;           /* the region that declared it */
} MemoryRegionIoeventfd;

enum memory_region_kind {
    MR_KIND_CONTAINER,
    MR_KIND_IO,
    MR_KIND_RAM,
    MR_KIND_ROM,                /* RAM that the guest may not write; see romd_mode */
    MR_KIND_ROM_DEVICE,         /* reads from RAM in romd mode, writes to ops */
    MR_KIND_ALIAS,
};

/* Dirty-memory clients (bit numbers in dirty_log_mask). */
enum dirty_client {
    DIRTY_MEMORY_VGA,
    DIRTY_MEMORY_CODE,
    DIRTY_MEMORY_MIGRATION,
    DIRTY_MEMORY_NUM,
};

struct MemoryRegion {
    char *name;                 /* owned */
    char *path;                 /* canonical path, owned; see memory_region_path() */
    const char *owner;          /* owner's path ("/machine/uart0"), or NULL: "/machine/unattached" */
    enum memory_region_kind kind;
    const MemoryRegionOps *ops;
    void *opaque;
    MemSize size;
    hwaddr addr;                /* offset within the container */
    MemoryRegion *container;
    MemoryRegion *alias;        /* MR_KIND_ALIAS: target */
    hwaddr alias_offset;
    int32_t priority;
    bool may_overlap;
    bool enabled;
    bool readonly;              /* for RAM: guest writes are ignored */
    bool romd_mode;             /* ROM_DEVICE: reads served from RAM when true */
    bool terminates;            /* leaf (io/ram/rom), as opposed to container/alias */
    uint8_t dirty_log_mask;     /* bits of enum dirty_client with logging on */
    unsigned alias_count;       /* number of aliases pointing at this region */
    RAMBlock *ram_block;        /* RAM/ROM/ROM_DEVICE: backing block */
    void (*destructor)(MemoryRegion *mr);
    /* Children, highest priority first; among equal priorities the later-added first. */
    TAILQ_HEAD(, MemoryRegion) subregions;
    TAILQ_ENTRY(MemoryRegion) subregions_link;
    MemoryRegionIoeventfd *ioeventfds;
    unsigned ioeventfd_nb;
    /* Private to memory/region.c: children indexed by address, and when this region
     * was last added to its container (orders equal priorities: later-added wins). */
    struct MemoryRegionChildIndex *child_index;
    uint64_t add_seq;
    /* The aliases targeting this region (alias_count of them), so that a change below
     * it can be located in every address space that shows it through an alias. */
    TAILQ_HEAD(, MemoryRegion) aliases;
    TAILQ_ENTRY(MemoryRegion) aliases_link;
};

/* Initialise a pure container (answers nothing itself; children decide). */
void memory_region_init(MemoryRegion *mr, const char *owner, const char *name, uint64_t size);
void memory_region_init_io(MemoryRegion *mr, const char *owner, const MemoryRegionOps *ops,
                           void *opaque, const char *name, uint64_t size);
/* RAM backed by a new RAMBlock (memory/ram.h) of anonymous host memory. Returns 0 or
 * -errno with *errp set. */
int memory_region_init_ram(MemoryRegion *mr, const char *owner, const char *name,
                           uint64_t size, Error **errp);
/* The same with the block's memory from `backend` (copied; NULL: host memory): how the
 * machine that creates the region provides, reaches and logs its guest RAM. */
int memory_region_init_ram_backed(MemoryRegion *mr, const char *owner, const char *name,
                                  uint64_t size, const RamBackend *backend, Error **errp);
/* RAM backed by the caller's memory (host must stay valid until finalize). */
int memory_region_init_ram_ptr(MemoryRegion *mr, const char *owner, const char *name,
                               uint64_t size, void *host, Error **errp);
int memory_region_init_rom(MemoryRegion *mr, const char *owner, const char *name,
                           uint64_t size, Error **errp);
int memory_region_init_rom_device(MemoryRegion *mr, const char *owner,
                                  const MemoryRegionOps *ops, void *opaque,
                                  const char *name, uint64_t size, Error **errp);
void memory_region_init_alias(MemoryRegion *mr, const char *owner, const char *name,
                              MemoryRegion *orig, hwaddr offset, uint64_t size);
/* Release what init allocated; the region must have no container. */
void memory_region_finalize(MemoryRegion *mr);

/* Tree edits. Each is its own transaction unless called inside one. Return 0 or -errno
 * (-EINVAL: bad argument, -EEXIST: already has a container, -ENOENT: not a child,
 * -ELOOP: alias/containment cycle) with a message through errp naming the regions. */
int memory_region_add_subregion(MemoryRegion *mr, hwaddr offset, MemoryRegion *sub,
                                Error **errp);
int memory_region_add_subregion_overlap(MemoryRegion *mr, hwaddr offset, MemoryRegion *sub,
                                        int priority, Error **errp);
int memory_region_del_subregion(MemoryRegion *mr, MemoryRegion *sub, Error **errp);
void memory_region_set_address(MemoryRegion *mr, hwaddr addr);
void memory_region_set_alias_offset(MemoryRegion *mr, hwaddr offset);
void memory_region_set_size(MemoryRegion *mr, uint64_t size);
void memory_region_set_enabled(MemoryRegion *mr, bool enabled);
void memory_region_set_readonly(MemoryRegion *mr, bool readonly);
void memory_region_rom_device_set_romd(MemoryRegion *mr, bool romd_mode);
void memory_region_set_log(MemoryRegion *mr, bool log, enum dirty_client client);
int memory_region_add_eventfd(MemoryRegion *mr, hwaddr addr, unsigned size,
                              bool match_data, uint64_t data, int fd, Error **errp);
int memory_region_del_eventfd(MemoryRegion *mr, hwaddr addr, unsigned size,
                              bool match_data, uint64_t data, int fd, Error **errp);

/* UINT64_MAX when the region is 2^64 bytes. */
uint64_t memory_region_size(const MemoryRegion *mr);
const char *memory_region_name(const MemoryRegion *mr);
/* Canonical path: owner path + "/" + escaped "name[N]" (N counts same-named siblings of
 * one owner). Owned by the region. */
const char *memory_region_path(const MemoryRegion *mr);
bool memory_region_is_ram(const MemoryRegion *mr);
bool memory_region_is_romd(const MemoryRegion *mr);
/* Host pointer for RAM at offset (NULL when the block has none: its backend maps it). */
void *memory_region_get_ram_ptr(const MemoryRegion *mr);
ram_addr_t memory_region_get_ram_addr(const MemoryRegion *mr);

/*
 * Properties, as QEMU's object properties on a region: "container" (the container's
 * path, or "" if none), "addr", "priority", "may-overlap" ("true"/"false"), "size"
 * (decimal; "18446744073709551616" for 2^64). Writes the value as text into buf.
 * Returns 0, -ENOENT for an unknown property, -ERANGE if buf is too small.
 */
int memory_region_get_property(const MemoryRegion *mr, const char *prop, char *buf,
                               size_t buflen);
/* Numeric form for addr/priority/may-overlap/size (size saturates to UINT64_MAX). */
int memory_region_get_property_u64(const MemoryRegion *mr, const char *prop, uint64_t *out);

/* ---- Transactions ---------------------------------------------------------------- */

/* Nest freely; nothing is rendered or announced until the outermost commit, and only
 * address spaces whose tree changed are re-rendered. */
void memory_region_transaction_begin(void);
void memory_region_transaction_commit(void);
unsigned memory_region_transaction_depth(void);

/* ---- FlatView, sections ---------------------------------------------------------- */

struct FlatRange {
    MemoryRegion *mr;           /* a terminating region (io/ram/rom) */
    hwaddr offset_in_region;
    hwaddr addr;                /* start in the address space */
    MemSize size;
    uint8_t dirty_log_mask;
    bool romd_mode;
    bool readonly;
};

struct FlatView {
    unsigned ref;
    FlatRange *ranges;          /* sorted by addr, non-overlapping */
    unsigned nr, nr_allocated;
    MemoryRegion *root;
    AddressSpaceDispatch *dispatch;
};

struct MemoryRegionSection {
    MemoryRegion *mr;
    FlatView *fv;
    hwaddr offset_within_region;
    hwaddr offset_within_address_space;
    MemSize size;
    bool readonly;
};

void flatview_ref(FlatView *fv);
void flatview_unref(FlatView *fv);

/* ---- AddressSpace ---------------------------------------------------------------- */

struct AddressSpace {
    char *name;
    MemoryRegion *root;
    FlatView *current_map;
    MemoryRegionIoeventfd *ioeventfds;      /* flattened, address-space relative */
    unsigned ioeventfd_nb;
    TAILQ_HEAD(, MemoryListener) listeners;
    TAILQ_ENTRY(AddressSpace) address_spaces_link;
    /* Commit bookkeeping (transaction.c): render the whole view in the next round;
     * the last update ran out of memory part way, so the view may lag the tree until
     * the next commit renders it whole. */
    bool render_whole, view_stale;
    /* Counters, readable by tools and tests. */
    uint64_t unassigned_reads, unassigned_writes;
};

int address_space_init(AddressSpace *as, MemoryRegion *root, const char *name, Error **errp);
void address_space_destroy(AddressSpace *as);
/* The current view, referenced: release with flatview_unref(). */
FlatView *address_space_get_flatview(AddressSpace *as);

/* Section answering at addr (size clipped to the end of that section). The section's
 * mr is NULL when nothing answers (a hole). Valid until the next commit. */
MemoryRegionSection address_space_lookup(AddressSpace *as, hwaddr addr);

/* ---- Dispatch (memory/dispatch.c) ------------------------------------------------ */

/* Build the page map for a FlatView. Returns NULL (errp set) on allocation failure. */
AddressSpaceDispatch *address_space_dispatch_new(FlatView *fv, Error **errp);
void address_space_dispatch_free(AddressSpaceDispatch *d);
/* The section holding addr, or NULL for a hole. The returned pointer is owned by d. */
const MemoryRegionSection *address_space_dispatch_lookup(AddressSpaceDispatch *d, hwaddr addr);
/* For addr in a hole: how many bytes from addr stay unassigned, counted at most to the
 * end of addr's 4 KiB page (so at least 1). */
hwaddr address_space_dispatch_hole_size(AddressSpaceDispatch *d, hwaddr addr);

/* ---- Accesses (memory/access.c) --------------------------------------------------- */

/*
 * address_space_rw walks [addr, addr + len) section by section: RAM is copied (writes
 * mark the pages dirty), io is cut into the widest pieces the device accepts. Bytes
 * nothing decodes (holes, io regions without ops, anything past 2^64: there is no
 * wrap to 0) read as 0xff, drop writes, give MEMTX_DECODE_ERROR and count once per
 * call in as->unassigned_reads/writes. Writes to ROM or readonly RAM are dropped with
 * MEMTX_ACCESS_ERROR. The results of the pieces are OR-ed.
 */

typedef struct MemTxAttrs {
    unsigned unspecified : 1;
} MemTxAttrs;
#define MEMTXATTRS_UNSPECIFIED ((MemTxAttrs){ .unspecified = 1 })

MemTxResult address_space_rw(AddressSpace *as, hwaddr addr, MemTxAttrs attrs, void *buf,
                             hwaddr len, bool is_write);
MemTxResult address_space_read(AddressSpace *as, hwaddr addr, MemTxAttrs attrs, void *buf,
                               hwaddr len);
MemTxResult address_space_write(AddressSpace *as, hwaddr addr, MemTxAttrs attrs,
                                const void *buf, hwaddr len);
/* A device's DMA that must reach RAM only: a piece of the access that is not RAM
 * (MMIO, including the device's own registers, so there is no re-entry; a hole; ROM
 * for a write) is neither read nor written, reads as all ones, and fails the access
 * with MEMTX_ACCESS_ERROR; the RAM pieces are done. (A separate entry point, so that
 * register accesses through address_space_rw pay nothing for it.) */
MemTxResult address_space_rw_ram_only(AddressSpace *as, hwaddr addr, void *buf, hwaddr len,
                                      bool is_write);
/*
 * Zero-copy DMA (memory/access_map.c): a host pointer for up to len bytes of guest RAM
 * at addr, for a device to hand to the kernel. RAM only (MMIO, holes and, when the
 * device writes, ROM or readonly RAM: -EFAULT); m->len may be shorter than len (the
 * end of the section, or what the block's backend could map contiguously): map the
 * rest with another call. The mapping stays valid until address_space_unmap(), which
 * marks the first access_len bytes dirty when the device wrote them. The region must
 * stay in place while mapped.
 */
typedef struct DmaMap {
    void *host;
    hwaddr len;
    MemoryRegion *mr;
    hwaddr offset;                  /* in mr */
    bool is_write;                  /* the device writes guest memory */
} DmaMap;
int address_space_map(AddressSpace *as, hwaddr addr, hwaddr len, bool is_write, DmaMap *m);
void address_space_unmap(DmaMap *m, hwaddr access_len);

/* Sized helpers: value in host order; _le/_be say which byte order memory holds it in.
 * Each is one access of its size: an io region gets a single dispatch of that size
 * (refused if ops->valid does not allow it), unless the access straddles sections. */
uint8_t  address_space_ldub(AddressSpace *as, hwaddr addr, MemTxAttrs attrs, MemTxResult *r);
uint16_t address_space_lduw_le(AddressSpace *as, hwaddr addr, MemTxAttrs attrs, MemTxResult *r);
uint32_t address_space_ldl_le(AddressSpace *as, hwaddr addr, MemTxAttrs attrs, MemTxResult *r);
uint64_t address_space_ldq_le(AddressSpace *as, hwaddr addr, MemTxAttrs attrs, MemTxResult *r);
uint16_t address_space_lduw_be(AddressSpace *as, hwaddr addr, MemTxAttrs attrs, MemTxResult *r);
uint32_t address_space_ldl_be(AddressSpace *as, hwaddr addr, MemTxAttrs attrs, MemTxResult *r);
uint64_t address_space_ldq_be(AddressSpace *as, hwaddr addr, MemTxAttrs attrs, MemTxResult *r);
void address_space_stb(AddressSpace *as, hwaddr addr, uint8_t val, MemTxAttrs attrs, MemTxResult *r);
void address_space_stw_le(AddressSpace *as, hwaddr addr, uint16_t val, MemTxAttrs attrs, MemTxResult *r);
void address_space_stl_le(AddressSpace *as, hwaddr addr, uint32_t val, MemTxAttrs attrs, MemTxResult *r);
void address_space_stq_le(AddressSpace *as, hwaddr addr, uint64_t val, MemTxAttrs attrs, MemTxResult *r);
void address_space_stw_be(AddressSpace *as, hwaddr addr, uint16_t val, MemTxAttrs attrs, MemTxResult *r);
void address_space_stl_be(AddressSpace *as, hwaddr addr, uint32_t val, MemTxAttrs attrs, MemTxResult *r);
void address_space_stq_be(AddressSpace *as, hwaddr addr, uint64_t val, MemTxAttrs attrs, MemTxResult *r);

/* One access of `size` (1/2/4/8) bytes to a region, applying valid/impl constraints
 * and endianness; addr is region-relative. Used by the access layer and by the ioreq
 * loop for single PIO/MMIO requests. *data is in the guest's byte order (little
 * endian; a big-endian device's callbacks see it swapped). Refused accesses give
 * MEMTX_ACCESS_ERROR, regions without ops MEMTX_DECODE_ERROR; reads then return all
 * ones. RAM-backed regions (and ROM devices in romd mode, for reads) are served from
 * their RAM. Accesses narrower than impl.min_access_size read-modify-write the
 * aligned word around them. */
MemTxResult memory_region_dispatch_read(MemoryRegion *mr, hwaddr addr, uint64_t *data,
                                        unsigned size, MemTxAttrs attrs);
MemTxResult memory_region_dispatch_write(MemoryRegion *mr, hwaddr addr, uint64_t data,
                                         unsigned size, MemTxAttrs attrs);

/* ---- Listeners ------------------------------------------------------------------- */

struct MemoryListener {
    void (*begin)(MemoryListener *l);
    void (*commit)(MemoryListener *l);
    void (*region_add)(MemoryListener *l, MemoryRegionSection *s);
    void (*region_del)(MemoryListener *l, MemoryRegionSection *s);
    void (*region_nop)(MemoryListener *l, MemoryRegionSection *s);
    void (*log_start)(MemoryListener *l, MemoryRegionSection *s, int old_mask, int new_mask);
    void (*log_stop)(MemoryListener *l, MemoryRegionSection *s, int old_mask, int new_mask);
    void (*log_sync)(MemoryListener *l, MemoryRegionSection *s);
    void (*log_global_start)(MemoryListener *l);
    void (*log_global_stop)(MemoryListener *l);
    void (*eventfd_add)(MemoryListener *l, MemoryRegionSection *s, bool match_data,
                        uint64_t data, int fd);
    void (*eventfd_del)(MemoryListener *l, MemoryRegionSection *s, bool match_data,
                        uint64_t data, int fd);
    unsigned priority;          /* lower first for add/begin, higher first for del/commit */
    const char *name;
    AddressSpace *address_space;            /* set by register */
    TAILQ_ENTRY(MemoryListener) link;       /* global list */
    TAILQ_ENTRY(MemoryListener) link_as;    /* per address space */
};

/* Register for one address space; replays region_add (and eventfd_add) for what
 * already exists, inside begin/commit. */
void memory_listener_register(MemoryListener *l, AddressSpace *as);
void memory_listener_unregister(MemoryListener *l);
void memory_global_dirty_log_start(void);
void memory_global_dirty_log_stop(void);
void memory_global_dirty_log_sync(void);

/* ---- Dumps ----------------------------------------------------------------------- */

#include <stdio.h>
/* Like QEMU's "info mtree": the tree of every address space's root. */
void mtree_print(FILE *out, AddressSpace *as);
/* Like "info mtree -f": one line per range, "start-end (prio P, kind): name". */
void mtree_print_flatview(FILE *out, AddressSpace *as);

#include "memory/ram.h"

#endif
