/*
 * tools/mockxen/xs_store.c — the xenstore tree: nodes with values, permissions and
 * generation numbers, plus the access log that lets a snapshot detect conflicts.
 *
 * Invariants: every node but the root has a parent that lists it among its children;
 * a node's generation is unique in the store's history (taken from a counter that only
 * grows) and is renewed whenever the node's value, permissions or children change, so
 * "same generation" means "unchanged". Absent nodes count as generation 0.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tools/mockxen/grow.h"
#include "tools/mockxen/xs_store.h"

typedef struct XsNode XsNode;
struct XsNode {
    char *name;             /* leaf name; "" for the root */
    char *value;            /* len bytes, plus a NUL for convenience */
    unsigned len;
    XsPerms perms;
    uint64_t generation;
    XsNode *parent;
    XsNode **children;      /* in creation order, as xenstored lists them */
    unsigned nchildren, capacity;
};

/* One path a snapshot looked at, with its generation at that moment. */
typedef struct XsAccess {
    char *path;
    uint64_t generation;
} XsAccess;

struct XsStore {
    XsNode *root;
    uint64_t last_generation;
    unsigned nodes;
    bool recording;         /* a transaction snapshot: log accesses */
    XsAccess *accesses;
    unsigned naccesses, access_capacity;
};

/* ---- nodes ------------------------------------------------------------------------- */

static void node_free(XsNode *node)
{
    if (!node)
        return;
    for (unsigned i = 0; i < node->nchildren; i++)
        node_free(node->children[i]);
    free(node->children);
    free(node->name);
    free(node->value);
    xs_perms_clear(&node->perms);
    free(node);
}

static unsigned node_count(const XsNode *node)
{
    unsigned n = 1;

    for (unsigned i = 0; i < node->nchildren; i++)
        n += node_count(node->children[i]);
    return n;
}

static void touch(XsStore *store, XsNode *node)
{
    node->generation = ++store->last_generation;
}

static int node_set_value(XsNode *node, const void *value, unsigned len)
{
    char *copy = malloc((size_t)len + 1);

    if (!copy)
        return -ENOMEM;
    if (len)
        memcpy(copy, value, len);
    copy[len] = '\0';
    free(node->value);
    node->value = copy;
    node->len = len;
    return 0;
}

/* A new, unlinked node named `name` (namelen bytes) with empty value and `perms`. */
static XsNode *node_new(const char *name, size_t namelen, const XsPerms *perms)
{
    XsNode *node = calloc(1, sizeof(*node));

    if (!node)
        return NULL;
    node->name = strndup(name, namelen);
    if (!node->name || node_set_value(node, "", 0) < 0 ||
        xs_perms_copy(&node->perms, perms) < 0) {
        node_free(node);
        return NULL;
    }
    return node;
}

static int node_add_child(XsNode *parent, XsNode *child)
{
    XsNode **c = mx_grow(parent->children, &parent->capacity, parent->nchildren + 1,
                         sizeof(*c), 4);
    if (!c)
        return -ENOMEM;
    parent->children = c;
    parent->children[parent->nchildren++] = child;
    child->parent = parent;
    return 0;
}

static void node_remove_child(XsNode *parent, XsNode *child)
{
    for (unsigned i = 0; i < parent->nchildren; i++) {
        if (parent->children[i] == child) {
            memmove(&parent->children[i], &parent->children[i + 1],
                    (parent->nchildren - i - 1) * sizeof(*parent->children));
            parent->nchildren--;
            return;
        }
    }
}

static XsNode *node_child(const XsNode *node, const char *name, size_t namelen)
{
    for (unsigned i = 0; i < node->nchildren; i++) {
        XsNode *c = node->children[i];
        if (strncmp(c->name, name, namelen) == 0 && c->name[namelen] == '\0')
            return c;
    }
    return NULL;
}

static XsNode *node_clone(const XsNode *src, XsNode *parent)
{
    XsNode *node = node_new(src->name, strlen(src->name), &src->perms);

    if (!node || node_set_value(node, src->value, src->len) < 0)
        goto fail;
    node->generation = src->generation;
    node->parent = parent;
    for (unsigned i = 0; i < src->nchildren; i++) {
        XsNode *c = node_clone(src->children[i], node);
        if (!c || node_add_child(node, c) < 0) {
            node_free(c);
            goto fail;
        }
    }
    return node;
fail:
    node_free(node);
    return NULL;
}

/* ---- paths and the access log ------------------------------------------------------ */

static XsNode *find(const XsStore *store, const char *path)
{
    XsNode *node = store->root;
    const char *p = path + 1;

    while (node && *p) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        node = node_child(node, p, n);
        p += n + (slash ? 1 : 0);
    }
    return node;
}

/* Remember, in a snapshot, the generation `path` had when an operation first looked
 * at it. Failing to allocate would make conflict detection unsound, so it is an error. */
static int note(XsStore *store, const char *path, const XsNode *node)
{
    if (!store->recording)
        return 0;
    for (unsigned i = 0; i < store->naccesses; i++)
        if (strcmp(store->accesses[i].path, path) == 0)
            return 0;
    XsAccess *a = mx_grow(store->accesses, &store->access_capacity, store->naccesses + 1,
                          sizeof(*a), 16);
    if (!a)
        return -ENOMEM;
    store->accesses = a;
    char *copy = strdup(path);
    if (!copy)
        return -ENOMEM;
    store->accesses[store->naccesses++] = (XsAccess){ copy, node ? node->generation : 0 };
    return 0;
}

/* find() plus note(): the lookup every operation starts with. */
static int lookup(XsStore *store, const char *path, XsNode **out)
{
    *out = find(store, path);
    return note(store, path, *out);
}

/* lookup() of a node that must exist: -ENOENT if it does not (the miss is noted too). */
static int lookup_existing(XsStore *store, const char *path, XsNode **out)
{
    int ret = lookup(store, path, out);
    return ret < 0 ? ret : *out ? 0 : -ENOENT;
}

/* Length of the parent part of an absolute path ("/a/b" -> 2, "/a" -> 1). */
static size_t parent_len(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash == path ? 1 : (size_t)(slash - path);
}

static int lookup_parent(XsStore *store, const char *path, XsNode **out)
{
    char *parent = strndup(path, parent_len(path));
    int ret;

    if (!parent)
        return -ENOMEM;
    ret = lookup(store, parent, out);
    free(parent);
    return ret;
}

/* Note every node of a subtree that is about to disappear, so later accesses inside
 * the transaction compare against the state before the removal. */
static int note_subtree(XsStore *store, const char *path, const XsNode *node)
{
    if (!store->recording)
        return 0;
    int ret = note(store, path, node);

    for (unsigned i = 0; ret == 0 && i < node->nchildren; i++) {
        const XsNode *c = node->children[i];
        size_t plen = strcmp(path, "/") == 0 ? 0 : strlen(path);
        char *child = malloc(plen + strlen(c->name) + 2);
        if (!child)
            return -ENOMEM;
        memcpy(child, path, plen);
        child[plen] = '/';
        strcpy(child + plen + 1, c->name);
        ret = note_subtree(store, child, c);
        free(child);
    }
    return ret;
}

/* ---- creation ---------------------------------------------------------------------- */

/* Create `path` and its missing ancestors; *out is the node for `path`. The deepest
 * existing ancestor gains a child, so its generation changes. */
static int create_path(XsStore *store, const char *path, XsNode **out)
{
    char *buf = strdup(path);
    XsNode *anc = NULL;
    size_t len;
    int ret = 0;

    if (!buf)
        return -ENOMEM;
    /* Walk up until an existing ancestor, noting each missing one. */
    for (;;) {
        len = parent_len(buf);
        buf[len] = '\0';
        ret = lookup(store, buf, &anc);
        if (ret < 0 || anc)
            break;
    }
    free(buf);
    if (ret < 0)
        return ret;
    touch(store, anc);
    /* Walk down, creating each component below the ancestor. */
    const char *p = path + (len == 1 ? 1 : len + 1);
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        XsNode *node = node_new(p, n, &anc->perms);
        if (!node)
            return -ENOMEM;
        if (node_add_child(anc, node) < 0) {
            node_free(node);
            return -ENOMEM;
        }
        touch(store, node);
        store->nodes++;
        anc = node;
        p += n + (slash ? 1 : 0);
    }
    *out = anc;
    return 0;
}

/* ---- public operations ------------------------------------------------------------- */

XsStore *xs_store_new(void)
{
    static const XsPerm owner_dom0 = { .domid = 0, .access = XS_ACCESS_NONE };
    const XsPerms perms = { .count = 1, .entries = (XsPerm *)&owner_dom0 };
    XsStore *store = calloc(1, sizeof(*store));

    if (!store)
        return NULL;
    store->root = node_new("", 0, &perms);
    if (!store->root) {
        free(store);
        return NULL;
    }
    touch(store, store->root);
    store->nodes = 1;
    return store;
}

void xs_store_free(XsStore *store)
{
    if (!store)
        return;
    node_free(store->root);
    for (unsigned i = 0; i < store->naccesses; i++)
        free(store->accesses[i].path);
    free(store->accesses);
    free(store);
}

int xs_store_read(XsStore *store, const char *path, const char **value, unsigned *len)
{
    XsNode *node;
    int ret = lookup_existing(store, path, &node);

    if (ret < 0)
        return ret;
    *value = node->value;
    *len = node->len;
    return 0;
}

int xs_store_write(XsStore *store, const char *path, const void *value, unsigned len)
{
    XsNode *node;
    int ret = lookup(store, path, &node);

    if (ret == 0 && !node)
        ret = create_path(store, path, &node);
    if (ret == 0)
        ret = node_set_value(node, value, len);
    if (ret == 0)
        touch(store, node);
    return ret;
}

int xs_store_mkdir(XsStore *store, const char *path)
{
    XsNode *node;
    int ret = lookup(store, path, &node);

    if (ret == 0 && !node)
        ret = create_path(store, path, &node);
    return ret;
}

int xs_store_rm(XsStore *store, const char *path)
{
    XsNode *node = NULL, *parent = NULL;
    int ret;

    if (strcmp(path, "/") == 0)
        return -EINVAL;
    ret = lookup(store, path, &node);
    if (ret == 0)
        ret = lookup_parent(store, path, &parent);
    if (ret < 0)
        return ret;
    if (!node)
        return parent ? 0 : -ENOENT;
    ret = note_subtree(store, path, node);
    if (ret < 0)
        return ret;
    node_remove_child(parent, node);
    touch(store, parent);
    store->nodes -= node_count(node);
    node_free(node);
    return 0;
}

bool xs_store_exists(XsStore *store, const char *path)
{
    XsNode *node;
    return lookup(store, path, &node) == 0 && node;
}

int xs_store_directory(XsStore *store, const char *path, char **names, unsigned *len,
                       uint64_t *generation)
{
    XsNode *node;
    size_t total = 0;
    int ret = lookup_existing(store, path, &node);

    if (ret < 0)
        return ret;
    for (unsigned i = 0; i < node->nchildren; i++)
        total += strlen(node->children[i]->name) + 1;
    *names = NULL;
    if (total) {
        char *buf = malloc(total), *p;
        if (!buf)
            return -ENOMEM;
        p = buf;
        for (unsigned i = 0; i < node->nchildren; i++) {
            size_t n = strlen(node->children[i]->name) + 1;
            memcpy(p, node->children[i]->name, n);
            p += n;
        }
        *names = buf;
    }
    *len = (unsigned)total;
    *generation = node->generation;
    return 0;
}

int xs_store_get_perms(XsStore *store, const char *path, XsPerms *out)
{
    XsNode *node;
    int ret = lookup_existing(store, path, &node);

    if (ret < 0)
        return ret;
    return xs_perms_copy(out, &node->perms);
}

int xs_store_set_perms(XsStore *store, const char *path, const XsPerms *perms)
{
    XsNode *node;
    XsPerms copy;
    int ret = lookup_existing(store, path, &node);

    if (ret < 0)
        return ret;
    if (perms->count == 0)
        return -EINVAL;
    ret = xs_perms_copy(&copy, perms);
    if (ret < 0)
        return ret;
    xs_perms_clear(&node->perms);
    node->perms = copy;
    touch(store, node);
    return 0;
}

unsigned xs_store_node_count(const XsStore *store)
{
    return store->nodes;
}

XsStore *xs_store_snapshot(const XsStore *live)
{
    XsStore *snap = calloc(1, sizeof(*snap));

    if (!snap)
        return NULL;
    snap->root = node_clone(live->root, NULL);
    if (!snap->root) {
        free(snap);
        return NULL;
    }
    snap->last_generation = live->last_generation;
    snap->nodes = live->nodes;
    snap->recording = true;
    return snap;
}

bool xs_store_snapshot_conflicts(const XsStore *snapshot, const XsStore *live)
{
    for (unsigned i = 0; i < snapshot->naccesses; i++) {
        const XsNode *node = find(live, snapshot->accesses[i].path);
        if ((node ? node->generation : 0) != snapshot->accesses[i].generation)
            return true;
    }
    return false;
}
