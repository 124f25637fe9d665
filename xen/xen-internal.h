/*
 * xen/xen-internal.h — the XenDM structure, shared by the files of xen/ only.
 */
#ifndef XENDM_XEN_INTERNAL_H
#define XENDM_XEN_INTERNAL_H

#include "xen/xen_dm.h"

#include <xen/hvm/ioreq.h>
#include <xengnttab.h>

#define XEN_PAGE_SIZE_BYTES 4096u

/* Pending log-dirty reports, merged while adjacent (see modified_memory.c). */
#define XEN_DIRTY_BATCH 64

/* An I/O section Xen refused to register: retried at every commit of its address
 * space until Xen takes it, dropped when the section leaves the view. */
typedef struct XenRefusedRange {
    bool is_port;
    uint64_t start, end;        /* inclusive */
    int err;                    /* errno of the last refusal */
    const MemoryRegion *mr;     /* for messages: valid while the section is in the view */
    bool due;                   /* false until the commit that refused it has ended */
} XenRefusedRange;

struct XenDM {
    XenDMConfig cfg;
    xc_interface *xc;
    xendevicemodel_handle *dmod;
    xenforeignmemory_handle *fmem;
    xenevtchn_handle *xce;
    xengnttab_handle *xgt;      /* NULL when grant maps are unavailable (no gntdev) */
    struct xs_handle *xs;
    unsigned nr_vcpus;
    uint64_t guest_memory;      /* bytes populated when we started */
    uint64_t max_ram_below_4g;  /* from the toolstack's mmio_hole_size; 0: default */

    /* ioreq server state; each flag says a start-up step succeeded. */
    bool server_created, server_enabled, announced;
    bool claims_published;      /* --secondary: our xenstore entry exists (claims.c) */
    ioservid_t ioservid;
    xenforeignmemory_resource_handle *ioreq_resource;   /* map_resource path */
    void *legacy_shared, *legacy_buffered;              /* gfn path */
    shared_iopage_t *shared_page;
    buffered_iopage_t *buffered_page;                   /* NULL without buffering */
    evtchn_port_t buffered_remote_port;
    int buffered_local_port;                            /* -1: not bound */
    int *vcpu_local_port;                               /* per vCPU, -1: not bound */
    IoreqRun *vcpu_run;         /* per vCPU: the request taken from its slot */
    /* per vCPU: 0, or why vcpu_run is not answered yet: IOREQ_EXEC_MORE (a long rep,
     * more slices to run) or IOREQ_EXEC_WAIT (a device waits for its work in flight) */
    uint8_t *vcpu_busy;
    unsigned nr_busy, nr_waiting;       /* vCPUs busy, and of those waiting */
    unsigned *port_to_vcpu;                             /* local port → vCPU + 1 */
    unsigned port_to_vcpu_len;

    /* Address spaces mirrored into ioreq-server ranges (xen_listener.c). */
    MemoryListener mem_listener, io_listener;
    bool listeners_attached;
    XenRefusedRange *refused;   /* in the view but refused by Xen, oldest first */
    unsigned nr_refused, cap_refused;
    Error *unmap_error;         /* first refused unregistration, for xen_dm_check_ranges */
    LogRateLimit range_log;     /* refusals follow guest BAR moves */

    IoreqExecCtx exec;
    XenDMStats stats;
    LogRateLimit loop_log;

    bool log_dirty;
    struct xen_dm_op_modified_memory_extent dirty_batch[XEN_DIRTY_BATCH];
    unsigned dirty_batch_nr;
};

/* ioreq_loop.c: consume the buffered ring up to its write pointer. */
void xen_ioreq_drain_buffered(XenDM *xd);
/* claims.c: the xenstore directory of a secondary device model's entry. */
void xen_claims_entry_path(const XenDM *xd, char *buf, size_t len);
void xen_claims_remove(XenDM *xd);
/* ioreq_server.c */
void xen_ioreq_server_teardown(XenDM *xd);

#endif
