/*
 * memory/mtree.c — text dumps of the memory model, in the shape of QEMU's monitor
 * commands: "info mtree" (the region tree of an address space, children by address)
 * and "info mtree -f" (the rendered FlatView, one line per range).
 */
#include "memory/memory-internal.h"

#include <inttypes.h>
#include <stdlib.h>

static const char *region_kind_name(const MemoryRegion *mr, bool readonly)
{
    while (mr->kind == MR_KIND_ALIAS)
        mr = mr->alias;
    switch (mr->kind) {
    case MR_KIND_ROM_DEVICE:
        return mr->romd_mode ? "romd" : "i/o";
    case MR_KIND_ROM:
        return "rom";
    case MR_KIND_RAM:
        return readonly || mr->readonly ? "rom" : "ram";
    default:
        return "i/o";
    }
}

/* Inclusive end of [start, start + size), as QEMU prints it (2^64 - 1 at most). */
static uint64_t last_byte(MemSize start, MemSize size)
{
    MemSize end = start + size;
    if (end > MEMSIZE_2_64)
        end = MEMSIZE_2_64;
    return (uint64_t)(end - 1);
}

static int compare_for_print(const void *pa, const void *pb)
{
    const MemoryRegion *a = *(MemoryRegion *const *)pa, *b = *(MemoryRegion *const *)pb;
    if (a->addr != b->addr)
        return a->addr < b->addr ? -1 : 1;
    if (a->priority != b->priority)
        return a->priority > b->priority ? -1 : 1;
    return 0;
}

typedef struct AliasTargets {
    const MemoryRegion **v;
    size_t nr, cap;
} AliasTargets;

static void remember_alias_target(AliasTargets *t, const MemoryRegion *target)
{
    for (size_t i = 0; i < t->nr; i++)
        if (t->v[i] == target)
            return;
    if (memory_vec_reserve((void **)&t->v, &t->cap, t->nr + 1, sizeof(*t->v)) == 0)
        t->v[t->nr++] = target;
}

static void print_region(FILE *out, const MemoryRegion *mr, MemSize base, int level,
                         AliasTargets *targets)
{
    if (!mr->size && mr->kind != MR_KIND_CONTAINER)
        return;
    fprintf(out, "%*s%016" PRIx64 "-%016" PRIx64 " (prio %" PRId32 ", %s): ", level * 2, "",
            (uint64_t)base, mr->size ? last_byte(base, mr->size) : (uint64_t)base,
            mr->priority, region_kind_name(mr, false));
    if (mr->kind == MR_KIND_ALIAS) {
        fprintf(out, "alias %s @%s %016" PRIx64 "-%016" PRIx64, memory_region_name(mr),
                memory_region_name(mr->alias), mr->alias_offset,
                last_byte(mr->alias_offset, mr->size));
        remember_alias_target(targets, mr->alias);
    } else {
        fputs(memory_region_name(mr), out);
    }
    fputs(mr->enabled ? "\n" : " [disabled]\n", out);

    size_t n = 0;
    const MemoryRegion *c;
    TAILQ_FOREACH(c, &mr->subregions, subregions_link)
        n++;
    if (!n)
        return;
    MemoryRegion **children = malloc(n * sizeof(*children));
    if (!children) {
        fprintf(out, "%*s(out of memory listing %zu children)\n", level * 2 + 2, "", n);
        return;
    }
    n = 0;
    TAILQ_FOREACH(c, &mr->subregions, subregions_link)
        children[n++] = (MemoryRegion *)c;
    qsort(children, n, sizeof(*children), compare_for_print);
    for (size_t i = 0; i < n; i++)
        print_region(out, children[i], base + children[i]->addr, level + 1, targets);
    free(children);
}

void mtree_print(FILE *out, AddressSpace *as)
{
    AliasTargets targets = { 0 };
    fprintf(out, "address-space: %s\n", as->name);
    if (as->root)
        print_region(out, as->root, 0, 1, &targets);
    /* Alias targets that live outside any tree are printed on their own, as QEMU does. */
    for (size_t i = 0; i < targets.nr; i++) {
        if (targets.v[i]->container || targets.v[i] == as->root)
            continue;
        fprintf(out, "\nmemory-region: %s\n", memory_region_name(targets.v[i]));
        print_region(out, targets.v[i], 0, 1, &targets);
    }
    free(targets.v);
}

void mtree_print_flatview(FILE *out, AddressSpace *as)
{
    FlatView *fv = as->current_map;
    fprintf(out, "FlatView for \"%s\", root: %s\n", as->name,
            as->root ? memory_region_name(as->root) : "(none)");
    if (!fv->nr)
        fputs("  No rendered FlatView\n", out);
    for (unsigned i = 0; i < fv->nr; i++) {
        const FlatRange *fr = &fv->ranges[i];
        fprintf(out, "  %016" PRIx64 "-%016" PRIx64 " (prio %" PRId32 ", %s): %s",
                fr->addr, last_byte(fr->addr, fr->size), fr->mr->priority,
                region_kind_name(fr->mr, fr->readonly), memory_region_name(fr->mr));
        if (fr->offset_in_region)
            fprintf(out, " @%016" PRIx64, fr->offset_in_region);
        fputc('\n', out);
    }
}
