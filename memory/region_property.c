/*
 * memory/region_property.c — a region's QEMU-style properties, answered by name:
 * "container", "addr", "priority", "may-overlap", "size".
 */
#include "memory/memory-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Decimal text of a MemSize (up to 2^64, 20 digits). */
static void memsize_to_decimal(MemSize v, char out[24])
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v);
    for (int i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
}

int memory_region_get_property(const MemoryRegion *mr, const char *prop, char *buf,
                               size_t buflen)
{
    char num[24];
    const char *text;
    if (strcmp(prop, "container") == 0) {
        text = mr->container ? memory_region_path(mr->container) : "";
    } else if (strcmp(prop, "addr") == 0) {
        snprintf(num, sizeof(num), "%" PRIu64, mr->addr);
        text = num;
    } else if (strcmp(prop, "priority") == 0) {
        snprintf(num, sizeof(num), "%" PRId32, mr->priority);
        text = num;
    } else if (strcmp(prop, "may-overlap") == 0) {
        text = mr->may_overlap ? "true" : "false";
    } else if (strcmp(prop, "size") == 0) {
        memsize_to_decimal(mr->size, num);
        text = num;
    } else {
        return -ENOENT;
    }
    if (strlen(text) + 1 > buflen)
        return -ERANGE;
    memcpy(buf, text, strlen(text) + 1);
    return 0;
}

int memory_region_get_property_u64(const MemoryRegion *mr, const char *prop, uint64_t *out)
{
    if (strcmp(prop, "addr") == 0)
        *out = mr->addr;
    else if (strcmp(prop, "priority") == 0)
        *out = (uint64_t)(uint32_t)mr->priority;    /* QEMU exposes it as uint32 */
    else if (strcmp(prop, "may-overlap") == 0)
        *out = mr->may_overlap;
    else if (strcmp(prop, "size") == 0)
        *out = memory_region_size(mr);
    else
        return -ENOENT;
    return 0;
}
