/*
 * tools/mockxen/shim/gnttab.c — libxengnttab.so.1: mockxen has no grant tables. Handles
 * open (so programs that probe for grant copy at start-up go on), and every operation
 * is counted and fails with ENOSYS.
 */
#include <stdlib.h>

#include <xengnttab.h>

#include "tools/mockxen/shim/client.h"

struct xengntdev_handle {
    int unused;
};

static struct xengntdev_handle *new_handle(enum MxKind kind)
{
    if (mx_shim_enter(kind) < 0)
        return NULL;
    return calloc(1, sizeof(struct xengntdev_handle));
}

xengnttab_handle *xengnttab_open(struct xentoollog_logger *logger, unsigned open_flags)
{
    return new_handle(MX_KIND_xengnttab_open);
}

int xengnttab_close(xengnttab_handle *xgt)
{
    MX_ENTER(xengnttab_close, -1);
    free(xgt);
    return 0;
}

xengntshr_handle *xengntshr_open(struct xentoollog_logger *logger, unsigned open_flags)
{
    return new_handle(MX_KIND_xengntshr_open);
}

int xengntshr_close(xengntshr_handle *xgs)
{
    MX_ENTER(xengntshr_close, -1);
    free(xgs);
    return 0;
}

int xengnttab_fd(xengnttab_handle *xgt) { MX_ENOSYS(xengnttab_fd, -1); }

void *xengnttab_map_grant_ref(xengnttab_handle *xgt, uint32_t domid, uint32_t ref, int prot)
{
    MX_ENOSYS(xengnttab_map_grant_ref, NULL);
}

void *xengnttab_map_grant_refs(xengnttab_handle *xgt, uint32_t count, uint32_t *domids,
                               uint32_t *refs, int prot)
{
    MX_ENOSYS(xengnttab_map_grant_refs, NULL);
}

void *xengnttab_map_domain_grant_refs(xengnttab_handle *xgt, uint32_t count, uint32_t domid,
                                      uint32_t *refs, int prot)
{
    MX_ENOSYS(xengnttab_map_domain_grant_refs, NULL);
}

void *xengnttab_map_grant_ref_notify(xengnttab_handle *xgt, uint32_t domid, uint32_t ref,
                                     int prot, uint32_t notify_offset,
                                     evtchn_port_t notify_port)
{
    MX_ENOSYS(xengnttab_map_grant_ref_notify, NULL);
}

int xengnttab_unmap(xengnttab_handle *xgt, void *start_address, uint32_t count)
{
    MX_ENOSYS(xengnttab_unmap, -1);
}

int xengnttab_set_max_grants(xengnttab_handle *xgt, uint32_t nr_grants)
{
    MX_ENOSYS(xengnttab_set_max_grants, -1);
}

int xengnttab_grant_copy(xengnttab_handle *xgt, uint32_t count,
                         xengnttab_grant_copy_segment_t *segs)
{
    MX_ENOSYS(xengnttab_grant_copy, -1);
}

int xengnttab_dmabuf_exp_from_refs(xengnttab_handle *xgt, uint32_t domid, uint32_t flags,
                                   uint32_t count, const uint32_t *refs, uint32_t *fd)
{
    MX_ENOSYS(xengnttab_dmabuf_exp_from_refs, -1);
}

int xengnttab_dmabuf_exp_wait_released(xengnttab_handle *xgt, uint32_t fd,
                                       uint32_t wait_to_ms)
{
    MX_ENOSYS(xengnttab_dmabuf_exp_wait_released, -1);
}

int xengnttab_dmabuf_imp_to_refs(xengnttab_handle *xgt, uint32_t domid, uint32_t fd,
                                 uint32_t count, uint32_t *refs)
{
    MX_ENOSYS(xengnttab_dmabuf_imp_to_refs, -1);
}

int xengnttab_dmabuf_imp_release(xengnttab_handle *xgt, uint32_t fd)
{
    MX_ENOSYS(xengnttab_dmabuf_imp_release, -1);
}

int xengntshr_fd(xengntshr_handle *xgs) { MX_ENOSYS(xengntshr_fd, -1); }

void *xengntshr_share_pages(xengntshr_handle *xgs, uint32_t domid, int count, uint32_t *refs,
                            int writable)
{
    MX_ENOSYS(xengntshr_share_pages, NULL);
}

void *xengntshr_share_page_notify(xengntshr_handle *xgs, uint32_t domid, uint32_t *ref,
                                  int writable, uint32_t notify_offset,
                                  evtchn_port_t notify_port)
{
    MX_ENOSYS(xengntshr_share_page_notify, NULL);
}

int xengntshr_unshare(xengntshr_handle *xgs, void *start_address, uint32_t count)
{
    MX_ENOSYS(xengntshr_unshare, -1);
}
