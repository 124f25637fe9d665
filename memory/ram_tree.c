/* memory/ram_tree.c — intrusive AVL tree with parent links; see ram_tree.h. */
#include "memory/ram_tree.h"

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>

static int height_of(const RamTreeNode *n)
{
    if (!n)
        return 0;
    return (n->left_height > n->right_height ? n->left_height : n->right_height) + 1;
}

/* Put `child` where `old` hangs below `parent` (or at the root). The parent's stored
 * subtree heights are the caller's business. */
static void replace_child(RamTree *t, RamTreeNode *parent, RamTreeNode *old,
                          RamTreeNode *child)
{
    if (!parent)
        t->root = child;
    else if (parent->left == old)
        parent->left = child;
    else
        parent->right = child;
    if (child)
        child->parent = parent;
}

/* A node's two sides: `side` and !side are mirror images, so one rotation and one
 * rebalance serve both directions. */
enum { LEFT, RIGHT };

static RamTreeNode **child_slot(RamTreeNode *n, int side)
{
    return side == LEFT ? &n->left : &n->right;
}

static unsigned char *height_slot(RamTreeNode *n, int side)
{
    return side == LEFT ? &n->left_height : &n->right_height;
}

/* Rotate x down towards `side`: its child on the other side takes its place and x
 * becomes that child's `side` child. Returns the new subtree root. */
static RamTreeNode *rotate(RamTree *t, RamTreeNode *x, int side)
{
    int other = !side;
    RamTreeNode *y = *child_slot(x, other);
    RamTreeNode *inner = *child_slot(y, side);
    *child_slot(x, other) = inner;
    if (inner)
        inner->parent = x;
    *height_slot(x, other) = *height_slot(y, side);
    replace_child(t, x->parent, x, y);
    *child_slot(y, side) = x;
    x->parent = y;
    *height_slot(y, side) = (unsigned char)height_of(x);
    return y;
}

/* Restore balance at n (its stored child heights are current and differ by at most 2);
 * returns the root of n's subtree afterwards. */
static RamTreeNode *rebalance(RamTree *t, RamTreeNode *n)
{
    int balance = n->left_height - n->right_height;
    if (balance >= -1 && balance <= 1)
        return n;
    int heavy = balance > 1 ? LEFT : RIGHT, light = !heavy;
    RamTreeNode *c = *child_slot(n, heavy);
    if (*height_slot(c, heavy) < *height_slot(c, light))    /* zig-zag: straighten it */
        *height_slot(n, heavy) = (unsigned char)height_of(rotate(t, c, heavy));
    return rotate(t, n, light);
}

/*
 * n's stored child heights are current; its subtree was old_height high before the
 * change. Rebalance and walk up telling each parent its child's new height; once a
 * subtree's height is unchanged, nothing above it changed, so the walk stops —
 * usually after a level or two.
 */
static void fix_up(RamTree *t, RamTreeNode *n, int old_height)
{
    for (;;) {
        RamTreeNode *sub = rebalance(t, n);
        int h = height_of(sub);
        RamTreeNode *up = sub->parent;
        if (h == old_height || !up)
            return;
        old_height = height_of(up);
        if (up->left == sub)
            up->left_height = (unsigned char)h;
        else
            up->right_height = (unsigned char)h;
        n = up;
    }
}

static RamTreeNode *leftmost(RamTreeNode *n)
{
    while (n->left)
        n = n->left;
    return n;
}

/* Hang node as a leaf on parent's left or right (which must be empty). */
static void attach_leaf(RamTree *t, RamTreeNode *parent, bool left, RamTreeNode *node)
{
    *node = (RamTreeNode){ .parent = parent };
    if (!parent) {
        t->root = node;
        return;
    }
    int old_height = height_of(parent);
    if (left) {
        parent->left = node;
        parent->left_height = 1;
    } else {
        parent->right = node;
        parent->right_height = 1;
    }
    fix_up(t, parent, old_height);
}

void ram_tree_insert(RamTree *t, RamTreeNode *node)
{
    RamTreeNode *parent = NULL;
    bool left = false;
    for (RamTreeNode *n = t->root; n; n = left ? n->left : n->right) {
        int c = t->cmp(node, n);
        assert(c != 0 && "RamTree keys must be distinct");
        parent = n;
        left = c < 0;
    }
    attach_leaf(t, parent, left, node);
}

void ram_tree_insert_after(RamTree *t, RamTreeNode *pos, RamTreeNode *node)
{
    if (!pos->right)
        attach_leaf(t, pos, false, node);
    else
        attach_leaf(t, leftmost(pos->right), true, node);
}

void ram_tree_remove(RamTree *t, RamTreeNode *node)
{
    RamTreeNode *parent = node->parent;

    if (!node->left || !node->right) {
        RamTreeNode *child = node->left ? node->left : node->right;
        int old_height = height_of(parent);
        if (parent && parent->left == node)
            parent->left_height = (unsigned char)height_of(child);
        else if (parent)
            parent->right_height = (unsigned char)height_of(child);
        replace_child(t, parent, node, child);
        if (parent)
            fix_up(t, parent, old_height);
    } else {
        /* The successor (no left child) takes node's place and its child heights. */
        RamTreeNode *succ = leftmost(node->right), *fix_from = succ;
        int old_height = height_of(node);
        if (succ->parent != node) {
            fix_from = succ->parent;
            old_height = height_of(fix_from);
            fix_from->left_height = succ->right_height;
            replace_child(t, fix_from, succ, succ->right);
            succ->right = node->right;
            succ->right->parent = succ;
            succ->right_height = node->right_height;
        }
        succ->left = node->left;
        succ->left->parent = succ;
        succ->left_height = node->left_height;
        replace_child(t, parent, node, succ);
        fix_up(t, fix_from, old_height);
    }
    *node = (RamTreeNode){ 0 };
}

RamTreeNode *ram_tree_first(const RamTree *t)
{
    return t->root ? leftmost(t->root) : NULL;
}

RamTreeNode *ram_tree_last(const RamTree *t)
{
    RamTreeNode *n = t->root;
    while (n && n->right)
        n = n->right;
    return n;
}

RamTreeNode *ram_tree_first_at_or_after(const RamTree *t, RamTreeProbe probe, const void *key)
{
    RamTreeNode *best = NULL, *n = t->root;
    while (n) {
        if (probe(n, key) >= 0) {
            best = n;
            n = n->left;
        } else {
            n = n->right;
        }
    }
    return best;
}

RamTreeNode *ram_tree_last_before(const RamTree *t, RamTreeProbe probe, const void *key)
{
    RamTreeNode *best = NULL, *n = t->root;
    while (n) {
        if (probe(n, key) < 0) {
            best = n;
            n = n->right;
        } else {
            n = n->left;
        }
    }
    return best;
}
