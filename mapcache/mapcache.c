/*
 * mapcache/mapcache.c — buckets, lookup, LRU eviction, locks and invalidation.
 *
 * Every mapped bucket is a MapCacheEntry, reachable three ways:
 *   - the gpa hash (bucket number → entry), for lookups; detached entries (invalidated
 *     while locked) are not in it;
 *   - the host hash, for reverse lookups and unlocks in O(1). It is keyed by host
 *     address >> bucket_shift ("host chunk"). A mapping is one bucket long, so it
 *     overlaps at most two consecutive chunks and is chained under both; a chunk
 *     overlaps at most two mappings, so chains stay short. The table is indexed by
 *     chunk & mask: consecutive chunks never share a slot, which is what lets an entry
 *     carry one link per chunk (host_next[0] for its first chunk, [1] for its last);
 *   - the LRU list, holding exactly the attached entries with lock count 0, most
 *     recently used first. Eviction takes from its tail, so it never sees a locked
 *     entry.
 * mc->last is the last entry a lookup returned (always attached), the fast path.
 */
#include "mapcache/mapcache-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "util/log.h"

#define BITS_PER_LONG (sizeof(unsigned long) * CHAR_BIT)
#define HASH_MIN_SLOTS 16u
#define HASH_MAX_SLOTS (1u << 20)

typedef struct MapCacheEntry MapCacheEntry;
struct MapCacheEntry {
    uint64_t bucket;            /* gpa >> bucket_shift */
    uint8_t *host;              /* base of the bucket's mapping */
    uint32_t lock;              /* outstanding locks, at most MAPCACHE_MAX_LOCKS */
    bool detached;              /* invalidated while locked: not in the gpa hash */
    unsigned long *bad;         /* pages that failed to map (bit set); NULL when none */
    MapCacheEntry *gpa_next;
    MapCacheEntry *host_next[2];
    MapCacheEntry *lru_prev, *lru_next;
};

struct MapCache {
    MapperOps ops;
    void *opaque;
    unsigned bucket_shift;
    uint64_t bucket_size;
    size_t pages_per_bucket;
    uint64_t max_buckets;       /* the size limit, in buckets */
    MapCacheEntry *last;        /* the fast path (see above); NULL after invalidation */
    MapCacheEntry **gpa_table;  /* gpa_mask + 1 chains, indexed by bucket & gpa_mask */
    uint64_t gpa_mask;
    MapCacheEntry **host_table; /* host_mask + 1 chains, indexed by host chunk & mask */
    uint64_t host_mask;
    MapCacheEntry *lru_head, *lru_tail;     /* most / least recently used */
    int *page_err;              /* per-page errors of one map call */
    MapCacheStats stats;
    LogRateLimit rl;            /* warnings the guest can trigger */
    MapCacheRamState ram;
};

/* ---- configuration ------------------------------------------------------------- */

static bool is_pow2(uint64_t x)
{
    return x && !(x & (x - 1));
}

static unsigned log2_u64(uint64_t x)
{
    return 63u - (unsigned)__builtin_clzll(x);
}

static uint64_t hash_slots_for(uint64_t entries)
{
    uint64_t slots = HASH_MIN_SLOTS;
    while (slots < entries && slots < HASH_MAX_SLOTS)
        slots <<= 1;
    return slots;
}

static int check_config(const MapCacheConfig *cfg, uint64_t *bucket_size,
                        uint64_t *max_size, Error **errp)
{
    *bucket_size = cfg && cfg->bucket_size ? cfg->bucket_size : MAPCACHE_DEFAULT_BUCKET_SIZE;
    *max_size = cfg && cfg->max_size ? cfg->max_size : MAPCACHE_DEFAULT_MAX_SIZE;
    if (!is_pow2(*bucket_size) || *bucket_size < MAPCACHE_PAGE_SIZE ||
        *bucket_size > MAPCACHE_MAX_BUCKET_SIZE) {
        error_setg_errno(errp, EINVAL, "mapcache bucket size 0x%" PRIx64 " is not a power "
                         "of two between 0x%llx and 0x%llx", *bucket_size,
                         MAPCACHE_PAGE_SIZE, MAPCACHE_MAX_BUCKET_SIZE);
        return -EINVAL;
    }
    if (*max_size < *bucket_size) {
        error_setg_errno(errp, EINVAL, "mapcache size limit 0x%" PRIx64 " is below one "
                         "bucket (0x%" PRIx64 ")", *max_size, *bucket_size);
        return -EINVAL;
    }
    return 0;
}

/* ---- the hashes and the LRU list ------------------------------------------------ */

static MapCacheEntry **gpa_slot(MapCache *mc, uint64_t bucket)
{
    return &mc->gpa_table[bucket & mc->gpa_mask];
}

static void gpa_insert(MapCache *mc, MapCacheEntry *e)
{
    MapCacheEntry **slot = gpa_slot(mc, e->bucket);
    e->gpa_next = *slot;
    *slot = e;
}

static void gpa_remove(MapCache *mc, MapCacheEntry *e)
{
    MapCacheEntry **pp = gpa_slot(mc, e->bucket);
    while (*pp != e)
        pp = &(*pp)->gpa_next;
    *pp = e->gpa_next;
}

static MapCacheEntry *gpa_find(const MapCache *mc, uint64_t bucket)
{
    MapCacheEntry *e = mc->gpa_table[bucket & mc->gpa_mask];
    while (e && e->bucket != bucket)
        e = e->gpa_next;
    return e;
}

static uint64_t host_chunk(const MapCache *mc, const void *p)
{
    return (uintptr_t)p >> mc->bucket_shift;
}

/* The chunks an entry is chained under: [0] holds its first byte, [1] its last. */
static uint64_t entry_chunk(const MapCache *mc, const MapCacheEntry *e, int which)
{
    return host_chunk(mc, e->host + (which ? mc->bucket_size - 1 : 0));
}

/* Which of e's links continues the chain of table slot `index`. */
static int host_link(const MapCache *mc, const MapCacheEntry *e, uint64_t index)
{
    return (entry_chunk(mc, e, 0) & mc->host_mask) == index ? 0 : 1;
}

static void host_insert(MapCache *mc, MapCacheEntry *e)
{
    for (int which = 0; which < 2; which++) {
        uint64_t index = entry_chunk(mc, e, which) & mc->host_mask;
        if (which && index == (entry_chunk(mc, e, 0) & mc->host_mask))
            break;              /* bucket-aligned mapping: one chunk */
        e->host_next[which] = mc->host_table[index];
        mc->host_table[index] = e;
    }
}

static void host_remove(MapCache *mc, MapCacheEntry *e)
{
    for (int which = 0; which < 2; which++) {
        uint64_t index = entry_chunk(mc, e, which) & mc->host_mask;
        if (which && index == (entry_chunk(mc, e, 0) & mc->host_mask))
            break;
        MapCacheEntry **pp = &mc->host_table[index];
        while (*pp != e)
            pp = &(*pp)->host_next[host_link(mc, *pp, index)];
        *pp = e->host_next[which];
    }
}

static MapCacheEntry *host_find(const MapCache *mc, const void *p)
{
    uint64_t index = host_chunk(mc, p) & mc->host_mask;
    const uint8_t *q = p;
    MapCacheEntry *e = mc->host_table[index];
    while (e && !(q >= e->host && q < e->host + mc->bucket_size))
        e = e->host_next[host_link(mc, e, index)];
    return e;
}

static void lru_unlink(MapCache *mc, MapCacheEntry *e)
{
    if (e->lru_prev)
        e->lru_prev->lru_next = e->lru_next;
    else
        mc->lru_head = e->lru_next;
    if (e->lru_next)
        e->lru_next->lru_prev = e->lru_prev;
    else
        mc->lru_tail = e->lru_prev;
    e->lru_prev = e->lru_next = NULL;
}

static void lru_push_head(MapCache *mc, MapCacheEntry *e)
{
    e->lru_prev = NULL;
    e->lru_next = mc->lru_head;
    if (mc->lru_head)
        mc->lru_head->lru_prev = e;
    else
        mc->lru_tail = e;
    mc->lru_head = e;
}

static inline __attribute__((always_inline)) void lru_touch(MapCache *mc, MapCacheEntry *e)
{
    if (mc->lru_head != e) {
        lru_unlink(mc, e);
        lru_push_head(mc, e);
    }
}

static bool in_lru(const MapCacheEntry *e)
{
    return !e->detached && e->lock == 0;
}

/* ---- mapping and unmapping buckets ---------------------------------------------- */

static void unmap_entry(MapCache *mc, MapCacheEntry *e)
{
    mc->stats.unmaps++;
    int ret = mc->ops.unmap(mc->opaque, e->host, mc->pages_per_bucket);
    if (ret < 0)
        log_warn("mapcache: cannot unmap bucket at gpa 0x%" PRIx64 " (host %p): %s",
                 e->bucket << mc->bucket_shift, (void *)e->host, strerror(-ret));
    e->host = NULL;
    free(e->bad);
    e->bad = NULL;
}

/* Map e's bucket into e->host and e->bad. Returns 0 or -errno with errp set. */
static int map_entry(MapCache *mc, MapCacheEntry *e, Error **errp)
{
    uint64_t first_gfn = e->bucket << (mc->bucket_shift - MAPCACHE_PAGE_SHIFT);
    size_t nr = mc->pages_per_bucket;

    mc->stats.maps++;
    errno = 0;
    void *host = mc->ops.map(mc->opaque, first_gfn, nr, PROT_READ | PROT_WRITE, mc->page_err);
    if (!host) {
        int err = errno ? errno : EIO;
        mc->stats.map_failures++;
        error_setg_errno(errp, err, "mapcache: cannot map %zu frames at gfn 0x%" PRIx64,
                         nr, first_gfn);
        return -err;
    }
    e->host = host;
    for (size_t i = 0; i < nr; i++) {
        if (mc->page_err[i] == 0)
            continue;
        if (!e->bad) {
            e->bad = calloc((nr + BITS_PER_LONG - 1) / BITS_PER_LONG, sizeof(unsigned long));
            if (!e->bad) {
                unmap_entry(mc, e);
                error_setg_errno(errp, ENOMEM, "mapcache: no memory for the bad-page map "
                                 "of gfn 0x%" PRIx64, first_gfn);
                return -ENOMEM;
            }
        }
        e->bad[i / BITS_PER_LONG] |= 1ul << (i % BITS_PER_LONG);
    }
    return 0;
}

/* Unmap e and forget it, wherever it is linked. */
static void destroy_entry(MapCache *mc, MapCacheEntry *e)
{
    if (!e->detached)
        gpa_remove(mc, e);
    if (in_lru(e))
        lru_unlink(mc, e);
    if (mc->last == e)
        mc->last = NULL;
    if (e->lock)
        mc->stats.nr_locked--;
    if (e->host) {              /* NULL after a failed remap */
        host_remove(mc, e);
        unmap_entry(mc, e);
    }
    mc->stats.nr_buckets--;
    free(e);
}

/* Unmap least recently used unlocked buckets until one more fits under the limit. */
static void make_room(MapCache *mc)
{
    while (mc->stats.nr_buckets >= mc->max_buckets && mc->lru_tail) {
        destroy_entry(mc, mc->lru_tail);
        mc->stats.evictions++;
    }
    if (mc->stats.nr_buckets >= mc->max_buckets)
        log_ratelimited(&mc->rl, LOG_WARN, "mapcache: all %" PRIu64 " buckets are locked; "
                        "growing past the limit of %" PRIu64, mc->stats.nr_buckets,
                        mc->max_buckets);
}

static MapCacheEntry *new_entry(MapCache *mc, uint64_t bucket, Error **errp)
{
    make_room(mc);
    MapCacheEntry *e = calloc(1, sizeof(*e));
    if (!e) {
        error_setg_errno(errp, ENOMEM, "mapcache: no memory for bucket 0x%" PRIx64, bucket);
        return NULL;
    }
    e->bucket = bucket;
    if (map_entry(mc, e, errp) < 0) {
        free(e);
        return NULL;
    }
    gpa_insert(mc, e);
    host_insert(mc, e);
    lru_push_head(mc, e);
    mc->stats.nr_buckets++;
    return e;
}

/* Map an unlocked entry afresh (its failed pages may have been populated since). */
static int remap_entry(MapCache *mc, MapCacheEntry *e, Error **errp)
{
    host_remove(mc, e);
    unmap_entry(mc, e);
    int ret = map_entry(mc, e, errp);
    if (ret < 0) {
        destroy_entry(mc, e);
        return ret;
    }
    host_insert(mc, e);
    return 0;
}

/* ---- failed pages ---------------------------------------------------------------- */

static bool page_is_bad(const MapCacheEntry *e, size_t page)
{
    return e->bad && (e->bad[page / BITS_PER_LONG] >> (page % BITS_PER_LONG)) & 1;
}

/* Shorten *len (from offset `off` in the bucket) to stop before the first failed page
 * after the first one. The first page itself must be good. */
static void clip_to_good_pages(const MapCacheEntry *e, uint64_t off, uint64_t *len)
{
    size_t first = off >> MAPCACHE_PAGE_SHIFT;
    size_t last = (off + *len - 1) >> MAPCACHE_PAGE_SHIFT;
    for (size_t page = first + 1; page <= last; page++) {
        if (page_is_bad(e, page)) {
            *len = ((uint64_t)page << MAPCACHE_PAGE_SHIFT) - off;
            return;
        }
    }
}

/* ---- public API ------------------------------------------------------------------ */

MapCache *mapcache_new(const MapCacheConfig *cfg, const MapperOps *ops, void *opaque,
                       Error **errp)
{
    uint64_t bucket_size, max_size;
    if (!ops || !ops->map || !ops->unmap) {
        error_setg_errno(errp, EINVAL, "mapcache: the mapper needs map and unmap");
        return NULL;
    }
    if (check_config(cfg, &bucket_size, &max_size, errp) < 0)
        return NULL;

    MapCache *mc = calloc(1, sizeof(*mc));
    if (!mc)
        goto nomem;
    mc->ops = *ops;
    mc->opaque = opaque;
    mc->bucket_shift = log2_u64(bucket_size);
    mc->bucket_size = bucket_size;
    mc->pages_per_bucket = bucket_size >> MAPCACHE_PAGE_SHIFT;
    mc->max_buckets = max_size >> mc->bucket_shift;
    mc->stats.max_buckets = mc->max_buckets;
    uint64_t slots = hash_slots_for(mc->max_buckets);
    mc->gpa_mask = slots - 1;
    mc->host_mask = 2 * slots - 1;
    mc->gpa_table = calloc(slots, sizeof(*mc->gpa_table));
    mc->host_table = calloc(2 * slots, sizeof(*mc->host_table));
    mc->page_err = calloc(mc->pages_per_bucket, sizeof(*mc->page_err));
    if (!mc->gpa_table || !mc->host_table || !mc->page_err)
        goto nomem;
    return mc;

nomem:
    error_setg_errno(errp, ENOMEM, "mapcache: no memory for a cache of %" PRIu64
                     " buckets of 0x%" PRIx64 " bytes", max_size / bucket_size, bucket_size);
    mapcache_free(mc);
    return NULL;
}

void mapcache_free(MapCache *mc)
{
    if (!mc)
        return;
    if (mc->host_table) {
        if (mc->stats.nr_locked)
            log_warn("mapcache: freeing with %" PRIu64 " locked buckets", mc->stats.nr_locked);
        for (uint64_t i = 0; i <= mc->host_mask; i++) {
            while (mc->host_table[i])
                destroy_entry(mc, mc->host_table[i]);
        }
    }
    free(mc->gpa_table);
    free(mc->host_table);
    free(mc->page_err);
    free(mc);
}

uint64_t mapcache_bucket_size(const MapCache *mc)
{
    return mc->bucket_size;
}

/* The attached entry for bucket, or NULL: the last-entry fast path, then the hash. */
static inline MapCacheEntry *find_entry(const MapCache *mc, uint64_t bucket)
{
    MapCacheEntry *e = mc->last;
    return e && e->bucket == bucket ? e : gpa_find(mc, bucket);
}

/* The entry for bucket, mapped if it was not; *mapped says the mapper was called. */
static MapCacheEntry *lookup_bucket(MapCache *mc, uint64_t bucket, bool *mapped, Error **errp)
{
    MapCacheEntry *e = find_entry(mc, bucket);
    if (e)
        return e;
    *mapped = true;
    return new_entry(mc, bucket, errp);
}

/* Make sure the page at off is usable, remapping an unlocked entry that was not just
 * mapped. Returns e, or NULL with errp set (after a failed remap e is gone). */
static MapCacheEntry *require_good_page(MapCache *mc, MapCacheEntry *e, uint64_t off,
                                        bool *mapped, Error **errp)
{
    size_t page = off >> MAPCACHE_PAGE_SHIFT;
    if (!page_is_bad(e, page))
        return e;
    if (!*mapped && e->lock == 0) {
        *mapped = true;
        if (remap_entry(mc, e, errp) < 0)
            return NULL;
        if (!page_is_bad(e, page))
            return e;
    }
    mc->stats.bad_page_refusals++;
    uint64_t gpa = (e->bucket << mc->bucket_shift) + off;
    error_setg_errno(errp, EFAULT, "mapcache: guest frame 0x%" PRIx64 " could not be mapped",
                     gpa >> MAPCACHE_PAGE_SHIFT);
    return NULL;
}

static MapCacheEntry *lookup_good(MapCache *mc, uint64_t bucket, uint64_t off, Error **errp)
{
    bool mapped = false;
    MapCacheEntry *e = lookup_bucket(mc, bucket, &mapped, errp);
    if (e && e->bad)
        e = require_good_page(mc, e, off, &mapped, errp);
    if (mapped)
        mc->stats.misses++;
    else
        mc->stats.hits++;
    return e;
}

/* Lock or touch e and return the pointer for gpa, *len clipped to what is usable. */
static inline void *hand_out(MapCache *mc, MapCacheEntry *e, uint64_t gpa, uint64_t *len,
                             bool lock, Error **errp)
{
    uint64_t off = gpa & (mc->bucket_size - 1);
    if (lock) {
        if (__builtin_expect(e->lock >= MAPCACHE_MAX_LOCKS, 0)) {
            error_setg_errno(errp, EOVERFLOW, "mapcache: bucket of gpa 0x%" PRIx64
                             " already has %u locks", gpa, MAPCACHE_MAX_LOCKS);
            return NULL;
        }
        if (e->lock++ == 0) {
            lru_unlink(mc, e);
            mc->stats.nr_locked++;
        }
    } else if (e->lock == 0) {
        lru_touch(mc, e);
    }
    mc->last = e;
    if (*len > mc->bucket_size - off)
        *len = mc->bucket_size - off;
    if (e->bad)
        clip_to_good_pages(e, off, len);
    return e->host + off;
}

/* Everything but a plain hit: bad arguments, misses, buckets with failed pages. */
static __attribute__((noinline)) void *map_slow(MapCache *mc, uint64_t gpa, uint64_t *len,
                                                bool lock, Error **errp)
{
    if (*len == 0) {
        error_setg_errno(errp, EINVAL, "mapcache: zero-length map at gpa 0x%" PRIx64, gpa);
        return NULL;
    }
    uint64_t off = gpa & (mc->bucket_size - 1);
    MapCacheEntry *e = lookup_good(mc, gpa >> mc->bucket_shift, off, errp);
    return e ? hand_out(mc, e, gpa, len, lock, errp) : NULL;
}

void *mapcache_map(MapCache *mc, uint64_t gpa, uint64_t *len, bool lock, Error **errp)
{
    MapCacheEntry *e = find_entry(mc, gpa >> mc->bucket_shift);
    if (__builtin_expect(!e || e->bad || *len == 0, 0))
        return map_slow(mc, gpa, len, lock, errp);
    mc->stats.hits++;
    return hand_out(mc, e, gpa, len, lock, errp);
}

int mapcache_unlock(MapCache *mc, const void *host, Error **errp)
{
    MapCacheEntry *e = host_find(mc, host);
    if (!e) {
        error_setg_errno(errp, ENOENT, "mapcache: %p is not a mapcache pointer", host);
        return -ENOENT;
    }
    if (e->lock == 0) {
        error_setg_errno(errp, EINVAL, "mapcache: unlock of unlocked bucket at %p", host);
        return -EINVAL;
    }
    if (--e->lock > 0)
        return 0;
    mc->stats.nr_locked--;
    if (e->detached)
        destroy_entry(mc, e);
    else
        lru_push_head(mc, e);
    return 0;
}

int mapcache_host_to_gpa(const MapCache *mc, const void *host, uint64_t *gpa)
{
    const MapCacheEntry *e = host_find(mc, host);
    if (!e)
        return -ENOENT;
    *gpa = (e->bucket << mc->bucket_shift) + (uint64_t)((const uint8_t *)host - e->host);
    return 0;
}

int mapcache_lock_count(const MapCache *mc, const void *host)
{
    const MapCacheEntry *e = host_find(mc, host);
    if (!e)
        return -ENOENT;
    return (int)e->lock;
}

void mapcache_invalidate(MapCache *mc)
{
    uint64_t kept = 0;
    mc->stats.invalidations++;
    mc->last = NULL;
    for (uint64_t i = 0; i <= mc->gpa_mask; i++) {
        MapCacheEntry *e = mc->gpa_table[i];
        while (e) {
            MapCacheEntry *next = e->gpa_next;
            if (e->lock) {
                gpa_remove(mc, e);
                e->detached = true;
                kept++;
            } else {
                destroy_entry(mc, e);
            }
            e = next;
        }
    }
    if (kept)                   /* the guest triggers invalidations: rate-limit */
        log_ratelimited(&mc->rl, LOG_WARN, "mapcache: invalidate kept %" PRIu64 " locked "
                        "buckets; they are unmapped at their last unlock", kept);
}

void mapcache_get_stats(const MapCache *mc, MapCacheStats *out)
{
    *out = mc->stats;
}

MapCacheRamState *mapcache_ram_state(MapCache *mc)
{
    return &mc->ram;
}
