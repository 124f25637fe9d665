/*
 * mapcache/mapcache.h — the guest-frame → host-pointer cache.
 *
 * Under Xen the device model has no host pointer for guest RAM: it maps guest frames
 * on demand with a foreign-memory mapper. Mapping is expensive (a hypercall and an
 * mmap), so the mapcache maps guest-physical memory one *bucket* (an aligned run of
 * frames, 1 MiB by default on 64-bit hosts) at a time, on first use, and keeps the
 * mapping for later accesses. Lookups go through a last-entry fast path, then a hash
 * table keyed by bucket. When the mapped total would pass the configured limit, the
 * least recently used unlocked bucket is unmapped.
 *
 * The mapcache never calls Xen itself: it maps through a MapperOps supplied by its
 * creator (xen/ wraps xenforeignmemory_map/unmap; tests and benchmarks use the memfd
 * mapper below).
 *
 * Addresses: the mapcache is keyed by guest-physical address (frame number << 12).
 * Converting a ram_addr (the memory model's RAM offset) to a guest-physical address is
 * the caller's job; mapcache_ram_backend() takes that conversion as a function.
 *
 * Pointers and ownership:
 *   - An *unlocked* pointer from mapcache_map() stays valid only until the next call
 *     into the mapcache (which may evict or invalidate its bucket).
 *   - A *locked* pointer (lock = true) stays valid until the matching mapcache_unlock();
 *     eviction and invalidation never unmap a bucket with a non-zero lock count. Each
 *     successful locked map takes one lock; each unlock drops one.
 *   - Locked buckets may push the mapped total past the limit: when every bucket is
 *     locked, a miss maps one more bucket instead of failing (a warning is logged), and
 *     the excess is evicted again at later misses once buckets are unlocked.
 *   - mapcache_invalidate() (IOREQ_TYPE_INVALIDATE) unmaps every unlocked bucket.
 *     Locked buckets are kept for their holders (with a warning) but detached: later
 *     lookups map the frames afresh, and the old mapping is unmapped at its last unlock.
 *   - Frames the mapper could not map (unpopulated, per-page errors) are never handed
 *     out: an access that starts on one fails with -EFAULT, an access that reaches one
 *     is shortened to the good prefix. The rest of the bucket stays usable. An unlocked
 *     bucket whose requested frame failed is remapped once per such access, so frames
 *     the guest populates later become reachable.
 * The MapCache owns its mappings and unmaps them all in mapcache_free(). It is
 * single-threaded: every call must come from the thread that runs the ioreq loop.
 */
#ifndef XENDM_MAPCACHE_H
#define XENDM_MAPCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memory/memory.h"
#include "util/error.h"

#define MAPCACHE_PAGE_SHIFT 12
#define MAPCACHE_PAGE_SIZE  (1ULL << MAPCACHE_PAGE_SHIFT)

/* QEMU's choices: 1 MiB buckets and a 32 GiB cap on 64-bit hosts, 64 KiB and 2 GiB on
 * 32-bit ones (address space is the scarce resource there). */
#define MAPCACHE_DEFAULT_BUCKET_SIZE (sizeof(void *) >= 8 ? (1ULL << 20) : (1ULL << 16))
#define MAPCACHE_DEFAULT_MAX_SIZE    (sizeof(void *) >= 8 ? (1ULL << 35) : (1ULL << 31))
#define MAPCACHE_MAX_BUCKET_SIZE     (1ULL << 30)
/* Locks one bucket can hold at once (outstanding locked pointers into it). */
#define MAPCACHE_MAX_LOCKS           65535u

/*
 * How the mapcache maps frames. map() maps nr_pages consecutive guest frames starting
 * at first_gfn, contiguously in host memory, with mmap-style prot. It returns the host
 * base, or NULL with errno set when the whole call failed. On success it sets err[i]
 * to 0 for each page it mapped and to a negative errno for each page it could not map
 * (e.g. an unpopulated frame); the mapcache never touches the latter. unmap() releases
 * a mapping returned by map(), all nr_pages of it; it returns 0 or -errno.
 */
typedef struct MapperOps {
    void *(*map)(void *opaque, uint64_t first_gfn, size_t nr_pages, int prot, int *err);
    int (*unmap)(void *opaque, void *host, size_t nr_pages);
} MapperOps;

typedef struct MapCacheConfig {
    uint64_t bucket_size;   /* bytes; power of two, 4 KiB .. 1 GiB; 0: default */
    uint64_t max_size;      /* bytes mapped before LRU eviction; >= bucket_size; 0: default */
} MapCacheConfig;

/* Counters since creation, and the current state. */
typedef struct MapCacheStats {
    uint64_t hits;          /* lookups answered without calling the mapper */
    uint64_t misses;        /* lookups that called it (new bucket, or a remap to retry
                             * a frame that had failed) */
    uint64_t maps;          /* mapper map() calls (including failed ones) */
    uint64_t map_failures;  /* map() calls that failed as a whole */
    uint64_t unmaps;        /* mapper unmap() calls */
    uint64_t evictions;     /* buckets unmapped to stay under the limit */
    uint64_t invalidations; /* mapcache_invalidate() calls */
    uint64_t bad_page_refusals; /* lookups refused because the frame failed to map */
    uint64_t nr_buckets;    /* buckets mapped now (locked and detached included) */
    uint64_t nr_locked;     /* of which with a non-zero lock count */
    uint64_t max_buckets;   /* the limit, in buckets */
} MapCacheStats;

typedef struct MapCache MapCache;

/* Create a mapcache (cfg NULL: defaults). ops->map and ops->unmap are required.
 * Returns NULL with errp set (-EINVAL for a bad configuration). */
MapCache *mapcache_new(const MapCacheConfig *cfg, const MapperOps *ops, void *opaque,
                       Error **errp);
/* Unmap everything and free. Locked buckets are unmapped too (with a warning). */
void mapcache_free(MapCache *mc);

uint64_t mapcache_bucket_size(const MapCache *mc);

/*
 * Host pointer for guest-physical address gpa, mapping its bucket if needed. *len (in:
 * wanted, non-zero) is shortened to what is usable from gpa: at most to the end of the
 * bucket and to the last good frame. With lock, the bucket's lock count is raised and
 * the pointer stays valid until mapcache_unlock(). Returns NULL with errp set on
 * failure: -EINVAL (bad argument), -EFAULT (gpa's frame could not be mapped), the
 * mapper's errno (the map call failed), -EOVERFLOW (MAPCACHE_MAX_LOCKS reached). The error
 * number is in (*errp)->errnum.
 */
void *mapcache_map(MapCache *mc, uint64_t gpa, uint64_t *len, bool lock, Error **errp);

/* Drop one lock of the bucket holding host (any pointer inside it). Returns 0,
 * -ENOENT (not a mapcache pointer) or -EINVAL (bucket not locked), with errp set. */
int mapcache_unlock(MapCache *mc, const void *host, Error **errp);

/* Reverse lookup in O(1): the guest-physical address host points at. Returns 0 or
 * -ENOENT. Works for locked, unlocked and detached (invalidated but locked) buckets. */
int mapcache_host_to_gpa(const MapCache *mc, const void *host, uint64_t *gpa);

/* Lock count of the bucket holding host, or -ENOENT. */
int mapcache_lock_count(const MapCache *mc, const void *host);

/* IOREQ_TYPE_INVALIDATE: unmap every unlocked bucket (see the ownership rules above). */
void mapcache_invalidate(MapCache *mc);

void mapcache_get_stats(const MapCache *mc, MapCacheStats *out);

/*
 * A RAM backend whose map and release go through this mapcache (alloc and modified
 * are NULL: the frames exist, and this cache logs nothing): map() converts ram_addr
 * with to_gpa, then maps with a lock (shortening *len to the bucket end or the
 * contiguous gpa run); release() unlocks. to_gpa returns the guest-physical address of
 * ram_addr and shortens *len to the bytes that stay contiguous in guest-physical space,
 * or returns MAPCACHE_NO_GPA when ram_addr has none; NULL means ram_addr == gpa.
 * A mapcache has one conversion: calling this again replaces it. Its opaque is mc.
 */
#define MAPCACHE_NO_GPA UINT64_MAX
typedef uint64_t (*MapCacheRamToGpa)(void *opaque, ram_addr_t ram_addr, hwaddr *len);
RamBackend mapcache_ram_backend(MapCache *mc, MapCacheRamToGpa to_gpa, void *opaque);

/*
 * The memfd mapper: MapperOps over frames of a memfd, i.e. guest RAM without Xen
 * (tests, benchmarks, runs without a hypervisor). Frames [0, nr_frames) exist; any can
 * be marked unpopulated, and map() then reports -ENOENT for it (beyond nr_frames:
 * -EINVAL), leaving that page inaccessible (PROT_NONE), as a failed foreign mapping is.
 * The mapper owns the memfd; it must outlive every mapping made through it.
 */
typedef struct MemfdMapper MemfdMapper;
extern const MapperOps memfd_mapper_ops;    /* opaque: the MemfdMapper */

MemfdMapper *memfd_mapper_new(uint64_t nr_frames, Error **errp);
void memfd_mapper_free(MemfdMapper *m);
/* Mark [gfn, gfn + nr) populated or not. Returns 0 or -EINVAL (out of range). */
int memfd_mapper_set_populated(MemfdMapper *m, uint64_t gfn, uint64_t nr, bool populated);
/* A shared mapping of all frames (owned by the mapper), for checking from the outside
 * what went through the mapcache. */
uint8_t *memfd_mapper_view(MemfdMapper *m);

#endif
