/*
 * tools/mockxen/grow.c — room in an array that doubles as it fills (grow.h).
 */
#include "tools/mockxen/grow.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>

void *mx_grow(void *items, unsigned *cap, size_t need, size_t elem_size, unsigned first_cap)
{
    if (need <= *cap)
        return items;
    size_t n = *cap ? *cap : first_cap ? first_cap : 1;
    while (n < need && n <= UINT_MAX / 2)
        n *= 2;
    if (n < need || n > SIZE_MAX / elem_size)
        return NULL;
    void *grown = realloc(items, n * elem_size);
    if (grown)
        *cap = (unsigned)n;
    return grown;
}
