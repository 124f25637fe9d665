/*
 * tests/mockxen-client/checks.c — one function per group of Xen library calls; each
 * checks mockxen's answers against what Xen would answer.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xenctrl.h>            /* first: it sets up the Xen public headers */
#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
#include <xengnttab.h>
#include <xentoolcore.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/ioreq.h>
#include <xen/hvm/params.h>
#include <xen/memory.h>

#include "tests/mockxen-client/mxclient.h"

#define PAGE 4096ul

void mxc_check_info(uint32_t domid)
{
    xc_interface *xch = xc_interface_open(NULL, NULL, 0);
    CHECK(xch != NULL);
    if (!xch)
        return;
    xc_dominfo_t info;
    CHECK(xc_domain_getinfo(xch, domid, 1, &info) == 1);
    CHECK(info.domid == domid && info.hvm && !info.shutdown);
    CHECK(xc_domain_getinfo(xch, domid + 1, 1, &info) == 0);
    xc_domaininfo_t dinfo;
    CHECK(xc_domain_getinfolist(xch, domid, 1, &dinfo) == 1);
    CHECK(dinfo.domain == domid && (dinfo.flags & XEN_DOMINF_hvm_guest));
    CHECK(dinfo.nr_online_vcpus == 2 && dinfo.max_vcpu_id == 1);
    xendevicemodel_handle *dmod = xendevicemodel_open(NULL, 0);
    unsigned vcpus = 0;
    CHECK(dmod && xendevicemodel_nr_vcpus(dmod, domid, &vcpus) == 0 && vcpus == 2);
    CHECK(xendevicemodel_nr_vcpus(dmod, domid + 7, &vcpus) == -1 && errno == ESRCH);
    xendevicemodel_close(dmod);
    CHECK(xc_interface_close(xch) == 0);
}

void mxc_check_populate(uint32_t domid)
{
    xc_interface *xch = xc_interface_open(NULL, NULL, 0);
    CHECK(xch != NULL);
    if (!xch)
        return;
    xen_pfn_t pfns[20000];                /* crosses the shim's request chunking */
    for (unsigned i = 0; i < 20000; i++)
        pfns[i] = 0x100 + i;
    xc_dominfo_t before, after;
    CHECK(xc_domain_getinfo(xch, domid, 1, &before) == 1);
    CHECK(xc_domain_populate_physmap_exact(xch, domid, 20000, 0, 0, pfns) == 0);
    CHECK(xc_domain_getinfo(xch, domid, 1, &after) == 1);
    CHECK(after.nr_pages == before.nr_pages + 20000);
    xen_pfn_t beyond = 1ul << 30;
    CHECK(xc_domain_populate_physmap_exact(xch, domid, 1, 0, 0, &beyond) == -1 &&
          errno == EINVAL);
    CHECK(xc_domain_populate_physmap_exact(xch, domid, 1, 9, 0, pfns) == -1 && errno == EINVAL);
    CHECK(xc_domain_populate_physmap_exact(xch, domid + 1, 1, 0, 0, pfns) == -1 &&
          errno == ESRCH);
    xc_interface_close(xch);
}

void mxc_check_params(uint32_t domid)
{
    xc_interface *xch = xc_interface_open(NULL, NULL, 0);
    CHECK(xch != NULL);
    if (!xch)
        return;
    uint64_t v = 0;
    unsigned long lv = 0;
    CHECK(xc_hvm_param_set(xch, domid, HVM_PARAM_TIMER_MODE, 3) == 0);
    CHECK(xc_hvm_param_get(xch, domid, HVM_PARAM_TIMER_MODE, &v) == 0 && v == 3);
    CHECK(xc_set_hvm_param(xch, domid, HVM_PARAM_PAE_ENABLED, 1) == 0);
    CHECK(xc_get_hvm_param(xch, domid, HVM_PARAM_PAE_ENABLED, &lv) == 0 && lv == 1);
    CHECK(xc_hvm_param_get(xch, domid, HVM_NR_PARAMS, &v) == -1 && errno == EINVAL);
    xc_interface_close(xch);
}

/* Map populated frames, see writes through a second mapping; unpopulated frames fail. */
void mxc_check_fmem(uint32_t domid)
{
    xc_interface *xch = xc_interface_open(NULL, NULL, 0);
    xenforeignmemory_handle *fmem = xenforeignmemory_open(NULL, 0);
    CHECK(xch && fmem);
    if (!xch || !fmem)
        return;
    xen_pfn_t pfns[3] = { 0x10, 0x11, 0x20 };
    CHECK(xc_domain_populate_physmap_exact(xch, domid, 2, 0, 0, pfns) == 0);
    int err[3] = { 1, 1, 1 };
    uint8_t *a = xenforeignmemory_map(fmem, domid, PROT_READ | PROT_WRITE, 3, pfns, err);
    CHECK(a != NULL && err[0] == 0 && err[1] == 0 && err[2] == -EINVAL);
    errno = 0;
    CHECK(xenforeignmemory_map(fmem, domid, PROT_READ, 3, pfns, NULL) == NULL &&
          errno == EINVAL);
    xen_pfn_t second = 0x11;
    uint8_t *b = xenforeignmemory_map2(fmem, domid, NULL, PROT_READ, 0, 1, &second, NULL);
    CHECK(b != NULL);
    if (a && b) {
        a[PAGE + 5] = 0x5a;
        CHECK(b[5] == 0x5a);
    }
    CHECK(!a || xenforeignmemory_unmap(fmem, a, 3) == 0);
    CHECK(!b || xenforeignmemory_unmap(fmem, b, 1) == 0);
    CHECK(xenforeignmemory_map(fmem, domid + 1, PROT_READ, 1, pfns, NULL) == NULL);
    xenforeignmemory_close(fmem);
    xc_interface_close(xch);
}

/* Eight servers at most, as Xen; a destroyed id is reusable; unknown ids are ENOENT. */
void mxc_check_servers(uint32_t domid)
{
    xendevicemodel_handle *dmod = xendevicemodel_open(NULL, 0);
    CHECK(dmod != NULL);
    if (!dmod)
        return;
    ioservid_t ids[8];
    for (unsigned i = 0; i < 8; i++)
        CHECK(xendevicemodel_create_ioreq_server(dmod, domid, HVM_IOREQSRV_BUFIOREQ_OFF,
                                                 &ids[i]) == 0);
    ioservid_t extra;
    CHECK(xendevicemodel_create_ioreq_server(dmod, domid, 0, &extra) == -1 && errno == ENOSPC);
    CHECK(xendevicemodel_create_ioreq_server(dmod, domid, 7, &extra) == -1 && errno == EINVAL);
    CHECK(xendevicemodel_destroy_ioreq_server(dmod, domid, ids[3]) == 0);
    CHECK(xendevicemodel_destroy_ioreq_server(dmod, domid, ids[3]) == -1 && errno == ENOENT);
    CHECK(xendevicemodel_set_ioreq_server_state(dmod, domid, ids[3], 1) == -1 &&
          errno == ENOENT);
    CHECK(xendevicemodel_create_ioreq_server(dmod, domid, 1, &extra) == 0 && extra == ids[3]);
    xen_pfn_t ioreq_gfn, buf_gfn;
    evtchn_port_t buf_port = 0;
    CHECK(xendevicemodel_get_ioreq_server_info(dmod, domid, extra, &ioreq_gfn, &buf_gfn,
                                               &buf_port) == 0 && buf_port != 0);
    CHECK(xendevicemodel_set_ioreq_server_state(dmod, domid, extra, 1) == 0);
    CHECK(xendevicemodel_set_ioreq_server_state(dmod, domid, extra, 0) == 0);
    for (unsigned i = 0; i < 8; i++)
        CHECK(xendevicemodel_destroy_ioreq_server(dmod, domid, i == 3 ? extra : ids[i]) == 0);
    xendevicemodel_close(dmod);
}

/* Ranges: overlap is EEXIST, unmapping what is not mapped ENOENT, 256 per rangeset. */
void mxc_check_ranges(uint32_t domid)
{
    xendevicemodel_handle *dmod = xendevicemodel_open(NULL, 0);
    ioservid_t id;
    CHECK(dmod && xendevicemodel_create_ioreq_server(dmod, domid, 0, &id) == 0);
    if (!dmod)
        return;
    CHECK(xendevicemodel_map_io_range_to_ioreq_server(dmod, domid, id, 0, 0x3f8, 0x3ff) == 0);
    CHECK(xendevicemodel_map_io_range_to_ioreq_server(dmod, domid, id, 0, 0x3fc, 0x400) == -1 &&
          errno == EEXIST);
    CHECK(xendevicemodel_map_io_range_to_ioreq_server(dmod, domid, id, 1, 0x3f8, 0x3ff) == 0);
    CHECK(xendevicemodel_unmap_io_range_from_ioreq_server(dmod, domid, id, 0, 0x3f8, 0x3fb) == 0);
    CHECK(xendevicemodel_unmap_io_range_from_ioreq_server(dmod, domid, id, 0, 0x3f8, 0x3fb) ==
          -1 && errno == ENOENT);
    CHECK(xendevicemodel_map_io_range_to_ioreq_server(dmod, domid, id, 0, 5, 4) == -1 &&
          errno == EINVAL);
    int rc = 0;
    for (unsigned i = 1; i < 256 && rc == 0; i++)    /* 255 more disjoint MMIO ranges */
        rc = xendevicemodel_map_io_range_to_ioreq_server(dmod, domid, id, 1, 0x10000 * i,
                                                         0x10000 * i + 0xff);
    CHECK(rc == 0);
    CHECK(xendevicemodel_map_io_range_to_ioreq_server(dmod, domid, id, 1, 0x7000000, 0x70000ff) ==
          -1 && errno == ENOMEM);
    CHECK(xendevicemodel_map_pcidev_to_ioreq_server(dmod, domid, id, 0, 0, 3, 0) == 0);
    CHECK(xendevicemodel_map_pcidev_to_ioreq_server(dmod, domid, id, 0, 0, 3, 0) == -1 &&
          errno == EEXIST);
    CHECK(xendevicemodel_unmap_pcidev_from_ioreq_server(dmod, domid, id, 0, 0, 3, 0) == 0);
    CHECK(xendevicemodel_map_io_range_to_ioreq_server(dmod, domid, id + 1, 0, 1, 1) == -1 &&
          errno == ENOENT);
    xendevicemodel_destroy_ioreq_server(dmod, domid, id);
    xendevicemodel_close(dmod);
}

/* map_resource and the legacy gfn path reach the same ioreq page; vp_eport is set. */
void mxc_check_resource(uint32_t domid)
{
    xendevicemodel_handle *dmod = xendevicemodel_open(NULL, 0);
    xenforeignmemory_handle *fmem = xenforeignmemory_open(NULL, 0);
    ioservid_t id;
    CHECK(dmod && fmem && xendevicemodel_create_ioreq_server(dmod, domid, 1, &id) == 0);
    if (!dmod || !fmem)
        return;
    void *addr = NULL;
    xenforeignmemory_resource_handle *res = xenforeignmemory_map_resource(
        fmem, domid, XENMEM_resource_ioreq_server, id, 0, 2, &addr, PROT_READ | PROT_WRITE, 0);
    CHECK(res != NULL);
    xen_pfn_t gfns[2];
    CHECK(xendevicemodel_get_ioreq_server_info(dmod, domid, id, &gfns[0], &gfns[1], NULL) == 0);
    void *legacy = xenforeignmemory_map(fmem, domid, PROT_READ, 1, &gfns[0], NULL);
    CHECK(legacy != NULL);
    if (res && legacy) {
        shared_iopage_t *sp = (shared_iopage_t *)((char *)addr + PAGE);
        CHECK(sp->vcpu_ioreq[0].vp_eport != 0 && sp->vcpu_ioreq[1].vp_eport != 0);
        sp->vcpu_ioreq[1].addr = 0xabcdef;
        CHECK(((shared_iopage_t *)legacy)->vcpu_ioreq[1].addr == 0xabcdef);
        sp->vcpu_ioreq[1].addr = 0;
    }
    size_t size = 0;
    CHECK(xenforeignmemory_resource_size(fmem, domid, XENMEM_resource_ioreq_server, id,
                                         &size) == 0 && size == 2 * PAGE);
    void *bad = NULL;
    CHECK(xenforeignmemory_map_resource(fmem, domid, XENMEM_resource_ioreq_server, id, 2, 1,
                                        &bad, PROT_READ, 0) == NULL && errno == EINVAL);
    CHECK(xenforeignmemory_map_resource(fmem, domid, 1, id, 0, 1, &bad, PROT_READ, 0) == NULL &&
          errno == EOPNOTSUPP);
    CHECK(!res || xenforeignmemory_unmap_resource(fmem, res) == 0);
    CHECK(!legacy || xenforeignmemory_unmap(fmem, legacy, 1) == 0);
    xendevicemodel_destroy_ioreq_server(dmod, domid, id);
    xenforeignmemory_close(fmem);
    xendevicemodel_close(dmod);
}

/* track_dirty_vram: first call all dirty; then only what modified_memory marked. */
void mxc_check_dirty(uint32_t domid)
{
    xendevicemodel_handle *dmod = xendevicemodel_open(NULL, 0);
    CHECK(dmod != NULL);
    if (!dmod)
        return;
    unsigned long bm[2] = { 0, 0 };
    CHECK(xendevicemodel_track_dirty_vram(dmod, domid, 0x1000, 64, bm) == 0 && bm[0] == ~0ul);
    CHECK(xendevicemodel_track_dirty_vram(dmod, domid, 0x1000, 64, bm) == 0 && bm[0] == 0);
    CHECK(xendevicemodel_modified_memory(dmod, domid, 0x1003, 2) == 0);
    struct xen_dm_op_modified_memory_extent ext[2] = {
        { .nr = 1, .first_pfn = 0x1010 }, { .nr = 1, .first_pfn = 0x103f } };
    CHECK(xendevicemodel_modified_memory_bulk(dmod, domid, ext, 2) == 0);
    CHECK(xendevicemodel_track_dirty_vram(dmod, domid, 0x1000, 64, bm) == 0);
    CHECK(bm[0] == ((3ul << 3) | (1ul << 0x10) | (1ul << 0x3f)));
    CHECK(xendevicemodel_modified_memory(dmod, domid, 1ul << 40, 1) == -1 && errno == EINVAL);
    CHECK(xendevicemodel_track_dirty_vram(dmod, domid, 0, 0, NULL) == 0);
    xendevicemodel_close(dmod);
}

void mxc_check_irq(uint32_t domid)
{
    xendevicemodel_handle *dmod = xendevicemodel_open(NULL, 0);
    CHECK(dmod != NULL);
    if (!dmod)
        return;
    CHECK(xendevicemodel_set_isa_irq_level(dmod, domid, 4, 1) == 0);
    CHECK(xendevicemodel_set_isa_irq_level(dmod, domid, 16, 1) == -1 && errno == EINVAL);
    CHECK(xendevicemodel_set_pci_intx_level(dmod, domid, 0, 0, 3, 0, 1) == 0);
    CHECK(xendevicemodel_set_pci_intx_level(dmod, domid, 0, 0, 3, 4, 1) == -1 &&
          errno == EINVAL);
    CHECK(xendevicemodel_inject_msi(dmod, domid, 0xfee00000, 0x4041) == 0);
    /* one-way calls: what Xen refuses is still refused, at once */
    CHECK(xendevicemodel_set_isa_irq_level(dmod, domid, 4, 2) == -1 && errno == EINVAL);
    CHECK(xendevicemodel_set_pci_intx_level(dmod, domid, 0, 1, 3, 0, 1) == -1 &&
          errno == EINVAL);
    CHECK(xendevicemodel_inject_msi(dmod, domid + 5, 0xfee00000, 1) == -1 && errno == ESRCH);
    CHECK(xendevicemodel_shutdown(dmod, domid, SHUTDOWN_reboot) == 0);
    xendevicemodel_close(dmod);
}

/* Binding: only unbound guest ports; notify/pending/unmask on bound ports only. */
void mxc_check_evtchn(uint32_t domid)
{
    xendevicemodel_handle *dmod = xendevicemodel_open(NULL, 0);
    xenevtchn_handle *xce = xenevtchn_open(NULL, 0);
    ioservid_t id;
    CHECK(dmod && xce && xendevicemodel_create_ioreq_server(dmod, domid, 1, &id) == 0);
    if (!dmod || !xce)
        return;
    evtchn_port_t remote;
    CHECK(xendevicemodel_get_ioreq_server_info(dmod, domid, id, NULL, NULL, &remote) == 0);
    int local = xenevtchn_bind_interdomain(xce, domid, remote);
    CHECK(local > 0);
    CHECK(xenevtchn_bind_interdomain(xce, domid, remote) == -1 && errno == EINVAL);
    CHECK(xenevtchn_bind_interdomain(xce, domid, 1000) == -1 && errno == EINVAL);
    CHECK(xenevtchn_fd(xce) >= 0);
    /* Xen's evtchn_bind_interdomain leaves the new port pending (events sent while the
     * guest's port was unbound were lost): one event, then none until unmasked. */
    CHECK(xenevtchn_pending(xce) == local);
    CHECK(xenevtchn_pending(xce) == -1 && errno == EAGAIN);
    CHECK(xenevtchn_notify(xce, local) == 0);
    CHECK(xenevtchn_notify(xce, local + 100) == -1 && errno == EINVAL);
    CHECK(xenevtchn_unmask(xce, local) == 0);
    CHECK(xenevtchn_unbind(xce, local) == 0);
    CHECK(xenevtchn_unbind(xce, local) == -1 && errno == EINVAL);
    xendevicemodel_destroy_ioreq_server(dmod, domid, id);
    xenevtchn_close(xce);
    xendevicemodel_close(dmod);
}

/* What mockxen does not model fails with ENOSYS, never a silent success. */
void mxc_check_enosys(uint32_t domid)
{
    xc_interface *xch = xc_interface_open(NULL, NULL, 0);
    xendevicemodel_handle *dmod = xendevicemodel_open(NULL, 0);
    xenevtchn_handle *xce = xenevtchn_open(NULL, 0);
    xengnttab_handle *xgt = xengnttab_open(NULL, 0);
    CHECK(xch && dmod && xce && xgt);
    if (!xch || !dmod || !xce || !xgt)
        return;
    int pirq;
    CHECK(xc_physdev_map_pirq(xch, domid, 1, &pirq) == -1 && errno == ENOSYS);
    CHECK(xc_domain_memory_mapping(xch, domid, 1, 1, 1, 1) == -1 && errno == ENOSYS);
    CHECK(xendevicemodel_set_mem_type(dmod, domid, HVMMEM_ram_ro, 0, 1) == -1 &&
          errno == ENOSYS);
    CHECK(xendevicemodel_set_pci_link_route(dmod, domid, 0, 5) == -1 && errno == ENOSYS);
    CHECK(xenevtchn_bind_virq(xce, 1) == -1 && errno == ENOSYS);
    CHECK(xengnttab_grant_copy(xgt, 0, NULL) == -1 && errno == ENOSYS);
    CHECK(xengnttab_set_max_grants(xgt, 16) == -1 && errno == ENOSYS);
    xengnttab_close(xgt);
    xenevtchn_close(xce);
    xendevicemodel_close(dmod);
    xc_interface_close(xch);
}

/* After restrict, other domains are refused; after restrict_all, xc calls too. */
void mxc_check_restrict(uint32_t domid)
{
    xc_interface *xch = xc_interface_open(NULL, NULL, 0);
    xendevicemodel_handle *dmod = xendevicemodel_open(NULL, 0);
    xenevtchn_handle *xce = xenevtchn_open(NULL, 0);
    xenforeignmemory_handle *fmem = xenforeignmemory_open(NULL, 0);
    CHECK(xch && dmod && xce && fmem);
    if (!xch || !dmod || !xce || !fmem)
        return;
    unsigned vcpus;
    CHECK(xendevicemodel_restrict(dmod, domid) == 0);
    CHECK(xendevicemodel_nr_vcpus(dmod, domid, &vcpus) == 0);
    CHECK(xendevicemodel_set_isa_irq_level(dmod, domid + 1, 1, 1) == -1 && errno == EPERM);
    CHECK(xendevicemodel_restrict(dmod, domid + 1) == -1 && errno == EPERM);
    uint64_t v;
    CHECK(xc_hvm_param_get(xch, domid, HVM_PARAM_TIMER_MODE, &v) == 0);
    CHECK(xentoolcore_restrict_all(domid) == 0);
    CHECK(xc_hvm_param_get(xch, domid, HVM_PARAM_TIMER_MODE, &v) == -1 && errno == EPERM);
    xen_pfn_t pfn = 0x30;
    CHECK(xc_domain_populate_physmap_exact(xch, domid, 1, 0, 0, &pfn) == -1 && errno == EPERM);
    CHECK(xenevtchn_bind_interdomain(xce, domid + 1, 1) == -1 && errno == EPERM);
    CHECK(xenforeignmemory_map(fmem, domid + 1, PROT_READ, 1, &pfn, NULL) == NULL &&
          errno == EPERM);
    xenforeignmemory_close(fmem);
    xenevtchn_close(xce);
    xendevicemodel_close(dmod);
    xc_interface_close(xch);
}

/*
 * Wait on xenevtchn_fd() for the daemon to go away: pending() must then fail with
 * `err` (ENOTCONN after a crash, EAGAIN after an orderly exit); after EAGAIN the fd
 * must fall quiet rather than keep waking the caller.
 */
int mxc_expect_hangup(int err, uint32_t domid)
{
    xenevtchn_handle *xce = xenevtchn_open(NULL, 0);
    CHECK(xce != NULL);
    if (!xce)
        return 1;
    printf("ready\n");
    fflush(stdout);
    struct pollfd pfd = { .fd = xenevtchn_fd(xce), .events = POLLIN };
    CHECK(poll(&pfd, 1, 10000) == 1);
    CHECK(xenevtchn_pending(xce) == -1 && errno == err);
    if (err == EAGAIN)
        CHECK(poll(&pfd, 1, 300) == 0);
    xenevtchn_close(xce);
    return 0;
}
