/*
 * xen/ioreq_server.c — the ioreq server's life: create, map pages, enable, bind event
 * channels; and the teardown that undoes whichever of those happened.
 *
 * Order matters and follows Xen: the per-vCPU event-channel ports (vp_eport in each
 * slot of the shared page) are filled in by Xen when the server is enabled, so the
 * server is enabled before the ports are bound. Ranges may be registered before or
 * after; the guest does not run until "running" appears in xenstore.
 */
#include "xen/xen-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <xen/memory.h>

#include "util/log.h"

#define XEN_PAGE_SIZE 4096u

/* Preferred path: map the server's frames as a resource (Xen ≥ 4.11). Frame 0 is the
 * buffered page, frame 1 the first synchronous page. */
static int map_pages_resource(XenDM *xd)
{
    void *addr = NULL;
    unsigned first = xd->cfg.buffered_ioreqs ? XENMEM_resource_ioreq_server_frame_bufioreq
                                             : XENMEM_resource_ioreq_server_frame_ioreq(0);
    unsigned nr = xd->cfg.buffered_ioreqs ? 2 : 1;
    xd->ioreq_resource = xenforeignmemory_map_resource(
        xd->fmem, xd->cfg.domid, XENMEM_resource_ioreq_server, xd->ioservid, first, nr,
        &addr, PROT_READ | PROT_WRITE, 0);
    if (!xd->ioreq_resource)
        return -errno;
    if (xd->cfg.buffered_ioreqs) {
        xd->buffered_page = addr;
        xd->shared_page = (void *)((uint8_t *)addr + XEN_PAGE_SIZE);
    } else {
        xd->shared_page = addr;
    }
    return 0;
}

/* Legacy path: the server's pages live at guest frames we map like guest memory. */
static int map_pages_legacy(XenDM *xd, Error **errp)
{
    xen_pfn_t ioreq_gfn = 0, bufioreq_gfn = 0;
    if (xendevicemodel_get_ioreq_server_info(xd->dmod, xd->cfg.domid, xd->ioservid,
                                             &ioreq_gfn,
                                             xd->cfg.buffered_ioreqs ? &bufioreq_gfn : NULL,
                                             NULL) < 0) {
        int err = errno;
        error_setg_errno(errp, err, "cannot get the ioreq page frames of server %u",
                         xd->ioservid);
        return -err;
    }
    xd->legacy_shared = xenforeignmemory_map(xd->fmem, xd->cfg.domid, PROT_READ | PROT_WRITE,
                                             1, &ioreq_gfn, NULL);
    if (!xd->legacy_shared) {
        int err = errno;
        error_setg_errno(errp, err, "cannot map the ioreq page (gfn 0x%" PRIx64 ")",
                         (uint64_t)ioreq_gfn);
        return -err;
    }
    xd->shared_page = xd->legacy_shared;
    if (xd->cfg.buffered_ioreqs) {
        xd->legacy_buffered = xenforeignmemory_map(xd->fmem, xd->cfg.domid,
                                                   PROT_READ | PROT_WRITE, 1, &bufioreq_gfn,
                                                   NULL);
        if (!xd->legacy_buffered) {
            int err = errno;
            error_setg_errno(errp, err, "cannot map the buffered ioreq page (gfn 0x%" PRIx64 ")",
                             (uint64_t)bufioreq_gfn);
            return -err;
        }
        xd->buffered_page = xd->legacy_buffered;
    }
    return 0;
}

static int map_pages(XenDM *xd, Error **errp)
{
    int ret = xd->cfg.force_legacy_pages ? -EOPNOTSUPP : map_pages_resource(xd);
    if (ret == -EOPNOTSUPP || ret == -ENOSYS) {
        log_info("ioreq pages: map_resource unavailable, using the legacy gfn path");
        return map_pages_legacy(xd, errp);
    }
    if (ret < 0)
        error_setg_errno(errp, -ret, "cannot map the ioreq pages of server %u", xd->ioservid);
    return ret;
}

int xen_ioreq_server_create(XenDM *xd, Error **errp)
{
    int handle_bufioreq = xd->cfg.buffered_ioreqs ? HVM_IOREQSRV_BUFIOREQ_ATOMIC
                                                  : HVM_IOREQSRV_BUFIOREQ_OFF;
    if (xendevicemodel_create_ioreq_server(xd->dmod, xd->cfg.domid, handle_bufioreq,
                                           &xd->ioservid) < 0) {
        int err = errno;
        error_setg_errno(errp, err, "cannot create an ioreq server for domain %u",
                         xd->cfg.domid);
        return -err;
    }
    xd->server_created = true;
    log_info("ioreq server %u created", xd->ioservid);
    int ret = map_pages(xd, errp);
    if (ret < 0)
        return ret;
    if (xd->cfg.buffered_ioreqs) {
        evtchn_port_t port;
        if (xendevicemodel_get_ioreq_server_info(xd->dmod, xd->cfg.domid, xd->ioservid,
                                                 NULL, NULL, &port) < 0) {
            int err = errno;
            error_setg_errno(errp, err, "cannot get the buffered ioreq event channel");
            return -err;
        }
        xd->buffered_remote_port = port;
    }
    return 0;
}

static int bind_port(XenDM *xd, evtchn_port_t remote, int *local, Error **errp)
{
    xenevtchn_port_or_error_t p = xenevtchn_bind_interdomain(xd->xce, xd->cfg.domid, remote);
    if (p < 0) {
        int err = errno;
        error_setg_errno(errp, err, "cannot bind event channel %u of domain %u",
                         remote, xd->cfg.domid);
        return -err;
    }
    *local = p;
    if ((unsigned)p >= xd->port_to_vcpu_len) {
        unsigned len = (unsigned)p + 64;
        unsigned *t = realloc(xd->port_to_vcpu, len * sizeof(*t));
        if (!t) {
            error_setg_errno(errp, ENOMEM, "cannot grow the event-channel table");
            return -ENOMEM;
        }
        for (unsigned i = xd->port_to_vcpu_len; i < len; i++)
            t[i] = 0;
        xd->port_to_vcpu = t;
        xd->port_to_vcpu_len = len;
    }
    return 0;
}

static int bind_event_channels(XenDM *xd, Error **errp)
{
    xd->vcpu_local_port = malloc(xd->nr_vcpus * sizeof(int));
    xd->vcpu_run = calloc(xd->nr_vcpus, sizeof(*xd->vcpu_run));
    xd->vcpu_busy = calloc(xd->nr_vcpus, sizeof(*xd->vcpu_busy));
    if (!xd->vcpu_local_port || !xd->vcpu_run || !xd->vcpu_busy) {
        error_setg_errno(errp, ENOMEM, "cannot allocate %u event-channel slots", xd->nr_vcpus);
        return -ENOMEM;
    }
    for (unsigned i = 0; i < xd->nr_vcpus; i++)
        xd->vcpu_local_port[i] = -1;
    for (unsigned i = 0; i < xd->nr_vcpus; i++) {
        evtchn_port_t remote = __atomic_load_n(&xd->shared_page->vcpu_ioreq[i].vp_eport,
                                               __ATOMIC_ACQUIRE);
        int ret = bind_port(xd, remote, &xd->vcpu_local_port[i], errp);
        if (ret < 0) {
            error_prepend(errp, "vCPU %u", i);
            return ret;
        }
        xd->port_to_vcpu[xd->vcpu_local_port[i]] = i + 1;
    }
    if (xd->buffered_page)
        return bind_port(xd, xd->buffered_remote_port, &xd->buffered_local_port, errp);
    return 0;
}

int xen_ioreq_server_enable(XenDM *xd, Error **errp)
{
    if (xendevicemodel_set_ioreq_server_state(xd->dmod, xd->cfg.domid, xd->ioservid, 1) < 0) {
        int err = errno;
        error_setg_errno(errp, err, "cannot enable ioreq server %u", xd->ioservid);
        return -err;
    }
    xd->server_enabled = true;
    int ret = bind_event_channels(xd, errp);
    if (ret == 0)
        log_info("ioreq server %u enabled, %u vCPU event channels bound", xd->ioservid,
                 xd->nr_vcpus);
    return ret;
}

int xen_ioreq_server_disable(XenDM *xd, Error **errp)
{
    if (!xd->server_enabled)
        return 0;
    if (xendevicemodel_set_ioreq_server_state(xd->dmod, xd->cfg.domid, xd->ioservid, 0) < 0) {
        int err = errno;
        error_setg_errno(errp, err, "cannot disable ioreq server %u", xd->ioservid);
        return -err;
    }
    xd->server_enabled = false;
    return 0;
}

int xen_ioreq_server_probe(XenDM *xd, Error **errp)
{
    evtchn_port_t port;
    if (xendevicemodel_get_ioreq_server_info(xd->dmod, xd->cfg.domid, xd->ioservid, NULL, NULL,
                                             &port) == 0)
        return 0;
    int err = errno ? errno : EIO;
    error_setg_errno(errp, err, "ioreq server %u of domain %u", xd->ioservid, xd->cfg.domid);
    return -err;
}

void xen_ioreq_server_teardown(XenDM *xd)
{
    if (xd->buffered_local_port >= 0)
        xenevtchn_unbind(xd->xce, (evtchn_port_t)xd->buffered_local_port);
    for (unsigned i = 0; xd->vcpu_local_port && i < xd->nr_vcpus; i++) {
        if (xd->vcpu_local_port[i] >= 0)
            xenevtchn_unbind(xd->xce, (evtchn_port_t)xd->vcpu_local_port[i]);
    }
    free(xd->vcpu_local_port);
    free(xd->port_to_vcpu);
    free(xd->vcpu_run);
    free(xd->vcpu_busy);
    xd->vcpu_run = NULL;
    xd->vcpu_busy = NULL;
    xd->nr_busy = xd->nr_waiting = 0;
    xd->vcpu_local_port = NULL;
    xd->port_to_vcpu = NULL;
    xen_ioreq_server_disable(xd, NULL);
    if (xd->ioreq_resource)
        xenforeignmemory_unmap_resource(xd->fmem, xd->ioreq_resource);
    if (xd->legacy_buffered)
        xenforeignmemory_unmap(xd->fmem, xd->legacy_buffered, 1);
    if (xd->legacy_shared)
        xenforeignmemory_unmap(xd->fmem, xd->legacy_shared, 1);
    if (xd->server_created)
        xendevicemodel_destroy_ioreq_server(xd->dmod, xd->cfg.domid, xd->ioservid);
    xd->server_enabled = xd->server_created = false;
    xd->ioreq_resource = NULL;
    xd->legacy_buffered = xd->legacy_shared = NULL;
    xd->shared_page = NULL;
    xd->buffered_page = NULL;
}
