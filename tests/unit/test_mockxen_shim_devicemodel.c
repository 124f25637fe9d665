/*
 * Unit tests for the interrupt calls of mockxen's libxendevicemodel shim
 * (tools/mockxen/shim/devicemodel.c, linked into this test) against the daemon's socket
 * server and domain model in this process: interrupts are one-way messages, the errors
 * Xen reports are decided in the shim, the calls are counted, what a device model does
 * after a one-way call sees it done, and a guest script sees the MSIs it injects.
 *
 * The shim adopts the daemon's counter page once per process, so all tests share one
 * daemon (group setup) and look at counters as differences.
 */
#include "tests/unit/support.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/mockxen/backend.h"
#include "tools/mockxen/mockxen.h"
#include "tools/mockxen/sockserver.h"
#include "tools/mockxen/stats.h"
#include "util/macros.h"

#include <xendevicemodel.h>
#include <xen/hvm/dm_op.h>
#include <xen/hvm/hvm_op.h>

#define DOMID 3

typedef struct Fixture {
    MxStats stats;
    MxDomain *d;
    MxSockServer *srv;
    MxBackend be;
    xendevicemodel_handle *dmod;
    char path[64];
} Fixture;

static int group_setup(void **state)
{
    static Fixture f;
    memset(&f, 0, sizeof(f));
    MxDomainConfig cfg = { .domid = DOMID, .nr_vcpus = 1, .max_gfn = 0xfff };
    snprintf(f.path, sizeof(f.path), "/tmp/mx-shim-dm-%d.sock", (int)getpid());
    assert_int_equal(mx_stats_create(&f.stats, NULL), 0);
    f.d = mx_domain_create(&cfg, f.stats.page, NULL);
    assert_non_null(f.d);
    assert_int_equal(mx_sockserver_start(f.path, f.d, &f.stats, &f.srv, NULL), 0);
    f.be = (MxBackend){ .d = f.d, .stats = &f.stats, .ioreq_timeout_ms = 5000,
                        .buffered_start = 1, .buffered_end = 0 };
    setenv("MOCKXEN_SOCKET", f.path, 1);
    f.dmod = xendevicemodel_open(NULL, 0);
    assert_non_null(f.dmod);
    *state = &f;
    return 0;
}

static int group_teardown(void **state)
{
    Fixture *f = *state;
    xendevicemodel_close(f->dmod);
    mx_sockserver_stop(f->srv);
    mx_domain_destroy(f->d);
    mx_stats_destroy(&f->stats);
    return 0;
}

static uint64_t sent(Fixture *f)
{
    return __atomic_load_n(&f->stats.page->oneway_sent, __ATOMIC_SEQ_CST);
}

static int msis_queued(Fixture *f)
{
    MxIrqMatch any = { .kind = MX_IRQ_MSI };
    return mx_irq_level(f->d, &any);
}

/* Take every queued MSI, so a test counts only its own. */
static void drain_msis(Fixture *f)
{
    MxIrqMatch any = { .kind = MX_IRQ_MSI };
    mx_oneway_sync(f->d);
    while (mx_irq_wait(f->d, &any, 0, NULL, NULL) == 0)
        ;
}

static uint64_t count(Fixture *f, enum MxKind k)
{
    return mx_stats_count(&f->stats, k);
}

/* The guest's view, as a script's irq-level has it. */
static int guest_level(Fixture *f, const GuestIrq *irq)
{
    return mx_backend_ops.irq_level(&f->be, 0, irq, NULL);
}

static void interrupts_are_one_way(void **state)
{
    Fixture *f = *state;
    GuestIrq isa4 = { .kind = GUEST_IRQ_ISA, .isa = 4 };
    GuestIrq intx = { .kind = GUEST_IRQ_INTX, .dev = 3, .intx = 1 };
    drain_msis(f);
    uint64_t sent0 = sent(f);
    uint64_t isa0 = count(f, MX_KIND_xendevicemodel_set_isa_irq_level);
    uint64_t intx0 = count(f, MX_KIND_xendevicemodel_set_pci_intx_level);
    uint64_t msi0 = count(f, MX_KIND_xendevicemodel_inject_msi);
    assert_int_equal(xendevicemodel_set_isa_irq_level(f->dmod, DOMID, 4, 1), 0);
    assert_int_equal(xendevicemodel_set_pci_intx_level(f->dmod, DOMID, 0, 0, 3, 1, 1), 0);
    assert_int_equal(xendevicemodel_inject_msi(f->dmod, DOMID, 0xfee00000, 0x4041), 0);
    assert_int_equal(sent(f), sent0 + 3);
    assert_int_equal(guest_level(f, &isa4), 1);
    assert_int_equal(guest_level(f, &intx), 1);
    assert_int_equal(msis_queued(f), 1);
    assert_int_equal(f->d->oneway_done, sent(f));
    /* No reply came for them: the next round trip on the handle reads its own. */
    unsigned vcpus = 0;
    assert_int_equal(xendevicemodel_nr_vcpus(f->dmod, DOMID, &vcpus), 0);
    assert_int_equal(vcpus, 1);
    /* libxendevicemodel's level field is a uint8_t: 256 is a 0. */
    assert_int_equal(xendevicemodel_set_isa_irq_level(f->dmod, DOMID, 4, 256), 0);
    assert_int_equal(guest_level(f, &isa4), 0);
    assert_int_equal(count(f, MX_KIND_xendevicemodel_set_isa_irq_level), isa0 + 2);
    assert_int_equal(count(f, MX_KIND_xendevicemodel_set_pci_intx_level), intx0 + 1);
    assert_int_equal(count(f, MX_KIND_xendevicemodel_inject_msi), msi0 + 1);
}

/* What Xen refuses is refused by the shim, counted, and never sent. */
static void errors_are_decided_in_the_shim(void **state)
{
    Fixture *f = *state;
    static const struct { int isa, level, bus, dev, pin; uint16_t domid; int err; } cases[] = {
        { 16, 1, -1, 0, 0, DOMID, EINVAL },         /* ISA irq above 15 */
        { 4, 2, -1, 0, 0, DOMID, EINVAL },          /* level not 0/1 */
        { 4, 1, -1, 0, 0, DOMID + 1, ESRCH },       /* not mockxen's domain */
        { 16, 1, -1, 0, 0, DOMID + 1, ESRCH },      /* the domain is checked first */
        { -1, 1, 1, 3, 0, DOMID, EINVAL },          /* INTx off bus 0 */
        { -1, 1, 0, 32, 0, DOMID, EINVAL },         /* device above 31 */
        { -1, 1, 0, 3, 4, DOMID, EINVAL },          /* pin above INTD */
        { -1, 3, 0, 3, 0, DOMID, EINVAL },
        { -1, 1, 0, 3, 0, DOMID + 1, ESRCH },
    };
    uint64_t sent0 = sent(f);
    uint64_t isa0 = count(f, MX_KIND_xendevicemodel_set_isa_irq_level);
    uint64_t intx0 = count(f, MX_KIND_xendevicemodel_set_pci_intx_level);
    uint64_t msi0 = count(f, MX_KIND_xendevicemodel_inject_msi);
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        errno = 0;
        int rc = cases[i].isa >= 0
                     ? xendevicemodel_set_isa_irq_level(f->dmod, cases[i].domid,
                                                        (uint8_t)cases[i].isa,
                                                        (unsigned)cases[i].level)
                     : xendevicemodel_set_pci_intx_level(f->dmod, cases[i].domid, 0,
                                                         (uint8_t)cases[i].bus,
                                                         (uint8_t)cases[i].dev,
                                                         (uint8_t)cases[i].pin,
                                                         (unsigned)cases[i].level);
        assert_int_equal(rc, -1);
        if (errno != cases[i].err)
            fail_msg("case %zu: errno %d, want %d", i, errno, cases[i].err);
    }
    assert_int_equal(xendevicemodel_inject_msi(f->dmod, DOMID + 1, 0xfee00000, 1), -1);
    assert_int_equal(errno, ESRCH);
    assert_int_equal(sent(f), sent0);
    assert_int_equal(count(f, MX_KIND_xendevicemodel_set_isa_irq_level), isa0 + 4);
    assert_int_equal(count(f, MX_KIND_xendevicemodel_set_pci_intx_level), intx0 + 5);
    assert_int_equal(count(f, MX_KIND_xendevicemodel_inject_msi), msi0 + 1);

    /* After restrict, another domain is EPERM (the driver refuses before Xen looks). */
    assert_int_equal(xendevicemodel_restrict(f->dmod, DOMID), 0);
    assert_int_equal(xendevicemodel_inject_msi(f->dmod, DOMID + 1, 0xfee00000, 1), -1);
    assert_int_equal(errno, EPERM);
    assert_int_equal(xendevicemodel_inject_msi(f->dmod, DOMID, 0xfee00000, 1), 0);

    /* An injected fault still fails the call itself. */
    char fault[64];
    snprintf(fault, sizeof(fault), "set_isa_irq_level:%llu:EIO",
             (unsigned long long)count(f, MX_KIND_xendevicemodel_set_isa_irq_level) + 1);
    assert_int_equal(mx_stats_arm_fail(&f->stats, fault, NULL), 0);
    assert_int_equal(xendevicemodel_set_isa_irq_level(f->dmod, DOMID, 4, 1), -1);
    assert_int_equal(errno, EIO);
    assert_int_equal(sent(f), sent0 + 1);
}

/* A device model's one-way calls are done by the time it answers a round trip on
 * another handle, or the guest reads an interrupt level. */
/* set_irq_level is Arm's: EOPNOTSUPP on an x86 domain; on an Arm one (the hello says
 * which) an SPI is raised one-way, and the x86 calls are EOPNOTSUPP. */
static void set_irq_level_is_for_arm_domains(void **state)
{
    Fixture *f = *state;
    uint64_t sent0 = sent(f);
    errno = 0;
    assert_int_equal(xendevicemodel_set_irq_level(f->dmod, DOMID, 33, 1), -1);
    assert_int_equal(errno, EOPNOTSUPP);
    assert_int_equal(sent(f), sent0);

    f->d->arch = MX_ARCH_ARM;
    xendevicemodel_handle *arm = xendevicemodel_open(NULL, 0);
    assert_non_null(arm);
    assert_int_equal(xendevicemodel_set_irq_level(arm, DOMID, 33, 1), 0);
    errno = 0;
    assert_int_equal(xendevicemodel_set_irq_level(arm, DOMID, 31, 1), -1);   /* a PPI */
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_int_equal(xendevicemodel_set_irq_level(arm, DOMID, 33, 2), -1);
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_int_equal(xendevicemodel_set_isa_irq_level(arm, DOMID, 5, 1), -1);
    assert_int_equal(errno, EOPNOTSUPP);
    assert_int_equal(sent(f), sent0 + 1);
    mx_oneway_sync(f->d);
    MxIrqMatch spi = { .kind = MX_IRQ_SPI, .line = 33 };
    assert_int_equal(mx_irq_level(f->d, &spi), 1);
    assert_int_equal(mx_irq_wait(f->d, &spi, 1000000, NULL, NULL), 0);
    assert_int_equal(mx_irq_level(f->d, &spi), 0);
    xendevicemodel_close(arm);
    f->d->arch = MX_ARCH_X86;
}

static void one_way_messages_stay_in_order(void **state)
{
    Fixture *f = *state;
    enum { N = 200 };
    drain_msis(f);
    for (uint32_t i = 0; i < N; i++)
        assert_int_equal(xendevicemodel_inject_msi(f->dmod, DOMID, 0xfee00000, i), 0);
    char *answer = NULL;
    assert_int_equal(mx_query(f->path, "irqs", &answer, NULL), 0);   /* another connection */
    assert_non_null(strstr(answer, "msi-pending 200\n"));
    free(answer);

    GuestIrq any = { .kind = GUEST_IRQ_MSI };
    for (uint32_t i = 0; i < N; i++)
        assert_int_equal(xendevicemodel_inject_msi(f->dmod, DOMID, 0xfee00000, i), 0);
    assert_int_equal(guest_level(f, &any), MX_MSI_QUEUE);     /* 400 sent, 256 kept */
    for (unsigned i = 0; i < 2 * N; i++) {
        assert_int_equal(xendevicemodel_set_isa_irq_level(f->dmod, DOMID, 9, i & 1), 0);
        GuestIrq isa9 = { .kind = GUEST_IRQ_ISA, .isa = 9 };
        if (i % 50 == 49)
            assert_int_equal(guest_level(f, &isa9), 1);
    }
}

/* ---- an ioreq completes with the interrupts its device model raised on the way ---- */

typedef struct Dm {
    Fixture *f;
    MxEvtchnHandle *h;
    int kick;
    atomic_bool stop;
} Dm;

/* Answer vCPU 0's ioreq after injecting 100 MSIs through the shim. */
static void *dm_thread(void *opaque)
{
    Dm *dm = opaque;
    MxIoreqServer *s = &dm->f->d->servers[0];
    struct pollfd pfd = { .fd = dm->h->efd, .events = POLLIN };
    while (!atomic_load(&dm->stop)) {
        uint64_t n;
        if (poll(&pfd, 1, 20) <= 0 || read(dm->h->efd, &n, sizeof(n)) != sizeof(n))
            continue;
        __atomic_store_n(&dm->h->page->pending[0], 0, __ATOMIC_SEQ_CST);
        ioreq_t *slot = &s->ioreq_page->vcpu_ioreq[0];
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (slot->state != STATE_IOREQ_READY)
            continue;
        for (uint32_t i = 0; i < 100; i++)
            xendevicemodel_inject_msi(dm->f->dmod, DOMID, 0xfee00000, i);
        __atomic_thread_fence(__ATOMIC_RELEASE);
        slot->state = STATE_IORESP_READY;
        uint64_t one = 1;
        assert_int_equal(write(dm->kick, &one, sizeof(one)), sizeof(one));
    }
    return NULL;
}

static void ioreq_completes_after_its_interrupts(void **state)
{
    Fixture *f = *state;
    uint16_t id;
    drain_msis(f);
    assert_int_equal(mx_server_create(f->d, HVM_IOREQSRV_BUFIOREQ_OFF, &id, NULL), 0);
    assert_int_equal(mx_server_map_range(f->d, id, XEN_DMOP_IO_RANGE_PORT, 0x100, 0x100,
                                         NULL), 0);
    assert_int_equal(mx_server_set_state(f->d, id, true, NULL), 0);
    Dm dm = { .f = f, .h = mx_evtchn_open(NULL) };
    assert_non_null(dm.h);
    assert_true(mx_evtchn_bind(f->d, dm.h, f->d->servers[id].vcpu_port[0], &dm.kick,
                               NULL) > 0);
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, dm_thread, &dm), 0);
    for (unsigned round = 1; round <= 2; round++) {
        ioreq_t req = { .type = IOREQ_TYPE_PIO, .dir = IOREQ_WRITE, .addr = 0x100,
                        .size = 1, .count = 1 };
        assert_int_equal(mx_backend_ops.ioreq(&f->be, 0, &req, 0, NULL), 0);
        assert_int_equal(msis_queued(f), 100 * round);      /* the model, read directly */
    }
    atomic_store(&dm.stop, true);
    pthread_join(thread, NULL);
    mx_evtchn_close(f->d, dm.h);
}

/* ---- a guest script sees the MSIs ----------------------------------------------------- */

static void *inject_later(void *opaque)
{
    Fixture *f = opaque;
    usleep(20000);
    assert_int_equal(xendevicemodel_inject_msi(f->dmod, DOMID, 0xfee02000, 0x4242), 0);
    return NULL;
}

static void script_sees_injected_msis(void **state)
{
    Fixture *f = *state;
    drain_msis(f);
    assert_int_equal(xendevicemodel_inject_msi(f->dmod, DOMID, 0xfee01000, 0x4041), 0);
    static const char text[] =
        "count inject_msi -> $before\n"
        "irq-level msi == 1\n"
        "irq-level msi data 0x4041 addr 0xfee01000 == 1\n"
        "wait-irq msi timeout 1s -> $data, $addr\n"
        "expect $data == 0x4041\n"
        "expect $addr == 0xfee01000\n"
        "irq-level msi == 0\n"
        "wait-irq msi data 0x4242 timeout 5s -> $d, $a\n"     /* injected meanwhile */
        "expect $a == 0xfee02000\n"
        "count inject_msi == $before + 1\n";
    Error *err = NULL;
    GuestScript *s = guest_script_parse("msi.gs", text, strlen(text), &err);
    assert_non_null(s);
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, inject_later, f), 0);
    int rc = guest_run(s, &mx_backend_ops, &f->be, &err);
    pthread_join(thread, NULL);
    if (rc)
        fail_msg("%s", error_get_pretty(err));
    guest_script_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(interrupts_are_one_way),
        cmocka_unit_test(errors_are_decided_in_the_shim),
        cmocka_unit_test(set_irq_level_is_for_arm_domains),
        cmocka_unit_test(one_way_messages_stay_in_order),
        cmocka_unit_test(ioreq_completes_after_its_interrupts),
        cmocka_unit_test(script_sees_injected_msis),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
