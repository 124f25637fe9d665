/*
 * Unit tests for mockxen's ioreq path: synchronous ioreqs against an in-process device
 * model thread (answers, Xen's state-machine checks, timeouts), buffered ioreq rules,
 * event channel delivery and masking, and interrupt recording.
 */
#include "tests/unit/support.h"

#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "tools/mockxen/mockxen.h"
#include "tools/mockxen/stats.h"
#include "util/macros.h"
#include <xen/hvm/dm_op.h>
#include <xen/hvm/hvm_op.h>

enum DmMode { DM_ANSWER, DM_BAD_STATE, DM_WRONG_SLOT, DM_SILENT, DM_DESTROY };

/* An in-process device model: one ioreq server, one event channel handle, a thread. */
typedef struct Dm {
    MxDomain *d;
    uint16_t id;
    MxEvtchnHandle *h;
    int vcpu_of_local[64];
    int kick[64];
    enum DmMode mode;
    atomic_bool stop;
    pthread_t thread;
} Dm;

typedef struct Fixture {
    MxStats stats;
    MxDomain *d;
    Dm dm;                    /* ports 0x100-0x1ff, MMIO 0xa0000-0xbffff */
    Dm dm2;                   /* only in the two-server tests */
} Fixture;

static void dm_answer(Dm *dm, int local)
{
    int v = dm->vcpu_of_local[local];
    MxIoreqServer *s = &dm->d->servers[dm->id];
    ioreq_t *slot = &s->ioreq_page->vcpu_ioreq[v];
    if (dm->mode == DM_SILENT || slot->state != STATE_IOREQ_READY)
        return;
    if (dm->mode == DM_DESTROY) {                 /* the DM tears its server down instead */
        assert_int_equal(mx_server_destroy(dm->d, dm->id, NULL), 0);
        return;
    }
    /* The answer says who answered: the server id in bits 24-27. */
    slot->data = 0xc0000000 | ((uint64_t)dm->id << 24) | (slot->addr & 0xffffff);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    if (dm->mode == DM_BAD_STATE)
        slot->state = 9;
    else if (dm->mode == DM_WRONG_SLOT)
        s->ioreq_page->vcpu_ioreq[!v].state = STATE_IORESP_READY;
    else
        slot->state = STATE_IORESP_READY;
    uint64_t one = 1;
    assert_int_equal(write(dm->kick[local], &one, sizeof(one)), sizeof(one));
}

/* A device model in a thread: wait on the handle's eventfd, answer every pending port. */
static void *dm_thread(void *opaque)
{
    Dm *dm = opaque;
    struct pollfd pfd = { .fd = dm->h->efd, .events = POLLIN };
    while (!atomic_load(&dm->stop)) {
        if (poll(&pfd, 1, 20) <= 0)
            continue;
        uint64_t n;
        assert_int_equal(read(dm->h->efd, &n, sizeof(n)), sizeof(n));
        uint64_t word = __atomic_exchange_n(&dm->h->page->pending[0], 0, __ATOMIC_SEQ_CST);
        for (int local = 1; local < 64; local++)
            if (word & (1ull << local))
                dm_answer(dm, local);
    }
    return NULL;
}

/* Bind a handle of the DM's own to the ports of both vCPUs. */
static void dm_bind(Dm *dm, MxDomain *d)
{
    dm->h = mx_evtchn_open(NULL);
    assert_non_null(dm->h);
    for (unsigned v = 0; v < 2; v++) {
        int kick, local = mx_evtchn_bind(d, dm->h, d->servers[dm->id].vcpu_port[v], &kick, NULL);
        assert_true(local > 0 && local < 64);
        dm->vcpu_of_local[local] = v;
        dm->kick[local] = kick;
    }
}

/* A new enabled server with its own handle bound to the ports of both vCPUs. */
static void dm_init(Dm *dm, MxDomain *d)
{
    dm->d = d;
    assert_int_equal(mx_server_create(d, HVM_IOREQSRV_BUFIOREQ_ATOMIC, &dm->id, NULL), 0);
    assert_int_equal(mx_server_set_state(d, dm->id, true, NULL), 0);
    dm_bind(dm, d);
}

static int setup(void **state)
{
    static Fixture f;
    memset(&f, 0, sizeof(f));
    MxDomainConfig cfg = { .domid = 1, .nr_vcpus = 2, .max_gfn = 0xfff };
    assert_int_equal(mx_stats_create(&f.stats, NULL), 0);
    f.d = mx_domain_create(&cfg, f.stats.page, NULL);
    assert_non_null(f.d);
    dm_init(&f.dm, f.d);
    assert_int_equal(mx_server_map_range(f.d, f.dm.id, XEN_DMOP_IO_RANGE_PORT, 0x100, 0x1ff, NULL), 0);
    assert_int_equal(mx_server_map_range(f.d, f.dm.id, XEN_DMOP_IO_RANGE_MEMORY, 0xa0000, 0xbffff, NULL), 0);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    Fixture *f = *state;
    mx_evtchn_close(f->d, f->dm.h);
    if (f->dm2.h)
        mx_evtchn_close(f->d, f->dm2.h);
    mx_domain_destroy(f->d);
    mx_stats_destroy(&f->stats);
    return 0;
}

static void start_dm(Dm *dm, enum DmMode mode)
{
    dm->mode = mode;
    atomic_store(&dm->stop, false);
    assert_int_equal(pthread_create(&dm->thread, NULL, dm_thread, dm), 0);
}

static void stop_dm(Dm *dm)
{
    atomic_store(&dm->stop, true);
    pthread_join(dm->thread, NULL);
}

static void sync_ioreq_is_answered(void **state)
{
    Fixture *f = *state;
    start_dm(&f->dm, DM_ANSWER);
    for (unsigned v = 0; v < 2; v++) {
        ioreq_t req = { .type = IOREQ_TYPE_PIO, .dir = IOREQ_READ, .addr = 0x104 + v,
                        .size = 1, .count = 1 };
        assert_int_equal(mx_ioreq_send(f->d, v, &req, false, 2000, NULL), 0);
        assert_int_equal(req.data, 0xc0000104 + v);
        assert_int_equal(f->d->servers[f->dm.id].ioreq_page->vcpu_ioreq[v].state, STATE_IOREQ_NONE);
    }
    assert_int_equal(mx_stats_count(&f->stats, MX_KIND_guest_ioreq), 2);
    stop_dm(&f->dm);
    ioreq_t bad = { .type = IOREQ_TYPE_PIO, .addr = 0x100, .size = 1, .count = 1 };
    assert_int_equal(mx_ioreq_send(f->d, 2, &bad, false, 100, NULL), -EINVAL);
}

static void unclaimed_reads_are_all_ones(void **state)
{
    Fixture *f = *state;
    ioreq_t req = { .type = IOREQ_TYPE_PIO, .dir = IOREQ_READ, .addr = 0x300, .size = 2,
                    .count = 1 };
    assert_int_equal(mx_ioreq_send(f->d, 0, &req, false, 100, NULL), 0);
    assert_int_equal(req.data, 0xffff);
    uint64_t gfn = 0;
    uint8_t buf[8];
    assert_int_equal(mx_domain_populate(f->d, &gfn, 1, 0, NULL), 0);
    ioreq_t rep = { .type = IOREQ_TYPE_COPY, .dir = IOREQ_READ, .addr = 0xf0000000, .size = 4,
                    .count = 2, .data = 0x10, .data_is_ptr = 1 };
    assert_int_equal(mx_ioreq_send(f->d, 0, &rep, false, 100, NULL), 0);
    assert_int_equal(mx_domain_read(f->d, 0x10, buf, 8, NULL), 0);
    for (int i = 0; i < 8; i++)
        assert_int_equal(buf[i], 0xff);
    assert_int_equal(mx_stats_count(&f->stats, MX_KIND_guest_unclaimed), 2);
}

static void silent_dm_times_out(void **state)
{
    Fixture *f = *state;
    Error *err = NULL;
    start_dm(&f->dm, DM_SILENT);
    ioreq_t req = { .type = IOREQ_TYPE_PIO, .dir = IOREQ_READ, .addr = 0x100, .size = 4,
                    .count = 1 };
    assert_int_equal(mx_ioreq_send(f->d, 0, &req, false, 100, &err), -ETIMEDOUT);
    assert_non_null(strstr(error_get_pretty(err), "did not answer within 100 ms"));
    error_free(err);
    stop_dm(&f->dm);
    assert_false(mx_domain_crashed(f->d));
}

static void bad_state_crashes_the_domain(void **state)
{
    Fixture *f = *state;
    start_dm(&f->dm, DM_BAD_STATE);
    ioreq_t req = { .type = IOREQ_TYPE_PIO, .dir = IOREQ_READ, .addr = 0x100, .size = 4,
                    .count = 1 };
    assert_int_equal(mx_ioreq_send(f->d, 0, &req, false, 2000, NULL), -EPROTO);
    stop_dm(&f->dm);
    assert_true(mx_domain_crashed(f->d));
    assert_non_null(strstr(f->d->crash_reason, "ioreq state 9"));
    assert_int_equal(mx_stats_count(&f->stats, MX_KIND_domain_crash), 1);
    assert_int_equal(mx_ioreq_send(f->d, 1, &req, false, 100, NULL), -ESHUTDOWN);
}

static void wrong_slot_crashes_the_domain(void **state)
{
    Fixture *f = *state;
    start_dm(&f->dm, DM_WRONG_SLOT);
    ioreq_t req = { .type = IOREQ_TYPE_PIO, .dir = IOREQ_READ, .addr = 0x100, .size = 4,
                    .count = 1 };
    assert_int_equal(mx_ioreq_send(f->d, 0, &req, false, 2000, NULL), -EPROTO);
    stop_dm(&f->dm);
    assert_non_null(strstr(f->d->crash_reason, "idle vcpu 1"));
}

static void destroyed_server_fails_the_waiting_vcpu(void **state)
{
    Fixture *f = *state;
    Error *err = NULL;
    start_dm(&f->dm, DM_DESTROY);
    ioreq_t req = { .type = IOREQ_TYPE_PIO, .dir = IOREQ_READ, .addr = 0x100, .size = 4,
                    .count = 1 };
    assert_int_equal(mx_ioreq_send(f->d, 0, &req, false, 2000, &err), -ENODEV);
    assert_non_null(strstr(error_get_pretty(err), "destroyed during an ioreq"));
    error_free(err);
    stop_dm(&f->dm);
    assert_false(mx_domain_crashed(f->d));
    assert_int_equal(mx_ioreq_send(f->d, 0, &req, false, 100, NULL), 0);   /* now unclaimed */
    assert_int_equal(req.data, 0xffffffff);
}

/* A second device model on ports 0x200-0x2ff and PCI device 00:03.0. */
static void start_second_dm(Fixture *f)
{
    dm_init(&f->dm2, f->d);
    assert_int_equal(mx_server_map_range(f->d, f->dm2.id, XEN_DMOP_IO_RANGE_PORT, 0x200, 0x2ff, NULL), 0);
    assert_int_equal(mx_server_map_range(f->d, f->dm2.id, XEN_DMOP_IO_RANGE_PCI, 0x18, 0x18, NULL), 0);
    start_dm(&f->dm2, DM_ANSWER);
}

static uint64_t pio_read(Fixture *f, unsigned vcpu, uint64_t port, int timeout_ms, int *rc)
{
    ioreq_t req = { .type = IOREQ_TYPE_PIO, .dir = IOREQ_READ, .addr = port, .size = 4,
                    .count = 1 };
    *rc = mx_ioreq_send(f->d, vcpu, &req, false, timeout_ms, NULL);
    return req.data;
}

/* Two device models at once: each access reaches its owner only, PCI config space by
 * device, and what neither claims gets Xen's null handler. */
static void two_servers_each_answer_their_own(void **state)
{
    Fixture *f = *state;
    int rc;
    start_dm(&f->dm, DM_ANSWER);
    start_second_dm(f);
    for (unsigned v = 0; v < 2; v++) {
        assert_int_equal(pio_read(f, v, 0x104, 2000, &rc), 0xc0000104 | (uint64_t)f->dm.id << 24);
        assert_int_equal(rc, 0);
        assert_int_equal(pio_read(f, v, 0x208, 2000, &rc), 0xc0000208 | (uint64_t)f->dm2.id << 24);
        assert_int_equal(rc, 0);
    }
    ioreq_t cf8 = { .type = IOREQ_TYPE_PIO, .dir = IOREQ_WRITE, .addr = 0xcf8, .size = 4,
                    .count = 1, .data = 0x80000000 | (3 << 11) | 0x2c };
    assert_int_equal(mx_ioreq_send(f->d, 1, &cf8, false, 100, NULL), 0);  /* unclaimed */
    ioreq_t cfg = { .type = IOREQ_TYPE_PIO, .dir = IOREQ_READ, .addr = 0xcfe, .size = 2,
                    .count = 1 };
    assert_int_equal(mx_ioreq_send(f->d, 1, &cfg, false, 2000, NULL), 0);
    assert_int_equal(cfg.type, IOREQ_TYPE_PCI_CONFIG);    /* dm2's device, reg 0x2e */
    assert_int_equal(cfg.data, 0xc000002e | (uint64_t)f->dm2.id << 24);
    cf8.data = 0x80000000 | (4 << 11);                    /* 00:04.0: nobody's */
    assert_int_equal(mx_ioreq_send(f->d, 1, &cf8, false, 100, NULL), 0);
    assert_int_equal(pio_read(f, 1, 0xcfc, 100, &rc), 0xffffffff);
    assert_int_equal(pio_read(f, 0, 0x300, 100, &rc), 0xffffffff);
    stop_dm(&f->dm);
    stop_dm(&f->dm2);
}

typedef struct Waiter {
    Fixture *f;
    int rc;
    atomic_bool done;
} Waiter;

static void *wait_on_dead_dm(void *opaque)
{
    Waiter *w = opaque;
    pio_read(w->f, 0, 0x100, 3000, &w->rc);
    atomic_store(&w->done, true);
    return NULL;
}

/*
 * One device model dies (its handle closes, as when the process is killed): its server
 * stays, as Xen keeps it, so vCPU 0's ioreq to it waits (on Xen, for ever; here until
 * --ioreq-timeout) — while vCPU 1 is served by the other device model meanwhile.
 * Once the dead one's server is destroyed its ports get Xen's null handler.
 */
static void dead_dm_leaves_the_other_served(void **state)
{
    Fixture *f = *state;
    int rc;
    start_second_dm(f);
    mx_evtchn_close(f->d, f->dm.h);                       /* dm is gone */
    f->dm.h = mx_evtchn_open(NULL);                       /* for teardown */
    Waiter w = { .f = f };
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, wait_on_dead_dm, &w), 0);
    while (!__atomic_load_n(&f->d->vcpus[0].waiting, __ATOMIC_ACQUIRE))
        usleep(1000);
    for (int i = 0; i < 200; i++) {
        assert_int_equal(pio_read(f, 1, 0x200 + (i & 0xfc), 1000, &rc),
                         (0xc0000200 + (i & 0xfc)) | (uint64_t)f->dm2.id << 24);
        assert_int_equal(rc, 0);
    }
    assert_false(atomic_load(&w.done));                   /* vCPU 0 is still waiting */
    pthread_join(t, NULL);
    assert_int_equal(w.rc, -ETIMEDOUT);
    assert_false(mx_domain_crashed(f->d));
    pio_read(f, 1, 0x100, 100, &rc);                      /* still claimed: no answer */
    assert_int_equal(rc, -ETIMEDOUT);
    assert_int_equal(mx_server_destroy(f->d, f->dm.id, NULL), 0);
    assert_int_equal(pio_read(f, 1, 0x100, 100, &rc), 0xffffffff);
    assert_int_equal(rc, 0);
    stop_dm(&f->dm2);
}

static void *read_port_0x280(void *opaque)
{
    Waiter *w = opaque;
    uint64_t data = pio_read(w->f, 0, 0x280, 3000, &w->rc);
    w->rc = w->rc ? w->rc : (int)(data & 0xffffff);
    atomic_store(&w->done, true);
    return NULL;
}

/* A device model enables its server before it binds the ports (Xen fills vp_eport on
 * enable), so an ioreq can be published while its port is unbound: the notification
 * is lost, but Xen's evtchn_bind_interdomain sets the new port pending, so the device
 * model finds the ioreq once it binds. */
static void ioreq_before_bind_is_found(void **state)
{
    Fixture *f = *state;
    f->dm2.d = f->d;
    assert_int_equal(mx_server_create(f->d, 0, &f->dm2.id, NULL), 0);
    assert_int_equal(mx_server_map_range(f->d, f->dm2.id, XEN_DMOP_IO_RANGE_PORT, 0x280, 0x28f, NULL), 0);
    assert_int_equal(mx_server_set_state(f->d, f->dm2.id, true, NULL), 0);
    Waiter w = { .f = f };
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, read_port_0x280, &w), 0);
    while (!__atomic_load_n(&f->d->vcpus[0].waiting, __ATOMIC_ACQUIRE))
        usleep(1000);
    dm_bind(&f->dm2, f->d);
    start_dm(&f->dm2, DM_ANSWER);
    pthread_join(t, NULL);
    assert_int_equal(w.rc, 0x280);
    stop_dm(&f->dm2);
}

static void buffered_rules(void **state)
{
    Fixture *f = *state;
    buffered_iopage_t *pg = f->d->servers[f->dm.id].buf_page;
    ioreq_t w = { .type = IOREQ_TYPE_COPY, .dir = IOREQ_WRITE, .addr = 0xa0010, .size = 4,
                  .count = 1, .data = 0x11223344 };
    ioreq_t r = w, ptr = w, rep = w, high = w, odd = w, nobody = w;
    r.dir = IOREQ_READ;
    ptr.data_is_ptr = 1;
    rep.count = 2;
    high.addr = 0x100000;
    odd.size = 3;
    nobody.addr = 0xc0000;
    assert_int_equal(mx_ioreq_send_buffered(f->d, &r), 0);
    assert_int_equal(mx_ioreq_send_buffered(f->d, &ptr), 0);
    assert_int_equal(mx_ioreq_send_buffered(f->d, &rep), 0);
    assert_int_equal(mx_ioreq_send_buffered(f->d, &high), 0);
    assert_int_equal(mx_ioreq_send_buffered(f->d, &odd), 0);
    assert_int_equal(mx_ioreq_send_buffered(f->d, &nobody), 0);
    assert_int_equal(mx_ioreq_send_buffered(f->d, &w), 1);
    assert_int_equal(pg->write_pointer, 1);
    assert_int_equal(pg->buf_ioreq[0].addr, 0xa0010);
    assert_int_equal(pg->buf_ioreq[0].size, 2);
    assert_int_equal(pg->buf_ioreq[0].data, 0x11223344);
    w.size = 8;
    w.data = 0x5566778899aabbccull;
    assert_int_equal(mx_ioreq_send_buffered(f->d, &w), 1);
    assert_int_equal(pg->write_pointer, 3);
    assert_int_equal(pg->buf_ioreq[1].data, 0x99aabbcc);
    assert_int_equal(pg->buf_ioreq[2].data, 0x55667788);
    w.size = 4;
    while (pg->write_pointer < IOREQ_BUFFER_SLOT_NUM)
        assert_int_equal(mx_ioreq_send_buffered(f->d, &w), 1);
    assert_int_equal(mx_ioreq_send_buffered(f->d, &w), 0);   /* full: go synchronous */
    pg->read_pointer = 1;
    w.size = 8;
    assert_int_equal(mx_ioreq_send_buffered(f->d, &w), 0);   /* one free slot is not two */
    w.size = 4;
    w.data = 0x77;
    assert_int_equal(mx_ioreq_send_buffered(f->d, &w), 1);
    assert_int_equal(pg->buf_ioreq[0].data, 0x77);            /* wrapped into slot 0 */
    pg->read_pointer = pg->write_pointer + 5;                /* hostile pointers: sync */
    assert_int_equal(mx_ioreq_send_buffered(f->d, &w), 0);
}

static void events_mask_and_drop(void **state)
{
    Fixture *f = *state;
    MxIoreqServer *s = &f->d->servers[f->dm.id];
    int kick;
    assert_int_equal(mx_evtchn_bind(f->d, f->dm.h, s->vcpu_port[0], &kick, NULL), -EINVAL);
    assert_int_equal(mx_evtchn_bind(f->d, f->dm.h, MX_GUEST_PORTS + 3, &kick, NULL), -EINVAL);
    assert_int_equal(mx_evtchn_unbind(f->d, f->dm.h, 60, NULL), -EINVAL);
    int local = mx_evtchn_bind(f->d, f->dm.h, s->buf_port, &kick, NULL);
    assert_true(local > 0 && local < 64);
    uint64_t n;
    while (read(f->dm.h->efd, &n, sizeof(n)) > 0)
        ;
    f->dm.h->page->masked[0] |= 1ull << local;
    pthread_mutex_lock(&f->d->lock);
    assert_true(mx_evtchn_send_locked(f->d, s->buf_port));
    pthread_mutex_unlock(&f->d->lock);
    assert_true(f->dm.h->page->pending[0] & (1ull << local));
    assert_int_equal(read(f->dm.h->efd, &n, sizeof(n)), -1);    /* masked: no wake-up */
    f->dm.h->page->pending[0] = 0;
    f->dm.h->page->masked[0] = 0;
    f->stats.page->kind[MX_KIND_event_to_dm].fail_at =
        mx_stats_count(&f->stats, MX_KIND_event_to_dm) + 1;
    pthread_mutex_lock(&f->d->lock);
    assert_true(mx_evtchn_send_locked(f->d, s->buf_port));   /* dropped */
    assert_true(mx_evtchn_send_locked(f->d, s->buf_port));   /* delivered */
    assert_false(mx_evtchn_send_locked(f->d, 0));
    pthread_mutex_unlock(&f->d->lock);
    assert_true(f->dm.h->page->pending[0] & (1ull << local));
    assert_int_equal(read(f->dm.h->efd, &n, sizeof(n)), sizeof(n));
    assert_int_equal(n, 1);
    assert_int_equal(mx_evtchn_unbind(f->d, f->dm.h, local, NULL), 0);
    assert_false(f->dm.h->page->pending[0] & (1ull << local));
}

static void interrupts_are_recorded(void **state)
{
    Fixture *f = *state;
    MxIrqReq isa = { .kind = MX_IRQ_ISA, .line = 4, .level = 1 };
    MxIrqReq bad = { .kind = MX_IRQ_ISA, .line = 16, .level = 1 };
    MxIrqReq intx = { .kind = MX_IRQ_INTX, .line = XEN_DMOP_PCI_SBDF(0, 0, 3, 1), .level = 1 };
    MxIrqReq msi = { .kind = MX_IRQ_MSI, .level = 0x41, .msi_addr = 0xfee00000 };
    assert_int_equal(mx_irq_set(f->d, &isa, NULL), 0);
    assert_int_equal(mx_irq_set(f->d, &bad, NULL), -EINVAL);
    assert_int_equal(mx_irq_set(f->d, &intx, NULL), 0);
    MxIrqMatch want_isa = { .kind = MX_IRQ_ISA, .line = 4 };
    MxIrqMatch isa5 = { .kind = MX_IRQ_ISA, .line = 5 };
    MxIrqMatch want_intx = { .kind = MX_IRQ_INTX, .line = intx.line };
    assert_int_equal(mx_irq_level(f->d, &want_isa), 1);
    assert_int_equal(mx_irq_level(f->d, &isa5), 0);
    assert_int_equal(mx_irq_level(f->d, &want_intx), 1);
    assert_int_equal(mx_irq_wait(f->d, &want_isa, 1000000, NULL, NULL), 0);
    MxIrqMatch want_msi = { .kind = MX_IRQ_MSI, .match_data = true, .msi_data = 0x41 };
    MxIrqMatch other_msi = { .kind = MX_IRQ_MSI, .match_data = true, .msi_data = 0x42 };
    assert_int_equal(mx_irq_set(f->d, &msi, NULL), 0);
    assert_int_equal(mx_irq_level(f->d, &want_msi), 1);
    assert_int_equal(mx_irq_wait(f->d, &other_msi, 1000000, NULL, NULL), -ETIMEDOUT);
    MxMsi taken = { 0 };
    assert_int_equal(mx_irq_wait(f->d, &want_msi, 1000000, &taken, NULL), 0);
    assert_int_equal(taken.addr, 0xfee00000);
    assert_int_equal(taken.data, 0x41);
    assert_int_equal(mx_irq_wait(f->d, &want_msi, 1000000, NULL, NULL), -ETIMEDOUT); /* taken */
    assert_int_equal(mx_irq_level(f->d, &want_msi), 0);
}

/* Xen's dm_op refuses a level other than 0/1 and INTx off segment 0 bus 0. */
static void interrupts_are_checked_like_xen(void **state)
{
    Fixture *f = *state;
    static const MxIrqReq refused[] = {
        { .kind = MX_IRQ_ISA, .line = 4, .level = 2 },
        { .kind = MX_IRQ_INTX, .line = XEN_DMOP_PCI_SBDF(0, 1, 3, 0), .level = 1 },
        { .kind = MX_IRQ_INTX, .line = XEN_DMOP_PCI_SBDF(1, 0, 3, 0), .level = 1 },
        { .kind = MX_IRQ_INTX, .line = XEN_DMOP_PCI_SBDF(0, 0, 3, 4), .level = 1 },
        { .kind = 7, .line = 0, .level = 1 },
    };
    for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
        Error *err = NULL;
        assert_int_equal(mx_irq_set(f->d, &refused[i], &err), -EINVAL);
        error_free(err);
    }
    MxIrqMatch isa4 = { .kind = MX_IRQ_ISA, .line = 4 };
    MxIrqMatch bus1 = { .kind = MX_IRQ_INTX, .line = XEN_DMOP_PCI_SBDF(0, 1, 3, 0) };
    assert_int_equal(mx_irq_level(f->d, &isa4), 0);
    assert_int_equal(mx_irq_level(f->d, &bus1), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(sync_ioreq_is_answered, setup, teardown),
        cmocka_unit_test_setup_teardown(unclaimed_reads_are_all_ones, setup, teardown),
        cmocka_unit_test_setup_teardown(silent_dm_times_out, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_state_crashes_the_domain, setup, teardown),
        cmocka_unit_test_setup_teardown(wrong_slot_crashes_the_domain, setup, teardown),
        cmocka_unit_test_setup_teardown(destroyed_server_fails_the_waiting_vcpu, setup, teardown),
        cmocka_unit_test_setup_teardown(two_servers_each_answer_their_own, setup, teardown),
        cmocka_unit_test_setup_teardown(dead_dm_leaves_the_other_served, setup, teardown),
        cmocka_unit_test_setup_teardown(ioreq_before_bind_is_found, setup, teardown),
        cmocka_unit_test_setup_teardown(buffered_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(events_mask_and_drop, setup, teardown),
        cmocka_unit_test_setup_teardown(interrupts_are_recorded, setup, teardown),
        cmocka_unit_test_setup_teardown(interrupts_are_checked_like_xen, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
