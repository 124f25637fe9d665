/*
 * Unit tests for the AVL tree behind the RAM indexes (memory/ram_tree.c): random
 * insert / insert_after / remove against a sorted-array model, with the full AVL
 * invariant (order, stored subtree heights, balance, parent links) checked after
 * every step, plus the probe searches.
 */
#include "tests/unit/support.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "memory/ram_tree.h"

typedef struct Item {
    int key;
    RamTreeNode node;
    bool in_tree;
} Item;

static Item *item_of(const RamTreeNode *n)
{
    return RAM_TREE_ENTRY(n, Item, node);
}

static int cmp_items(const RamTreeNode *a, const RamTreeNode *b)
{
    int x = item_of(a)->key, y = item_of(b)->key;
    return x < y ? -1 : x > y;
}

static int probe_below(const RamTreeNode *n, const void *key)
{
    return item_of(n)->key < *(const int *)key ? -1 : 0;
}

/* Checks the subtree at n; returns its height and appends its keys in order. */
static int check_subtree(const RamTreeNode *n, const RamTreeNode *parent, int *keys,
                         unsigned *count)
{
    if (!n)
        return 0;
    assert_ptr_equal(n->parent, parent);
    int lh = check_subtree(n->left, n, keys, count);
    keys[(*count)++] = item_of(n)->key;
    int rh = check_subtree(n->right, n, keys, count);
    assert_int_equal(n->left_height, lh);
    assert_int_equal(n->right_height, rh);
    assert_true(lh - rh <= 1 && rh - lh <= 1);
    return (lh > rh ? lh : rh) + 1;
}

static void check_tree(const RamTree *t, const int *model, unsigned n)
{
    int *keys = malloc((n + 1) * sizeof(*keys));
    unsigned count = 0;
    int h = check_subtree(t->root, NULL, keys, &count);
    assert_int_equal(count, n);
    assert_memory_equal(keys, model, n * sizeof(*keys));
    /* AVL height bound: h < 1.4405 log2(n + 2). */
    unsigned bound = 2;
    for (unsigned m = n + 2; m > 1; m >>= 1)
        bound++;
    assert_true((unsigned)h <= bound * 3 / 2);
    free(keys);
}

static void random_operations_keep_the_avl_invariant(void **state)
{
    enum { N = 2000, STEPS = 20000 };
    static Item items[N];
    static int model[N];
    unsigned live = 0;
    uint64_t rng = test_seed("ram_tree.random");
    RamTree t = RAM_TREE_INIT(cmp_items);

    for (int i = 0; i < N; i++)
        items[i] = (Item){ .key = i * 4 };
    for (unsigned step = 0; step < STEPS; step++) {
        Item *it = &items[test_rand_below(&rng, N)];
        if (it->in_tree) {
            ram_tree_remove(&t, &it->node);
            it->in_tree = false;
            live--;
        } else {
            /* Sometimes place it right after its in-tree predecessor, no compares. */
            RamTreeNode *pred = ram_tree_last_before(&t, probe_below, &it->key);
            if (pred && test_rand_below(&rng, 2))
                ram_tree_insert_after(&t, pred, &it->node);
            else
                ram_tree_insert(&t, &it->node);
            it->in_tree = true;
            live++;
        }
        if (step % 7 && live >= 50)
            continue;
        unsigned k = 0;                         /* items are in key order */
        for (int i = 0; i < N; i++)
            if (items[i].in_tree)
                model[k++] = items[i].key;
        check_tree(&t, model, k);
    }
}

static void searches_and_ends(void **state)
{
    Item items[5];
    RamTree t = RAM_TREE_INIT(cmp_items);
    assert_null(ram_tree_first(&t));
    assert_null(ram_tree_last(&t));
    int key = 7;
    assert_null(ram_tree_first_at_or_after(&t, probe_below, &key));
    for (int i = 0; i < 5; i++) {
        items[i] = (Item){ .key = 10 * (i + 1) };      /* 10 .. 50 */
        ram_tree_insert(&t, &items[i].node);
    }
    assert_ptr_equal(ram_tree_first(&t), &items[0].node);
    assert_ptr_equal(ram_tree_last(&t), &items[4].node);
    key = 30;
    assert_ptr_equal(ram_tree_first_at_or_after(&t, probe_below, &key), &items[2].node);
    assert_ptr_equal(ram_tree_last_before(&t, probe_below, &key), &items[1].node);
    key = 31;
    assert_ptr_equal(ram_tree_first_at_or_after(&t, probe_below, &key), &items[3].node);
    key = 51;
    assert_null(ram_tree_first_at_or_after(&t, probe_below, &key));
    key = 10;
    assert_null(ram_tree_last_before(&t, probe_below, &key));
    for (int i = 0; i < 5; i++)
        ram_tree_remove(&t, &items[i].node);
    assert_null(t.root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(random_operations_keep_the_avl_invariant),
        cmocka_unit_test(searches_and_ends),
    };
    return cmocka_run_group_tests_name("ram_tree", tests, NULL, NULL);
}
