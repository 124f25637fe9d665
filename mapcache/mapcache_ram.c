/*
 * mapcache/mapcache_ram.c — the mapcache as the map and release of a RAM backend.
 *
 * Under Xen, RAM blocks have no host pointer; address_space_rw() asks the block's
 * backend for one per contiguous piece. map() converts ram_addr to a guest-physical
 * address with the caller's conversion and maps it with a lock, so the bucket cannot be
 * evicted or invalidated while the access layer copies; release() drops that lock. A
 * piece ends at a bucket boundary (or before a frame that failed to map, or where the
 * ram_addr → gpa conversion stops being contiguous): *len is shortened and the access
 * layer loops.
 * Failures are guest-triggered (DMA to an unpopulated frame), so they are logged
 * rate-limited and answered with NULL, which the access layer turns into an error.
 */
#include "mapcache/mapcache-internal.h"

#include <inttypes.h>

static void *ram_map(void *opaque, ram_addr_t ram_addr, hwaddr *len, bool is_write)
{
    MapCache *mc = opaque;
    MapCacheRamState *st = mapcache_ram_state(mc);
    uint64_t want = *len;
    uint64_t gpa = ram_addr;

    if (st->to_gpa) {
        hwaddr contiguous = *len;
        gpa = st->to_gpa(st->opaque, ram_addr, &contiguous);
        if (gpa == MAPCACHE_NO_GPA || contiguous == 0) {
            log_ratelimited(&st->rl, LOG_WARN, "mapcache: ram_addr 0x%" PRIx64 " has no "
                            "guest-physical address", ram_addr);
            return NULL;
        }
        if (contiguous < want)
            want = contiguous;
    }
    Error *err = NULL;
    void *host = mapcache_map(mc, gpa, &want, true, &err);
    if (!host) {
        log_ratelimited(&st->rl, LOG_WARN, "%s %s ram_addr 0x%" PRIx64,
                        error_get_pretty(err), is_write ? "writing" : "reading", ram_addr);
        error_free(err);
        return NULL;
    }
    *len = want;
    return host;
}

static void ram_release(void *opaque, void *host, hwaddr len, bool is_write)
{
    MapCache *mc = opaque;
    Error *err = NULL;
    if (mapcache_unlock(mc, host, &err) < 0) {
        /* The access layer released something it did not map: a programming error,
         * but never worth crashing the device model over. */
        log_ratelimited(&mapcache_ram_state(mc)->rl, LOG_ERROR, "%s",
                        error_get_pretty(err));
        error_free(err);
    }
}

RamBackend mapcache_ram_backend(MapCache *mc, MapCacheRamToGpa to_gpa, void *opaque)
{
    MapCacheRamState *st = mapcache_ram_state(mc);
    st->to_gpa = to_gpa;
    st->opaque = opaque;
    return (RamBackend){ .map = ram_map, .release = ram_release, .opaque = mc };
}
