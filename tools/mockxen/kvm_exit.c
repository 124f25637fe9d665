/*
 * tools/mockxen/kvm_exit.c — KVM exits to ioreqs and ioreq answers back to KVM exits
 * (see kvm_guest.h). Pure functions over struct kvm_run, so they are unit-tested
 * without /dev/kvm.
 *
 * What KVM does (checked on Linux 6.x): a string `in` exits once per batch of up to a
 * page of elements, count > 1, before (E)DI moves, and writes the run area's data into
 * guest memory when the vCPU resumes; a string `out` exits after the emulator has
 * stepped (E)SI past the elements it passes in the run area (one per exit today).
 */
#include <errno.h>
#include <string.h>

#include "tools/mockxen/kvm_guest.h"

#define RFLAGS_DF (1ull << 10)

static uint64_t address_mask(const struct kvm_sregs *sregs)
{
    if (sregs->cs.l)
        return ~0ull;
    return sregs->cs.db ? 0xffffffffull : 0xffffull;
}

/* 64-bit code ignores the ES and DS bases. */
static uint64_t segment_base(const struct kvm_sregs *sregs, const struct kvm_segment *seg)
{
    return sregs->cs.l ? 0 : seg->base;
}

uint64_t mx_kvm_string_linear(const struct kvm_regs *regs, const struct kvm_sregs *sregs,
                              bool in, uint32_t count, uint32_t size, bool *df)
{
    uint64_t mask = address_mask(sregs);
    *df = regs->rflags & RFLAGS_DF;
    if (in)
        return segment_base(sregs, &sregs->es) + (regs->rdi & mask);
    uint64_t span = (uint64_t)count * size;
    uint64_t start = *df ? regs->rsi + span : regs->rsi - span;
    return segment_base(sregs, &sregs->ds) + (start & mask);
}

static bool valid_size(uint32_t size, uint32_t max)
{
    return size != 0 && size <= max && (size & (size - 1)) == 0;
}

static uint64_t load_le(const uint8_t *p, uint32_t size)
{
    uint64_t v = 0;
    for (uint32_t i = 0; i < size; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void store_le(uint8_t *p, uint64_t v, uint32_t size)
{
    for (uint32_t i = 0; i < size; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

int mx_kvm_io_to_ioreq(const struct kvm_run *run, size_t run_size, const MxKvmStringBuf *buf,
                       ioreq_t *req, Error **errp)
{
    uint32_t size = run->io.size, count = run->io.count;
    uint64_t off = run->io.data_offset;
    if (!valid_size(size, 4) || count == 0 || off > run_size ||
        (uint64_t)size * count > run_size - off || (count > 1 && !buf)) {
        error_setg_errno(errp, EINVAL, "malformed KVM I/O exit: port 0x%x size %u count %u "
                         "data offset %llu (run area %zu bytes)", run->io.port, size, count,
                         (unsigned long long)off, run_size);
        return -EINVAL;
    }
    memset(req, 0, sizeof(*req));
    req->type = IOREQ_TYPE_PIO;
    req->addr = run->io.port;
    req->size = size;
    req->count = count;
    req->dir = run->io.direction == KVM_EXIT_IO_OUT ? IOREQ_WRITE : IOREQ_READ;
    if (count > 1) {
        req->data_is_ptr = 1;
        req->data = buf->gpa;
        req->df = buf->df;
    } else if (req->dir == IOREQ_WRITE) {
        req->data = load_le((const uint8_t *)run + off, size);
    }
    return 0;
}

int mx_kvm_mmio_to_ioreq(const struct kvm_run *run, ioreq_t *req, Error **errp)
{
    uint32_t len = run->mmio.len;
    if (!valid_size(len, 8)) {
        error_setg_errno(errp, EINVAL, "MMIO %s of %u bytes at 0x%llx: only 1, 2, 4 and 8 "
                         "byte accesses are forwarded", run->mmio.is_write ? "write" : "read",
                         len, (unsigned long long)run->mmio.phys_addr);
        return -EINVAL;
    }
    memset(req, 0, sizeof(*req));
    req->type = IOREQ_TYPE_COPY;
    req->addr = run->mmio.phys_addr;
    req->size = len;
    req->count = 1;
    req->dir = run->mmio.is_write ? IOREQ_WRITE : IOREQ_READ;
    if (run->mmio.is_write)
        req->data = load_le(run->mmio.data, len);
    return 0;
}

void mx_kvm_io_complete(struct kvm_run *run, const ioreq_t *req, const uint8_t *lowest)
{
    if (req->dir != IOREQ_READ)
        return;
    uint8_t *dst = (uint8_t *)run + run->io.data_offset;
    if (!req->data_is_ptr) {
        store_le(dst, req->data, req->size);
        return;
    }
    for (uint32_t i = 0; i < req->count; i++) {
        uint32_t elem = req->df ? req->count - 1 - i : i;    /* element i's place in RAM */
        memcpy(dst + (size_t)i * req->size, lowest + (size_t)elem * req->size, req->size);
    }
}

void mx_kvm_mmio_complete(struct kvm_run *run, const ioreq_t *req)
{
    if (req->dir == IOREQ_READ)
        store_le(run->mmio.data, req->data, req->size);
}
