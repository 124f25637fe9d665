/*
 * memory/access_ram.c — copying guest accesses to and from RAMBlocks.
 *
 * A block with host memory is copied directly. A block without (under Xen the frames
 * belong to the guest and are mapped on demand) goes through the RAM translate hook,
 * which the mapcache installs: it may map less than asked for, so the copy proceeds
 * piece by piece, and a piece it cannot map ends the access with MEMTX_DECODE_ERROR.
 * Every written byte is marked dirty for the region's logging clients, and for
 * migration while it runs.
 */
#include "memory/access-internal.h"

#include <inttypes.h>
#include <string.h>

#include "util/log.h"

static RamTranslateHook translate_hook;
static LogRateLimit ram_fail_log;

void memory_set_ram_translate_hook(const RamTranslateHook *hook)
{
    translate_hook = hook ? *hook : (RamTranslateHook){ 0 };
}

static void copy(void *host, void *buf, hwaddr len, bool is_write)
{
    if (is_write)
        memcpy(host, buf, len);
    else
        memcpy(buf, host, len);
}

/* Copy through the hook; returns how many bytes were copied (all, unless it failed). */
static hwaddr copy_translated(ram_addr_t ram_addr, uint8_t *buf, hwaddr len, bool is_write)
{
    hwaddr done = 0;
    while (done < len && translate_hook.map) {
        hwaddr n = len - done;
        void *host = translate_hook.map(translate_hook.opaque, ram_addr + done, &n, is_write);
        if (!host || n == 0)
            break;
        if (n > len - done)
            n = len - done;
        copy(host, buf + done, n, is_write);
        if (translate_hook.release)
            translate_hook.release(translate_hook.opaque, host, n, is_write);
        done += n;
    }
    return done;
}

static uint8_t dirty_mask(const MemoryRegion *mr)
{
    uint8_t mask = mr->dirty_log_mask;
    if (ram_dirty_migration_active())
        mask |= 1u << DIRTY_MEMORY_MIGRATION;
    return mask;
}

MemTxResult access_ram(MemoryRegion *mr, hwaddr off, void *buf, hwaddr len, bool is_write)
{
    RAMBlock *block = mr->ram_block;
    hwaddr done = 0;
    if (block && off < block->used_length && len <= block->used_length - off) {
        if (block->host) {
            copy(block->host + off, buf, len, is_write);
            done = len;
        } else {
            done = copy_translated(block->offset + off, buf, len, is_write);
        }
        if (is_write && done)
            cpu_physical_memory_set_dirty_range(block->offset + off, done, dirty_mask(mr));
    }
    if (done == len)
        return MEMTX_OK;
    log_ratelimited(&ram_fail_log, LOG_WARN,
                    "cannot %s %" PRIu64 " bytes at offset 0x%" PRIx64 " of RAM '%s'",
                    is_write ? "write" : "read", len - done, off + done,
                    memory_region_name(mr));
    if (!is_write)
        memset((uint8_t *)buf + done, 0xff, len - done);
    return MEMTX_DECODE_ERROR;
}
