/*
 * xen/xen_dm.h — everything in xendm that talks to Xen.
 *
 * XenDM owns the library handles of one device-model instance for one domain: it opens
 * them, creates and enables an ioreq server, maps the shared and buffered ioreq pages,
 * binds one event channel per vCPU plus the buffered one, and serves requests until told
 * to stop. It is driven as an ordered start-up (xen_dm_open → xen_ioreq_server_start)
 * and a teardown that undoes exactly the steps that succeeded, in reverse
 * (xen_dm_close). Between the two it also:
 *   - places guest RAM (XenRam: the RAM backend of the machine's RAM regions);
 *   - mirrors I/O sections of the memory and I/O address spaces into ioreq-server
 *     ranges (a MemoryListener; a range Xen refuses is retried at every commit) and
 *     registers PCI devices;
 *   - reports pages written by device DMA to the log-dirty machinery, coalesced;
 *   - writes the device-model state to xenstore (a secondary device model: its own
 *     claims and state, xen/claims.c), and reads, writes and watches the nodes the
 *     toolstack describes devices with.
 *
 * Ownership: the caller owns the XenDM (from xen_dm_open to xen_dm_close) and the
 * address spaces it is attached to, which must outlive it. Everything the XenDM knows
 * of the machine it serves (address spaces, request handlers) is handed to it through
 * the calls below; nothing is reached through a global, so several XenDMs can live in
 * one process. Single-threaded: every call runs on the thread that runs the ioreq loop.
 */
#ifndef XENDM_XEN_DM_H
#define XENDM_XEN_DM_H

#include <stdbool.h>
#include <stdint.h>
#include <xenctrl.h>
#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
#include <xenstore.h>

#include "memory/memory.h"
#include "xen/ioreq_exec.h"

typedef struct MapCache MapCache;

typedef struct XenDMConfig {
    uint32_t domid;
    bool buffered_ioreqs;       /* ask for a buffered ioreq ring (x86: yes) */
    bool force_legacy_pages;    /* skip map_resource, use the gfn path (tests) */
    bool secondary;             /* beside the main device model: see xen/claims.c */
} XenDMConfig;

/* Counters of what the Xen side did, for the control socket, demo and tests. */
typedef struct XenDMStats {
    uint64_t wakeups, sync_ioreqs, buffered_ioreqs, bad_ioreqs;
    uint64_t ranges_mapped, ranges_unmapped;
    uint64_t ranges_refused;    /* ranges Xen refused to map (each once, not per retry) */
    uint64_t modified_memory_calls, modified_memory_pages;
} XenDMStats;

typedef struct XenDM XenDM;

/* Open the Xen library handles and check the domain exists. */
XenDM *xen_dm_open(const XenDMConfig *cfg, Error **errp);
/* Undo every step that succeeded, in reverse order. Safe after a partial start. */
void xen_dm_close(XenDM *xd);

uint32_t xen_dm_domid(const XenDM *xd);
unsigned xen_dm_nr_vcpus(const XenDM *xd);
/* Bytes of memory the domain has now (what the toolstack populated). */
uint64_t xen_dm_guest_memory(const XenDM *xd);
/* Where the toolstack ended the domain's RAM below 4 GiB, from the PCI hole's size it
 * wrote to xenstore (platform/mmio_hole_size); 0: it wrote none, Xen's default. */
uint64_t xen_dm_max_ram_below_4g(const XenDM *xd);
const XenDMStats *xen_dm_stats(const XenDM *xd);

/* Create the ioreq server and map its pages (xen_ioreq_server_enable binds the event
 * channels). */
int xen_ioreq_server_create(XenDM *xd, Error **errp);
/*
 * Serve these address spaces: requests are carried out on them, and a listener keeps
 * their I/O sections registered as ranges of the ioreq server. A range Xen refuses to
 * map is counted (ranges_refused), logged once, and retried after every transaction
 * commit until Xen takes it or it leaves the view. Returns xen_dm_check_ranges().
 */
int xen_dm_attach_address_spaces(XenDM *xd, AddressSpace *as_mem, AddressSpace *as_io,
                                 Error **errp);
/* After a transaction commit: 0 when every range the listener was given is registered
 * with Xen; else -errno naming the first range Xen still refuses (or, once, the first
 * unregistration it refused since the last call). */
int xen_dm_check_ranges(XenDM *xd, Error **errp);
/* Stop serving them (before the address spaces go away). */
void xen_dm_detach_address_spaces(XenDM *xd);
/* Register a PCI device (segment 0, bus, device, function) with the ioreq server. */
int xen_dm_map_pcidev(XenDM *xd, uint8_t bus, uint8_t dev, uint8_t fn, Error **errp);
int xen_dm_unmap_pcidev(XenDM *xd, uint8_t bus, uint8_t dev, uint8_t fn, Error **errp);
/* Enable the server: from now on the guest's accesses arrive. */
int xen_ioreq_server_enable(XenDM *xd, Error **errp);
/* Disable the server: Xen routes nothing more here (the guest's accesses to our ranges
 * read as unclaimed); requests already posted stay ours to answer. 0 or -errno. */
int xen_ioreq_server_disable(XenDM *xd, Error **errp);
/* At shutdown, before the devices go: take no new requests (xen_ioreq_server_disable),
 * and serve those vCPUs posted before, whether or not their event came yet. What is
 * still in flight after it is finished by the loop's next turns, until
 * xen_dm_requests_settled. Without this a vCPU that touched a device during teardown waited
 * until the server was destroyed, then went on with whatever its request held.
 * 0 or -errno with errp set. */
int xen_dm_stop_taking_requests(XenDM *xd, Error **errp);
/* Is every request answered, and every answer taken by its vCPU (its slot back to
 * IOREQ_NONE)? Only then may the server go: Xen copies an answer out of the page when
 * the vCPU next runs, so a server destroyed before that leaves the vCPU with whatever
 * its request held. (A slot left in another state by a vCPU that never runs again
 * keeps this false: the caller bounds its wait.) */
bool xen_dm_requests_settled(const XenDM *xd);
/* Write "running" to /local/domain/0/device-model/<domid>/state, the node libxl waits
 * on for the main device model; a secondary one writes its own entry's state instead
 * (xen_dm_publish_claims). */
int xen_dm_announce_running(XenDM *xd, Error **errp);
/* Is the ioreq server still there? One dm_op, which works after xen_dm_restrict: 0, or
 * -errno (-ENOENT: the server was destroyed, -ESRCH: the domain is gone). */
int xen_ioreq_server_probe(XenDM *xd, Error **errp);

/*
 * A secondary device model's claims (xen/claims.c): the bus-0 slots of its PCI
 * functions and its fixed MMIO windows. Xen refuses (EEXIST) only overlaps within one
 * server's own ranges and routes a place two servers claim to the newer one, so the
 * claims of every xendm beside the main device model are published in xenstore under
 * /local/domain/0/device-model/<domid>/xendm/<ioreq server id>/ (pid, slots, mmio,
 * state: "starting", then "running"), inside the directory libxl removes with the
 * domain. xen_dm_publish_claims checks ours against the entries of the others and
 * writes ours in one xenstore transaction, so two instances starting together cannot
 * both take a place. The main device model's own slots and windows are not published
 * anywhere: they are not checked here.
 */
#define XEN_CLAIMS_MAX_MMIO 32
typedef struct XenClaims {
    uint32_t slots;             /* bit n: a function in bus-0 slot n */
    struct { uint64_t start, end; } mmio[XEN_CLAIMS_MAX_MMIO];    /* inclusive */
    unsigned nr_mmio;
} XenClaims;
/* -EEXIST naming the other instance when a slot or window is taken; 0 once ours are
 * published (xen_dm_close removes them, while xenstore can still be reached). */
int xen_dm_publish_claims(XenDM *xd, const XenClaims *claims, Error **errp);
/* Add a window to claims: -E2BIG past XEN_CLAIMS_MAX_MMIO. */
int xen_claims_add_mmio(XenClaims *claims, uint64_t start, uint64_t end);

/* What requests the executor cannot carry out itself go to (PCI configuration,
 * mapcache invalidation): handlers is copied, opaque is passed to each and must
 * outlive the setting. NULL handlers removes them (PCI config reads all ones, writes
 * and invalidations are dropped). */
void xen_dm_set_request_handlers(XenDM *xd, const IoreqHandlers *handlers, void *opaque);
/* The request executor the ioreq loop feeds, read-only: for its counters. */
const IoreqExecCtx *xen_dm_exec_ctx(const XenDM *xd);

/* The fd the event loop polls (the event-channel fd). */
int xen_dm_event_fd(const XenDM *xd);
/* Serve one pending event: the slot of the vCPU whose port fired (if it is READY) and
 * the buffered ring (always). The fd stays readable while more ports are pending.
 * Returns 0, or -errno when the device model must stop (a fatal Xen error; the
 * message is in errp). */
int xen_dm_handle_events(XenDM *xd, Error **errp);
/* A long rep is performed a slice per loop iteration (xen/ioreq_exec.h): are requests
 * taken but not answered yet that can go on now? Then the loop must not sleep, and
 * calls xen_dm_continue_requests, which runs the next slice of each (and tries again
 * the writes that waited) and answers those that complete. */
bool xen_dm_requests_pending(const XenDM *xd);
/* Is a request held because its device could not take a write yet (IOREQ_EXEC_WAIT)?
 * The device's own completions wake the loop; it also comes back within
 * XEN_DM_WAIT_RETRY_MS in case nothing does. */
bool xen_dm_requests_waiting(const XenDM *xd);
#define XEN_DM_WAIT_RETRY_MS 1
void xen_dm_continue_requests(XenDM *xd);

/*
 * Guest RAM under Xen (xen_ram.c): the RamBackend a machine creates its RAM regions
 * with. A block's frames are populated in xd's domain at guest frame = ram_addr / 4 KiB
 * (QEMU's convention: the machine's RAM sits at ram_addr == guest physical), except
 * for the toolstack's region; accesses map them through mc (NULL: the blocks cannot be
 * accessed), and writes are reported to xd's log-dirty. The creator owns the XenRam; it
 * must outlive every block made with its backend, and xd and mc must outlive it.
 */
typedef struct XenRam XenRam;
XenRam *xen_ram_new(XenDM *xd, MapCache *mc, Error **errp);
void xen_ram_free(XenRam *xr);
/* The region whose frames the toolstack populated (main guest RAM): not populated again. */
void xen_ram_set_toolstack_region(XenRam *xr, const MemoryRegion *mr);
RamBackend xen_ram_backend(XenRam *xr);

/*
 * Where the toolstack put a guest's RAM (ram_layout.c): in at most two banks of
 * guest-physical space. The machine serves it as one RAM block of block_size bytes at
 * ram_addr 0 that ends where the last bank ends, so that ram_addr == guest physical
 * (what the mapcache and log-dirty are keyed by), seen through an alias for each bank;
 * the parts of the block between banks (x86's PCI hole, the first GiB on Arm) are in
 * no alias and never used.
 *
 * x86 HVM: ram_bytes at [0, below_4g) and [4 GiB, 4 GiB + above_4g), below_4g being
 * at most max_below_4g (QEMU-xen's max-ram-below-4g; 0: 0xf0000000, Xen's
 * HVM_BELOW_4G_RAM_END, libxl's split without mmio_hole).
 * Arm: up to 3 GiB from 1 GiB (GUEST_RAM0_BASE/SIZE), the rest from 8 GiB
 * (GUEST_RAM1_BASE/SIZE, up to 1016 GiB), as libxl_arm.c and Xen's public arch-arm.h
 * lay it out (that header is Arm-only, hence the values here).
 */
#define XEN_RAM_HIGH_BASE (1ull << 32)
#define XEN_ARM_RAM0_BASE 0x40000000ull
#define XEN_ARM_RAM0_SIZE 0xc0000000ull
#define XEN_ARM_RAM1_BASE 0x200000000ull
#define XEN_ARM_RAM1_SIZE 0xfe00000000ull
#define XEN_RAM_MAX_BANKS 2
typedef struct XenRamBank {
    uint64_t base, size;            /* guest physical; size 0: no such bank */
} XenRamBank;
typedef struct XenRamLayout {
    XenRamBank bank[XEN_RAM_MAX_BANKS];     /* in address order */
    uint64_t block_size;
} XenRamLayout;
/* The x86 HVM layout. 0, or -EINVAL with errp set for a size that is zero, not a
 * multiple of 4 KiB or too big, or a bad max_below_4g. */
int xen_ram_layout_compute(uint64_t ram_bytes, uint64_t max_below_4g, XenRamLayout *out,
                           Error **errp);
/* The Arm layout. 0, or -EINVAL with errp set for a size that is zero, not a multiple
 * of 4 KiB or more than the two banks hold. */
int xen_ram_layout_arm(uint64_t ram_bytes, XenRamLayout *out, Error **errp);
/* Is max_below_4g a valid split (a multiple of 4 KiB, 1 MiB to 0xf0000000)? 0 or -EINVAL. */
int xen_ram_check_below_4g(uint64_t max_below_4g, Error **errp);
/* The split for a PCI hole of mmio_hole bytes below 4 GiB (xl's mmio_hole): 4 GiB minus
 * it, checked as above. 0 or -EINVAL with errp set. */
int xen_ram_below_4g_of_hole(uint64_t mmio_hole, uint64_t *max_below_4g, Error **errp);
/* The RAM size the domain's populated frames stand for, rounded up to a MiB: Xen's
 * builder leaves the VGA hole 0xa0000-0xbffff unpopulated and adds a few special pages,
 * so the count is a little off the toolstack's whole MiB. Rounding up leaves no
 * populated frame out; a frame served but not populated fails DMA like any other. */
uint64_t xen_ram_size_of_populated(uint64_t populated_bytes);

/* Log-dirty: report [start, start+len) of guest-physical memory as written. Reports are
 * batched and sent by xen_modified_memory_flush() (called after every request, and by
 * the event loop after every turn, for what devices wrote outside a request). */
void xen_modified_memory(XenDM *xd, uint64_t start, uint64_t len);
void xen_modified_memory_flush(XenDM *xd);
/* Turn reporting on/off (QEMU: on while log-dirty / migration is active). */
void xen_dm_set_log_dirty(XenDM *xd, bool on);

/* IRQs, for the devices' IRQ interface. */
int xen_dm_set_isa_irq_level(XenDM *xd, uint8_t irq, unsigned level);
int xen_dm_set_pci_intx_level(XenDM *xd, uint8_t bus, uint8_t dev, uint8_t intx,
                              unsigned level);
/* One MSI: the write of data to addr that a device's MSI-X table entry holds. */
int xen_dm_inject_msi(XenDM *xd, uint64_t addr, uint32_t data);
/* Arm: the level of a shared peripheral interrupt (GIC id), xendevicemodel_set_irq_level. */
int xen_dm_set_irq_level(XenDM *xd, uint32_t irq, unsigned level);

/*
 * xenstore (xen_store.c): the XenDM's own connection, or one opened apart. Each call is
 * one round trip. Paths without a leading '/' are relative to the home of the domain
 * xendm runs in. read: the value, malloc'd and NUL-terminated, or NULL with errno
 * (ENOENT: no node). directory: the children's names (one free() releases all), or
 * NULL with errno. Watches fire as paths and tokens taken with next_watch, which never
 * blocks (NULL: none now; free() the result) once watch_fd is readable. The first watch
 * starts libxenstore's reader thread and the first watch_fd makes its pipe: call both
 * before the sandbox, which forbids creating either. xen_dm_restrict cuts every
 * connection open at the time (libxenstore replaces its fd with /dev/null): one that
 * must outlive it is opened afterwards.
 */
typedef struct xs_handle XenStore;
XenStore *xen_dm_xenstore(XenDM *xd);
XenStore *xen_store_open(Error **errp);
void xen_store_close(XenStore *xs);
char *xen_store_read(XenStore *xs, const char *path);
int xen_store_write(XenStore *xs, const char *path, const char *value, Error **errp);
char **xen_store_directory(XenStore *xs, const char *path, unsigned *nr);
int xen_store_watch(XenStore *xs, const char *path, const char *token, Error **errp);
void xen_store_unwatch(XenStore *xs, const char *path, const char *token);
int xen_store_watch_fd(XenStore *xs, Error **errp);
char **xen_store_next_watch(XenStore *xs);

/* The mapcache's mapper over xenforeignmemory; its opaque is the XenDM. */
struct MapperOps;
extern const struct MapperOps xen_mapper_ops;

/* The grant DMA mapper over xengnttab (mapcache/grant_dma.h; opaque: the XenDM), for
 * devices with grant_usage=1: xengnttab_map_domain_grant_refs of the guest's refs,
 * read-only unless the device writes, and xengnttab_unmap. Usable only when
 * xen_dm_grants_available() (xengnttab opened: Linux's gntdev, or mockxen's shim). */
struct GrantMapperOps;
extern const struct GrantMapperOps xen_grant_mapper_ops;
bool xen_dm_grants_available(const XenDM *xd);

/* Drop privileges: restrict every handle to the domain (xentoolcore_restrict_all). */
int xen_dm_restrict(XenDM *xd, Error **errp);

#endif
