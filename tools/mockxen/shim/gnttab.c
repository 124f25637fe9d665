/*
 * tools/mockxen/shim/gnttab.c — libxengnttab.so.1: grant maps of the guest's grant table
 * (tools/mockxen/grant_table.c keeps it). The daemon checks and pins the entries, as Xen
 * does, and answers with the frames they name; the shim maps those frames from the
 * guest RAM memfd (fetched once per handle, as libxenforeignmemory's shim does) into
 * one contiguous area, with the caller's protection. xengnttab_unmap unmaps the area,
 * then has the daemon unpin the entries, so the guest can revoke them once it returns.
 * A failed map fails with EINVAL, as a grant map through Linux's gntdev does. Grant
 * copy, unmap notifications, dma-bufs and sharing our own pages (xengntshr) are not
 * modelled: they fail with ENOSYS; xengntshr_open/close work, so a program probing for
 * them goes on.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xengnttab.h>

#include "tools/mockxen/shim/client.h"

/* One mapping made through a handle. */
typedef struct ShimGrantMap {
    uint8_t *addr;
    uint32_t count, id;
} ShimGrantMap;

struct xengntdev_handle {
    MxClient c;               /* connected for xengnttab handles only */
    bool connected;
    pthread_mutex_t lock;     /* the fields below */
    int ram_fd;               /* -1 until the first map */
    ShimGrantMap *maps;
    unsigned nr, cap;
};

static struct xengntdev_handle *new_handle(void)
{
    struct xengntdev_handle *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    pthread_mutex_init(&h->lock, NULL);
    h->ram_fd = -1;
    return h;
}

static void free_handle(struct xengntdev_handle *h)
{
    for (unsigned i = 0; i < h->nr; i++)         /* the daemon unpins at disconnect */
        munmap(h->maps[i].addr, (size_t)h->maps[i].count * MX_PAGE_SIZE);
    if (h->ram_fd >= 0)
        close(h->ram_fd);
    if (h->connected)
        mx_client_close(&h->c);
    pthread_mutex_destroy(&h->lock);
    free(h->maps);
    free(h);
}

xengnttab_handle *xengnttab_open(struct xentoollog_logger *logger, unsigned open_flags)
{
    struct xengntdev_handle *h = new_handle();
    if (!h)
        return NULL;
    if (mx_client_open_counted(&h->c, "xengnttab", MX_KIND_xengnttab_open) < 0) {
        free_handle(h);
        return NULL;
    }
    h->connected = true;
    return h;
}

int xengnttab_close(xengnttab_handle *xgt)
{
    if (!xgt)
        return 0;
    MX_ENTER(xengnttab_close, -1);
    free_handle(xgt);
    return 0;
}

xengntshr_handle *xengntshr_open(struct xentoollog_logger *logger, unsigned open_flags)
{
    if (mx_shim_enter(MX_KIND_xengntshr_open) < 0)
        return NULL;
    return new_handle();
}

int xengntshr_close(xengntshr_handle *xgs)
{
    if (!xgs)
        return 0;
    MX_ENTER(xengntshr_close, -1);
    free_handle(xgs);
    return 0;
}

/* The guest RAM memfd, fetched once. Call with h->lock held. 0, or -1 with errno. */
static int get_ram_locked(struct xengntdev_handle *h, uint32_t domid)
{
    if (h->ram_fd >= 0)
        return 0;
    MxGuestMemory gm;
    int fds[2];
    if (mx_client_guest_memory(&h->c, domid, &gm, fds) < 0)
        return -1;
    close(fds[1]);                          /* the populated bitmap: the daemon checks */
    h->ram_fd = fds[0];
    return 0;
}

/* Map the frames the daemon named over a reserved area. NULL with errno on failure. */
static uint8_t *map_frames(int ram_fd, const uint64_t *gfns, uint32_t count, int prot)
{
    size_t len = (size_t)count * MX_PAGE_SIZE;
    uint8_t *base = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED)
        return NULL;
    for (uint32_t i = 0; i < count;) {
        uint32_t run = 1;
        while (i + run < count && gfns[i + run] == gfns[i] + run)
            run++;
        if (mmap(base + (size_t)i * MX_PAGE_SIZE, (size_t)run * MX_PAGE_SIZE, prot,
                 MAP_SHARED | MAP_FIXED, ram_fd, (off_t)(gfns[i] * MX_PAGE_SIZE)) == MAP_FAILED) {
            int err = errno;
            munmap(base, len);
            errno = err;
            return NULL;
        }
        i += run;
    }
    return base;
}

/* Have the daemon unpin mapping id (of the one domain it models). */
static int unpin(struct xengntdev_handle *h, uint32_t id, uint32_t count)
{
    MxGrantUnmapReq req = { .domid = h->c.domid, .id = id, .count = count };
    return mx_client_simple_call(&h->c, MX_OP_GNTTAB_UNMAP, &req, sizeof(req));
}

/* Record a mapping. Call with h->lock held. 0, or -1 with errno. */
static int remember(struct xengntdev_handle *h, uint8_t *addr, uint32_t count, uint32_t id)
{
    if (h->nr == h->cap) {
        unsigned cap = h->cap ? 2 * h->cap : 16;
        ShimGrantMap *maps = realloc(h->maps, cap * sizeof(*maps));
        if (!maps) {
            errno = ENOMEM;
            return -1;
        }
        h->maps = maps;
        h->cap = cap;
    }
    h->maps[h->nr++] = (ShimGrantMap){ .addr = addr, .count = count, .id = id };
    return 0;
}

/* Pin and map; called with h->lock held. */
static void *map_locked(struct xengntdev_handle *h, uint32_t count, uint32_t domid,
                        const uint32_t *refs, int prot)
{
    if (get_ram_locked(h, domid) < 0)
        return NULL;
    MxGrantMapReq req = { .domid = domid, .count = count, .writable = !!(prot & PROT_WRITE) };
    size_t len = sizeof(MxGrantMapReply) + (size_t)count * sizeof(uint64_t), got = 0;
    uint8_t *reply = malloc(len);
    if (!reply) {
        errno = ENOMEM;
        return NULL;
    }
    uint8_t *addr = NULL;
    MxGrantMapReply rep;
    if (mx_client_call(&h->c, MX_OP_GNTTAB_MAP, &req, sizeof(req), refs,
                       (size_t)count * sizeof(*refs), reply, len, &got, NULL, 0, NULL) < 0)
        goto out;
    memcpy(&rep, reply, sizeof(rep));
    if (got != len || rep.count != count) {
        errno = EPROTO;
        goto out;
    }
    uint64_t *gfns = (uint64_t *)(void *)(reply + sizeof(rep));
    addr = map_frames(h->ram_fd, gfns, count, prot);
    if (addr && remember(h, addr, count, rep.id) < 0) {
        munmap(addr, (size_t)count * MX_PAGE_SIZE);
        addr = NULL;
    }
    if (!addr) {
        int err = errno;
        unpin(h, rep.id, count);
        errno = err;
    }
out:
    free(reply);
    return addr;
}

/* Every grant map: one domain for all refs (mockxen models one). */
static void *grant_map(struct xengntdev_handle *h, uint32_t count, const uint32_t *domids,
                       unsigned domid_stride, const uint32_t *refs, int prot)
{
    if (!h || !h->connected || !refs || !domids || count == 0 ||
        count > MX_GNTTAB_MAX_ENTRIES) {
        errno = EINVAL;
        return NULL;
    }
    for (uint32_t i = 1; i < count; i++) {
        if (domids[i * domid_stride] != domids[0]) {
            errno = EINVAL;
            return NULL;
        }
    }
    pthread_mutex_lock(&h->lock);
    void *addr = map_locked(h, count, domids[0], refs, prot);
    pthread_mutex_unlock(&h->lock);
    return addr;
}

void *xengnttab_map_grant_ref(xengnttab_handle *xgt, uint32_t domid, uint32_t ref, int prot)
{
    MX_ENTER(xengnttab_map_grant_ref, NULL);
    return grant_map(xgt, 1, &domid, 0, &ref, prot);
}

void *xengnttab_map_grant_refs(xengnttab_handle *xgt, uint32_t count, uint32_t *domids,
                               uint32_t *refs, int prot)
{
    MX_ENTER(xengnttab_map_grant_refs, NULL);
    return grant_map(xgt, count, domids, 1, refs, prot);
}

void *xengnttab_map_domain_grant_refs(xengnttab_handle *xgt, uint32_t count, uint32_t domid,
                                      uint32_t *refs, int prot)
{
    MX_ENTER(xengnttab_map_domain_grant_refs, NULL);
    return grant_map(xgt, count, &domid, 0, refs, prot);
}

void *xengnttab_map_grant_ref_notify(xengnttab_handle *xgt, uint32_t domid, uint32_t ref,
                                     int prot, uint32_t notify_offset,
                                     evtchn_port_t notify_port)
{
    MX_ENOSYS(xengnttab_map_grant_ref_notify, NULL);
}

/* As libxengnttab on Linux: the start of a mapping and its whole count, or EINVAL. */
int xengnttab_unmap(xengnttab_handle *xgt, void *start_address, uint32_t count)
{
    MX_ENTER(xengnttab_unmap, -1);
    if (!xgt || !start_address) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&xgt->lock);
    unsigned i = 0;
    while (i < xgt->nr && xgt->maps[i].addr != start_address)
        i++;
    int rc = -1;
    if (i == xgt->nr || xgt->maps[i].count != count) {
        errno = EINVAL;
    } else {
        ShimGrantMap m = xgt->maps[i];
        xgt->maps[i] = xgt->maps[--xgt->nr];
        munmap(m.addr, (size_t)m.count * MX_PAGE_SIZE);
        rc = unpin(xgt, m.id, m.count);
    }
    pthread_mutex_unlock(&xgt->lock);
    return rc;
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

int xengnttab_fd(xengnttab_handle *xgt) { MX_ENOSYS(xengnttab_fd, -1); }

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
