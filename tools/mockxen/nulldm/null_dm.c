/*
 * tools/mockxen/nulldm/null_dm.c — mockxen-null-dm: the smallest possible device model.
 *
 * It does what a real device model does, through the real Xen library APIs (run with
 * LD_LIBRARY_PATH pointing at the mockxen shims): create an ioreq server claiming every
 * port, all of MMIO and every PCI device, map its pages with map_resource, bind one
 * event channel per vCPU plus the buffered one, enable the server, write "running" to
 * xenstore, then answer every ioreq with a constant (reads) or nothing (writes) and
 * drain the buffered ring. Its cost is the transport's own round trip: the lower bound
 * of every benchmark. Usage: mockxen-null-dm DOMID [VALUE]; SIGTERM ends it.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <xenctrl.h>
#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
#include <xenstore.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/ioreq.h>
#include <xen/memory.h>

#define MAX_PORTS 4096

typedef struct NullDm {
    uint32_t domid;
    uint64_t value;
    xendevicemodel_handle *dmod;
    xenforeignmemory_handle *fmem;
    xenevtchn_handle *xce;
    ioservid_t id;
    xenforeignmemory_resource_handle *pages;
    buffered_iopage_t *buf;
    shared_iopage_t *shared;
    unsigned nr_vcpus;
    int vcpu_of_port[MAX_PORTS];       /* local port -> vCPU, -1 for none */
    int buf_port;
} NullDm;

static volatile sig_atomic_t stopping;

static void on_term(int sig)
{
    stopping = 1;
}

static int die(const char *what)
{
    fprintf(stderr, "mockxen-null-dm: %s: %s\n", what, strerror(errno));
    return 1;
}

static int setup_server(NullDm *dm)
{
    void *pages = NULL;
    if (xendevicemodel_create_ioreq_server(dm->dmod, dm->domid, HVM_IOREQSRV_BUFIOREQ_ATOMIC,
                                           &dm->id) < 0)
        return die("create_ioreq_server");
    dm->pages = xenforeignmemory_map_resource(dm->fmem, dm->domid, XENMEM_resource_ioreq_server,
                                              dm->id, XENMEM_resource_ioreq_server_frame_bufioreq,
                                              2, &pages, PROT_READ | PROT_WRITE, 0);
    if (!dm->pages)
        return die("map_resource");
    dm->buf = pages;
    dm->shared = (shared_iopage_t *)((char *)pages + XC_PAGE_SIZE);
    if (xendevicemodel_nr_vcpus(dm->dmod, dm->domid, &dm->nr_vcpus) < 0)
        return die("nr_vcpus");
    for (int i = 0; i < MAX_PORTS; i++)
        dm->vcpu_of_port[i] = -1;
    for (unsigned v = 0; v < dm->nr_vcpus; v++) {
        int port = xenevtchn_bind_interdomain(dm->xce, dm->domid,
                                              dm->shared->vcpu_ioreq[v].vp_eport);
        if (port < 0 || port >= MAX_PORTS)
            return die("bind vcpu port");
        dm->vcpu_of_port[port] = v;
    }
    evtchn_port_t buf_remote;
    if (xendevicemodel_get_ioreq_server_info(dm->dmod, dm->domid, dm->id, NULL, NULL,
                                             &buf_remote) < 0)
        return die("get_ioreq_server_info");
    if ((dm->buf_port = xenevtchn_bind_interdomain(dm->xce, dm->domid, buf_remote)) < 0)
        return die("bind buffered port");
    if (xendevicemodel_map_io_range_to_ioreq_server(dm->dmod, dm->domid, dm->id, 0, 0, 0xffff) ||
        xendevicemodel_map_io_range_to_ioreq_server(dm->dmod, dm->domid, dm->id, 1, 0, ~0ull))
        return die("map ranges");
    for (unsigned dev = 0; dev < 32; dev++)
        if (xendevicemodel_map_pcidev_to_ioreq_server(dm->dmod, dm->domid, dm->id, 0, 0, dev, 0))
            return die("map pcidev");
    if (xendevicemodel_set_ioreq_server_state(dm->dmod, dm->domid, dm->id, 1) < 0)
        return die("enable ioreq server");
    return 0;
}

static int announce_running(uint32_t domid)
{
    struct xs_handle *xs = xs_open(0);
    char path[96];
    if (!xs)
        return die("xs_open");
    snprintf(path, sizeof(path), "/local/domain/0/device-model/%u/state", domid);
    bool ok = xs_write(xs, XBT_NULL, path, "running", strlen("running"));
    xs_close(xs);
    return ok ? 0 : die("xenstore write of the device-model state");
}

static void answer(NullDm *dm, ioreq_t *slot, evtchn_port_t port)
{
    if (slot->state != STATE_IOREQ_READY)
        return;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (slot->dir == IOREQ_READ && !slot->data_is_ptr)
        slot->data = slot->size >= 8 ? dm->value : dm->value & ((1ull << (8 * slot->size)) - 1);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    slot->state = STATE_IORESP_READY;
    xenevtchn_notify(dm->xce, port);
}

static void drain_buffered(NullDm *dm)
{
    uint32_t wp = __atomic_load_n(&dm->buf->write_pointer, __ATOMIC_ACQUIRE);
    __atomic_store_n(&dm->buf->read_pointer, wp, __ATOMIC_RELEASE);
}

static int serve(NullDm *dm)
{
    struct pollfd pfd = { .fd = xenevtchn_fd(dm->xce), .events = POLLIN };
    while (!stopping) {
        if (poll(&pfd, 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            return die("poll");
        }
        int port = xenevtchn_pending(dm->xce);   /* one per wake-up, as QEMU does */
        if (port < 0 && errno != EAGAIN)
            return die("xenevtchn_pending (mockxen gone?)");
        if (port < 0)
            continue;
        xenevtchn_unmask(dm->xce, port);
        drain_buffered(dm);
        if (port < MAX_PORTS && dm->vcpu_of_port[port] >= 0)
            answer(dm, &dm->shared->vcpu_ioreq[dm->vcpu_of_port[port]], port);
    }
    return 0;
}

int main(int argc, char **argv)
{
    NullDm dm = { .value = 0x12345678 };
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: mockxen-null-dm DOMID [VALUE]\n");
        return 2;
    }
    dm.domid = strtoul(argv[1], NULL, 0);
    if (argc == 3)
        dm.value = strtoull(argv[2], NULL, 0);
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    dm.dmod = xendevicemodel_open(NULL, 0);
    dm.fmem = xenforeignmemory_open(NULL, 0);
    dm.xce = xenevtchn_open(NULL, 0);
    if (!dm.dmod || !dm.fmem || !dm.xce)
        return die("opening the Xen libraries");
    int rc = setup_server(&dm);
    if (rc == 0)
        rc = announce_running(dm.domid);
    if (rc == 0)
        rc = serve(&dm);
    if (dm.pages)
        xenforeignmemory_unmap_resource(dm.fmem, dm.pages);
    xendevicemodel_destroy_ioreq_server(dm.dmod, dm.domid, dm.id);
    xenevtchn_close(dm.xce);
    xenforeignmemory_close(dm.fmem);
    xendevicemodel_close(dm.dmod);
    return rc;
}
