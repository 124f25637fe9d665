/*
 * xen/xen_handles.c — open and close the Xen library handles of one device model.
 *
 * xen_dm_open() is the first start-up step: it opens every handle and checks that the
 * domain exists and is HVM, so that "no such domain" and "no Xen here" are reported
 * before anything is created. xen_dm_close() is the one teardown: it looks at which
 * steps succeeded (the handles and flags in XenDM) and undoes them in reverse.
 */
#include "xen/xen-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xentoolcore.h>

#include "util/log.h"
#include "util/parse.h"

/* The end of RAM below 4 GiB the toolstack chose: libxl writes the PCI hole's size to
 * /local/domain/<domid>/platform/mmio_hole_size (bytes, for hvmloader) when xl's
 * mmio_hole is set; without it the split is Xen's default (0 here). */
static int read_max_ram_below_4g(XenDM *xd, Error **errp)
{
    char path[64];
    snprintf(path, sizeof(path), "/local/domain/%u/platform/mmio_hole_size", xd->cfg.domid);
    unsigned len = 0;
    char *text = xs_read(xd->xs, XBT_NULL, path, &len);
    if (!text && errno == ENOENT)
        return 0;                       /* no hole size: the default */
    if (!text) {
        int err = errno ? errno : EIO;
        error_setg_errno(errp, err, "cannot read xenstore %s", path);
        return -err;
    }
    uint64_t hole;
    int ret = parse_u64(text, UINT64_MAX, &hole, errp);
    if (ret == 0)
        ret = xen_ram_below_4g_of_hole(hole, &xd->max_ram_below_4g, errp);
    if (ret < 0)
        error_prepend(errp, "xenstore %s", path);
    free(text);
    return ret;
}

static int xen_dm_query_domain(XenDM *xd, Error **errp)
{
    xc_domaininfo_t info;
    int n = xc_domain_getinfolist(xd->xc, xd->cfg.domid, 1, &info);
    if (n < 0) {
        int err = errno;
        error_setg_errno(errp, err, "cannot query domain %u", xd->cfg.domid);
        return -err;
    }
    if (n == 0 || info.domain != xd->cfg.domid) {
        error_setg(errp, "no such domain: %u", xd->cfg.domid);
        return -ESRCH;
    }
    if (!(info.flags & XEN_DOMINF_hvm_guest)) {
        error_setg(errp, "domain %u is not an HVM guest", xd->cfg.domid);
        return -EINVAL;
    }
    xd->nr_vcpus = info.max_vcpu_id + 1;
    xd->guest_memory = (uint64_t)info.tot_pages << 12;
    if (xd->nr_vcpus > XEN_PAGE_SIZE_BYTES / sizeof(ioreq_t)) {
        error_setg(errp, "domain %u has %u vCPUs; one ioreq page serves at most %zu",
                   xd->cfg.domid, xd->nr_vcpus, XEN_PAGE_SIZE_BYTES / sizeof(ioreq_t));
        return -E2BIG;
    }
    return 0;
}

XenDM *xen_dm_open(const XenDMConfig *cfg, Error **errp)
{
    XenDM *xd = calloc(1, sizeof(*xd));
    if (!xd) {
        error_setg_errno(errp, ENOMEM, "cannot allocate the Xen state");
        return NULL;
    }
    xd->cfg = *cfg;
    xd->buffered_local_port = -1;
    xd->exec.request_done = (void (*)(void *))xen_modified_memory_flush;
    xd->exec.request_done_opaque = xd;

    const char *what = NULL;
    if (!(xd->xc = xc_interface_open(NULL, NULL, 0)))
        what = "xenctrl (is this a Xen dom0, or is MOCKXEN_SOCKET set?)";
    else if (!(xd->dmod = xendevicemodel_open(NULL, 0)))
        what = "xendevicemodel";
    else if (!(xd->fmem = xenforeignmemory_open(NULL, 0)))
        what = "xenforeignmemory";
    else if (!(xd->xce = xenevtchn_open(NULL, 0)))
        what = "xenevtchn";
    else if (!(xd->xs = xs_open(0)))
        what = "xenstore";
    if (!what && !(xd->xgt = xengnttab_open(NULL, 0)))
        log_info("xengnttab unavailable (%s): no grant DMA for grant_usage=1 devices",
                 strerror(errno));
    if (what) {
        error_setg_errno(errp, errno, "cannot open %s", what);
        xen_dm_close(xd);
        return NULL;
    }
    if (xen_dm_query_domain(xd, errp) < 0 || read_max_ram_below_4g(xd, errp) < 0) {
        xen_dm_close(xd);
        return NULL;
    }
    log_info("domain %u: %u vCPUs", cfg->domid, xd->nr_vcpus);
    return xd;
}

void xen_dm_close(XenDM *xd)
{
    if (!xd)
        return;
    if (xd->announced && !xd->cfg.secondary) {
        char path[96];
        snprintf(path, sizeof(path), "/local/domain/0/device-model/%u/state", xd->cfg.domid);
        xs_rm(xd->xs, XBT_NULL, path);
    }
    xen_claims_remove(xd);
    xen_modified_memory_flush(xd);
    xen_dm_detach_address_spaces(xd);
    xen_ioreq_server_teardown(xd);
    if (xd->xs)
        xs_close(xd->xs);
    if (xd->xgt)
        xengnttab_close(xd->xgt);
    if (xd->xce)
        xenevtchn_close(xd->xce);
    if (xd->fmem)
        xenforeignmemory_close(xd->fmem);
    if (xd->dmod)
        xendevicemodel_close(xd->dmod);
    if (xd->xc)
        xc_interface_close(xd->xc);
    free(xd);
}

uint32_t xen_dm_domid(const XenDM *xd) { return xd->cfg.domid; }
unsigned xen_dm_nr_vcpus(const XenDM *xd) { return xd->nr_vcpus; }
uint64_t xen_dm_guest_memory(const XenDM *xd) { return xd->guest_memory; }
uint64_t xen_dm_max_ram_below_4g(const XenDM *xd) { return xd->max_ram_below_4g; }
const XenDMStats *xen_dm_stats(const XenDM *xd) { return &xd->stats; }
const IoreqExecCtx *xen_dm_exec_ctx(const XenDM *xd) { return &xd->exec; }
int xen_dm_event_fd(const XenDM *xd) { return xenevtchn_fd(xd->xce); }

void xen_dm_set_request_handlers(XenDM *xd, const IoreqHandlers *handlers, void *opaque)
{
    xd->exec.handlers = handlers ? *handlers : (IoreqHandlers){ 0 };
    xd->exec.handlers_opaque = handlers ? opaque : NULL;
}

int xen_dm_announce_running(XenDM *xd, Error **errp)
{
    char path[160];
    if (xd->cfg.secondary) {
        xen_claims_entry_path(xd, path, sizeof(path));
        strcat(path, "/state");
    } else {
        snprintf(path, sizeof(path), "/local/domain/0/device-model/%u/state", xd->cfg.domid);
    }
    if (!xs_write(xd->xs, XBT_NULL, path, "running", strlen("running"))) {
        int err = errno ? errno : EIO;
        error_setg_errno(errp, err, "cannot write %s to xenstore", path);
        return -err;
    }
    xd->announced = true;
    return 0;
}

int xen_dm_set_isa_irq_level(XenDM *xd, uint8_t irq, unsigned level)
{
    return xendevicemodel_set_isa_irq_level(xd->dmod, xd->cfg.domid, irq, level) ? -errno : 0;
}

int xen_dm_set_pci_intx_level(XenDM *xd, uint8_t bus, uint8_t dev, uint8_t intx,
                              unsigned level)
{
    return xendevicemodel_set_pci_intx_level(xd->dmod, xd->cfg.domid, 0, bus, dev, intx,
                                             level) ? -errno : 0;
}

int xen_dm_inject_msi(XenDM *xd, uint64_t addr, uint32_t data)
{
    return xendevicemodel_inject_msi(xd->dmod, xd->cfg.domid, addr, data) ? -errno : 0;
}

int xen_dm_set_irq_level(XenDM *xd, uint32_t irq, unsigned level)
{
    return xendevicemodel_set_irq_level(xd->dmod, xd->cfg.domid, irq, level) ? -errno : 0;
}

int xen_dm_restrict(XenDM *xd, Error **errp)
{
    if (xentoolcore_restrict_all(xd->cfg.domid) < 0) {
        int err = errno;
        error_setg_errno(errp, err, "cannot restrict the Xen handles to domain %u",
                         xd->cfg.domid);
        return -err;
    }
    return 0;
}
