/*
 * tools/mockxen/shim/foreignmemory.c — libxenforeignmemory.so.1: foreign mappings are
 * local mmaps of the daemon's guest RAM memfd, fetched once per handle together with
 * the populated-frame bitmap; an unpopulated frame fails its err[] slot with EINVAL, as
 * Xen does. ioreq server resources are frames of the same memfd.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xenforeignmemory.h>
#include <xen/memory.h>

#include "tools/mockxen/shim/client.h"
#include "tools/mockxen/shim/toolcore.h"

struct xenforeignmemory_handle {
    MxClient c;
    MxToolcoreHandle tc;
    pthread_mutex_t lock;        /* the guest memory fields below */
    bool restricted;
    domid_t restrict_domid;
    bool have_memory;
    uint32_t domid;
    int ram_fd, bitmap_fd;
    const uint8_t *populated;
    uint64_t nr_frames, bitmap_bytes;
};

struct xenforeignmemory_resource_handle {
    void *addr;
    size_t nr_frames;
};

static int restrict_fmem(MxToolcoreHandle *tc, domid_t domid)
{
    xenforeignmemory_handle *fmem = container_of(tc, xenforeignmemory_handle, tc);
    pthread_mutex_lock(&fmem->lock);
    fmem->restricted = true;
    fmem->restrict_domid = domid;
    pthread_mutex_unlock(&fmem->lock);
    return 0;
}

xenforeignmemory_handle *xenforeignmemory_open(struct xentoollog_logger *logger,
                                               unsigned open_flags)
{
    xenforeignmemory_handle *fmem = calloc(1, sizeof(*fmem));
    if (!fmem)
        return NULL;
    if (mx_client_open_counted(&fmem->c, "xenforeignmemory", MX_KIND_xenforeignmemory_open) < 0) {
        free(fmem);
        return NULL;
    }
    pthread_mutex_init(&fmem->lock, NULL);
    fmem->ram_fd = fmem->bitmap_fd = -1;
    fmem->tc.restrict_callback = restrict_fmem;
    xentoolcore__register_active_handle(&fmem->tc);
    return fmem;
}

int xenforeignmemory_close(xenforeignmemory_handle *fmem)
{
    if (!fmem)
        return 0;
    MX_ENTER(xenforeignmemory_close, -1);
    xentoolcore__deregister_active_handle(&fmem->tc);
    if (fmem->have_memory) {
        munmap((void *)fmem->populated, fmem->bitmap_bytes);
        close(fmem->ram_fd);
        close(fmem->bitmap_fd);
    }
    mx_client_close(&fmem->c);
    pthread_mutex_destroy(&fmem->lock);
    free(fmem);
    return 0;
}

int xenforeignmemory_restrict(xenforeignmemory_handle *fmem, domid_t domid)
{
    MX_ENTER(xenforeignmemory_restrict, -1);
    return restrict_fmem(&fmem->tc, domid);
}

/* Fetch the domain's RAM memfd and populated bitmap once. 0, or -1 with errno. */
static int get_memory_locked(xenforeignmemory_handle *fmem, uint32_t dom)
{
    if (fmem->restricted && dom != fmem->restrict_domid) {
        errno = EPERM;
        return -1;
    }
    if (fmem->have_memory) {
        if (dom == fmem->domid)
            return 0;
        errno = ESRCH;
        return -1;
    }
    MxGuestMemory gm;
    int fds[2];
    if (mx_client_guest_memory(&fmem->c, dom, &gm, fds) < 0)
        return -1;
    void *bitmap = mmap(NULL, gm.bitmap_bytes, PROT_READ, MAP_SHARED, fds[1], 0);
    if (bitmap == MAP_FAILED) {
        int err = errno;
        close(fds[0]);
        close(fds[1]);
        errno = err;
        return -1;
    }
    fmem->ram_fd = fds[0];
    fmem->bitmap_fd = fds[1];
    fmem->populated = bitmap;
    fmem->nr_frames = gm.nr_frames;
    fmem->bitmap_bytes = gm.bitmap_bytes;
    fmem->domid = dom;
    fmem->have_memory = true;
    return 0;
}

static bool populated(const xenforeignmemory_handle *fmem, xen_pfn_t gfn)
{
    return gfn < fmem->nr_frames &&
           (__atomic_load_n(&fmem->populated[gfn / 8], __ATOMIC_ACQUIRE) & (1u << (gfn % 8)));
}

/* Map runs of consecutive frames over the reserved area; fill err[]. */
static int map_frames(xenforeignmemory_handle *fmem, uint8_t *base, int prot, size_t pages,
                      const xen_pfn_t arr[], int err[])
{
    int failures = 0;
    for (size_t i = 0; i < pages;) {
        if (!populated(fmem, arr[i])) {
            err[i++] = -EINVAL;
            failures++;
            continue;
        }
        size_t run = 1;
        while (i + run < pages && arr[i + run] == arr[i] + run && populated(fmem, arr[i + run]))
            run++;
        void *p = mmap(base + i * MX_PAGE_SIZE, run * MX_PAGE_SIZE, prot, MAP_SHARED | MAP_FIXED,
                       fmem->ram_fd, (off_t)arr[i] * MX_PAGE_SIZE);
        for (size_t j = 0; j < run; j++)
            err[i + j] = p == MAP_FAILED ? -errno : 0;
        failures += p == MAP_FAILED ? (int)run : 0;
        i += run;
    }
    return failures;
}

static void *do_map(xenforeignmemory_handle *fmem, uint32_t dom, void *addr, int prot,
                    int flags, size_t pages, const xen_pfn_t arr[], int err[])
{
    if (pages == 0 || pages > SIZE_MAX / MX_PAGE_SIZE) {
        errno = EINVAL;
        return NULL;
    }
    pthread_mutex_lock(&fmem->lock);
    int rc = get_memory_locked(fmem, dom);
    pthread_mutex_unlock(&fmem->lock);
    if (rc < 0)
        return NULL;
    uint8_t *base = mmap(addr, pages * MX_PAGE_SIZE, PROT_NONE,
                         MAP_PRIVATE | MAP_ANONYMOUS | (flags & MAP_FIXED), -1, 0);
    if (base == MAP_FAILED)
        return NULL;
    int *errs = err ? err : calloc(pages, sizeof(int));
    if (!errs) {
        munmap(base, pages * MX_PAGE_SIZE);
        errno = ENOMEM;
        return NULL;
    }
    int failures = map_frames(fmem, base, prot, pages, arr, errs);
    if (!err) {
        int first = 0;
        for (size_t i = 0; i < pages && !first; i++)
            first = errs[i];
        free(errs);
        if (failures) {                /* without err[], any failure fails the map */
            munmap(base, pages * MX_PAGE_SIZE);
            errno = -first;
            return NULL;
        }
    }
    return base;
}

void *xenforeignmemory_map(xenforeignmemory_handle *fmem, uint32_t dom, int prot,
                           size_t pages, const xen_pfn_t arr[], int err[])
{
    MX_ENTER(xenforeignmemory_map, NULL);
    return do_map(fmem, dom, NULL, prot, 0, pages, arr, err);
}

void *xenforeignmemory_map2(xenforeignmemory_handle *fmem, uint32_t dom, void *addr,
                            int prot, int flags, size_t pages, const xen_pfn_t arr[],
                            int err[])
{
    MX_ENTER(xenforeignmemory_map2, NULL);
    return do_map(fmem, dom, addr, prot, flags, pages, arr, err);
}

int xenforeignmemory_unmap(xenforeignmemory_handle *fmem, void *addr, size_t pages)
{
    MX_ENTER(xenforeignmemory_unmap, -1);
    return munmap(addr, pages * MX_PAGE_SIZE);
}

/* Where resource frames [frame, frame+nr) live in the RAM memfd. */
static int locate_resource(xenforeignmemory_handle *fmem, domid_t domid, unsigned int type,
                           unsigned int id, unsigned long frame, unsigned long nr_frames,
                           MxResourceReply *out)
{
    if (fmem->restricted && domid != fmem->restrict_domid) {
        errno = EPERM;
        return -1;
    }
    MxResourceReq req = { .domid = domid, .type = type, .id = id, .frame = frame,
                          .nr_frames = nr_frames };
    return mx_client_reply_call(&fmem->c, MX_OP_IOREQ_RESOURCE, &req, sizeof(req), out,
                                sizeof(*out)) < 0 ? -1 : 0;
}

xenforeignmemory_resource_handle *xenforeignmemory_map_resource(
    xenforeignmemory_handle *fmem, domid_t domid, unsigned int type, unsigned int id,
    unsigned long frame, unsigned long nr_frames, void **paddr, int prot, int flags)
{
    MX_ENTER(xenforeignmemory_map_resource, NULL);
    MxResourceReply where;
    pthread_mutex_lock(&fmem->lock);
    int rc = get_memory_locked(fmem, domid);
    pthread_mutex_unlock(&fmem->lock);
    if (rc < 0 || locate_resource(fmem, domid, type, id, frame, nr_frames, &where) < 0)
        return NULL;
    xenforeignmemory_resource_handle *fres = calloc(1, sizeof(*fres));
    if (!fres)
        return NULL;
    fres->nr_frames = nr_frames;
    fres->addr = mmap(*paddr, nr_frames * MX_PAGE_SIZE, prot, MAP_SHARED | flags,
                      fmem->ram_fd, (off_t)where.gfn * MX_PAGE_SIZE);
    if (fres->addr == MAP_FAILED) {
        free(fres);
        return NULL;
    }
    *paddr = fres->addr;
    return fres;
}

int xenforeignmemory_unmap_resource(xenforeignmemory_handle *fmem,
                                    xenforeignmemory_resource_handle *fres)
{
    MX_ENTER(xenforeignmemory_unmap_resource, -1);
    if (!fres)
        return 0;
    int rc = munmap(fres->addr, fres->nr_frames * MX_PAGE_SIZE);
    free(fres);
    return rc;
}

int xenforeignmemory_resource_size(xenforeignmemory_handle *fmem, domid_t domid,
                                   unsigned int type, unsigned int id, size_t *size)
{
    MX_ENTER(xenforeignmemory_resource_size, -1);
    MxResourceReply where;
    if (locate_resource(fmem, domid, type, id, 1, 1, &where) < 0)
        return -1;
    *size = (where.nr_frames + 1) * MX_PAGE_SIZE;     /* the buffered frame + the rest */
    return 0;
}
