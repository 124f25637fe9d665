/*
 * tools/mockxen/shim/devicemodel.c — libxendevicemodel.so.1: ioreq servers, ranges,
 * dirty tracking, restrict and shutdown are requests to the daemon; interrupts are
 * one-way messages (checked here as Xen checks them, then sent without waiting); the
 * calls mockxen does not model fail with ENOSYS.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <xendevicemodel.h>

#include "tools/mockxen/shim/client.h"
#include "tools/mockxen/shim/toolcore.h"

struct xendevicemodel_handle {
    MxClient c;
    MxToolcoreHandle tc;
};

static int restrict_dmod(MxToolcoreHandle *tc, domid_t domid)
{
    xendevicemodel_handle *dmod = container_of(tc, xendevicemodel_handle, tc);
    MxDomainReq req = { .domid = domid };
    int rc = mx_client_simple_call(&dmod->c, MX_OP_RESTRICT, &req, sizeof(req));
    if (rc == 0)
        mx_client_note_restrict(&dmod->c, domid);
    return rc;
}

xendevicemodel_handle *xendevicemodel_open(struct xentoollog_logger *logger,
                                           unsigned int open_flags)
{
    xendevicemodel_handle *dmod = calloc(1, sizeof(*dmod));
    if (!dmod)
        return NULL;
    if (mx_client_open_counted(&dmod->c, "xendevicemodel", MX_KIND_xendevicemodel_open) < 0) {
        free(dmod);
        return NULL;
    }
    dmod->tc.restrict_callback = restrict_dmod;
    xentoolcore__register_active_handle(&dmod->tc);
    return dmod;
}

int xendevicemodel_close(xendevicemodel_handle *dmod)
{
    if (!dmod)
        return 0;
    MX_ENTER(xendevicemodel_close, -1);
    xentoolcore__deregister_active_handle(&dmod->tc);
    mx_client_close(&dmod->c);
    free(dmod);
    return 0;
}

int xendevicemodel_restrict(xendevicemodel_handle *dmod, domid_t domid)
{
    MX_ENTER(xendevicemodel_restrict, -1);
    return restrict_dmod(&dmod->tc, domid);
}

int xendevicemodel_create_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
                                       int handle_bufioreq, ioservid_t *id)
{
    MX_ENTER(xendevicemodel_create_ioreq_server, -1);
    MxServerReq req = { .domid = domid, .handle_bufioreq = (uint8_t)handle_bufioreq };
    if (handle_bufioreq < 0 || handle_bufioreq > 255) {
        errno = EINVAL;
        return -1;
    }
    if (mx_client_reply_call(&dmod->c, MX_OP_SERVER_CREATE, &req, sizeof(req), &req,
                             sizeof(req)) < 0)
        return -1;
    *id = req.id;
    return 0;
}

int xendevicemodel_get_ioreq_server_info(xendevicemodel_handle *dmod, domid_t domid,
                                         ioservid_t id, xen_pfn_t *ioreq_gfn,
                                         xen_pfn_t *bufioreq_gfn,
                                         evtchn_port_t *bufioreq_port)
{
    MX_ENTER(xendevicemodel_get_ioreq_server_info, -1);
    MxServerReq req = { .domid = domid, .id = id };
    MxServerInfo info;
    if (mx_client_reply_call(&dmod->c, MX_OP_SERVER_INFO, &req, sizeof(req), &info,
                             sizeof(info)) < 0)
        return -1;
    if (ioreq_gfn)
        *ioreq_gfn = info.ioreq_gfn;
    if (bufioreq_gfn)
        *bufioreq_gfn = info.bufioreq_gfn;
    if (bufioreq_port)
        *bufioreq_port = info.bufioreq_port;
    return 0;
}

int xendevicemodel_set_ioreq_server_state(xendevicemodel_handle *dmod, domid_t domid,
                                          ioservid_t id, int enabled)
{
    MX_ENTER(xendevicemodel_set_ioreq_server_state, -1);
    MxServerReq req = { .domid = domid, .id = id, .enabled = !!enabled };
    return mx_client_simple_call(&dmod->c, MX_OP_SERVER_STATE, &req, sizeof(req));
}

int xendevicemodel_destroy_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
                                        ioservid_t id)
{
    MX_ENTER(xendevicemodel_destroy_ioreq_server, -1);
    MxServerReq req = { .domid = domid, .id = id };
    return mx_client_simple_call(&dmod->c, MX_OP_SERVER_DESTROY, &req, sizeof(req));
}

static int range_call(xendevicemodel_handle *dmod, uint32_t op, domid_t domid, ioservid_t id,
                      uint32_t type, uint64_t start, uint64_t end)
{
    MxRangeReq req = { .domid = domid, .id = id, .type = type, .start = start, .end = end };
    return mx_client_simple_call(&dmod->c, op, &req, sizeof(req));
}

static uint32_t io_range_type(int is_mmio)
{
    return is_mmio ? XEN_DMOP_IO_RANGE_MEMORY : XEN_DMOP_IO_RANGE_PORT;
}

/* A PCI device's range is its SBDF, from one to itself. */
static int pcidev_call(xendevicemodel_handle *dmod, uint32_t op, domid_t domid, ioservid_t id,
                       uint16_t segment, uint8_t bus, uint8_t device, uint8_t function)
{
    if (device > 0x1f || function > 0x7) {
        errno = EINVAL;
        return -1;
    }
    uint64_t sbdf = XEN_DMOP_PCI_SBDF(segment, bus, device, function);
    return range_call(dmod, op, domid, id, XEN_DMOP_IO_RANGE_PCI, sbdf, sbdf);
}

int xendevicemodel_map_io_range_to_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
                                                ioservid_t id, int is_mmio, uint64_t start,
                                                uint64_t end)
{
    MX_ENTER(xendevicemodel_map_io_range_to_ioreq_server, -1);
    return range_call(dmod, MX_OP_MAP_RANGE, domid, id, io_range_type(is_mmio), start, end);
}

int xendevicemodel_unmap_io_range_from_ioreq_server(xendevicemodel_handle *dmod,
                                                    domid_t domid, ioservid_t id,
                                                    int is_mmio, uint64_t start,
                                                    uint64_t end)
{
    MX_ENTER(xendevicemodel_unmap_io_range_from_ioreq_server, -1);
    return range_call(dmod, MX_OP_UNMAP_RANGE, domid, id, io_range_type(is_mmio), start, end);
}

int xendevicemodel_map_pcidev_to_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
                                              ioservid_t id, uint16_t segment, uint8_t bus,
                                              uint8_t device, uint8_t function)
{
    MX_ENTER(xendevicemodel_map_pcidev_to_ioreq_server, -1);
    return pcidev_call(dmod, MX_OP_MAP_RANGE, domid, id, segment, bus, device, function);
}

int xendevicemodel_unmap_pcidev_from_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
                                                  ioservid_t id, uint16_t segment,
                                                  uint8_t bus, uint8_t device,
                                                  uint8_t function)
{
    MX_ENTER(xendevicemodel_unmap_pcidev_from_ioreq_server, -1);
    return pcidev_call(dmod, MX_OP_UNMAP_RANGE, domid, id, segment, bus, device, function);
}

static int modified(xendevicemodel_handle *dmod, domid_t domid, const MxExtent *ext,
                    uint32_t nr)
{
    MxDomainReq req = { .domid = domid, .nr = nr };
    return mx_client_call(&dmod->c, MX_OP_MODIFIED_MEMORY, &req, sizeof(req), ext,
                          nr * sizeof(*ext), NULL, 0, NULL, NULL, 0, NULL) < 0 ? -1 : 0;
}

int xendevicemodel_modified_memory(xendevicemodel_handle *dmod, domid_t domid,
                                   uint64_t first_pfn, uint32_t nr)
{
    MX_ENTER(xendevicemodel_modified_memory, -1);
    MxExtent ext = { .first_pfn = first_pfn, .nr = nr };
    return modified(dmod, domid, &ext, 1);
}

int xendevicemodel_modified_memory_bulk(xendevicemodel_handle *dmod, domid_t domid,
                                        struct xen_dm_op_modified_memory_extent extents[],
                                        uint32_t nr)
{
    MX_ENTER(xendevicemodel_modified_memory_bulk, -1);
    if (nr > MX_MSG_MAX_PAYLOAD / sizeof(MxExtent)) {
        errno = E2BIG;
        return -1;
    }
    MxExtent *ext = malloc((nr ? nr : 1) * sizeof(*ext));
    if (!ext)
        return -1;
    for (uint32_t i = 0; i < nr; i++)
        ext[i] = (MxExtent){ .first_pfn = extents[i].first_pfn, .nr = extents[i].nr };
    int rc = modified(dmod, domid, ext, nr);
    free(ext);
    return rc;
}

int xendevicemodel_track_dirty_vram(xendevicemodel_handle *dmod, domid_t domid,
                                    uint64_t first_pfn, uint32_t nr,
                                    unsigned long *dirty_bitmap)
{
    MX_ENTER(xendevicemodel_track_dirty_vram, -1);
    MxExtentReq req = { .domid = domid, .first_pfn = first_pfn, .nr = nr };
    size_t bytes = ((size_t)nr + 63) / 64 * 8;
    return mx_client_reply_call(&dmod->c, MX_OP_TRACK_DIRTY_VRAM, &req, sizeof(req),
                                dirty_bitmap, bytes) < 0 ? -1 : 0;
}

/* In Xen's order: the domain, then the arguments (`fits`: they fit req's fields); then
 * sent one-way. */
static int irq_post(xendevicemodel_handle *dmod, const MxIrqReq *req, bool fits)
{
    if (mx_client_check_domain(&dmod->c, req->domid) < 0)
        return -1;
    int rc = fits ? mx_irq_req_check(req, dmod->c.arch) : -EINVAL;
    if (rc) {
        errno = -rc;
        return -1;
    }
    return mx_client_post(&dmod->c, MX_OP_IRQ, req, sizeof(*req));
}

/* libxendevicemodel passes a level in a uint8_t field of the dm_op: so does the shim. */
int xendevicemodel_set_isa_irq_level(xendevicemodel_handle *dmod, domid_t domid, uint8_t irq,
                                     unsigned int level)
{
    MX_ENTER(xendevicemodel_set_isa_irq_level, -1);
    MxIrqReq req = { .domid = domid, .kind = MX_IRQ_ISA, .line = irq,
                     .level = (uint8_t)level };
    return irq_post(dmod, &req, true);
}

int xendevicemodel_set_pci_intx_level(xendevicemodel_handle *dmod, domid_t domid,
                                      uint16_t segment, uint8_t bus, uint8_t device,
                                      uint8_t intx, unsigned int level)
{
    MX_ENTER(xendevicemodel_set_pci_intx_level, -1);
    MxIrqReq req = { .domid = domid, .kind = MX_IRQ_INTX,
                     .line = XEN_DMOP_PCI_SBDF(segment, bus, device & 0x1f, intx & 3),
                     .level = (uint8_t)level };
    return irq_post(dmod, &req, device <= 0x1f && intx <= 3);
}

int xendevicemodel_inject_msi(xendevicemodel_handle *dmod, domid_t domid, uint64_t msi_addr,
                              uint32_t msi_data)
{
    MX_ENTER(xendevicemodel_inject_msi, -1);
    MxIrqReq req = { .domid = domid, .kind = MX_IRQ_MSI, .level = msi_data,
                     .msi_addr = msi_addr };
    return irq_post(dmod, &req, true);
}

/* Arm: an SPI's level; the dm_op carries both in 32-bit fields. */
int xendevicemodel_set_irq_level(xendevicemodel_handle *dmod, domid_t domid, unsigned int irq,
                                 unsigned int level)
{
    MX_ENTER(xendevicemodel_set_irq_level, -1);
    MxIrqReq req = { .domid = domid, .kind = MX_IRQ_SPI, .line = irq, .level = level };
    return irq_post(dmod, &req, true);
}

int xendevicemodel_shutdown(xendevicemodel_handle *dmod, domid_t domid, unsigned int reason)
{
    MX_ENTER(xendevicemodel_shutdown, -1);
    MxDomainReq req = { .domid = domid, .arg = reason };
    return mx_client_simple_call(&dmod->c, MX_OP_SHUTDOWN, &req, sizeof(req));
}

int xendevicemodel_nr_vcpus(xendevicemodel_handle *dmod, domid_t domid, unsigned int *vcpus)
{
    MX_ENTER(xendevicemodel_nr_vcpus, -1);
    MxDomainReq req = { .domid = domid };
    MxDomainInfo info;
    int n = mx_client_reply_call(&dmod->c, MX_OP_DOMAIN_INFO, &req, sizeof(req), &info,
                                 sizeof(info));
    if (n < 0)
        return -1;
    if (n == 0 || info.domid != domid) {
        errno = ESRCH;
        return -1;
    }
    *vcpus = info.nr_online_vcpus;
    return 0;
}

/* ---- not modelled ------------------------------------------------------------------- */

int xendevicemodel_map_mem_type_to_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
                                                ioservid_t id, uint16_t type, uint32_t flags)
{
    MX_ENOSYS(xendevicemodel_map_mem_type_to_ioreq_server, -1);
}


int xendevicemodel_set_pci_link_route(xendevicemodel_handle *dmod, domid_t domid,
                                      uint8_t link, uint8_t irq)
{
    MX_ENOSYS(xendevicemodel_set_pci_link_route, -1);
}

int xendevicemodel_inject_event(xendevicemodel_handle *dmod, domid_t domid, int vcpu,
                                uint8_t vector, uint8_t type, uint32_t error_code,
                                uint8_t insn_len, uint64_t extra)
{
    MX_ENOSYS(xendevicemodel_inject_event, -1);
}

int xendevicemodel_set_mem_type(xendevicemodel_handle *dmod, domid_t domid,
                                hvmmem_type_t mem_type, uint64_t first_pfn, uint32_t nr)
{
    MX_ENOSYS(xendevicemodel_set_mem_type, -1);
}

int xendevicemodel_relocate_memory(xendevicemodel_handle *dmod, domid_t domid, uint32_t size,
                                   uint64_t src_gfn, uint64_t dst_gfn)
{
    MX_ENOSYS(xendevicemodel_relocate_memory, -1);
}

int xendevicemodel_pin_memory_cacheattr(xendevicemodel_handle *dmod, domid_t domid,
                                        uint64_t start, uint64_t end, uint32_t type)
{
    MX_ENOSYS(xendevicemodel_pin_memory_cacheattr, -1);
}
