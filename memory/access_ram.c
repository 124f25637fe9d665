/*
 * memory/access_ram.c — copying guest accesses to and from RAMBlocks.
 *
 * A block with host memory is copied directly. A block without (under Xen the frames
 * belong to the guest and are mapped on demand) goes through its own backend's map,
 * which may map less than asked for, so the copy proceeds piece by piece, and a piece
 * it cannot map ends the access with MEMTX_DECODE_ERROR. Every written byte is marked
 * dirty for the region's logging clients, and for migration while it runs, and
 * reported to the block's modified sink.
 */
#include "memory/access-internal.h"

#include <inttypes.h>
#include <string.h>

#include "util/log.h"

static LogRateLimit ram_fail_log;

static void copy(void *host, void *buf, hwaddr len, bool is_write)
{
    if (is_write)
        memcpy(host, buf, len);
    else
        memcpy(buf, host, len);
}

/* Copy through the block's backend; returns how many bytes were copied (all, unless
 * a piece could not be mapped). */
static hwaddr copy_mapped(const RamBackend *be, ram_addr_t ram_addr, uint8_t *buf,
                          hwaddr len, bool is_write)
{
    hwaddr done = 0;
    while (done < len && be->map) {
        hwaddr n = len - done;
        void *host = be->map(be->opaque, ram_addr + done, &n, is_write);
        if (!host || n == 0)
            break;
        if (n > len - done)
            n = len - done;
        copy(host, buf + done, n, is_write);
        if (be->release)
            be->release(be->opaque, host, n, is_write);
        done += n;
    }
    return done;
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
            done = copy_mapped(&block->backend, block->offset + off, buf, len, is_write);
        }
        if (is_write && done)
            ram_block_set_dirty(block, off, done, access_dirty_mask(mr));
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
