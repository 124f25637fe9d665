/*
 * tests/mockxen-client/dm.c — mxclient as a device model, well-behaved or not.
 *
 * Two ioreq servers, so routing can be observed: server A (buffered ring) claims ports
 * 0x100-0x1ff, MMIO 0xa0000-0xbffff and 0xf0000000-0xf0000fff, and PCI 00:03.0; server B
 * claims ports 0x200-0x2ff, MMIO 0xf0001000-0xf0001fff and PCI 00:04.0. A read is
 * answered with tag<<28 | type<<24 | low 24 bits of the address (PCI config:
 * bus/devfn<<8 | register), so a script can tell who answered what. Ports of server A:
 *   0x1f0/0x1f4 read: low/high half of the last buffered write; 0x1f8: buffered slots
 *   consumed; 0x1fc: address of the last buffered write;
 *   0x1e0 write: ISA IRQ 5 level; 0x1e4 write: MSI with that data; 0x1e8 write:
 *   modified_memory(pfn = value).
 * A rep read (data_is_ptr) within one guest page is answered by writing, through a
 * foreign mapping, element i = (read value + i) truncated to the element size.
 * Before the guest starts it populates guest RAM below 1 MiB.
 * Modes: echo, nodrain (never consume the buffered ring), bad-state (answer with state
 * 7), wrong-slot (answer in the next vCPU's slot), backwards (INPROCESS, then READY),
 * none (reset the slot to NONE), silent (never answer).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <xenctrl.h>            /* first: it sets up the Xen public headers */
#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
#include <xenstore.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/ioreq.h>
#include <xen/memory.h>

#include "tests/mockxen-client/mxclient.h"

#define MAX_PORTS 4096
#define NR_SERVERS 2

typedef struct Server {
    ioservid_t id;
    uint32_t tag;
    xenforeignmemory_resource_handle *res;
    buffered_iopage_t *buf;
    shared_iopage_t *shared;
} Server;

typedef struct Dm {
    const char *mode;
    uint32_t domid;
    unsigned nr_vcpus;
    xendevicemodel_handle *dmod;
    xenforeignmemory_handle *fmem;
    xenevtchn_handle *xce;
    Server srv[NR_SERVERS];
    int port_server[MAX_PORTS], port_vcpu[MAX_PORTS];
    uint64_t last_buf_data, last_buf_addr, buf_slots;
} Dm;

static volatile sig_atomic_t stopping;

static void on_term(int sig)
{
    stopping = 1;
}

static int claim(Dm *dm, Server *s, int bufioreq, const uint64_t (*ranges)[3], unsigned n,
                 uint8_t pci_dev)
{
    void *addr = NULL;
    if (xendevicemodel_create_ioreq_server(dm->dmod, dm->domid, bufioreq, &s->id) < 0)
        return -1;
    s->res = xenforeignmemory_map_resource(dm->fmem, dm->domid, XENMEM_resource_ioreq_server,
                                           s->id, bufioreq ? 0 : 1, bufioreq ? 2 : 1, &addr,
                                           PROT_READ | PROT_WRITE, 0);
    if (!s->res)
        return -1;
    s->buf = bufioreq ? addr : NULL;
    s->shared = (shared_iopage_t *)((char *)addr + (bufioreq ? XC_PAGE_SIZE : 0));
    for (unsigned i = 0; i < n; i++)
        if (xendevicemodel_map_io_range_to_ioreq_server(dm->dmod, dm->domid, s->id,
                                                        (int)ranges[i][0], ranges[i][1],
                                                        ranges[i][2]) < 0)
            return -1;
    return xendevicemodel_map_pcidev_to_ioreq_server(dm->dmod, dm->domid, s->id, 0, 0, pci_dev, 0);
}

static int bind_ports(Dm *dm, unsigned si)
{
    Server *s = &dm->srv[si];
    for (unsigned v = 0; v < dm->nr_vcpus; v++) {
        int port = xenevtchn_bind_interdomain(dm->xce, dm->domid, s->shared->vcpu_ioreq[v].vp_eport);
        if (port <= 0 || port >= MAX_PORTS)
            return -1;
        dm->port_server[port] = si;
        dm->port_vcpu[port] = v;
    }
    evtchn_port_t remote;
    if (!s->buf)
        return 0;
    if (xendevicemodel_get_ioreq_server_info(dm->dmod, dm->domid, s->id, NULL, NULL, &remote) < 0)
        return -1;
    int port = xenevtchn_bind_interdomain(dm->xce, dm->domid, remote);
    return port > 0 ? 0 : -1;
}

/* Guest RAM below 1 MiB, as a device model populates RAM before the guest runs. */
static int populate_low_ram(uint32_t domid)
{
    xen_pfn_t pfns[256];
    for (unsigned i = 0; i < 256; i++)
        pfns[i] = i;
    xc_interface *xch = xc_interface_open(NULL, NULL, 0);
    int rc = xch ? xc_domain_populate_physmap_exact(xch, domid, 256, 0, 0, pfns) : -1;
    if (xch)
        xc_interface_close(xch);
    return rc;
}

static int setup(Dm *dm)
{
    static const uint64_t a_ranges[][3] = {
        { 0, 0x100, 0x1ff }, { 1, 0xa0000, 0xbffff }, { 1, 0xf0000000, 0xf0000fff } };
    static const uint64_t b_ranges[][3] = { { 0, 0x200, 0x2ff }, { 1, 0xf0001000, 0xf0001fff } };
    for (int i = 0; i < MAX_PORTS; i++)
        dm->port_server[i] = dm->port_vcpu[i] = -1;
    dm->srv[0].tag = 0xa;
    dm->srv[1].tag = 0xb;
    if (populate_low_ram(dm->domid) < 0 ||
        xendevicemodel_nr_vcpus(dm->dmod, dm->domid, &dm->nr_vcpus) < 0 ||
        claim(dm, &dm->srv[0], HVM_IOREQSRV_BUFIOREQ_ATOMIC, a_ranges, 3, 3) < 0 ||
        claim(dm, &dm->srv[1], HVM_IOREQSRV_BUFIOREQ_OFF, b_ranges, 2, 4) < 0 ||
        bind_ports(dm, 0) < 0 || bind_ports(dm, 1) < 0)
        return -1;
    for (unsigned i = 0; i < NR_SERVERS; i++)
        if (xendevicemodel_set_ioreq_server_state(dm->dmod, dm->domid, dm->srv[i].id, 1) < 0)
            return -1;
    struct xs_handle *xs = xs_open(0);
    char path[96];
    snprintf(path, sizeof(path), "/local/domain/0/device-model/%u/state", dm->domid);
    bool ok = xs && xs_write(xs, XBT_NULL, path, "running", 7);
    if (xs)
        xs_close(xs);
    return ok ? 0 : -1;
}

static void drain_buffered(Dm *dm, buffered_iopage_t *pg)
{
    uint32_t rp = pg->read_pointer;
    uint32_t wp = __atomic_load_n(&pg->write_pointer, __ATOMIC_ACQUIRE);
    while (rp != wp) {
        buf_ioreq_t b = pg->buf_ioreq[rp % IOREQ_BUFFER_SLOT_NUM];
        uint64_t data = b.data;
        rp++;
        if (b.size == 3) {
            data |= (uint64_t)pg->buf_ioreq[rp % IOREQ_BUFFER_SLOT_NUM].data << 32;
            rp++;
            dm->buf_slots++;
        }
        dm->buf_slots++;
        dm->last_buf_data = data;
        dm->last_buf_addr = b.addr;
    }
    __atomic_store_n(&pg->read_pointer, rp, __ATOMIC_RELEASE);
}

static uint64_t read_value(Dm *dm, const Server *s, const ioreq_t *r)
{
    if (s->tag == 0xa && r->type == IOREQ_TYPE_PIO && r->addr >= 0x1f0 && r->addr <= 0x1ff) {
        switch (r->addr & ~3ull) {
        case 0x1f0: return (uint32_t)dm->last_buf_data;
        case 0x1f4: return dm->last_buf_data >> 32;
        case 0x1f8: return dm->buf_slots;
        default:    return dm->last_buf_addr;
        }
    }
    uint64_t low = r->type == IOREQ_TYPE_PCI_CONFIG
                       ? (((r->addr >> 32) & 0xffff) << 8) | (r->addr & 0xff)
                       : r->addr & 0xffffff;
    return ((uint64_t)s->tag << 28) | ((uint64_t)(r->type & 0xf) << 24) | low;
}

static void side_effects(Dm *dm, const ioreq_t *r)
{
    if (r->type != IOREQ_TYPE_PIO || r->dir != IOREQ_WRITE)
        return;
    if (r->addr == 0x1e0)
        xendevicemodel_set_isa_irq_level(dm->dmod, dm->domid, 5, (unsigned)r->data);
    else if (r->addr == 0x1e4)
        xendevicemodel_inject_msi(dm->dmod, dm->domid, 0xfee00000, (uint32_t)r->data);
    else if (r->addr == 0x1e8)
        xendevicemodel_modified_memory(dm->dmod, dm->domid, r->data, 1);
}

/* Answer a rep read into guest memory through a foreign mapping of its page. */
static void rep_read(Dm *dm, const Server *s, const ioreq_t *r)
{
    uint64_t bytes = (uint64_t)r->size * r->count;
    uint64_t first = r->df ? r->data - bytes + r->size : r->data;
    if (r->size == 0 || r->size > 8 || bytes > XC_PAGE_SIZE ||
        (first & (XC_PAGE_SIZE - 1)) + bytes > XC_PAGE_SIZE)
        return;                                  /* the tests stay within one page */
    xen_pfn_t gfn = first / XC_PAGE_SIZE;
    uint8_t *page = xenforeignmemory_map(dm->fmem, dm->domid, PROT_WRITE, 1, &gfn, NULL);
    if (!page)
        return;
    uint64_t value = read_value(dm, s, r);
    for (uint32_t i = 0; i < r->count; i++) {
        uint64_t v = value + i;
        uint64_t at = r->df ? r->data - (uint64_t)i * r->size : r->data + (uint64_t)i * r->size;
        memcpy(page + (at & (XC_PAGE_SIZE - 1)), &v, r->size);
    }
    xenforeignmemory_unmap(dm->fmem, page, 1);
}

static void respond(Dm *dm, ioreq_t *slot, uint8_t state, evtchn_port_t port)
{
    __atomic_thread_fence(__ATOMIC_RELEASE);
    slot->state = state;
    xenevtchn_notify(dm->xce, port);
}

static void handle(Dm *dm, unsigned si, unsigned v, evtchn_port_t port)
{
    Server *s = &dm->srv[si];
    ioreq_t *slot = &s->shared->vcpu_ioreq[v];
    if (slot->state != STATE_IOREQ_READY || strcmp(dm->mode, "silent") == 0)
        return;
    ioreq_t r = *slot;                     /* copy once: the page is guest-influenced */
    if (r.dir == IOREQ_READ && !r.data_is_ptr)
        slot->data = read_value(dm, s, &r);
    else if (r.dir == IOREQ_READ)
        rep_read(dm, s, &r);
    side_effects(dm, &r);
    if (strcmp(dm->mode, "bad-state") == 0) {
        respond(dm, slot, 7, port);
    } else if (strcmp(dm->mode, "wrong-slot") == 0) {
        respond(dm, &s->shared->vcpu_ioreq[(v + 1) % dm->nr_vcpus], STATE_IORESP_READY, port);
    } else if (strcmp(dm->mode, "none") == 0) {
        respond(dm, slot, STATE_IOREQ_NONE, port);
    } else if (strcmp(dm->mode, "backwards") == 0) {
        respond(dm, slot, STATE_IOREQ_INPROCESS, port);
        nanosleep(&(struct timespec){ .tv_nsec = 50000000 }, NULL);
        respond(dm, slot, STATE_IOREQ_READY, port);
    } else {
        respond(dm, slot, STATE_IORESP_READY, port);
    }
}

static void serve(Dm *dm)
{
    struct pollfd pfd = { .fd = xenevtchn_fd(dm->xce), .events = POLLIN };
    bool drain = strcmp(dm->mode, "nodrain") != 0;
    while (!stopping) {
        if (poll(&pfd, 1, 200) <= 0)
            continue;
        int port = xenevtchn_pending(dm->xce);
        if (port < 0 && errno != EAGAIN) {
            fprintf(stderr, "# mxclient dm: %s: mockxen gone\n", strerror(errno));
            return;
        }
        if (port < 0)
            continue;
        xenevtchn_unmask(dm->xce, port);
        if (drain)
            drain_buffered(dm, dm->srv[0].buf);
        if (port < MAX_PORTS && dm->port_server[port] >= 0)
            handle(dm, dm->port_server[port], dm->port_vcpu[port], port);
    }
}

int mxc_run_dm(const char *mode, uint32_t domid)
{
    Dm dm = { .mode = mode, .domid = domid };
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    dm.dmod = xendevicemodel_open(NULL, 0);
    dm.fmem = xenforeignmemory_open(NULL, 0);
    dm.xce = xenevtchn_open(NULL, 0);
    if (!dm.dmod || !dm.fmem || !dm.xce || setup(&dm) < 0) {
        fprintf(stderr, "# mxclient dm: setup failed: %s\n", strerror(errno));
        return 1;
    }
    serve(&dm);
    for (unsigned i = 0; i < NR_SERVERS; i++) {
        xenforeignmemory_unmap_resource(dm.fmem, dm.srv[i].res);
        xendevicemodel_destroy_ioreq_server(dm.dmod, domid, dm.srv[i].id);
    }
    xenevtchn_close(dm.xce);
    xenforeignmemory_close(dm.fmem);
    xendevicemodel_close(dm.dmod);
    return 0;
}

/* One call of the named kind; 0 on success, else -1 with errno. */
static int call_once(const char *call, uint32_t domid)
{
    if (strcmp(call, "interface_open") == 0) {
        xc_interface *xch = xc_interface_open(NULL, NULL, 0);
        if (xch)
            xc_interface_close(xch);
        return xch ? 0 : -1;
    }
    xendevicemodel_handle *dmod = xendevicemodel_open(NULL, 0);
    if (!dmod)
        return -1;
    ioservid_t id;
    int rc = xendevicemodel_create_ioreq_server(dmod, domid, 0, &id);
    if (rc == 0)
        xendevicemodel_destroy_ioreq_server(dmod, domid, id);
    int err = errno;
    xendevicemodel_close(dmod);
    errno = err;
    return rc;
}

int mxc_expect_errno(const char *call, int err, uint32_t domid)
{
    if (strcmp(call, "interface_open") != 0 && strcmp(call, "create_ioreq_server") != 0) {
        fprintf(stderr, "# mxclient: unknown call %s\n", call);
        return 2;
    }
    errno = 0;
    CHECK(call_once(call, domid) == -1 && errno == err);
    CHECK(call_once(call, domid) == 0);
    return 0;
}
