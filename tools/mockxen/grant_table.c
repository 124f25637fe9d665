/*
 * tools/mockxen/grant_table.c — the guest's grant table v1 and the device models'
 * mappings of its entries (mockxen.h describes the rules).
 *
 * Concurrency: the guest's vCPU threads write entries and revoke them without d->lock,
 * as a guest does, with atomic operations on guest RAM; the device models' maps and
 * unmaps (the socket server's thread) and the table's placement take d->lock. The
 * entry's flags and domid are one 32-bit word for the compare-and-exchange that pins
 * it (flags in the low half on little-endian x86), so a map sees either the grant
 * before a revoke or none at all.
 */
#include "tools/mockxen/mockxen.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <xen/grant_table.h>

_Static_assert(sizeof(grant_entry_v1_t) == 8 && offsetof(grant_entry_v1_t, flags) == 0 &&
               offsetof(grant_entry_v1_t, domid) == 2 &&
               offsetof(grant_entry_v1_t, frame) == 4, "grant_entry_v1_t layout");

#define PIN_RETRIES 5         /* compare-and-exchange attempts before "unstable", as Xen */

typedef struct MxGrantMapping {
    uint32_t id, count;
    bool writable;
    uint32_t *refs;
} MxGrantMapping;

struct MxGrantHandle {
    uint32_t next_id;
    unsigned nr, cap;
    MxGrantMapping *maps;
};

/* The flags+domid word and the frame of entry ref (inside the table). */
static uint32_t *entry_combo(MxDomain *d, uint32_t ref)
{
    uint8_t *e = d->ram + (d->gnttab.gfn << MX_PAGE_SHIFT) + (uint64_t)ref * 8;
    return (uint32_t *)(void *)e;
}

static uint32_t *entry_frame(MxDomain *d, uint32_t ref)
{
    return entry_combo(d, ref) + 1;
}

static uint16_t *entry_flags(MxDomain *d, uint32_t ref)
{
    return (uint16_t *)(void *)entry_combo(d, ref);
}

static uint32_t table_entries(const MxDomain *d)
{
    return d->gnttab.nr_frames * MX_GNTTAB_PER_FRAME;
}

static int check_ref(const MxDomain *d, uint32_t ref, Error **errp)
{
    if (ref >= table_entries(d)) {
        error_setg_errno(errp, EINVAL, "grant ref %u is beyond the table (%u entries)", ref,
                         table_entries(d));
        return -EINVAL;
    }
    return 0;
}

int mx_gnttab_setup(MxDomain *d, uint64_t gpa, uint32_t nr_frames, Error **errp)
{
    uint64_t gfn = gpa >> MX_PAGE_SHIFT;
    if ((gpa & (MX_PAGE_SIZE - 1)) || nr_frames == 0 || nr_frames > MX_GNTTAB_MAX_FRAMES) {
        error_setg_errno(errp, EINVAL, "grant table at 0x%" PRIx64 " of %u frames (page "
                         "aligned, 1 to %u frames)", gpa, nr_frames, MX_GNTTAB_MAX_FRAMES);
        return -EINVAL;
    }
    for (uint32_t i = 0; i < nr_frames; i++) {
        if (gfn + i > d->max_gfn || !mx_domain_is_populated(d, gfn + i)) {
            error_setg_errno(errp, EINVAL, "grant table frame 0x%" PRIx64 " is not guest RAM",
                             gfn + i);
            return -EINVAL;
        }
    }
    int rc = 0;
    pthread_mutex_lock(&d->lock);
    MxGrantTable *gt = &d->gnttab;
    if (gt->nr_pins) {
        error_setg_errno(errp, EBUSY, "grant table: %" PRIu64 " entries are mapped",
                         gt->nr_pins);
        rc = -EBUSY;
    } else if (!gt->active &&
               !(gt->active = calloc(MX_GNTTAB_MAX_ENTRIES, sizeof(*gt->active)))) {
        error_setg_errno(errp, ENOMEM, "grant table: no memory for its active entries");
        rc = -ENOMEM;
    } else {
        gt->gfn = gfn;
        gt->nr_frames = nr_frames;
    }
    pthread_mutex_unlock(&d->lock);
    return rc;
}

void mx_gnttab_fini(MxDomain *d)
{
    free(d->gnttab.active);
    d->gnttab = (MxGrantTable){ 0 };
}

/* The guest's side, in the order the public header asks for: domid and frame, a write
 * barrier, then the flags that make the entry valid. */
int mx_gnttab_grant(MxDomain *d, uint32_t ref, uint16_t domid, uint32_t gfn, bool readonly,
                    Error **errp)
{
    pthread_mutex_lock(&d->lock);       /* the table's placement only */
    int rc = check_ref(d, ref, errp);
    if (rc == 0) {
        uint16_t *flags = entry_flags(d, ref);
        __atomic_store_n(flags + 1, domid, __ATOMIC_RELAXED);
        __atomic_store_n(entry_frame(d, ref), gfn, __ATOMIC_RELAXED);
        __atomic_store_n(flags, (uint16_t)(GTF_permit_access | (readonly ? GTF_readonly : 0)),
                         __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&d->lock);
    return rc;
}

/* As a guest ends foreign access: only an entry nobody has mapped can be cleared. */
int mx_gnttab_revoke(MxDomain *d, uint32_t ref, Error **errp)
{
    pthread_mutex_lock(&d->lock);
    int rc = check_ref(d, ref, errp);
    uint16_t *flags = rc == 0 ? entry_flags(d, ref) : NULL;
    pthread_mutex_unlock(&d->lock);
    if (rc)
        return rc;
    uint16_t seen = __atomic_load_n(flags, __ATOMIC_ACQUIRE);
    do {
        if (seen & (GTF_reading | GTF_writing))
            return 0;
    } while (!__atomic_compare_exchange_n(flags, &seen, 0, false, __ATOMIC_SEQ_CST,
                                          __ATOMIC_SEQ_CST));
    return 1;
}

/* Set GTF_reading (and GTF_writing) if the entry grants what is asked; Xen checks the
 * type and domid only for the first pin. Call with d->lock held. */
static int set_in_use(MxDomain *d, uint32_t ref, bool writable, Error **errp)
{
    uint32_t *combo = entry_combo(d, ref);
    uint32_t seen = __atomic_load_n(combo, __ATOMIC_ACQUIRE);
    bool first = d->gnttab.active[ref].pins == 0;
    for (unsigned tries = 0; tries < PIN_RETRIES; tries++) {
        uint16_t flags = (uint16_t)seen, domid = (uint16_t)(seen >> 16);
        if (first && ((flags & GTF_type_mask) != GTF_permit_access || domid != MX_DM_DOMID)) {
            error_setg_errno(errp, EINVAL, "grant ref %u: flags 0x%x, domid %u: no access "
                             "for domain %u", ref, flags, domid, MX_DM_DOMID);
            return -EINVAL;
        }
        if (writable && (flags & GTF_readonly)) {
            error_setg_errno(errp, EINVAL, "grant ref %u is read-only: no writable map", ref);
            return -EINVAL;
        }
        uint32_t want = seen | GTF_reading | (writable ? GTF_writing : 0);
        if (__atomic_compare_exchange_n(combo, &seen, want, false, __ATOMIC_SEQ_CST,
                                        __ATOMIC_SEQ_CST))
            return 0;
    }
    error_setg_errno(errp, EINVAL, "grant ref %u: the entry kept changing", ref);
    return -EINVAL;
}

/* Drop the in-use bits no mapping needs any more. Call with d->lock held. */
static void clear_unused(MxDomain *d, uint32_t ref)
{
    const MxGrantActive *act = &d->gnttab.active[ref];
    uint32_t clear = (act->writers ? 0 : GTF_writing) | (act->pins ? 0 : GTF_reading);
    __atomic_fetch_and(entry_combo(d, ref), ~clear, __ATOMIC_SEQ_CST);
}

static void unpin(MxDomain *d, uint32_t ref, bool writable)
{
    MxGrantActive *act = &d->gnttab.active[ref];
    act->pins--;
    act->writers -= writable;
    d->gnttab.nr_pins--;
    clear_unused(d, ref);
}

/* Pin one entry: its frame in *gfn. Call with d->lock held. */
static int pin(MxDomain *d, uint32_t ref, bool writable, uint64_t *gfn, Error **errp)
{
    int rc = check_ref(d, ref, errp);
    if (rc || (rc = set_in_use(d, ref, writable, errp)))
        return rc;
    MxGrantActive *act = &d->gnttab.active[ref];
    if (act->pins == 0) {
        uint64_t frame = __atomic_load_n(entry_frame(d, ref), __ATOMIC_ACQUIRE);
        if (frame > d->max_gfn || !mx_domain_is_populated(d, frame)) {
            error_setg_errno(errp, EINVAL, "grant ref %u names frame 0x%" PRIx64 ", which "
                             "is not guest RAM", ref, frame);
            clear_unused(d, ref);
            return -EINVAL;
        }
        act->gfn = frame;
    }
    act->pins++;
    act->writers += writable;
    d->gnttab.nr_pins++;
    *gfn = act->gfn;
    return 0;
}

MxGrantHandle *mx_gnttab_open(Error **errp)
{
    MxGrantHandle *h = calloc(1, sizeof(*h));
    if (!h)
        error_setg_errno(errp, ENOMEM, "no memory for a grant handle");
    return h;
}

/* Room for one more mapping in h. */
static int reserve_mapping(MxGrantHandle *h, Error **errp)
{
    if (h->nr < h->cap)
        return 0;
    unsigned cap = h->cap ? 2 * h->cap : 16;
    MxGrantMapping *maps = realloc(h->maps, cap * sizeof(*maps));
    if (!maps) {
        error_setg_errno(errp, ENOMEM, "no memory for %u grant mappings", cap);
        return -ENOMEM;
    }
    h->maps = maps;
    h->cap = cap;
    return 0;
}

int mx_gnttab_map(MxDomain *d, MxGrantHandle *h, const uint32_t *refs, uint32_t count,
                  bool writable, uint64_t *gfns, uint32_t *id, Error **errp)
{
    if (count == 0 || count > MX_GNTTAB_MAX_ENTRIES) {
        error_setg_errno(errp, EINVAL, "grant map of %u entries (1 to %u)", count,
                         MX_GNTTAB_MAX_ENTRIES);
        return -EINVAL;
    }
    if (reserve_mapping(h, errp) < 0)
        return -ENOMEM;
    uint32_t *copy = malloc(count * sizeof(*copy));
    if (!copy) {
        error_setg_errno(errp, ENOMEM, "no memory for a grant map of %u entries", count);
        return -ENOMEM;
    }
    memcpy(copy, refs, count * sizeof(*copy));
    pthread_mutex_lock(&d->lock);
    uint32_t done = 0;
    int rc = 0;
    while (done < count && (rc = pin(d, copy[done], writable, &gfns[done], errp)) == 0)
        done++;
    while (rc && done > 0)                  /* all or nothing */
        unpin(d, copy[--done], writable);
    pthread_mutex_unlock(&d->lock);
    if (rc) {
        free(copy);
        return rc;
    }
    *id = h->next_id++;
    h->maps[h->nr++] = (MxGrantMapping){ .id = *id, .count = count, .writable = writable,
                                         .refs = copy };
    return 0;
}

/* Unpin a mapping's entries; a writable one dirties its frames, as Xen's unmap does. */
static void release_mapping(MxDomain *d, MxGrantMapping *m)
{
    uint64_t *dirty = m->writable ? malloc(m->count * sizeof(*dirty)) : NULL;
    pthread_mutex_lock(&d->lock);
    for (uint32_t i = 0; i < m->count; i++) {
        if (dirty)
            dirty[i] = d->gnttab.active[m->refs[i]].gfn;
        unpin(d, m->refs[i], m->writable);
    }
    pthread_mutex_unlock(&d->lock);
    for (uint32_t i = 0; dirty && i < m->count; i++)
        mx_domain_mark_dirty(d, dirty[i], 1, NULL);
    free(dirty);
    free(m->refs);
}

int mx_gnttab_unmap(MxDomain *d, MxGrantHandle *h, uint32_t id, uint32_t count,
                    Error **errp)
{
    for (unsigned i = 0; i < h->nr; i++) {
        if (h->maps[i].id != id)
            continue;
        if (h->maps[i].count != count) {
            error_setg_errno(errp, EINVAL, "grant unmap of %u entries: mapping %u has %u",
                             count, id, h->maps[i].count);
            return -EINVAL;
        }
        release_mapping(d, &h->maps[i]);
        h->maps[i] = h->maps[--h->nr];
        return 0;
    }
    error_setg_errno(errp, EINVAL, "no grant mapping %u", id);
    return -EINVAL;
}

void mx_gnttab_close(MxDomain *d, MxGrantHandle *h)
{
    if (!h)
        return;
    for (unsigned i = 0; i < h->nr; i++)
        release_mapping(d, &h->maps[i]);
    free(h->maps);
    free(h);
}
