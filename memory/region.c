/*
 * memory/region.c — MemoryRegion life cycle and tree edits.
 *
 * Every edit runs inside a transaction and reports the edited region to the
 * transaction layer before and after the change (memory_region_note_change), which
 * is how the outermost commit knows which address spans to re-render. Misuse that
 * can only be a programming error (finalising a region still in a tree or still the
 * target of aliases) stops the program with a message naming the region; everything a
 * caller may get wrong at run time returns -errno with an Error.
 */
#include "memory/memory-internal.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

static uint64_t last_add_seq;

const char *memory_region_name(const MemoryRegion *mr)
{
    return mr->name ? mr->name : "(anonymous)";
}

static void memory_fatal(const char *what, const MemoryRegion *mr, const char *why)
{
    log_error("%s: region '%s': %s", what, memory_region_name(mr), why);
    abort();
}

/* The region's own copy of its name. Out of memory the region stays anonymous (it
 * still works; only messages and dumps lose the name), and that is logged. */
static char *copy_name(const char *name)
{
    if (!name)
        return NULL;
    size_t len = strlen(name) + 1;
    char *copy = malloc(len);
    if (!copy) {
        log_error("out of memory copying region name '%s': the region stays anonymous", name);
        return NULL;
    }
    return memcpy(copy, name, len);
}

void memory_region_init_common(MemoryRegion *mr, const char *owner, const char *name,
                               MemSize size, enum memory_region_kind kind)
{
    assert(size <= MEMSIZE_2_64);
    memset(mr, 0, sizeof(*mr));
    mr->name = copy_name(name);
    mr->path = memory_region_path_claim(owner, name);
    mr->owner = owner;
    mr->kind = kind;
    mr->ops = &unassigned_mem_ops;
    mr->size = size;
    mr->enabled = true;
    mr->romd_mode = true;
    mr->terminates = kind != MR_KIND_CONTAINER && kind != MR_KIND_ALIAS;
    TAILQ_INIT(&mr->subregions);
    TAILQ_INIT(&mr->aliases);
}

void memory_region_init(MemoryRegion *mr, const char *owner, const char *name, uint64_t size)
{
    memory_region_init_common(mr, owner, name, memory_size_from_u64(size), MR_KIND_CONTAINER);
}

void memory_region_init_io(MemoryRegion *mr, const char *owner, const MemoryRegionOps *ops,
                           void *opaque, const char *name, uint64_t size)
{
    memory_region_init_common(mr, owner, name, memory_size_from_u64(size), MR_KIND_IO);
    if (ops)
        mr->ops = ops;
    mr->opaque = opaque;
}

void memory_region_init_alias(MemoryRegion *mr, const char *owner, const char *name,
                              MemoryRegion *orig, hwaddr offset, uint64_t size)
{
    assert(orig && "alias without a target");
    if (orig == mr)
        memory_fatal("memory_region_init_alias", mr, "an alias cannot target itself");
    memory_region_init_common(mr, owner, name, memory_size_from_u64(size), MR_KIND_ALIAS);
    mr->alias = orig;
    mr->alias_offset = offset;
    orig->alias_count++;
    TAILQ_INSERT_TAIL(&orig->aliases, mr, aliases_link);
}

void memory_region_finalize(MemoryRegion *mr)
{
    if (mr->container)
        memory_fatal("memory_region_finalize", mr, "still in a container; delete it first");
    if (mr->alias_count)
        memory_fatal("memory_region_finalize", mr, "still the target of aliases");
    const AddressSpace *as;
    TAILQ_FOREACH(as, &memory_address_spaces, address_spaces_link)
        if (as->root == mr)
            memory_fatal("memory_region_finalize", mr,
                         "still the root of an address space; destroy it first");
    memory_region_transaction_begin();
    MemoryRegion *child;
    while ((child = TAILQ_FIRST(&mr->subregions)) != NULL)
        memory_region_del_subregion(mr, child, NULL);
    memory_region_transaction_commit();
    if (mr->alias) {
        mr->alias->alias_count--;
        TAILQ_REMOVE(&mr->alias->aliases, mr, aliases_link);
    }
    if (mr->destructor)
        mr->destructor(mr);
    child_index_free(mr);
    memory_region_path_release(mr->path);
    free(mr->path);
    free(mr->name);
    free(mr->ioeventfds);
    mr->path = mr->name = NULL;
    mr->ioeventfds = NULL;
    mr->ioeventfd_nb = 0;
}

/* ---- adding and removing children ------------------------------------------------ */

static bool is_ancestor_or_self(const MemoryRegion *node, const MemoryRegion *mr)
{
    for (; mr; mr = mr->container)
        if (mr == node)
            return true;
    return false;
}

/* Would putting sub under mr make the render graph (children and alias targets) reach
 * mr or one of its containers from sub? */
static int would_create_cycle(const MemoryRegion *mr, const MemoryRegion *sub, bool *cycle)
{
    const MemoryRegion **stack = NULL;
    size_t nr = 0, cap = 0;
    int ret = 0;
    *cycle = false;
    if (memory_vec_reserve((void **)&stack, &cap, 1, sizeof(*stack)) < 0)
        return -ENOMEM;
    stack[nr++] = sub;
    while (nr && !*cycle) {
        const MemoryRegion *node = stack[--nr];
        if (is_ancestor_or_self(node, mr)) {
            *cycle = true;
            break;
        }
        size_t need = nr + 1;
        const MemoryRegion *c;
        TAILQ_FOREACH(c, &node->subregions, subregions_link)
            need++;
        if (memory_vec_reserve((void **)&stack, &cap, need, sizeof(*stack)) < 0) {
            ret = -ENOMEM;
            break;
        }
        if (node->alias)
            stack[nr++] = node->alias;
        TAILQ_FOREACH(c, &node->subregions, subregions_link)
            stack[nr++] = c;
    }
    free(stack);
    return ret;
}

static void warn_overlaps(MemoryRegion *mr, hwaddr offset, const MemoryRegion *sub)
{
    MemoryRegion **hits = NULL;
    size_t nr = 0, cap = 0;
    if (child_index_query(mr, offset, (MemSize)offset + sub->size, &hits, &nr, &cap) < 0) {
        free(hits);
        return;         /* the warning is advisory; out of memory is not worth failing for */
    }
    for (size_t i = 0; i < nr; i++) {
        if (hits[i] == sub || hits[i]->may_overlap)
            continue;
        log_warn("region '%s' at 0x%" PRIx64 " in '%s' overlaps '%s' at 0x%" PRIx64
                 " and neither may overlap (use add_subregion_overlap)",
                 memory_region_name(sub), offset, memory_region_name(mr),
                 memory_region_name(hits[i]), hits[i]->addr);
    }
    free(hits);
}

/* Link sub into mr's list: highest priority first, the later-added first among equals. */
static void link_child(MemoryRegion *mr, MemoryRegion *sub)
{
    MemoryRegion *other;
    sub->add_seq = ++last_add_seq;
    TAILQ_FOREACH(other, &mr->subregions, subregions_link) {
        if (sub->priority >= other->priority) {
            TAILQ_INSERT_BEFORE(other, sub, subregions_link);
            return;
        }
    }
    TAILQ_INSERT_TAIL(&mr->subregions, sub, subregions_link);
}

static int add_subregion_common(MemoryRegion *mr, hwaddr offset, MemoryRegion *sub,
                                int priority, bool may_overlap, Error **errp)
{
    assert(mr && sub);
    if (sub->container) {
        error_setg(errp, "cannot add region '%s' to '%s': it is already in '%s'",
                   memory_region_name(sub), memory_region_name(mr),
                   memory_region_name(sub->container));
        return -EEXIST;
    }
    bool cycle;
    if (would_create_cycle(mr, sub, &cycle) < 0) {
        error_setg(errp, "cannot add region '%s' to '%s': out of memory",
                   memory_region_name(sub), memory_region_name(mr));
        return -ENOMEM;
    }
    if (cycle) {
        error_setg(errp, "cannot add region '%s' to '%s': '%s' would contain itself "
                   "(through children or alias targets)", memory_region_name(sub),
                   memory_region_name(mr), memory_region_name(mr));
        return -ELOOP;
    }
    hwaddr old_addr = sub->addr;
    sub->addr = offset;
    if (child_index_insert(mr, sub) < 0) {
        sub->addr = old_addr;
        error_setg(errp, "cannot add region '%s' to '%s': out of memory",
                   memory_region_name(sub), memory_region_name(mr));
        return -ENOMEM;
    }
    if (!may_overlap)
        warn_overlaps(mr, offset, sub);
    memory_region_transaction_begin();
    sub->container = mr;
    sub->priority = priority;
    sub->may_overlap = may_overlap;
    link_child(mr, sub);
    memory_region_note_change(sub);
    memory_region_transaction_commit();
    return 0;
}

int memory_region_add_subregion(MemoryRegion *mr, hwaddr offset, MemoryRegion *sub,
                                Error **errp)
{
    return add_subregion_common(mr, offset, sub, 0, false, errp);
}

int memory_region_add_subregion_overlap(MemoryRegion *mr, hwaddr offset, MemoryRegion *sub,
                                        int priority, Error **errp)
{
    return add_subregion_common(mr, offset, sub, priority, true, errp);
}

int memory_region_del_subregion(MemoryRegion *mr, MemoryRegion *sub, Error **errp)
{
    assert(mr && sub);
    if (sub->container != mr) {
        error_setg(errp, "cannot delete region '%s' from '%s': it is not a child of it",
                   memory_region_name(sub), memory_region_name(mr));
        return -ENOENT;
    }
    memory_region_transaction_begin();
    memory_region_note_change(sub);
    TAILQ_REMOVE(&mr->subregions, sub, subregions_link);
    child_index_remove(mr, sub);
    sub->container = NULL;
    memory_region_transaction_commit();
    return 0;
}

/* ---- property edits -------------------------------------------------------------- */

/* Run an edit of mr's placement (addr or size): the child index is told before and
 * after, the transaction layer sees both extents. The index makes room first: out of
 * memory, the edit is not made (and logged), rather than half made. */
static void edit_placement(MemoryRegion *mr, hwaddr addr, MemSize size, bool relink)
{
    MemoryRegion *container = mr->container;
    if (container && child_index_reserve_move(container) < 0) {
        log_error("cannot move or resize region '%s': out of memory", memory_region_name(mr));
        return;
    }
    memory_region_transaction_begin();
    memory_region_note_change(mr);
    if (container) {
        child_index_remove(container, mr);
        if (relink)
            TAILQ_REMOVE(&container->subregions, mr, subregions_link);
    }
    mr->addr = addr;
    mr->size = size;
    if (container) {
        if (relink)
            link_child(container, mr);
        if (child_index_insert(container, mr) < 0)      /* room was reserved */
            memory_fatal("memory region edit", mr, "re-indexing failed with room reserved");
    }
    memory_region_note_change(mr);
    memory_region_transaction_commit();
}

void memory_region_set_address(MemoryRegion *mr, hwaddr addr)
{
    if (addr == mr->addr)
        return;
    /* As QEMU: moving re-adds the region, so it becomes the later-added one. */
    edit_placement(mr, addr, mr->size, true);
}

void memory_region_set_size(MemoryRegion *mr, uint64_t size)
{
    MemSize s = memory_size_from_u64(size);
    if (s != mr->size)
        edit_placement(mr, mr->addr, s, false);
}

void memory_region_set_alias_offset(MemoryRegion *mr, hwaddr offset)
{
    if (mr->kind != MR_KIND_ALIAS)
        memory_fatal("memory_region_set_alias_offset", mr, "not an alias");
    if (offset == mr->alias_offset)
        return;
    memory_region_transaction_begin();
    memory_region_note_change(mr);
    mr->alias_offset = offset;
    memory_region_transaction_commit();
}

/* Flip one rendering attribute of mr inside a transaction, if it changes. */
static void edit_flag(MemoryRegion *mr, bool *flag, bool value)
{
    if (*flag == value)
        return;
    memory_region_transaction_begin();
    memory_region_note_change(mr);
    *flag = value;
    memory_region_transaction_commit();
}

void memory_region_set_enabled(MemoryRegion *mr, bool enabled)
{
    edit_flag(mr, &mr->enabled, enabled);
}

void memory_region_set_readonly(MemoryRegion *mr, bool readonly)
{
    edit_flag(mr, &mr->readonly, readonly);
}

void memory_region_rom_device_set_romd(MemoryRegion *mr, bool romd_mode)
{
    if (mr->kind != MR_KIND_ROM_DEVICE)
        memory_fatal("memory_region_rom_device_set_romd", mr, "not a ROM device");
    edit_flag(mr, &mr->romd_mode, romd_mode);
}

void memory_region_set_log(MemoryRegion *mr, bool log, enum dirty_client client)
{
    assert((unsigned)client < DIRTY_MEMORY_NUM);
    uint8_t mask = log ? mr->dirty_log_mask | (1u << client)
                       : mr->dirty_log_mask & ~(1u << client);
    if (mask == mr->dirty_log_mask)
        return;
    memory_region_transaction_begin();
    memory_region_note_change(mr);
    mr->dirty_log_mask = mask;
    memory_region_transaction_commit();
}

/* ---- simple accessors ------------------------------------------------------------ */

uint64_t memory_region_size(const MemoryRegion *mr)
{
    return mr->size >= MEMSIZE_2_64 ? UINT64_MAX : (uint64_t)mr->size;
}

const char *memory_region_path(const MemoryRegion *mr)
{
    return mr->path ? mr->path : "";
}

bool memory_region_is_ram(const MemoryRegion *mr)
{
    return mr->kind == MR_KIND_RAM || mr->kind == MR_KIND_ROM;
}

bool memory_region_is_romd(const MemoryRegion *mr)
{
    return mr->kind == MR_KIND_ROM_DEVICE && mr->romd_mode;
}
