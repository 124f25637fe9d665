/*
 * mapcache/mapcache-internal.h — interfaces private to the files of mapcache/.
 *
 * mapcache.c owns the MapCache; mapcache_ram.c (the mapcache as a RAM backend's map and
 * release) keeps its per-cache state, the caller's ram_addr → gpa conversion, inside
 * it and reaches it through mapcache_ram_state(). Nothing outside mapcache/ may
 * include this.
 */
#ifndef XENDM_MAPCACHE_INTERNAL_H
#define XENDM_MAPCACHE_INTERNAL_H

#include "mapcache/mapcache.h"
#include "util/log.h"

typedef struct MapCacheRamState {
    MapCacheRamToGpa to_gpa;    /* NULL: ram_addr == gpa */
    void *opaque;
    LogRateLimit rl;            /* failed guest DMA is guest-triggered: rate-limit it */
} MapCacheRamState;

/* The RAM backend state embedded in mc (zeroed at creation); lives as long as mc. */
MapCacheRamState *mapcache_ram_state(MapCache *mc);

#endif
