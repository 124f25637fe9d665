/*
 * bench/bench_memory_pio.c — one 4-byte address_space_write to an io region, the
 * ioreq loop's hot path.
 *
 * Run plainly it prints memory.pio_write_ns (thread CPU time, best of 5). With
 * "--calls N" it only performs N writes and prints nothing: bench/memory_pio_insns.sh
 * runs that under callgrind to count instructions per write (memory.pio_insns).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/support.h"
#include "memory/memory.h"

static uint64_t last_value;

static uint64_t dev_read(void *opaque, hwaddr addr, unsigned size)
{
    return last_value;
}

static void dev_write(void *opaque, hwaddr addr, uint64_t data, unsigned size)
{
    last_value = data;
}

static const MemoryRegionOps dev_ops = {
    .read = dev_read,
    .write = dev_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 4 },
    .impl = { .min_access_size = 1, .max_access_size = 4 },
};

/* Kept out of line so that callgrind can attribute the writes. */
__attribute__((noinline)) static void pio_writes(AddressSpace *as, unsigned long calls)
{
    for (unsigned long i = 0; i < calls; i++) {
        uint32_t v = (uint32_t)i;
        address_space_write(as, 0xcfc, MEMTXATTRS_UNSPECIFIED, &v, 4);
    }
}

int main(int argc, char **argv)
{
    static MemoryRegion io_root, dev, other;
    static AddressSpace as;
    Error *err = NULL;
    memory_region_init(&io_root, NULL, "io", 0x10000);
    memory_region_init_io(&dev, NULL, &dev_ops, NULL, "pci-data", 4);
    memory_region_init_io(&other, NULL, &dev_ops, NULL, "pci-addr", 4);
    if (memory_region_add_subregion(&io_root, 0xcfc, &dev, &err) ||
        memory_region_add_subregion(&io_root, 0xcf8, &other, &err) ||
        address_space_init(&as, &io_root, "io", &err)) {
        fprintf(stderr, "bench_memory_pio: %s\n", error_get_pretty(err));
        return 1;
    }
    if (argc == 3 && strcmp(argv[1], "--calls") == 0) {
        pio_writes(&as, strtoul(argv[2], NULL, 0));
        return 0;
    }
    unsigned long calls = 10000000;
    double best = 1e30;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = bench_cpu_ns();
        pio_writes(&as, calls);
        double ns = (bench_cpu_ns() - t0) / calls;
        best = ns < best ? ns : best;
    }
    printf("row\tmemory.pio_write_ns\t%.1f\tns\t4-byte address_space_write to an io region\n",
           best);
    return 0;
}
