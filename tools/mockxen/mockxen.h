/*
 * tools/mockxen/mockxen.h — the hypervisor model inside the mockxen daemon.
 *
 * mockxen models exactly one HVM domain (the guest) as Xen shows it to a device model:
 * guest RAM in a sparse memfd plus a populated-frame bitmap, HVM params, vCPUs, up to
 * MX_MAX_SERVERS ioreq servers with their port/MMIO/PCI rangesets, the guest-side
 * event channel ports of those servers, a log-dirty bitmap, and the interrupt lines a
 * device model drives. The socket server (sockserver.c) turns shim requests into calls on
 * this model; the guest backend (backend.c) turns guest script statements into ioreqs.
 *
 * Ownership and threading: the MxDomain is created and destroyed by main; everything
 * mutable in it is protected by `lock`, except guest RAM (shared with device models by
 * design) and the ioreq pages (the protocol itself is the synchronisation, checked like
 * Xen checks it). The vCPU threads send ioreqs concurrently; each vCPU owns its slot in
 * every server's ioreq page and its wake eventfd. Errors are 0 / -errno with an Error
 * saying what failed with which values.
 */
#ifndef MOCKXEN_MOCKXEN_H
#define MOCKXEN_MOCKXEN_H

#ifndef __XEN_TOOLS__
#define __XEN_TOOLS__ 1           /* the toolstack view of the Xen public headers */
#endif

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <xen/xen.h>
#include <xen/hvm/ioreq.h>
#include <xen/hvm/params.h>

#include "tools/mockxen/kinds.h"
#include "tools/mockxen/proto.h"
#include "util/error.h"

#define MX_MAX_SERVERS     8      /* Xen's MAX_NR_IOREQ_SERVERS */
#define MX_MAX_RANGES      256    /* Xen's MAX_NR_IO_RANGES per rangeset */
#define MX_MAX_VCPUS       128    /* one ioreq page holds 128 slots */
#define MX_GUEST_PORTS     1024   /* guest-side event channel ports */
#define MX_SPECIAL_FRAMES  (2 * MX_MAX_SERVERS)   /* ioreq + bufioreq page per server */
#define MX_NR_RANGE_TYPES  3      /* XEN_DMOP_IO_RANGE_PORT, _MEMORY, _PCI */
#define MX_PCI_DEVICES     32     /* INTx lines: bus 0 only, as Xen's dm_op */
#define MX_MSI_QUEUE       256    /* injected MSIs not yet consumed by the guest */
#define MX_MAX_REFUSALS    8      /* --refuse-range rules */
#define MX_ONEWAY_SYNC_MS  2000   /* longest wait for a one-way message (mx_oneway_sync) */

/* The CLOCK_REALTIME time `ns` from now, as pthread_cond_timedwait() wants it. */
static inline struct timespec mx_deadline_after_ns(uint64_t ns)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    uint64_t nsec = (uint64_t)t.tv_nsec + ns;
    t.tv_sec += (time_t)(nsec / 1000000000ull);
    t.tv_nsec = (long)(nsec % 1000000000ull);
    return t;
}

/* ---- rangeset.c: sorted, merged, inclusive ranges as Xen's rangesets ---------------- */
typedef struct MxRange {
    uint64_t start, end;
} MxRange;

typedef struct MxRangeSet {
    unsigned nr;
    MxRange r[MX_MAX_RANGES];
} MxRangeSet;

/* Add [start,end]: -EINVAL if start > end, -EEXIST if it overlaps, -ENOMEM when
 * MX_MAX_RANGES ranges are already in use (Xen's limit; adjacent ranges merge). */
int mx_rangeset_add(MxRangeSet *rs, uint64_t start, uint64_t end);
/* Remove [start,end], which must be wholly contained: -ENOENT otherwise; -ENOMEM if
 * splitting a range would exceed the limit. */
int mx_rangeset_remove(MxRangeSet *rs, uint64_t start, uint64_t end);
bool mx_rangeset_contains(const MxRangeSet *rs, uint64_t start, uint64_t end);
bool mx_rangeset_overlaps(const MxRangeSet *rs, uint64_t start, uint64_t end);

/* ---- event channels (evtchn.c) ------------------------------------------------------ */

/* The daemon side of one xenevtchn handle (one shim connection). */
typedef struct MxEvtchnHandle {
    int efd;                  /* the handle's pollable eventfd (shim has a copy) */
    int page_fd;              /* memfd of `page` (shim has a copy) */
    MxEvtchnPage *page;
    uint32_t restrict_domid;  /* DOMID_INVALID unless restricted */
} MxEvtchnHandle;

/* A guest-side port: allocated by an ioreq server, bound by a device model. */
typedef struct MxPort {
    bool used;
    int kick_fd;              /* written by the DM's notify(); not owned (vCPU wake fd) */
    MxEvtchnHandle *bound;    /* NULL while unbound */
    uint32_t local_port;      /* the DM's port number while bound */
} MxPort;

/* ---- ioreq servers (ioreq_server.c) ------------------------------------------------- */
typedef struct MxIoreqServer {
    bool used;
    bool enabled;
    uint32_t generation;      /* bumped on create and destroy: waiting vCPUs notice */
    uint8_t bufioreq;         /* HVM_IOREQSRV_BUFIOREQ_* */
    MxRangeSet ranges[MX_NR_RANGE_TYPES];
    uint32_t vcpu_port[MX_MAX_VCPUS];
    uint32_t buf_port;        /* 0 without a buffered ring */
    uint64_t ioreq_gfn, bufioreq_gfn;
    shared_iopage_t *ioreq_page;
    buffered_iopage_t *buf_page;
} MxIoreqServer;

typedef struct MxVcpu {
    int wake_fd;              /* eventfd: the DM's notify on any of this vCPU's ports */
    bool waiting;             /* an ioreq of this vCPU is outstanding */
} MxVcpu;

typedef struct MxMsi {
    uint64_t addr;
    uint32_t data;
} MxMsi;

/* A place Xen will not have an ioreq server range (fault injection): mapping a range
 * of `type` that overlaps [start, end] fails with err. Unmapping is not affected. */
typedef struct MxRefusal {
    uint32_t type;            /* XEN_DMOP_IO_RANGE_PORT, _MEMORY or _PCI */
    uint64_t start, end;      /* inclusive */
    int err;                  /* positive errno */
} MxRefusal;

/* ---- grant_table.c: the guest's grant table, version 1 ------------------------------- */
#define MX_DM_DOMID           0   /* the device model's domain: grants must name it */

/* Xen's "active" entry: how the device models have a granted frame mapped. */
typedef struct MxGrantActive {
    uint32_t pins;            /* mappings of the entry (every one sets GTF_reading) */
    uint32_t writers;         /* of which writable (they set GTF_writing) */
    uint64_t gfn;             /* the frame, read once when the first pin was taken */
} MxGrantActive;

/* Where the guest put its table, and the pins on its entries (d->lock). */
typedef struct MxGrantTable {
    uint64_t gfn;             /* first frame of the table in guest RAM */
    uint32_t nr_frames;       /* 0: the guest has not set a table up */
    uint64_t nr_pins;         /* pins over all entries */
    MxGrantActive *active;    /* MX_GNTTAB_MAX_ENTRIES, allocated at the first setup */
} MxGrantTable;

/* The grant mappings of one libxengnttab handle (one shim connection). */
typedef struct MxGrantHandle MxGrantHandle;

typedef struct MxDomain {
    uint32_t domid;
    uint32_t arch;            /* enum MxArch */
    unsigned nr_vcpus;
    uint64_t max_gfn;         /* highest guest frame a DM may populate */
    uint64_t nr_frames;       /* frames in the RAM memfd: max_gfn + 1 + special pages */
    uint64_t special_gfn;     /* first ioreq page frame (= max_gfn + 1) */
    int ram_fd;               /* sparse memfd holding guest RAM and the ioreq pages */
    uint8_t *ram;             /* the daemon's mapping of all of ram_fd */
    int bitmap_fd;            /* memfd: bit g set = frame g populated (shared with shims) */
    uint8_t *populated;
    uint64_t bitmap_bytes;
    uint64_t nr_populated;
    uint8_t *dirty;           /* log-dirty bitmap (daemon-private), one bit per frame */
    bool log_dirty;
    uint64_t params[HVM_NR_PARAMS];

    pthread_mutex_t lock;     /* everything below, and the servers/ports */
    pthread_cond_t irq_cond;  /* broadcast on every interrupt change */
    MxIoreqServer servers[MX_MAX_SERVERS];
    MxPort ports[MX_GUEST_PORTS];
    MxVcpu vcpus[MX_MAX_VCPUS];
    int sink_fd;              /* kick fd of ports nobody waits on (buffered ring) */
    bool local_used[MX_EVTCHN_PORTS];   /* device-model (dom0) port numbers in use */
    uint32_t pci_cf8;         /* last 4-byte write to port 0xcf8 */
    uint8_t isa_level[16];
    uint8_t intx_level[MX_PCI_DEVICES][4];  /* bus 0: [device][pin] */
    MxMsi msi[MX_MSI_QUEUE];
    unsigned msi_head, msi_count;
    /* Arm: an SPI raised (level 1) and not yet taken by the guest, as Xen's vGIC queues
     * it (GIC_IRQ_GUEST_QUEUED); a level of 0 is ignored, as Xen ignores falling edges. */
    uint8_t spi_pending[MX_ARM_NR_SPIS];
    uint64_t oneway_done;     /* one-way messages handled (oneway.c); atomic reads */
    pthread_cond_t oneway_cond;   /* broadcast when oneway_done grows */
    bool shutdown;
    unsigned shutdown_reason;
    bool crashed;
    char crash_reason[256];
    /* Told of every shutdown and the first crash (Xen's VIRQ_DOM_EXC, which xenstored
     * turns into @releaseDomain); called with `lock` held. Set before the domain is
     * shared (mx_domain_on_exception); may be NULL. */
    void (*on_exception)(void *opaque, uint32_t domid);
    void *exception_opaque;
    MxStatsPage *stats;       /* not owned */
    MxRefusal refusals[MX_MAX_REFUSALS];    /* from the config; never change */
    unsigned nr_refusals;
    MxGrantTable gnttab;
} MxDomain;

typedef struct MxDomainConfig {
    uint32_t domid;
    uint32_t arch;            /* enum MxArch */
    unsigned nr_vcpus;
    uint64_t max_gfn;
    MxRefusal refusals[MX_MAX_REFUSALS];
    unsigned nr_refusals;
} MxDomainConfig;

/* ---- domain.c ----------------------------------------------------------------------- */
MxDomain *mx_domain_create(const MxDomainConfig *cfg, MxStatsPage *stats, Error **errp);
void mx_domain_destroy(MxDomain *d);
/* Populate frames (extent_order 0 only, like HVM guests use): -EINVAL beyond max_gfn,
 * -EEXIST is not an error (Xen replaces the frame; we keep it). */
int mx_domain_populate(MxDomain *d, const uint64_t *gfns, uint64_t nr, unsigned order,
                       Error **errp);
/* Give frames back (decrease_reservation, extent_order 0), in order: a frame that is
 * not populated stops it with -EINVAL, the ones before it stay freed, as in Xen. A
 * freed frame reads as zeros if it is populated again. */
int mx_domain_depopulate(MxDomain *d, const uint64_t *gfns, uint64_t nr, unsigned order,
                         Error **errp);
bool mx_domain_is_populated(const MxDomain *d, uint64_t gfn);
/* Where libxl puts a guest's RAM, in at most two banks. x86 (libxl__build_hvm):
 * ram_bytes from 0 up to the PCI hole of mmio_hole bytes below 4 GiB, the rest from
 * 4 GiB. Arm (libxl_arm.c, arch-arm.h's GUEST_RAM0/1): up to 3 GiB from 1 GiB, the rest
 * from 8 GiB; mmio_hole is not used. frames_end is one past the last RAM frame (the
 * guest-physical space the domain needs). */
typedef struct MxRamLayout {
    uint64_t base[2], size[2];
    uint64_t frames_end;
} MxRamLayout;
#define MX_HIGH_RAM_BASE (1ull << 32)
#define MX_DEFAULT_MMIO_HOLE (256ull << 20)     /* HVM_BELOW_4G_MMIO_LENGTH */
#define MX_ARM_RAM0_BASE 0x40000000ull          /* GUEST_RAM0_BASE */
#define MX_ARM_RAM0_SIZE 0xc0000000ull          /* GUEST_RAM0_SIZE */
#define MX_ARM_RAM1_BASE 0x200000000ull         /* GUEST_RAM1_BASE */
MxRamLayout mx_ram_layout(uint32_t arch, uint64_t ram_bytes, uint64_t mmio_hole);
/* Populate the RAM of that layout for the domain's arch, as the toolstack does before
 * the device model starts (and not what lies between the banks). -EINVAL past max_gfn,
 * as mx_domain_populate. */
int mx_domain_populate_ram(MxDomain *d, uint64_t ram_bytes, uint64_t mmio_hole, Error **errp);
/* Make a special frame (an ioreq page) mappable or not. */
void mx_domain_set_special(MxDomain *d, uint64_t gfn, bool present);
int mx_domain_param_get(MxDomain *d, uint32_t param, uint64_t *value, Error **errp);
int mx_domain_param_set(MxDomain *d, uint32_t param, uint64_t value, Error **errp);
/* Guest accesses to its RAM: -EFAULT unless [gpa, gpa+len) is populated guest RAM. */
int mx_domain_read(MxDomain *d, uint64_t gpa, void *buf, size_t len, Error **errp);
int mx_domain_write(MxDomain *d, uint64_t gpa, const void *buf, size_t len, Error **errp);
/* Mark frames dirty in the log-dirty bitmap (when log-dirty is on). -EINVAL past max_gfn. */
int mx_domain_mark_dirty(MxDomain *d, uint64_t first_pfn, uint64_t nr, Error **errp);
void mx_domain_set_log_dirty(MxDomain *d, bool enable);
/* Copy (and if clean, clear) dirty bits of [first_pfn, first_pfn+nr) into bitmap. */
int mx_domain_dirty_bitmap(MxDomain *d, uint64_t first_pfn, uint64_t nr, bool clean,
                           unsigned long *bitmap, Error **errp);
/* Record a protocol violation by the device model: the domain is crashed for good, every
 * waiting vCPU and interrupt waiter is woken. The _locked form is for d->lock holders. */
void mx_domain_crash(MxDomain *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mx_domain_crash_locked(MxDomain *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
bool mx_domain_crashed(MxDomain *d);
/* The domain shuts down with SHUTDOWN_* `reason` (xc_domain_shutdown). */
void mx_domain_shut_down(MxDomain *d, unsigned reason);
/* Call fn(opaque, domid) on every shutdown and on the crash. Before the domain is shared. */
void mx_domain_on_exception(MxDomain *d, void (*fn)(void *opaque, uint32_t domid),
                            void *opaque);
void mx_domain_info(MxDomain *d, MxDomainInfo *info);

/* ---- ioreq_server.c ------------------------------------------------------------------ */
/* Servers outlive the connection that created them, as in Xen (where they live until
 * destroyed or the domain dies). */
int mx_server_create(MxDomain *d, uint8_t bufioreq, uint16_t *id, Error **errp);
int mx_server_destroy(MxDomain *d, uint16_t id, Error **errp);
int mx_server_info(MxDomain *d, uint16_t id, MxServerInfo *info, Error **errp);
int mx_server_set_state(MxDomain *d, uint16_t id, bool enabled, Error **errp);
int mx_server_map_range(MxDomain *d, uint16_t id, uint32_t type, uint64_t start,
                        uint64_t end, Error **errp);
int mx_server_unmap_range(MxDomain *d, uint16_t id, uint32_t type, uint64_t start,
                          uint64_t end, Error **errp);
/* XENMEM_resource_ioreq_server frames: 0 = buffered page, 1 = ioreq page; the frames
 * are consecutive in the RAM memfd (frame f at gfn special_gfn + 2 * id + f). */
int mx_server_resource(MxDomain *d, uint16_t id, uint32_t frame, uint64_t nr_frames,
                       MxResourceReply *out, Error **errp);
/* How many servers are enabled (the guest waits for --device-models of them). */
unsigned mx_server_count_enabled(MxDomain *d);
/* "port", "memory" or "pci" for XEN_DMOP_IO_RANGE_*; "?" for anything else. */
const char *mx_range_type_name(uint32_t type);

/* ---- refusals.c ----------------------------------------------------------------------- */
/* "--refuse-range TYPE:START-END[:ERRNO]" (TYPE port, memory or pci; ERRNO a number or
 * a name such as EBUSY, EPERM if left out) added to cfg. 0, or -EINVAL (a bad spec) /
 * -ENOSPC (MX_MAX_REFUSALS already) with errp set. */
int mx_refusal_add(MxDomainConfig *cfg, const char *spec, Error **errp);
/* The refusal a map of [start, end] of `type` runs into, or NULL. */
const MxRefusal *mx_refusal_find(const MxDomain *d, uint32_t type, uint64_t start,
                                 uint64_t end);

/*
 * Routing, as Xen's ioreq_server_select: *req may be rewritten from PIO 0xcfc-0xcff to
 * IOREQ_TYPE_PCI_CONFIG (using the latched 0xcf8 value). Returns the server index, or
 * -1 if no enabled server claims the access (Xen's null handler then answers it).
 * Servers are tried from the highest id down, as Xen does: when two servers claim the
 * same place the one with the higher id wins. Call with d->lock held.
 */
int mx_route_locked(MxDomain *d, ioreq_t *req);

/* ---- evtchn.c ------------------------------------------------------------------------ */
MxEvtchnHandle *mx_evtchn_open(Error **errp);
/* Unbind every port of the handle and free it. */
void mx_evtchn_close(MxDomain *d, MxEvtchnHandle *h);
/* Allocate a guest-side port woken through kick_fd. 0 on failure (no free port). */
uint32_t mx_port_alloc_locked(MxDomain *d, int kick_fd);
void mx_port_free_locked(MxDomain *d, uint32_t port);
/* Bind guest port `remote` to handle h: returns the local port (> 0) and *kick_fd. */
int mx_evtchn_bind(MxDomain *d, MxEvtchnHandle *h, uint32_t remote, int *kick_fd,
                   Error **errp);
int mx_evtchn_unbind(MxDomain *d, MxEvtchnHandle *h, uint32_t local, Error **errp);
/* Signal guest port `port` towards its device model (counted; may be dropped by fault
 * injection). Returns false if nobody is bound. Call with d->lock held. */
bool mx_evtchn_send_locked(MxDomain *d, uint32_t port);

/* ---- irq.c: interrupt lines driven by the device model -------------------------------- */
/* Record an ISA/INTx level change, an MSI or a raised SPI; wakes mx_irq_wait(). -EINVAL
 * or -EOPNOTSUPP for what Xen refuses (mx_irq_req_check). */
int mx_irq_set(MxDomain *d, const MxIrqReq *req, Error **errp);

typedef struct MxIrqMatch {
    uint32_t kind;            /* enum MxIrqKind */
    uint32_t line;            /* ISA/INTx as MxIrqReq.line */
    bool match_addr, match_data;   /* MSI filters */
    uint64_t msi_addr;
    uint32_t msi_data;
} MxIrqMatch;

/* ISA/INTx: the line's current level (0 if never set or not a line Xen has). MSI: how
 * many matching MSIs are queued. SPI: 1 while one is raised and not taken. */
int mx_irq_level(MxDomain *d, const MxIrqMatch *m);
/* Wait until the ISA/INTx line is high, or a matching MSI arrives (then take the oldest
 * such MSI off the queue, into *taken if not NULL), or the SPI is raised (then take it,
 * as the guest acknowledges an edge interrupt). -ETIMEDOUT after timeout_ns,
 * -ESHUTDOWN if the domain crashed meanwhile. */
int mx_irq_wait(MxDomain *d, const MxIrqMatch *m, uint64_t timeout_ns, MxMsi *taken,
                Error **errp);

/* ---- grant_table.c ------------------------------------------------------------------------
 *
 * Grant table v1 as Xen keeps it for an HVM guest. The guest places the table in its
 * physical address space (on Xen: XENMEM_add_to_physmap with XENMAPSPACE_grant_table;
 * here: frames of its own RAM, named by mx_gnttab_setup) and writes the entries itself:
 * domid, frame, a write barrier, then flags (GTF_permit_access, maybe GTF_readonly).
 * A device model maps entries (mx_gnttab_map): each must lie inside the table, permit
 * access to MX_DM_DOMID, not be read-only for a writable map, and name a populated
 * frame; the map sets GTF_reading (and GTF_writing when writable) in the entry with a
 * compare-and-exchange on flags+domid, as Xen's _set_status_v1, so a guest revoking it
 * (mx_gnttab_revoke: clear the flags with a compare-and-exchange unless GTF_reading or
 * GTF_writing is set) either wins and the map fails, or loses and the entry stays in
 * use. A map is all or nothing; the bits are cleared when the last mapping goes.
 * Errors are -EINVAL, as gntdev reports a failed grant map, with a message naming the
 * entry and why.
 */
/* The table is nr_frames (1..MX_GNTTAB_MAX_FRAMES) populated frames of guest RAM from
 * gpa (page aligned). -EBUSY while entries are mapped. */
int mx_gnttab_setup(MxDomain *d, uint64_t gpa, uint32_t nr_frames, Error **errp);
/* The guest grants `domid` access to frame gfn through entry ref (read-only or not). */
int mx_gnttab_grant(MxDomain *d, uint32_t ref, uint16_t domid, uint32_t gfn, bool readonly,
                    Error **errp);
/* The guest ends access through ref: 1 if it did, 0 if the entry is in use. */
int mx_gnttab_revoke(MxDomain *d, uint32_t ref, Error **errp);
MxGrantHandle *mx_gnttab_open(Error **errp);
/* Unmap every mapping the handle still has, and free it. */
void mx_gnttab_close(MxDomain *d, MxGrantHandle *h);
/* Map count (1..MX_GNTTAB_MAX_ENTRIES) entries for handle h: their frames in gfns[],
 * the mapping's number in *id. */
int mx_gnttab_map(MxDomain *d, MxGrantHandle *h, const uint32_t *refs, uint32_t count,
                  bool writable, uint64_t *gfns, uint32_t *id, Error **errp);
/* Unmap mapping id of handle h, which has count entries (-EINVAL otherwise). */
int mx_gnttab_unmap(MxDomain *d, MxGrantHandle *h, uint32_t id, uint32_t count,
                    Error **errp);
/* Release the table's bookkeeping (mx_domain_destroy). */
void mx_gnttab_fini(MxDomain *d);

/* ---- oneway.c: one-way messages from the shims, in order with everything else --------- */
/* The socket server has processed one one-way message (whatever its outcome). */
void mx_oneway_done(MxDomain *d);
/* Is a one-way message a shim has counted (oneway_sent) not handled yet? */
bool mx_oneway_behind(MxDomain *d);
/*
 * Wait until every one-way message that shims counted as sent before this call is
 * processed, so the guest sees its effect as it would see a completed hypercall's. At
 * most MX_ONEWAY_SYNC_MS: a message that never comes (a broken client) is then given
 * up on, with a warning, and not waited for again.
 */
void mx_oneway_sync(MxDomain *d);

/* ---- ioreq_send.c: the guest's side of the ioreq protocol ------------------------------- */
/*
 * Send *req from vCPU `vcpu` as Xen would: route; unclaimed reads return all ones;
 * otherwise fill the vCPU's slot, set READY, signal, and wait (at most timeout_ms) for
 * IORESP_READY, checking every state the device model writes. `raw` sends req's state
 * and vp_eport fields unchanged (hostile-input tests). On return req->data holds the
 * answer. -ETIMEDOUT if the DM does not answer, -EPROTO if it broke the protocol (the
 * domain is then crashed), -ESHUTDOWN if the domain already crashed, -ENODEV if the
 * server was destroyed while the vCPU waited.
 */
int mx_ioreq_send(MxDomain *d, unsigned vcpu, ioreq_t *req, bool raw, int timeout_ms,
                  Error **errp);
/*
 * Try to queue a write on the buffered ring of the server that claims it, by Xen's
 * rules. Returns 1 if queued, 0 if it must go synchronously instead.
 */
int mx_ioreq_send_buffered(MxDomain *d, const ioreq_t *req);

#endif
