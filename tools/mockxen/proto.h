/*
 * tools/mockxen/proto.h — the wire protocol between the mockxen daemon and its shim
 * libraries (libxenctrl, libxenforeignmemory, libxendevicemodel, libxenevtchn, ...).
 *
 * Transport: a SOCK_STREAM unix socket at $MOCKXEN_SOCKET. Every library handle opens
 * its own connection (so per-handle state such as `restrict` lives with the
 * connection). A request is an MxMsgHdr followed by `len` payload bytes; the reply is
 * an MxReplyHdr followed by `len` payload bytes, with `nfds` file descriptors attached
 * (SCM_RIGHTS) to the reply header. One request is outstanding per connection.
 *
 * One-way messages: a request whose op carries MX_MSG_ONEWAY gets no reply; the shim
 * returns as soon as it is sent (interrupts: on Xen a short hypercall, here not worth a
 * round trip). The shim decides every error Xen would report itself (bad arguments,
 * restricted handle, wrong domain: it learns the domid from the hello); the daemon
 * checks again and only logs what fails. Order is kept: the daemon handles a
 * connection's messages in order, and before each one-way send a client adds one to
 * MxStatsPage.oneway_sent (every client must), which the daemon compares with the
 * messages it has handled before it answers any request or lets the guest see an
 * ioreq completion or an interrupt level (oneway.c): so whatever a process does after
 * a one-way call sees it done, as after a hypercall.
 *
 * The hot paths never cross the socket:
 *   - guest memory: MX_OP_GUEST_MEMORY hands over the guest RAM memfd and the
 *     populated-frame bitmap once; foreign maps are local mmaps of that memfd;
 *   - event channels: MX_OP_EVTCHN_OPEN hands over an eventfd (the handle's pollable
 *     fd) and an MxEvtchnPage (pending/masked bitmaps shared with the daemon);
 *     MX_OP_EVTCHN_BIND hands over the remote port's eventfd, so notify() is one
 *     write() and pending()/unmask() are atomic bit operations;
 *   - counters and fault injection: MX_OP_HELLO hands over the MxStatsPage shared by
 *     the daemon and every shim, so every library call counts itself locally.
 *
 * Payload structs are fixed-size and naturally aligned; variable-length arrays follow
 * the fixed part. Replies carry ret >= 0 on success, or ret = -1 and err = errno.
 */
#ifndef MOCKXEN_PROTO_H
#define MOCKXEN_PROTO_H

#include <errno.h>
#include <stdint.h>

#include "tools/mockxen/kinds.h"

#define MX_PROTO_VERSION   2
#define MX_MSG_MAX_PAYLOAD (16u << 20)   /* larger requests are refused (EMSGSIZE) */
#define MX_MSG_MAX_FDS     4
#define MX_PAGE_SHIFT      12
#define MX_PAGE_SIZE       (1u << MX_PAGE_SHIFT)
#define MX_POPULATE_CHUNK  16384         /* frames per MX_OP_POPULATE request */
#define MX_GNTTAB_MAX_FRAMES  64         /* Xen's default max_grant_frames */
#define MX_GNTTAB_PER_FRAME   (MX_PAGE_SIZE / 8)  /* 8-byte grant_entry_v1_t entries */
#define MX_GNTTAB_MAX_ENTRIES (MX_GNTTAB_MAX_FRAMES * MX_GNTTAB_PER_FRAME)

enum MxOp {
    MX_OP_HELLO = 1,          /* MxHello -> MxHelloReply, fd: stats page memfd */
    MX_OP_DOMAIN_INFO,        /* MxDomainReq{first domid} -> MxDomainInfo (ret = 0|1) */
    MX_OP_POPULATE,           /* MxPopulateReq + uint64_t gfns[nr] */
    MX_OP_HVM_PARAM_GET,      /* MxParamReq -> MxParamReq (value filled) */
    MX_OP_HVM_PARAM_SET,      /* MxParamReq */
    MX_OP_GUEST_MEMORY,       /* MxDomainReq -> MxGuestMemory, fds: RAM memfd, bitmap memfd */
    MX_OP_IOREQ_RESOURCE,     /* MxResourceReq -> MxResourceReply (a gfn range of RAM memfd) */
    MX_OP_SERVER_CREATE,      /* MxServerReq{handle_bufioreq} -> MxServerReq{id} */
    MX_OP_SERVER_DESTROY,     /* MxServerReq */
    MX_OP_SERVER_INFO,        /* MxServerReq -> MxServerInfo */
    MX_OP_SERVER_STATE,       /* MxServerReq{enabled} */
    MX_OP_MAP_RANGE,          /* MxRangeReq */
    MX_OP_UNMAP_RANGE,        /* MxRangeReq */
    MX_OP_MODIFIED_MEMORY,    /* MxDomainReq + MxExtent[nr] (domid, nr in the req) */
    MX_OP_TRACK_DIRTY_VRAM,   /* MxExtentReq -> bitmap bytes */
    MX_OP_IRQ,                /* MxIrqReq */
    MX_OP_RESTRICT,           /* MxDomainReq: this connection may only act on domid */
    MX_OP_SHUTDOWN,           /* MxDomainReq{domid, arg = reason} */
    MX_OP_EVTCHN_OPEN,        /* -> fds: eventfd, MxEvtchnPage memfd */
    MX_OP_EVTCHN_BIND,        /* MxBindReq -> ret = local port, fd: remote eventfd */
    MX_OP_EVTCHN_UNBIND,      /* MxBindReq{local port} */
    MX_OP_QUERY,              /* NUL-terminated command text -> NUL-terminated answer */
    MX_OP_DEPOPULATE,         /* MxPopulateReq + uint64_t gfns[nr]: decrease_reservation */
    MX_OP_GNTTAB_MAP,         /* MxGrantMapReq + uint32_t refs[count] -> MxGrantMapReply +
                               * uint64_t gfns[count] */
    MX_OP_GNTTAB_UNMAP,       /* MxGrantUnmapReq */
    MX_OP_NR
};

#define MX_MSG_ONEWAY      (1u << 31)    /* in MxMsgHdr.op: send no reply */

typedef struct MxMsgHdr {
    uint32_t op;              /* enum MxOp, maybe | MX_MSG_ONEWAY */
    uint32_t len;
} MxMsgHdr;

typedef struct MxReplyHdr {
    int32_t ret;
    int32_t err;
    uint32_t len;
    uint32_t nfds;
} MxReplyHdr;

typedef struct MxHello {
    uint32_t version;
    char library[28];         /* which shim opened the connection, for the log */
} MxHello;

typedef struct MxHelloReply {
    uint32_t version;
    uint32_t nr_kinds;        /* must equal MX_KIND_NR */
    uint32_t domid;           /* the one domain the daemon models */
    uint32_t arch;            /* enum MxArch: what Xen allows that domain */
} MxHelloReply;

/* The kind of domain mockxen models (--arch). An Arm domain has no port I/O, no
 * buffered ioreq ring (Xen: -EINVAL outside x86), and takes interrupts only as SPIs
 * (set_irq_level); the x86 interrupt calls answer -EOPNOTSUPP there, as set_irq_level
 * does on x86 (neither is in that architecture's dm_op). */
enum MxArch { MX_ARCH_X86, MX_ARCH_ARM };
#define MX_ARM_NR_SPIS 64         /* SPIs 32..95: vgic_num_irqs() as libxl sizes it */

/* Every request addressed to a domain begins with `uint32_t domid`: the daemon checks it
 * before it looks at the rest. */
typedef struct MxDomainReq {
    uint32_t domid;
    uint32_t nr;              /* op-specific count */
    uint64_t arg;             /* op-specific argument */
} MxDomainReq;

typedef struct MxDomainInfo {
    uint32_t domid;
    uint32_t max_vcpu_id;
    uint32_t nr_online_vcpus;
    uint32_t shutdown_reason;
    uint64_t nr_pages;        /* populated frames */
    uint64_t max_pages;
    uint64_t max_gfn;
    uint8_t shutdown, crashed, dying, hvm;
    uint32_t pad;
} MxDomainInfo;

typedef struct MxPopulateReq {
    uint32_t domid;
    uint32_t extent_order;
    uint64_t nr;              /* gfns follow */
} MxPopulateReq;

typedef struct MxParamReq {
    uint32_t domid;
    uint32_t param;
    uint64_t value;
} MxParamReq;

typedef struct MxGuestMemory {
    uint64_t nr_frames;       /* size of the RAM memfd in frames (max_gfn + 1 + special) */
    uint64_t bitmap_bytes;    /* size of the populated bitmap memfd */
} MxGuestMemory;

typedef struct MxResourceReq {
    uint32_t domid;
    uint32_t type;            /* XENMEM_resource_* */
    uint32_t id;
    uint32_t frame;
    uint64_t nr_frames;
} MxResourceReq;

typedef struct MxResourceReply {
    uint64_t gfn;             /* first frame of the resource inside the RAM memfd */
    uint64_t nr_frames;       /* frames the resource has from `frame` on */
} MxResourceReply;

typedef struct MxServerReq {
    uint32_t domid;
    uint16_t id;
    uint8_t handle_bufioreq;  /* create */
    uint8_t enabled;          /* set_state */
} MxServerReq;

typedef struct MxServerInfo {
    uint64_t ioreq_gfn;
    uint64_t bufioreq_gfn;
    uint32_t bufioreq_port;
    uint32_t pad;
} MxServerInfo;

typedef struct MxRangeReq {
    uint32_t domid;
    uint16_t id;
    uint16_t pad;
    uint32_t type;            /* XEN_DMOP_IO_RANGE_* */
    uint32_t pad2;
    uint64_t start, end;      /* inclusive */
} MxRangeReq;

typedef struct MxExtent {
    uint64_t first_pfn;
    uint64_t nr;
} MxExtent;

typedef struct MxExtentReq {
    uint32_t domid;
    uint32_t pad;
    uint64_t first_pfn;
    uint64_t nr;
} MxExtentReq;

enum MxIrqKind { MX_IRQ_ISA, MX_IRQ_INTX, MX_IRQ_MSI, MX_IRQ_SPI };

/* Sent one-way (MX_MSG_ONEWAY): no reply. */
typedef struct MxIrqReq {
    uint32_t domid;
    uint32_t kind;            /* enum MxIrqKind */
    uint32_t line;            /* ISA irq, INTx (segment<<16 | bus<<8 | dev<<3 | intx), or
                               * an SPI's GIC id */
    uint32_t level;           /* ISA/INTx; MSI: data */
    uint64_t msi_addr;
} MxIrqReq;

/*
 * What Xen's dm_op accepts (set_isa_irq_level, set_pci_intx_level): an ISA irq 0-15;
 * INTx on segment 0, bus 0, pin 0-3 (INTA-INTD); a level of 0 or 1. Every MSI is
 * accepted. On Arm (set_irq_level) only an SPI, 32 up to vgic_num_irqs() - 1, level 0
 * or 1. 0, -EINVAL, or -EOPNOTSUPP for a call the domain's architecture does not have.
 * Shared by the shim (which reports it) and the daemon.
 */
static inline int mx_irq_req_check(const MxIrqReq *req, uint32_t arch)
{
    if ((req->kind == MX_IRQ_SPI) != (arch == MX_ARCH_ARM))
        return -EOPNOTSUPP;
    switch (req->kind) {
    case MX_IRQ_SPI:
        return req->line >= 32 && req->line < 32 + MX_ARM_NR_SPIS && req->level <= 1
               ? 0 : -EINVAL;
    case MX_IRQ_ISA:
        return req->line <= 15 && req->level <= 1 ? 0 : -EINVAL;
    case MX_IRQ_INTX:
        return (req->line >> 8) == 0 && (req->line & 7) <= 3 && req->level <= 1 ? 0 : -EINVAL;
    case MX_IRQ_MSI:
        return 0;
    default:
        return -EINVAL;
    }
}

/* Grant maps: the daemon checks and pins the entries (grant_table.c), the shim maps the
 * frames it names from the RAM memfd, and unmaps before it asks the daemon to unpin. */
typedef struct MxGrantMapReq {
    uint32_t domid;           /* the granting domain */
    uint32_t count;           /* refs follow */
    uint32_t writable;
    uint32_t pad;
} MxGrantMapReq;

typedef struct MxGrantMapReply {
    uint32_t id;              /* the mapping, for MX_OP_GNTTAB_UNMAP */
    uint32_t count;           /* gfns follow */
} MxGrantMapReply;

typedef struct MxGrantUnmapReq {
    uint32_t domid;
    uint32_t id;
    uint32_t count;
    uint32_t pad;
} MxGrantUnmapReq;

typedef struct MxBindReq {
    uint32_t domid;
    uint32_t port;            /* bind: remote port; unbind: local port */
} MxBindReq;

/* ---- event channel page shared by one xenevtchn handle and the daemon ------------- */

#define MX_EVTCHN_PORTS 4096  /* local (dom0) port numbers are 1 .. MX_EVTCHN_PORTS-1 */
#define MX_EVTCHN_WORDS (MX_EVTCHN_PORTS / 64)

/*
 * The daemon sets `pending` bits and, if the port is not masked, writes the handle's
 * eventfd. xenevtchn_pending() takes a pending bit and masks the port (as the Linux
 * evtchn driver does); xenevtchn_unmask() clears the mask and re-signals the eventfd if
 * the port became pending meanwhile. All accesses are __atomic sequentially consistent,
 * which makes "set pending, then test mask" vs "clear mask, then test pending" race-free.
 */
typedef struct MxEvtchnPage {
    uint64_t pending[MX_EVTCHN_WORDS];
    uint64_t masked[MX_EVTCHN_WORDS];
    /* Set by the daemon before an orderly exit: a hang-up then means "the domain is
     * gone, wait to be stopped", not "the hypervisor died" (ENOTCONN from pending()). */
    uint32_t daemon_exiting;
} MxEvtchnPage;

#endif
