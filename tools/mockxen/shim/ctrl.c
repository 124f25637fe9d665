/*
 * tools/mockxen/shim/ctrl.c — libxenctrl.so.4.17: domain info, populate, HVM params and
 * shutdown are modelled; the passthrough calls QEMU imports fail with ENOSYS.
 */
#include <stdlib.h>
#include <string.h>

#include <xenctrl.h>

#include "tools/mockxen/shim/client.h"
#include "tools/mockxen/shim/toolcore.h"

struct xc_interface_core {
    MxClient c;
    MxToolcoreHandle tc;
};

static int restrict_xc(MxToolcoreHandle *tc, domid_t domid)
{
    xc_interface *xch = container_of(tc, xc_interface, tc);
    MxDomainReq req = { .domid = domid };
    return mx_client_simple_call(&xch->c, MX_OP_RESTRICT, &req, sizeof(req));
}

xc_interface *xc_interface_open(xentoollog_logger *logger, xentoollog_logger *dombuild_logger,
                                unsigned open_flags)
{
    xc_interface *xch = calloc(1, sizeof(*xch));
    if (!xch)
        return NULL;
    if (mx_client_open_counted(&xch->c, "xenctrl", MX_KIND_xc_interface_open) < 0) {
        free(xch);
        return NULL;
    }
    xch->tc.restrict_callback = restrict_xc;
    xentoolcore__register_active_handle(&xch->tc);
    return xch;
}

int xc_interface_close(xc_interface *xch)
{
    if (!xch)
        return 0;
    MX_ENTER(xc_interface_close, -1);
    xentoolcore__deregister_active_handle(&xch->tc);
    mx_client_close(&xch->c);
    free(xch);
    return 0;
}

static int domain_info(xc_interface *xch, uint32_t first, MxDomainInfo *info)
{
    MxDomainReq req = { .domid = first };
    return mx_client_reply_call(&xch->c, MX_OP_DOMAIN_INFO, &req, sizeof(req), info,
                                sizeof(*info));
}

int xc_domain_getinfo(xc_interface *xch, uint32_t first_domid, unsigned int max_doms,
                      xc_dominfo_t *info)
{
    MX_ENTER(xc_domain_getinfo, -1);
    MxDomainInfo mi;
    int n = max_doms ? domain_info(xch, first_domid, &mi) : 0;
    if (n <= 0)
        return n;
    memset(info, 0, sizeof(*info));
    info->domid = mi.domid;
    info->hvm = 1;
    info->hap = 1;
    info->crashed = mi.crashed;
    info->shutdown = mi.shutdown || mi.crashed;
    info->shutdown_reason = mi.crashed ? SHUTDOWN_crash : mi.shutdown_reason;
    info->running = !info->shutdown;
    info->nr_pages = mi.nr_pages;
    info->max_memkb = mi.max_pages * (XC_PAGE_SIZE / 1024);
    info->nr_online_vcpus = mi.nr_online_vcpus;
    info->max_vcpu_id = mi.max_vcpu_id;
    return 1;
}

int xc_domain_getinfolist(xc_interface *xch, uint32_t first_domain, unsigned int max_domains,
                          xc_domaininfo_t *info)
{
    MX_ENTER(xc_domain_getinfolist, -1);
    MxDomainInfo mi;
    int n = max_domains ? domain_info(xch, first_domain, &mi) : 0;
    if (n <= 0)
        return n;
    memset(info, 0, sizeof(*info));
    info->domain = mi.domid;
    info->flags = XEN_DOMINF_hvm_guest | XEN_DOMINF_hap;
    if (mi.shutdown || mi.crashed)
        info->flags |= XEN_DOMINF_shutdown |
            ((mi.crashed ? SHUTDOWN_crash : mi.shutdown_reason) << XEN_DOMINF_shutdownshift);
    else
        info->flags |= XEN_DOMINF_running;
    info->tot_pages = mi.nr_pages;
    info->max_pages = mi.max_pages;
    info->nr_online_vcpus = mi.nr_online_vcpus;
    info->max_vcpu_id = mi.max_vcpu_id;
    return 1;
}

/* Send a frame list for op in chunks the daemon takes. 0 or -1 with errno. */
static int frame_list_call(xc_interface *xch, uint32_t op, uint32_t domid,
                           unsigned long nr_extents, unsigned int extent_order,
                           const xen_pfn_t *extent_start)
{
    /* xen_pfn_t is 64-bit on x86_64: the frame list goes over the wire as it is. */
    _Static_assert(sizeof(xen_pfn_t) == sizeof(uint64_t), "xen_pfn_t is not 64-bit");
    for (unsigned long done = 0; done < nr_extents; done += MX_POPULATE_CHUNK) {
        unsigned long n = nr_extents - done < MX_POPULATE_CHUNK ? nr_extents - done
                                                                 : MX_POPULATE_CHUNK;
        MxPopulateReq req = { .domid = domid, .extent_order = extent_order, .nr = n };
        if (mx_client_call(&xch->c, op, &req, sizeof(req), extent_start + done,
                           n * sizeof(uint64_t), NULL, 0, NULL, NULL, 0, NULL) < 0)
            return -1;
    }
    return 0;
}

int xc_domain_populate_physmap_exact(xc_interface *xch, uint32_t domid,
                                     unsigned long nr_extents, unsigned int extent_order,
                                     unsigned int mem_flags, xen_pfn_t *extent_start)
{
    MX_ENTER(xc_domain_populate_physmap_exact, -1);
    return frame_list_call(xch, MX_OP_POPULATE, domid, nr_extents, extent_order,
                           extent_start);
}

int xc_domain_decrease_reservation_exact(xc_interface *xch, uint32_t domid,
                                         unsigned long nr_extents, unsigned int extent_order,
                                         xen_pfn_t *extent_start)
{
    MX_ENTER(xc_domain_decrease_reservation_exact, -1);
    return frame_list_call(xch, MX_OP_DEPOPULATE, domid, nr_extents, extent_order,
                           extent_start);
}

static int param_call(xc_interface *xch, uint32_t op, uint32_t dom, uint32_t param,
                      uint64_t *value)
{
    MxParamReq req = { .domid = dom, .param = param, .value = *value };
    if (mx_client_reply_call(&xch->c, op, &req, sizeof(req), &req, sizeof(req)) < 0)
        return -1;
    *value = req.value;
    return 0;
}

int xc_hvm_param_set(xc_interface *handle, uint32_t dom, uint32_t param, uint64_t value)
{
    MX_ENTER(xc_hvm_param_set, -1);
    return param_call(handle, MX_OP_HVM_PARAM_SET, dom, param, &value);
}

int xc_hvm_param_get(xc_interface *handle, uint32_t dom, uint32_t param, uint64_t *value)
{
    MX_ENTER(xc_hvm_param_get, -1);
    *value = 0;
    return param_call(handle, MX_OP_HVM_PARAM_GET, dom, param, value);
}

int xc_set_hvm_param(xc_interface *handle, uint32_t dom, int param, unsigned long value)
{
    MX_ENTER(xc_set_hvm_param, -1);
    uint64_t v = value;
    return param_call(handle, MX_OP_HVM_PARAM_SET, dom, (uint32_t)param, &v);
}

int xc_get_hvm_param(xc_interface *handle, uint32_t dom, int param, unsigned long *value)
{
    MX_ENTER(xc_get_hvm_param, -1);
    uint64_t v = 0;
    if (param_call(handle, MX_OP_HVM_PARAM_GET, dom, (uint32_t)param, &v) < 0)
        return -1;
    *value = v;
    return 0;
}

int xc_domain_shutdown(xc_interface *xch, uint32_t domid, int reason)
{
    MX_ENTER(xc_domain_shutdown, -1);
    MxDomainReq req = { .domid = domid, .arg = (uint64_t)reason };
    return mx_client_simple_call(&xch->c, MX_OP_SHUTDOWN, &req, sizeof(req));
}

/* ---- passthrough: not modelled ---------------------------------------------------- */

int xc_domain_bind_pt_pci_irq(xc_interface *xch, uint32_t domid, uint8_t machine_irq,
                              uint8_t bus, uint8_t device, uint8_t intx)
{
    MX_ENOSYS(xc_domain_bind_pt_pci_irq, -1);
}

int xc_domain_iomem_permission(xc_interface *xch, uint32_t domid, unsigned long first_mfn,
                               unsigned long nr_mfns, uint8_t allow_access)
{
    MX_ENOSYS(xc_domain_iomem_permission, -1);
}

int xc_domain_ioport_mapping(xc_interface *xch, uint32_t domid, uint32_t first_gport,
                             uint32_t first_mport, uint32_t nr_ports, uint32_t add_mapping)
{
    MX_ENOSYS(xc_domain_ioport_mapping, -1);
}

int xc_domain_memory_mapping(xc_interface *xch, uint32_t domid, unsigned long first_gfn,
                             unsigned long first_mfn, unsigned long nr_mfns,
                             uint32_t add_mapping)
{
    MX_ENOSYS(xc_domain_memory_mapping, -1);
}

int xc_domain_unbind_msi_irq(xc_interface *xch, uint32_t domid, uint32_t gvec, uint32_t pirq,
                             uint32_t gflags)
{
    MX_ENOSYS(xc_domain_unbind_msi_irq, -1);
}

int xc_domain_unbind_pt_irq(xc_interface *xch, uint32_t domid, uint8_t machine_irq,
                            uint8_t irq_type, uint8_t bus, uint8_t device, uint8_t intx,
                            uint8_t isa_irq)
{
    MX_ENOSYS(xc_domain_unbind_pt_irq, -1);
}

int xc_domain_update_msi_irq(xc_interface *xch, uint32_t domid, uint32_t gvec, uint32_t pirq,
                             uint32_t gflags, uint64_t gtable)
{
    MX_ENOSYS(xc_domain_update_msi_irq, -1);
}

int xc_physdev_map_pirq(xc_interface *xch, uint32_t domid, int index, int *pirq)
{
    MX_ENOSYS(xc_physdev_map_pirq, -1);
}

int xc_physdev_map_pirq_msi(xc_interface *xch, uint32_t domid, int index, int *pirq,
                            int devfn, int bus, int entry_nr, uint64_t table_base)
{
    MX_ENOSYS(xc_physdev_map_pirq_msi, -1);
}

int xc_physdev_unmap_pirq(xc_interface *xch, uint32_t domid, int pirq)
{
    MX_ENOSYS(xc_physdev_unmap_pirq, -1);
}
