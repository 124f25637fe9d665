/*
 * memory/region_path.c — canonical region paths: owner path + "/" + escaped "name[N]".
 *
 * N is the lowest index not used by a live region with the same owner and escaped
 * name, as QEMU's "name[*]" child properties. A small hash table maps each
 * "owner/escaped-name" base to the set of indexes in use; entries stay once created
 * (a base costs a few bytes), so lookups never chase deleted slots.
 */
#include "memory/memory-internal.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_OWNER "/machine/unattached"

typedef struct PathBase {
    char *base;
    bool *used;                 /* used[n]: index n taken */
    size_t nr_used_slots;       /* length of used[] */
    size_t lowest_free;         /* every index below this is taken */
} PathBase;

static PathBase **path_table;   /* open addressing, power-of-two size */
static size_t path_table_size, path_table_count;

static uint64_t hash_string(const char *s)
{
    uint64_t h = 1469598103934665603ULL;        /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static PathBase **path_slot(PathBase **table, size_t size, const char *base)
{
    size_t i = hash_string(base) & (size - 1);
    while (table[i] && strcmp(table[i]->base, base) != 0)
        i = (i + 1) & (size - 1);
    return &table[i];
}

static bool path_table_grow(void)
{
    size_t nsize = path_table_size ? path_table_size * 2 : 64;
    PathBase **ntable = calloc(nsize, sizeof(*ntable));
    if (!ntable)
        return false;
    for (size_t i = 0; i < path_table_size; i++)
        if (path_table[i])
            *path_slot(ntable, nsize, path_table[i]->base) = path_table[i];
    free(path_table);
    path_table = ntable;
    path_table_size = nsize;
    return true;
}

static PathBase *path_base_find(const char *base)
{
    return path_table_size ? *path_slot(path_table, path_table_size, base) : NULL;
}

/* The entry for base, created if missing; NULL only when memory is exhausted. */
static PathBase *path_base_get(const char *base)
{
    if ((path_table_count + 1) * 2 > path_table_size && !path_table_grow())
        return NULL;
    PathBase **slot = path_slot(path_table, path_table_size, base);
    if (!*slot) {
        PathBase *pb = calloc(1, sizeof(*pb));
        if (!pb || !(pb->base = strdup(base))) {
            free(pb);
            return NULL;
        }
        *slot = pb;
        path_table_count++;
    }
    return *slot;
}

static bool needs_escape(char c)
{
    return c == '/' || c == '[' || c == ']' || c == '\\';
}

char *memory_region_escape_name(const char *name)
{
    size_t len = 0;
    for (const char *p = name; *p; p++)
        len += needs_escape(*p) ? 4 : 1;
    char *out = malloc(len + 1);
    if (!out)
        return NULL;
    char *q = out;
    for (const char *p = name; *p; p++) {
        if (needs_escape(*p)) {
            sprintf(q, "\\x%02x", (unsigned char)*p);
            q += 4;
        } else {
            *q++ = *p;
        }
    }
    *q = '\0';
    return out;
}

static size_t path_base_take_index(PathBase *pb)
{
    size_t n = pb->lowest_free;
    while (n < pb->nr_used_slots && pb->used[n])
        n++;
    if (n >= pb->nr_used_slots) {
        size_t nslots = pb->nr_used_slots ? pb->nr_used_slots * 2 : 4;
        bool *nused = realloc(pb->used, nslots * sizeof(*nused));
        if (!nused)
            return SIZE_MAX;
        memset(nused + pb->nr_used_slots, 0, (nslots - pb->nr_used_slots) * sizeof(*nused));
        pb->used = nused;
        pb->nr_used_slots = nslots;
    }
    pb->used[n] = true;
    pb->lowest_free = n + 1;
    return n;
}

char *memory_region_path_claim(const char *owner, const char *name)
{
    if (!name)
        return NULL;
    char *escaped = memory_region_escape_name(name);
    if (!escaped)
        return NULL;
    char *base = NULL, *path = NULL;
    if (asprintf(&base, "%s/%s", owner ? owner : DEFAULT_OWNER, escaped) >= 0) {
        PathBase *pb = path_base_get(base);
        size_t n = pb ? path_base_take_index(pb) : SIZE_MAX;
        if (n != SIZE_MAX && asprintf(&path, "%s[%zu]", base, n) < 0) {
            pb->used[n] = false;
            pb->lowest_free = n;
            path = NULL;
        }
    }
    free(base);
    free(escaped);
    return path;
}

void memory_region_path_release(const char *path)
{
    if (!path)
        return;
    const char *bracket = strrchr(path, '[');
    assert(bracket && "canonical path without an index");
    char *base = strndup(path, (size_t)(bracket - path));
    if (!base)
        return;         /* the index stays taken: harmless, only less compact */
    size_t n = strtoull(bracket + 1, NULL, 10);
    PathBase *pb = path_base_find(base);
    free(base);
    assert(pb && n < pb->nr_used_slots && pb->used[n]);
    pb->used[n] = false;
    if (n < pb->lowest_free)
        pb->lowest_free = n;
}
