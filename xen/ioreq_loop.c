/*
 * xen/ioreq_loop.c — answer the requests Xen posts in the ioreq pages.
 *
 * Synchronous slot protocol (one slot per vCPU in the shared page):
 *   Xen writes the request, then state = READY, then notifies the vCPU's port.
 *   We see state READY, issue a read barrier, copy the request ONCE (the page is
 *   writable by a hostile guest's emulation path; every later decision uses the copy),
 *   set INPROCESS, perform it, write back `data`, issue a write barrier, set
 *   IORESP_READY, and notify the port. Xen resumes the vCPU when it sees IORESP_READY.
 *   A long rep is performed in slices (ioreq_exec.h): between two slices the vCPU's
 *   request stays INPROCESS ("busy") and the event loop serves everything else, then
 *   comes back with xen_dm_continue_requests. One slice per busy vCPU per call.
 * Buffered ring: Xen appends write-only requests and bumps write_pointer; we consume
 * them up to the write pointer seen, then advance read_pointer. An 8-byte write takes
 * two consecutive slots (low half, high half). The ring is drained on every wake-up,
 * whatever port fired, so that buffered writes are never reordered behind a later
 * synchronous request.
 * With HVM_IOREQSRV_BUFIOREQ_ATOMIC (which we ask for) Xen keeps both pointers small by
 * subtracting the same multiple of IOREQ_BUFFER_SLOT_NUM from both at once (one 64-bit
 * cmpxchg), concurrently with us. Slot indices (pointer % SLOT_NUM) and the distance
 * wp - rp survive that, absolute values do not: so the pointers are read as a
 * consistent pair (read_pointer unchanged across the read of write_pointer), and
 * read_pointer is only ever advanced with an atomic add, never stored.
 */
#include "xen/xen-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "util/log.h"

/* Write back the result of vcpu's request and hand the slot back to Xen. */
static void answer_slot(XenDM *xd, unsigned vcpu, const ioreq_t *req)
{
    ioreq_t *slot = &xd->shared_page->vcpu_ioreq[vcpu];
    if (req->dir == IOREQ_READ && !req->data_is_ptr)
        slot->data = req->data;
    __atomic_thread_fence(__ATOMIC_RELEASE);    /* data before the state flip */
    slot->state = STATE_IORESP_READY;
    xenevtchn_notify(xd->xce, (evtchn_port_t)xd->vcpu_local_port[vcpu]);
}

/* Record why vcpu's request is still unanswered (0: it is not). */
static void set_busy(XenDM *xd, unsigned vcpu, uint8_t why)
{
    uint8_t was = xd->vcpu_busy[vcpu];
    if (why == was)
        return;                         /* the usual case: not busy before or after */
    xd->nr_busy += (why != 0) - (was != 0);
    xd->nr_waiting += (why == IOREQ_EXEC_WAIT) - (was == IOREQ_EXEC_WAIT);
    xd->vcpu_busy[vcpu] = why;
}

/* The next slice of vcpu's request; answer it once it is complete. */
static void run_slice(XenDM *xd, unsigned vcpu)
{
    int ret = ioreq_exec_slice(&xd->exec, &xd->vcpu_run[vcpu]);
    if (ret == IOREQ_EXEC_MORE || ret == IOREQ_EXEC_WAIT) {
        set_busy(xd, vcpu, (uint8_t)ret);
        return;
    }
    if (ret < 0)
        xd->stats.bad_ioreqs++;
    set_busy(xd, vcpu, 0);
    answer_slot(xd, vcpu, &xd->vcpu_run[vcpu].req);
}

/* The state of a vCPU's slot. The state nibble shares a byte with flags: the byte is
 * read atomically, with acquire so that the request read after it is the one Xen
 * published before setting the state. */
static uint8_t slot_state(const ioreq_t *slot)
{
    const uint8_t *state = (const uint8_t *)slot + offsetof(ioreq_t, type) - 1;
    return __atomic_load_n(state, __ATOMIC_ACQUIRE) & 0xf;
}

static void serve_slot(XenDM *xd, unsigned vcpu)
{
    ioreq_t *slot = &xd->shared_page->vcpu_ioreq[vcpu];
    /* A busy vCPU's slot is ours until answered, whatever a hostile writer put there. */
    if (slot_state(slot) != STATE_IOREQ_READY || xd->vcpu_busy[vcpu])
        return;                         /* spurious or already served */
    IoreqRun *run = &xd->vcpu_run[vcpu];
    memcpy(&run->req, slot, sizeof(run->req));  /* the one and only read of the request */
    run->done = 0;
    slot->state = STATE_IOREQ_INPROCESS;
    xd->stats.sync_ioreqs++;
    run_slice(xd, vcpu);
}

bool xen_dm_requests_pending(const XenDM *xd)
{
    return xd->nr_busy > xd->nr_waiting;
}

bool xen_dm_requests_waiting(const XenDM *xd)
{
    return xd->nr_waiting > 0;
}

void xen_dm_continue_requests(XenDM *xd)
{
    for (unsigned vcpu = 0; xd->nr_busy > 0 && vcpu < xd->nr_vcpus; vcpu++) {
        if (xd->vcpu_busy[vcpu])
            run_slice(xd, vcpu);
    }
}

int xen_dm_stop_taking_requests(XenDM *xd, Error **errp)
{
    int ret = xen_ioreq_server_disable(xd, errp);
    if (ret < 0)
        return ret;
    /* Posted before the server went off, maybe not yet notified: served like any other
     * (serve_slot passes over a slot that is not READY or already ours). */
    if (xd->buffered_page)
        xen_ioreq_drain_buffered(xd);
    for (unsigned vcpu = 0; xd->shared_page && xd->vcpu_busy && vcpu < xd->nr_vcpus; vcpu++)
        serve_slot(xd, vcpu);
    return 0;
}

bool xen_dm_requests_settled(const XenDM *xd)
{
    if (xd->nr_busy)
        return false;
    for (unsigned vcpu = 0; xd->shared_page && vcpu < xd->nr_vcpus; vcpu++)
        if (slot_state(&xd->shared_page->vcpu_ioreq[vcpu]) != STATE_IOREQ_NONE)
            return false;
    return true;
}

/* Build a synchronous-style request from buffered slot(s). Returns slots consumed
 * (1 or 2), or 0 if an 8-byte write is missing its second half. */
static unsigned buffered_to_ioreq(const buffered_iopage_t *page, uint32_t rp, uint32_t wp,
                                  ioreq_t *req)
{
    buf_ioreq_t b = page->buf_ioreq[rp % IOREQ_BUFFER_SLOT_NUM];
    memset(req, 0, sizeof(*req));
    req->type = b.type;
    req->dir = b.dir;
    req->size = 1u << b.size;
    req->addr = b.addr;
    req->data = b.data;
    req->count = 1;
    if (req->size != 8)
        return 1;
    if (wp - rp < 2)
        return 0;
    buf_ioreq_t hi = page->buf_ioreq[(rp + 1) % IOREQ_BUFFER_SLOT_NUM];
    req->data |= (uint64_t)hi.data << 32;
    return 2;
}

/* Read (read_pointer, write_pointer) as a pair no canonicalisation came between. */
static void buffered_pointers(buffered_iopage_t *page, uint32_t *rp, uint32_t *wp)
{
    for (;;) {
        *rp = __atomic_load_n(&page->read_pointer, __ATOMIC_ACQUIRE);
        *wp = __atomic_load_n(&page->write_pointer, __ATOMIC_ACQUIRE);
        if (__atomic_load_n(&page->read_pointer, __ATOMIC_ACQUIRE) == *rp)
            return;
    }
}

/* Give consumed slots back to Xen (see the header comment: an add, never a store). */
static void buffered_consume(buffered_iopage_t *page, uint32_t nr)
{
    __atomic_fetch_add(&page->read_pointer, nr, __ATOMIC_RELEASE);
}

/* Take the requests from rp up to wp. Not inlined: most wake-ups are a vCPU's
 * synchronous request with nothing here, and should not set up this frame. */
static __attribute__((noinline)) void drain_buffered_from(XenDM *xd, uint32_t rp, uint32_t wp)
{
    buffered_iopage_t *page = xd->buffered_page;
    if (wp - rp > IOREQ_BUFFER_SLOT_NUM) {
        log_ratelimited(&xd->loop_log, LOG_WARN,
                        "buffered ioreq ring pointers insane (read %u, write %u): "
                        "dropping the ring contents", rp, wp);
        buffered_consume(page, wp - rp);
        xd->stats.bad_ioreqs++;
        return;
    }
    while (rp != wp) {
        ioreq_t req;
        unsigned used = buffered_to_ioreq(page, rp, wp, &req);
        if (used == 0)
            return;                     /* second half not yet published */
        xd->stats.buffered_ioreqs++;
        if (req.dir != IOREQ_WRITE) {
            log_ratelimited(&xd->loop_log, LOG_WARN, "buffered ioreq is a read: ignored");
            xd->stats.bad_ioreqs++;
        } else if (ioreq_exec(&xd->exec, &req) < 0) {
            xd->stats.bad_ioreqs++;
        }
        rp += used;
        buffered_consume(page, used);
    }
}

/* Consume the ring up to the write pointer seen on entry: at most one ring of
 * requests per call, so a guest that keeps filling it cannot hold the loop. What it
 * appends meanwhile comes with its own notification and waits for the next call. */
void xen_ioreq_drain_buffered(XenDM *xd)
{
    uint32_t rp, wp;
    buffered_pointers(xd->buffered_page, &rp, &wp);
    if (rp != wp)
        drain_buffered_from(xd, rp, wp);
}

int xen_dm_handle_events(XenDM *xd, Error **errp)
{
    xenevtchn_port_or_error_t port = xenevtchn_pending(xd->xce);
    if (port < 0) {
        if (errno == EAGAIN || errno == EINTR)
            return 0;
        int err = errno;
        error_setg_errno(errp, err, "cannot read pending event channels");
        return -err;
    }
    xd->stats.wakeups++;
    if (xenevtchn_unmask(xd->xce, (evtchn_port_t)port) < 0) {
        int err = errno;
        error_setg_errno(errp, err, "cannot unmask event channel %d", port);
        return -err;
    }
    if (xd->buffered_page)
        xen_ioreq_drain_buffered(xd);
    if ((unsigned)port < xd->port_to_vcpu_len && xd->port_to_vcpu[port])
        serve_slot(xd, xd->port_to_vcpu[port] - 1);
    else if (port != xd->buffered_local_port)
        log_ratelimited(&xd->loop_log, LOG_WARN, "event on unknown port %d ignored", port);
    return 0;
}
