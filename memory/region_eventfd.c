/*
 * memory/region_eventfd.c — ioeventfds declared on a region.
 *
 * A region keeps its ioeventfds sorted (memory_ioeventfd_compare) so the address
 * space's flattened list can be diffed in one pass. Declaring or removing one is an
 * edit of the region: the commit re-renders its span and listeners get
 * eventfd_add/eventfd_del for what became visible or hidden.
 */
#include "memory/memory-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

int memory_ioeventfd_compare(const MemoryRegionIoeventfd *a, const MemoryRegionIoeventfd *b)
{
#define CMP(x, y) do { if ((x) != (y)) return (x) < (y) ? -1 : 1; } while (0)
    CMP(a->addr, b->addr);
    CMP(a->size, b->size);
    CMP(a->match_data, b->match_data);
    if (a->match_data)
        CMP(a->data, b->data);
    CMP(a->fd, b->fd);
    return 0;
#undef CMP
}

static bool valid_ioeventfd_size(unsigned size)
{
    return size == 0 || size == 1 || size == 2 || size == 4 || size == 8;
}

/* Index of the first entry not below e. */
static unsigned ioeventfd_position(const MemoryRegion *mr, const MemoryRegionIoeventfd *e)
{
    unsigned i = 0;
    while (i < mr->ioeventfd_nb && memory_ioeventfd_compare(&mr->ioeventfds[i], e) < 0)
        i++;
    return i;
}

static MemoryRegionIoeventfd make_ioeventfd(MemoryRegion *mr, hwaddr addr, unsigned size,
                                            bool match_data, uint64_t data, int fd)
{
    return (MemoryRegionIoeventfd){
        .addr = addr, .size = size, .match_data = match_data,
        .data = match_data ? data : 0, .fd = fd, .mr = mr,
    };
}

int memory_region_add_eventfd(MemoryRegion *mr, hwaddr addr, unsigned size,
                              bool match_data, uint64_t data, int fd, Error **errp)
{
    if (!valid_ioeventfd_size(size)) {
        error_setg(errp, "ioeventfd on region '%s' at 0x%" PRIx64 ": size %u is not 0, 1, "
                   "2, 4 or 8", memory_region_name(mr), addr, size);
        return -EINVAL;
    }
    if ((MemSize)addr + (size ? size : 1) > mr->size) {
        error_setg(errp, "ioeventfd on region '%s' at 0x%" PRIx64 " size %u lies outside "
                   "the region (size 0x%" PRIx64 ")", memory_region_name(mr), addr, size,
                   memory_region_size(mr));
        return -EINVAL;
    }
    MemoryRegionIoeventfd e = make_ioeventfd(mr, addr, size, match_data, data, fd);
    unsigned pos = ioeventfd_position(mr, &e);
    if (pos < mr->ioeventfd_nb && memory_ioeventfd_compare(&mr->ioeventfds[pos], &e) == 0) {
        error_setg(errp, "ioeventfd on region '%s' at 0x%" PRIx64 " (fd %d) is already "
                   "declared", memory_region_name(mr), addr, fd);
        return -EEXIST;
    }
    MemoryRegionIoeventfd *n = realloc(mr->ioeventfds, (mr->ioeventfd_nb + 1) * sizeof(*n));
    if (!n) {
        error_setg(errp, "ioeventfd on region '%s': out of memory", memory_region_name(mr));
        return -ENOMEM;
    }
    memory_region_transaction_begin();
    memory_region_note_change(mr);
    mr->ioeventfds = n;
    memmove(&n[pos + 1], &n[pos], (mr->ioeventfd_nb - pos) * sizeof(*n));
    n[pos] = e;
    mr->ioeventfd_nb++;
    memory_region_transaction_commit();
    return 0;
}

int memory_region_del_eventfd(MemoryRegion *mr, hwaddr addr, unsigned size,
                              bool match_data, uint64_t data, int fd, Error **errp)
{
    MemoryRegionIoeventfd e = make_ioeventfd(mr, addr, size, match_data, data, fd);
    unsigned pos = ioeventfd_position(mr, &e);
    if (pos >= mr->ioeventfd_nb || memory_ioeventfd_compare(&mr->ioeventfds[pos], &e) != 0) {
        error_setg(errp, "no ioeventfd on region '%s' at 0x%" PRIx64 " size %u fd %d",
                   memory_region_name(mr), addr, size, fd);
        return -ENOENT;
    }
    memory_region_transaction_begin();
    memory_region_note_change(mr);
    memmove(&mr->ioeventfds[pos], &mr->ioeventfds[pos + 1],
            (mr->ioeventfd_nb - pos - 1) * sizeof(*mr->ioeventfds));
    mr->ioeventfd_nb--;
    memory_region_transaction_commit();
    return 0;
}
