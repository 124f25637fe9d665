/*
 * tools/mockxen/ioreq_send.c — the guest's half of the ioreq protocol, checked the way
 * Xen checks it (hvm_send_ioreq / wait_for_io / hvm_send_buffered_ioreq).
 *
 * A vCPU fills its slot in the chosen server's ioreq page, publishes STATE_IOREQ_READY,
 * signals its port and sleeps on its wake eventfd. On every wake-up it re-reads the
 * state: READY/INPROCESS keep waiting, IORESP_READY completes, NONE means the emulator
 * went away (answered with all ones, as Xen does), and any other value or a transition
 * backwards is a protocol violation that crashes the domain. A slot of an idle vCPU
 * found in any state but NONE means the device model answered the wrong slot: crash too.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tools/mockxen/mockxen.h"
#include <xen/hvm/hvm_op.h>

#define PCI_CONFIG_ADDRESS 0xcf8
#define BUFIOREQ_MAX_ADDR  0xfffff

static uint64_t all_ones(uint32_t size)
{
    return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Xen latches 4-byte writes to 0xcf8 for the 0xcfc decode, then forwards them as PIO. */
static void latch_cf8_locked(MxDomain *d, const ioreq_t *req)
{
    if (req->type == IOREQ_TYPE_PIO && req->addr == PCI_CONFIG_ADDRESS && req->size == 4 &&
        req->dir == IOREQ_WRITE && !req->data_is_ptr)
        d->pci_cf8 = (uint32_t)req->data;
}

static uint8_t slot_state(const ioreq_t *slot)
{
    ioreq_t copy;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    memcpy(&copy, (const void *)slot, sizeof(copy));
    return copy.state;
}

/* Any idle vCPU whose slot is not NONE was answered by mistake. Returns that vCPU or -1. */
static int find_wrong_slot_locked(MxDomain *d, unsigned *server)
{
    for (unsigned i = 0; i < MX_MAX_SERVERS; i++) {
        if (!d->servers[i].used)
            continue;
        for (unsigned v = 0; v < d->nr_vcpus; v++) {
            if (!d->vcpus[v].waiting &&
                slot_state(&d->servers[i].ioreq_page->vcpu_ioreq[v]) != STATE_IOREQ_NONE) {
                *server = i;
                return v;
            }
        }
    }
    return -1;
}

/* An access nobody claims: reads return all ones (into guest memory for rep reads). */
static int answer_unclaimed(MxDomain *d, ioreq_t *req, Error **errp)
{
    mx_stats_hit(d->stats, MX_KIND_guest_unclaimed, 0);
    if (req->dir != IOREQ_READ)
        return 0;
    if (!req->data_is_ptr) {
        req->data = all_ones(req->size);
        return 0;
    }
    uint8_t ones[MX_PAGE_SIZE];
    memset(ones, 0xff, sizeof(ones));
    uint64_t bytes = (uint64_t)req->size * req->count;
    for (uint64_t off = 0; off < bytes; off += sizeof(ones)) {
        uint64_t n = bytes - off < sizeof(ones) ? bytes - off : sizeof(ones);
        uint64_t gpa = req->df ? req->data - off - n + req->size : req->data + off;
        int rc = mx_domain_write(d, gpa, ones, n, errp);
        if (rc)
            return rc;
    }
    return 0;
}

/* Publish *req in the slot and signal the server. Call with d->lock held. */
static int publish_locked(MxDomain *d, unsigned vcpu, MxIoreqServer *s, const ioreq_t *req,
                          bool raw, Error **errp)
{
    ioreq_t *slot = &s->ioreq_page->vcpu_ioreq[vcpu];
    uint8_t old = slot_state(slot);
    if (old != STATE_IOREQ_NONE) {
        mx_domain_crash_locked(d, "vcpu %u: slot of ioreq server %ld in state %u before a "
                               "new ioreq", vcpu, (long)(s - d->servers), old);
        error_setg_errno(errp, EPROTO, "vcpu %u: ioreq slot busy (state %u)", vcpu, old);
        return -EPROTO;
    }
    ioreq_t copy = *req;
    if (!raw)
        copy.vp_eport = s->vcpu_port[vcpu];
    uint8_t state = raw ? copy.state : STATE_IOREQ_READY;
    copy.state = STATE_IOREQ_NONE;
    memcpy((void *)slot, &copy, sizeof(copy));
    __atomic_thread_fence(__ATOMIC_RELEASE);
    slot->state = state;
    d->vcpus[vcpu].waiting = true;
    mx_stats_hit(d->stats, MX_KIND_guest_ioreq, 0);
    mx_evtchn_send_locked(d, s->vcpu_port[vcpu]);
    return 0;
}

/* Sleep until the vCPU's wake fd fires or the deadline passes. */
static bool sleep_until(int fd, uint64_t deadline_ms)
{
    uint64_t now = now_ms();
    if (now >= deadline_ms)
        return false;
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    int n = poll(&pfd, 1, (int)(deadline_ms - now));
    if (n > 0) {
        uint64_t count;
        if (read(fd, &count, sizeof(count)) < 0)
            return true;        /* raced with another reader: just re-check */
    }
    return n != 0 || now_ms() < deadline_ms;
}

/*
 * One check of the slot while waiting. Returns 1 to keep waiting, 0 when done
 * (req->data set), -errno on failure. Call with d->lock held.
 */
static int check_slot_locked(MxDomain *d, unsigned vcpu, MxIoreqServer *s, uint32_t gen,
                             uint8_t *prev_state, ioreq_t *req, Error **errp)
{
    unsigned bad_server;
    int bad_vcpu;
    if (d->crashed) {
        error_setg_errno(errp, ESHUTDOWN, "vcpu %u: domain crashed: %s", vcpu, d->crash_reason);
        return -ESHUTDOWN;
    }
    if (s->generation != gen) {
        error_setg_errno(errp, ENODEV, "vcpu %u: ioreq server %ld destroyed during an ioreq",
                         vcpu, (long)(s - d->servers));
        return -ENODEV;
    }
    if ((bad_vcpu = find_wrong_slot_locked(d, &bad_server)) >= 0) {
        mx_domain_crash_locked(d, "ioreq server %u wrote state %u into the slot of idle vcpu %d",
                               bad_server,
                               slot_state(&d->servers[bad_server].ioreq_page->vcpu_ioreq[bad_vcpu]),
                               bad_vcpu);
        error_setg_errno(errp, EPROTO, "vcpu %u: device model answered the wrong slot", vcpu);
        return -EPROTO;
    }
    ioreq_t *slot = &s->ioreq_page->vcpu_ioreq[vcpu];
    uint8_t state = slot_state(slot);
    if (state == STATE_IOREQ_NONE) {           /* emulator died under us: all ones */
        req->data = all_ones(req->size);
        return 0;
    }
    if (state > STATE_IORESP_READY || state < *prev_state) {
        mx_domain_crash_locked(d, "vcpu %u: ioreq state %u after %u (server %ld)", vcpu, state,
                               *prev_state, (long)(s - d->servers));
        error_setg_errno(errp, EPROTO, "vcpu %u: bad ioreq state %u", vcpu, state);
        return -EPROTO;
    }
    *prev_state = state;
    if (state != STATE_IORESP_READY)
        return 1;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    req->data = slot->data;
    slot->state = STATE_IOREQ_NONE;
    return 0;
}

int mx_ioreq_send(MxDomain *d, unsigned vcpu, ioreq_t *req, bool raw, int timeout_ms,
                  Error **errp)
{
    if (vcpu >= d->nr_vcpus) {
        error_setg_errno(errp, EINVAL, "ioreq from vcpu %u: domain has %u vcpus", vcpu,
                         d->nr_vcpus);
        return -EINVAL;
    }
    pthread_mutex_lock(&d->lock);
    if (d->crashed) {
        pthread_mutex_unlock(&d->lock);
        error_setg_errno(errp, ESHUTDOWN, "vcpu %u: domain crashed: %s", vcpu,
                         d->crash_reason);
        return -ESHUTDOWN;
    }
    latch_cf8_locked(d, req);
    int idx = mx_route_locked(d, req);
    if (idx < 0) {
        pthread_mutex_unlock(&d->lock);
        return answer_unclaimed(d, req, errp);
    }
    MxIoreqServer *s = &d->servers[idx];
    uint32_t gen = s->generation;
    uint8_t prev_state = STATE_IOREQ_READY;
    int rc = publish_locked(d, vcpu, s, req, raw, errp);
    uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
    while (rc == 0) {
        pthread_mutex_unlock(&d->lock);
        bool woken = sleep_until(d->vcpus[vcpu].wake_fd, deadline);
        pthread_mutex_lock(&d->lock);
        rc = check_slot_locked(d, vcpu, s, gen, &prev_state, req, errp);
        if (rc != 1)
            break;
        rc = 0;
        if (!woken) {
            s->ioreq_page->vcpu_ioreq[vcpu].state = STATE_IOREQ_NONE;
            error_setg_errno(errp, ETIMEDOUT, "vcpu %u: device model did not answer "
                             "within %d ms (ioreq type %u addr 0x%llx)", vcpu, timeout_ms,
                             req->type, (unsigned long long)req->addr);
            rc = -ETIMEDOUT;
            break;
        }
    }
    d->vcpus[vcpu].waiting = false;
    pthread_mutex_unlock(&d->lock);
    return rc;
}

static bool bufferable(const ioreq_t *req)
{
    return req->dir == IOREQ_WRITE && !req->data_is_ptr && req->count == 1 &&
           req->addr <= BUFIOREQ_MAX_ADDR &&
           (req->size == 1 || req->size == 2 || req->size == 4 || req->size == 8) &&
           (req->type == IOREQ_TYPE_PIO || req->type == IOREQ_TYPE_COPY);
}

static void put_buffered_locked(buffered_iopage_t *pg, const ioreq_t *req, uint32_t wp)
{
    static const uint8_t size_code[9] = { [1] = 0, [2] = 1, [4] = 2, [8] = 3 };
    buf_ioreq_t bp = { .type = req->type, .dir = IOREQ_WRITE,
                       .size = size_code[req->size], .addr = (uint32_t)req->addr,
                       .data = (uint32_t)req->data };
    pg->buf_ioreq[wp % IOREQ_BUFFER_SLOT_NUM] = bp;
    if (req->size == 8) {
        buf_ioreq_t hi = bp;
        hi.data = (uint32_t)(req->data >> 32);
        pg->buf_ioreq[(wp + 1) % IOREQ_BUFFER_SLOT_NUM] = hi;
    }
}

int mx_ioreq_send_buffered(MxDomain *d, const ioreq_t *req)
{
    if (!bufferable(req))
        return 0;
    pthread_mutex_lock(&d->lock);
    ioreq_t routed = *req;
    latch_cf8_locked(d, &routed);
    int idx = mx_route_locked(d, &routed);
    MxIoreqServer *s = idx >= 0 ? &d->servers[idx] : NULL;
    if (!s || s->bufioreq == HVM_IOREQSRV_BUFIOREQ_OFF || routed.type != req->type) {
        pthread_mutex_unlock(&d->lock);
        return 0;
    }
    buffered_iopage_t *pg = s->buf_page;
    uint32_t slots = req->size == 8 ? 2 : 1;
    uint32_t rp = __atomic_load_n(&pg->read_pointer, __ATOMIC_ACQUIRE);
    uint32_t wp = pg->write_pointer;
    if (wp - rp >= IOREQ_BUFFER_SLOT_NUM - (slots - 1)) {   /* full: Xen goes synchronous */
        pthread_mutex_unlock(&d->lock);
        return 0;
    }
    put_buffered_locked(pg, req, wp);
    __atomic_store_n(&pg->write_pointer, wp + slots, __ATOMIC_RELEASE);
    mx_stats_hit(d->stats, MX_KIND_guest_bufioreq, 0);
    mx_evtchn_send_locked(d, s->buf_port);
    pthread_mutex_unlock(&d->lock);
    return 1;
}
