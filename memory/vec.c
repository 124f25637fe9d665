/* memory/vec.c — growable arrays for the memory model; see memory-internal.h. */
#include "memory/memory-internal.h"

#include <errno.h>
#include <stdlib.h>

int memory_vec_reserve(void **buf, size_t *cap, size_t need, size_t elem_size)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : 8;
    while (ncap < need)
        ncap *= 2;
    void *nbuf = realloc(*buf, ncap * elem_size);
    if (!nbuf)
        return -ENOMEM;
    *buf = nbuf;
    *cap = ncap;
    return 0;
}
