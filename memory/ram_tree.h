/*
 * memory/ram_tree.h — an intrusive AVL tree, the ordered index behind the RAM block
 * list (memory/ram_block.c, memory/ram_gaps.c). Private to memory/.
 *
 * A RamTreeNode is embedded in the indexed object (a RAMBlock holds several, one per
 * index); the tree never allocates. Keys live in the objects and are compared by the
 * tree's cmp function, which must give a strict total order (no two nodes compare
 * equal). A node's key must not change while it is in a tree: remove, edit, re-insert.
 * Searches take a "probe" that places a node relative to a search key, so one tree can
 * answer lower-bound and predecessor questions without building a fake node.
 * Every operation is O(log n). Nodes know their parent, so removal and insertion next
 * to a known node need no search from the root: they only walk up while subtree heights
 * change (usually a level or two), which keeps big trees cheap on the cache.
 */
#ifndef XENDM_MEMORY_RAM_TREE_H
#define XENDM_MEMORY_RAM_TREE_H

typedef struct RamTreeNode {
    struct RamTreeNode *left, *right, *parent;
    /* Heights of the left and right subtrees (0: empty). Kept in the node itself so
     * rebalancing on the way up never has to load the sibling subtree's node. */
    unsigned char left_height, right_height;
} RamTreeNode;

/* <0, 0, >0 as a sorts before, equal to, after b. */
typedef int (*RamTreeCmp)(const RamTreeNode *a, const RamTreeNode *b);
/* <0 when node sorts before the search key, >=0 otherwise. Must be monotonic along
 * the tree order (all "before" nodes precede all the others). */
typedef int (*RamTreeProbe)(const RamTreeNode *node, const void *key);

typedef struct RamTree {
    RamTreeNode *root;
    RamTreeCmp cmp;
} RamTree;

#define RAM_TREE_INIT(cmp_fn) { .root = 0, .cmp = (cmp_fn) }

void ram_tree_insert(RamTree *t, RamTreeNode *node);
/* Insert node right after pos (which is in t): node's key must sort between pos and
 * pos's successor. No comparisons. */
void ram_tree_insert_after(RamTree *t, RamTreeNode *pos, RamTreeNode *node);
/* node must be in t. */
void ram_tree_remove(RamTree *t, RamTreeNode *node);
/* Smallest / largest node, NULL when empty. */
RamTreeNode *ram_tree_first(const RamTree *t);
RamTreeNode *ram_tree_last(const RamTree *t);
/* First node with probe(node, key) >= 0, or NULL. */
RamTreeNode *ram_tree_first_at_or_after(const RamTree *t, RamTreeProbe probe, const void *key);
/* Last node with probe(node, key) < 0, or NULL. */
RamTreeNode *ram_tree_last_before(const RamTree *t, RamTreeProbe probe, const void *key);

/* Recover the enclosing object from an embedded node (NULL stays NULL). */
#define RAM_TREE_ENTRY(node, type, member) \
    ((node) ? (type *)((char *)(node) - __builtin_offsetof(type, member)) : (type *)0)

#endif
