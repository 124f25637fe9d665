/*
 * xen/ioreq_exec.h — carry out one ioreq against the memory model. Used inside xen/;
 * its handler and context types reach dm/ and the tests through xen/xen_dm.h.
 *
 * The ioreq loop copies each request out of the shared page exactly once and hands the
 * copy here. This file knows nothing about event channels or shared pages: it validates
 * the request (sizes, counts, overflow, wrap, port range) and performs it on the I/O
 * and memory address spaces, so it can be unit-tested without Xen. Every field is
 * guest-chosen and treated as hostile.
 *
 * A rep can be long (millions of elements to a device that writes each byte to a
 * file), and the loop that runs it serves every vCPU. So a request is performed in
 * slices, each bounded in elements (a page of data) and in time (ioreq_exec.c), and the
 * caller answers it only after the last slice: Xen has no way to take a partial rep
 * back (it ignores a `count` changed by the device model).
 */
#ifndef XENDM_XEN_IOREQ_EXEC_H
#define XENDM_XEN_IOREQ_EXEC_H

#include <stdbool.h>
#include <stdint.h>
#include <xen/xen.h>
#include <xen/hvm/ioreq.h>

#include "memory/memory.h"
#include "util/log.h"

/* The requests the machine answers, not the memory model: each gets the opaque given
 * with them. Any may be NULL: PCI config reads then return all ones, writes and
 * invalidations are dropped. */
typedef struct IoreqHandlers {
    /* IOREQ_TYPE_PCI_CONFIG: addr = SBDF << 32 | register (checked: reg + size <= 4096,
     * size 1/2/4; a write's value is masked to its size). */
    uint64_t (*pci_config_read)(void *opaque, uint32_t sbdf, uint32_t reg, unsigned size);
    void (*pci_config_write)(void *opaque, uint32_t sbdf, uint32_t reg, unsigned size,
                             uint64_t val);
    void (*invalidate)(void *opaque);       /* IOREQ_TYPE_INVALIDATE: drop mappings */
} IoreqHandlers;

typedef struct IoreqExecCtx {
    AddressSpace *as_io;        /* ports */
    AddressSpace *as_mem;       /* guest physical memory (MMIO and RAM) */
    IoreqHandlers handlers;
    void *handlers_opaque;
    int64_t time_offset;        /* IOREQ_TYPE_TIMEOFFSET accumulates here */
    /* Called after a request that may have written guest memory finishes, so the
     * dirty reports of one request are flushed as one batch. May be NULL. */
    void (*request_done)(void *opaque);
    void *request_done_opaque;
    /* Counters (readable by tools and tests). split: requests that took more than
     * one slice. */
    uint64_t handled, rejected, split;
    uint64_t waits;             /* slices that stopped at a write the device held */
    uint64_t dropped;           /* ioreq_exec(): writes a device could not take yet */
    LogRateLimit bad_request_log;
} IoreqExecCtx;

/* A request being performed: the private copy and how far it got. */
typedef struct IoreqRun {
    ioreq_t req;
    uint32_t done;              /* elements performed; 0 for a request not started */
} IoreqRun;

#define IOREQ_EXEC_MORE 1
#define IOREQ_EXEC_WAIT 2

/*
 * Perform the next slice of run->req and store the result in run->req.data for reads
 * that return a value. Returns IOREQ_EXEC_MORE when elements remain (call again on the
 * next loop turn; do not answer yet), IOREQ_EXEC_WAIT when the device could not take
 * the next element yet (MEMTX_RETRY: it waits for its own work in flight; call again
 * later, do not answer yet — the vCPU waits as for a slow device), 0 when the request
 * is complete, or -EINVAL when it was malformed: then it was logged (rate-limited),
 * nothing was done, and the data of a read is all ones. On 0 or -EINVAL the caller
 * answers the request.
 */
int ioreq_exec_slice(IoreqExecCtx *ctx, IoreqRun *run);

/* Perform *req (a private copy) to the end, all slices at once: for requests that are
 * a single access (the buffered ring) and for tests. Returns 0 or -EINVAL, as above, or
 * IOREQ_EXEC_WAIT when a device could not take a write yet: nobody waits for a buffered
 * write (Xen resumed the vCPU when it queued it), so the rest is dropped and counted in
 * ctx->dropped. */
int ioreq_exec(IoreqExecCtx *ctx, ioreq_t *req);

#endif
