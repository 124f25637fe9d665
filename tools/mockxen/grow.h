/*
 * tools/mockxen/grow.h — room in an array that doubles as it fills.
 */
#ifndef MOCKXEN_GROW_H
#define MOCKXEN_GROW_H

#include <stddef.h>

/*
 * Make `items` (room for *cap elements of elem_size bytes) hold at least `need`
 * elements. If it already does, items comes back as it is; otherwise it is reallocated
 * to twice *cap (first_cap for an empty array), doubled again until need fits, and *cap
 * is updated. Returns the array to store back, or NULL (out of memory, or a size that
 * would overflow) with items and *cap untouched.
 */
void *mx_grow(void *items, unsigned *cap, size_t need, size_t elem_size, unsigned first_cap);

#endif
