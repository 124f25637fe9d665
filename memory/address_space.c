/*
 * memory/address_space.c — AddressSpace life cycle and section lookup.
 *
 * An address space owns its current FlatView (one reference) and the flattened list
 * of ioeventfds. It is rendered completely at init; later commits update it through
 * address_space_update(). Destroying it tells its listeners that every range and
 * ioeventfd went away, then detaches them.
 */
#include "memory/memory-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct AddressSpaceList memory_address_spaces = TAILQ_HEAD_INITIALIZER(memory_address_spaces);

int address_space_init(AddressSpace *as, MemoryRegion *root, const char *name, Error **errp)
{
    memset(as, 0, sizeof(*as));
    TAILQ_INIT(&as->listeners);
    as->root = root;
    as->name = strdup(name ? name : "anonymous");
    as->current_map = flatview_new(root);
    if (!as->name || !as->current_map) {
        error_setg(errp, "cannot create address space '%s': out of memory",
                   name ? name : "anonymous");
        free(as->name);
        free(as->current_map);
        return -ENOMEM;
    }
    TAILQ_INSERT_TAIL(&memory_address_spaces, as, address_spaces_link);
    int ret = address_space_update(as, NULL, 0, true, errp);
    if (ret < 0) {
        error_prepend(errp, "cannot create address space '%s'", as->name);
        TAILQ_REMOVE(&memory_address_spaces, as, address_spaces_link);
        flatview_unref(as->current_map);
        free(as->ioeventfds);
        free(as->name);
        return ret;
    }
    return 0;
}

void address_space_destroy(AddressSpace *as)
{
    /* An empty root renders nothing: listeners see every range and ioeventfd go. */
    MemoryRegion *root = as->root;
    as->root = NULL;
    Error *err = NULL;
    if (address_space_update(as, NULL, 0, true, &err) < 0)
        error_free(err);    /* listeners may have missed deletions; we still tear down */
    memory_listeners_detach_all(as);
    memory_address_space_forget(as);
    TAILQ_REMOVE(&memory_address_spaces, as, address_spaces_link);
    as->root = root;
    flatview_unref(as->current_map);
    as->current_map = NULL;
    free(as->ioeventfds);
    as->ioeventfds = NULL;
    as->ioeventfd_nb = 0;
    free(as->name);
    as->name = NULL;
}

FlatView *address_space_get_flatview(AddressSpace *as)
{
    flatview_ref(as->current_map);
    return as->current_map;
}

/* The section at addr by binary search of the view (holes: mr NULL, up to the next
 * range). Used for holes and when the view has no dispatch. */
static MemoryRegionSection flatview_lookup(FlatView *fv, hwaddr addr)
{
    size_t i = flatview_first_ending_after(fv, addr);
    if (i < fv->nr && fv->ranges[i].addr <= addr) {
        MemoryRegionSection s = flatrange_section(fv, &fv->ranges[i]);
        hwaddr skip = addr - fv->ranges[i].addr;
        s.offset_within_address_space = addr;
        s.offset_within_region += skip;
        s.size -= skip;
        return s;
    }
    MemSize end = i < fv->nr ? fv->ranges[i].addr : MEMSIZE_2_64;
    return (MemoryRegionSection){
        .fv = fv, .offset_within_address_space = addr, .size = end - addr,
    };
}

MemoryRegionSection address_space_lookup(AddressSpace *as, hwaddr addr)
{
    FlatView *fv = as->current_map;
    const MemoryRegionSection *d = fv->dispatch
        ? address_space_dispatch_lookup(fv->dispatch, addr) : NULL;
    if (!d)
        return flatview_lookup(fv, addr);
    MemoryRegionSection s = *d;
    hwaddr skip = addr - d->offset_within_address_space;
    s.fv = fv;
    s.offset_within_address_space = addr;
    s.offset_within_region += skip;
    s.size -= skip;
    return s;
}
