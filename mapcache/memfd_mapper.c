/*
 * mapcache/memfd_mapper.c — MapperOps over the frames of a memfd.
 *
 * Guest RAM without Xen: frame n is page n of a memfd, and "mapping" frames is an mmap
 * of the file. Frames can be marked unpopulated to reproduce what xenforeignmemory_map
 * does for them: the call succeeds, the page's err[] entry is negative, and the page is
 * left inaccessible (PROT_NONE), so touching it faults instead of reading garbage.
 */
#include "mapcache/mapcache.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define BITS_PER_LONG (sizeof(unsigned long) * CHAR_BIT)
/* Keep frame offsets far from off_t overflow: 2^40 frames is 4 PiB. */
#define MEMFD_MAPPER_MAX_FRAMES (1ULL << 40)

struct MemfdMapper {
    int fd;
    uint64_t nr_frames;
    unsigned long *holes;       /* bit set: frame unpopulated */
    uint8_t *view;              /* shared mapping of every frame */
};

MemfdMapper *memfd_mapper_new(uint64_t nr_frames, Error **errp)
{
    if (nr_frames == 0 || nr_frames > MEMFD_MAPPER_MAX_FRAMES ||
        nr_frames > SIZE_MAX / MAPCACHE_PAGE_SIZE) {
        error_setg_errno(errp, EINVAL, "memfd mapper: bad frame count %" PRIu64, nr_frames);
        return NULL;
    }
    MemfdMapper *m = calloc(1, sizeof(*m));
    if (!m) {
        error_setg_errno(errp, ENOMEM, "memfd mapper: no memory");
        return NULL;
    }
    size_t bytes = nr_frames * MAPCACHE_PAGE_SIZE;
    m->nr_frames = nr_frames;
    m->view = MAP_FAILED;
    m->fd = memfd_create("xendm-guest-ram", MFD_CLOEXEC);
    if (m->fd < 0 || ftruncate(m->fd, (off_t)bytes) < 0) {
        error_setg_errno(errp, errno, "memfd mapper: cannot create %zu bytes of guest RAM",
                         bytes);
        goto fail;
    }
    m->view = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd, 0);
    if (m->view == MAP_FAILED) {
        error_setg_errno(errp, errno, "memfd mapper: cannot map %zu bytes of guest RAM",
                         bytes);
        goto fail;
    }
    m->holes = calloc((nr_frames + BITS_PER_LONG - 1) / BITS_PER_LONG, sizeof(unsigned long));
    if (!m->holes) {
        error_setg_errno(errp, ENOMEM, "memfd mapper: no memory for %" PRIu64 " frames",
                         nr_frames);
        goto fail;
    }
    return m;

fail:
    memfd_mapper_free(m);
    return NULL;
}

void memfd_mapper_free(MemfdMapper *m)
{
    if (!m)
        return;
    if (m->view && m->view != MAP_FAILED)
        munmap(m->view, m->nr_frames * MAPCACHE_PAGE_SIZE);
    if (m->fd >= 0)
        close(m->fd);
    free(m->holes);
    free(m);
}

uint8_t *memfd_mapper_view(MemfdMapper *m)
{
    return m->view;
}

int memfd_mapper_set_populated(MemfdMapper *m, uint64_t gfn, uint64_t nr, bool populated)
{
    if (gfn >= m->nr_frames || nr > m->nr_frames - gfn)
        return -EINVAL;
    for (uint64_t f = gfn; f < gfn + nr; f++) {
        unsigned long bit = 1ul << (f % BITS_PER_LONG);
        if (populated)
            m->holes[f / BITS_PER_LONG] &= ~bit;
        else
            m->holes[f / BITS_PER_LONG] |= bit;
    }
    return 0;
}

/* 0 if frame gfn can be mapped, else the negative errno map() reports for it. */
static int frame_status(const MemfdMapper *m, uint64_t gfn)
{
    if (gfn >= m->nr_frames)
        return -EINVAL;
    return (m->holes[gfn / BITS_PER_LONG] >> (gfn % BITS_PER_LONG)) & 1 ? -ENOENT : 0;
}

/* Map the good runs of [first_gfn, first_gfn + nr) over a PROT_NONE reservation. */
static void *map_with_holes(MemfdMapper *m, uint64_t first_gfn, size_t nr, int prot,
                            const int *err)
{
    uint8_t *base = mmap(NULL, nr * MAPCACHE_PAGE_SIZE, PROT_NONE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED)
        return NULL;
    for (size_t i = 0; i < nr;) {
        size_t run = 0;
        while (i + run < nr && err[i + run] == 0)
            run++;
        if (run && mmap(base + i * MAPCACHE_PAGE_SIZE, run * MAPCACHE_PAGE_SIZE, prot,
                        MAP_SHARED | MAP_FIXED, m->fd,
                        (off_t)((first_gfn + i) * MAPCACHE_PAGE_SIZE)) == MAP_FAILED) {
            int saved = errno;
            munmap(base, nr * MAPCACHE_PAGE_SIZE);
            errno = saved;
            return NULL;
        }
        i += run ? run : 1;
    }
    return base;
}

static void *memfd_mapper_map(void *opaque, uint64_t first_gfn, size_t nr_pages, int prot,
                              int *err)
{
    MemfdMapper *m = opaque;
    if (nr_pages == 0 || nr_pages > SIZE_MAX / MAPCACHE_PAGE_SIZE) {
        errno = EINVAL;
        return NULL;
    }
    bool all_good = true;
    for (size_t i = 0; i < nr_pages; i++) {
        err[i] = i > UINT64_MAX - first_gfn ? -EINVAL : frame_status(m, first_gfn + i);
        all_good = all_good && err[i] == 0;
    }
    if (!all_good)
        return map_with_holes(m, first_gfn, nr_pages, prot, err);
    void *host = mmap(NULL, nr_pages * MAPCACHE_PAGE_SIZE, prot, MAP_SHARED, m->fd,
                      (off_t)(first_gfn * MAPCACHE_PAGE_SIZE));
    return host == MAP_FAILED ? NULL : host;
}

static int memfd_mapper_unmap(void *opaque, void *host, size_t nr_pages)
{
    return munmap(host, nr_pages * MAPCACHE_PAGE_SIZE) < 0 ? -errno : 0;
}

const MapperOps memfd_mapper_ops = {
    .map = memfd_mapper_map,
    .unmap = memfd_mapper_unmap,
};
