/*
 * memory/listener.c — MemoryListeners: registration, replay, and the per-commit
 * announcement of what changed.
 *
 * Listeners are kept sorted by priority (equal priorities in registration order), both
 * in one global list and in their address space's list. Calls that add (begin,
 * region_add, region_nop, log_start, eventfd_add, log_global_start) go forward, lowest
 * priority first; calls that remove (region_del, log_stop, eventfd_del, commit,
 * log_global_stop) go in reverse, as QEMU does. Each change is delivered to every
 * listener before the next change.
 */
#include "memory/memory-internal.h"

#include <stdlib.h>

TAILQ_HEAD(MemoryListenerList, MemoryListener);
static struct MemoryListenerList all_listeners = TAILQ_HEAD_INITIALIZER(all_listeners);
static bool global_dirty_log;

bool memory_global_dirty_log_active(void)
{
    return global_dirty_log;
}

void flatview_changes_free(FlatViewChanges *c)
{
    free(c->dels);
    free(c->adds);
    free(c->efd_dels.e);
    free(c->efd_adds.e);
    *c = (FlatViewChanges){ 0 };
}

#define FOR_LISTENERS_FORWARD(l, as) TAILQ_FOREACH(l, &(as)->listeners, link_as)
#define FOR_LISTENERS_REVERSE(l, as) \
    TAILQ_FOREACH_REVERSE(l, &(as)->listeners, MemoryListenerList, link_as)

/* Tell l that ioeventfd e (of fv's address space) comes (adding) or goes. */
static void announce_eventfd(MemoryListener *l, FlatView *fv, const MemoryRegionIoeventfd *e,
                             bool adding)
{
    MemoryRegionSection s = {
        .mr = e->mr, .fv = fv, .offset_within_address_space = e->addr, .size = e->size,
    };
    if (adding && l->eventfd_add)
        l->eventfd_add(l, &s, e->match_data, e->data, e->fd);
    else if (!adding && l->eventfd_del)
        l->eventfd_del(l, &s, e->match_data, e->data, e->fd);
}

static void announce_log_change(MemoryListener *l, MemoryRegionSection *s, uint8_t old,
                                uint8_t new)
{
    if ((new & ~old) && l->log_start)
        l->log_start(l, s, old, new);
    if ((old & ~new) && l->log_stop)
        l->log_stop(l, s, old, new);
}

void memory_listeners_announce(AddressSpace *as, FlatView *fv, const FlatViewChanges *c)
{
    MemoryListener *l;
    FOR_LISTENERS_FORWARD(l, as)
        if (l->begin)
            l->begin(l);
    for (size_t i = 0; i < c->nr_dels; i++) {
        MemoryRegionSection s = flatrange_section(fv, &c->dels[i].fr);
        FOR_LISTENERS_REVERSE(l, as)
            if (l->region_del)
                l->region_del(l, &s);
    }
    for (size_t i = 0; i < c->nr_adds; i++) {
        const FlatViewChange *ch = &c->adds[i];
        MemoryRegionSection s = flatrange_section(fv, &ch->fr);
        FOR_LISTENERS_FORWARD(l, as) {
            if (ch->kind == FV_CHANGE_ADD) {
                if (l->region_add)
                    l->region_add(l, &s);
            } else {
                if (l->region_nop)
                    l->region_nop(l, &s);
                announce_log_change(l, &s, ch->old_log_mask, ch->fr.dirty_log_mask);
            }
        }
    }
    for (size_t i = 0; i < c->efd_dels.nr; i++)
        FOR_LISTENERS_REVERSE(l, as)
            announce_eventfd(l, fv, &c->efd_dels.e[i], false);
    for (size_t i = 0; i < c->efd_adds.nr; i++)
        FOR_LISTENERS_FORWARD(l, as)
            announce_eventfd(l, fv, &c->efd_adds.e[i], true);
    FOR_LISTENERS_REVERSE(l, as)
        if (l->commit)
            l->commit(l);
}

/* Tell one listener about everything in as (adding) or that it all goes (removing). */
static void replay(MemoryListener *l, AddressSpace *as, bool adding)
{
    FlatView *fv = as->current_map;
    if (l->begin)
        l->begin(l);
    if (!adding)
        for (unsigned i = 0; i < as->ioeventfd_nb; i++)
            announce_eventfd(l, fv, &as->ioeventfds[i], false);
    for (unsigned i = 0; i < fv->nr; i++) {
        MemoryRegionSection s = flatrange_section(fv, &fv->ranges[i]);
        uint8_t mask = fv->ranges[i].dirty_log_mask;
        if (adding) {
            if (l->region_add)
                l->region_add(l, &s);
            if (mask && l->log_start)
                l->log_start(l, &s, 0, mask);
        } else {
            if (mask && l->log_stop)
                l->log_stop(l, &s, mask, 0);
            if (l->region_del)
                l->region_del(l, &s);
        }
    }
    if (adding)
        for (unsigned i = 0; i < as->ioeventfd_nb; i++)
            announce_eventfd(l, fv, &as->ioeventfds[i], true);
    if (l->commit)
        l->commit(l);
}

void memory_listener_register(MemoryListener *l, AddressSpace *as)
{
    MemoryListener *other;
    l->address_space = as;
    TAILQ_FOREACH(other, &all_listeners, link)
        if (l->priority < other->priority)
            break;
    if (other)
        TAILQ_INSERT_BEFORE(other, l, link);
    else
        TAILQ_INSERT_TAIL(&all_listeners, l, link);
    TAILQ_FOREACH(other, &as->listeners, link_as)
        if (l->priority < other->priority)
            break;
    if (other)
        TAILQ_INSERT_BEFORE(other, l, link_as);
    else
        TAILQ_INSERT_TAIL(&as->listeners, l, link_as);
    if (global_dirty_log && l->log_global_start)
        l->log_global_start(l);
    replay(l, as, true);
}

static void detach(MemoryListener *l)
{
    TAILQ_REMOVE(&all_listeners, l, link);
    TAILQ_REMOVE(&l->address_space->listeners, l, link_as);
    l->address_space = NULL;
}

void memory_listener_unregister(MemoryListener *l)
{
    if (!l->address_space)
        return;
    replay(l, l->address_space, false);
    detach(l);
}

void memory_listeners_detach_all(AddressSpace *as)
{
    MemoryListener *l;
    while ((l = TAILQ_FIRST(&as->listeners)) != NULL)
        detach(l);
}

static void set_global_dirty_log(bool on)
{
    if (global_dirty_log == on)
        return;
    memory_region_transaction_begin();
    global_dirty_log = on;
    MemoryListener *l;
    if (on) {
        TAILQ_FOREACH(l, &all_listeners, link)
            if (l->log_global_start)
                l->log_global_start(l);
    } else {
        TAILQ_FOREACH_REVERSE(l, &all_listeners, MemoryListenerList, link)
            if (l->log_global_stop)
                l->log_global_stop(l);
    }
    /* RAM ranges gain or lose the migration bit: listeners get log_start/log_stop. */
    memory_mark_all_for_full_render();
    memory_region_transaction_commit();
}

void memory_global_dirty_log_start(void)
{
    set_global_dirty_log(true);
}

void memory_global_dirty_log_stop(void)
{
    set_global_dirty_log(false);
}

void memory_global_dirty_log_sync(void)
{
    MemoryListener *l;
    TAILQ_FOREACH(l, &all_listeners, link) {
        if (!l->log_sync)
            continue;
        FlatView *fv = l->address_space->current_map;
        for (unsigned i = 0; i < fv->nr; i++) {
            if (!fv->ranges[i].dirty_log_mask)
                continue;
            MemoryRegionSection s = flatrange_section(fv, &fv->ranges[i]);
            l->log_sync(l, &s);
        }
    }
}
