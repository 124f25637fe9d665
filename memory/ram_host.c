/*
 * memory/ram_host.c — host memory for guest RAM when no backend (Xen) provides it.
 *
 * The mapping follows QEMU's qemu_anon_ram_alloc: over-allocate by the 2 MiB alignment,
 * then unmap the slack on both sides so the block starts on a huge-page boundary. The
 * madvise policy follows ram_block_add: MERGEABLE right after mapping when memory
 * merging is on, then DONTDUMP (unless guest core dumps are wanted), HUGEPAGE and
 * DONTFORK. madvise failures are not errors (the kernel may lack KSM or THP); only a
 * DONTDUMP failure is worth a warning, since the user asked for it.
 *
 * mmap() can be replaced through ram_set_mmap_hook() so tests can make it fail.
 */
#include "memory/ram-internal.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/log.h"

#define RAM_HOST_ALIGN (2ULL << 20)     /* QEMU_VMALLOC_ALIGN on x86-64 Linux */

static bool mem_merge;
static bool dump_guest_core = true;
static RamMmapFn mmap_fn = mmap;

void ram_set_mem_merge(bool enabled)
{
    mem_merge = enabled;
}

void ram_set_dump_guest_core(bool enabled)
{
    dump_guest_core = enabled;
}

void ram_set_mmap_hook(RamMmapFn fn)
{
    mmap_fn = fn ? fn : mmap;
}

void ram_host_reset_for_tests(void)
{
    mem_merge = false;
    dump_guest_core = true;
    mmap_fn = mmap;
}

void *ram_host_alloc(size_t size, uint64_t *align)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (size > SIZE_MAX - RAM_HOST_ALIGN) {
        errno = ENOMEM;
        return NULL;
    }
    size_t total = size + RAM_HOST_ALIGN - page;
    uint8_t *ptr = mmap_fn(NULL, total, PROT_READ | PROT_WRITE,
                           MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (ptr == MAP_FAILED)
        return NULL;

    size_t head = (size_t)(-(uintptr_t)ptr & (RAM_HOST_ALIGN - 1));
    if (head)
        munmap(ptr, head);
    ptr += head;
    total -= head;
    if (total > size)
        munmap(ptr + size, total - size);
    *align = RAM_HOST_ALIGN;
    return ptr;
}

void ram_host_free(void *host, size_t size)
{
    if (munmap(host, size))
        log_warn("cannot unmap guest memory at %p (%zu bytes): %s", host, size,
                 strerror(errno));
}

void ram_host_try_enable_merging(void *host, size_t size)
{
    if (mem_merge && madvise(host, size, MADV_MERGEABLE))
        log_debug("MADV_MERGEABLE on %p failed: %s", host, strerror(errno));
}

void ram_host_apply_policy(void *host, size_t size)
{
    if (!dump_guest_core && madvise(host, size, MADV_DONTDUMP))
        log_warn("madvise(MADV_DONTDUMP) failed (%s), but guest core dumps are off",
                 strerror(errno));
    if (madvise(host, size, MADV_HUGEPAGE))
        log_debug("MADV_HUGEPAGE on %p failed: %s", host, strerror(errno));
    if (madvise(host, size, MADV_DONTFORK))
        log_debug("MADV_DONTFORK on %p failed: %s", host, strerror(errno));
}
