/* tools/mockxen/backend.c — GuestBackendOps over the domain model (see backend.h). */
#include "tools/mockxen/backend.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <xen/hvm/dm_op.h>

/* What Xen on Arm can forward: a trapped data abort is one MMIO access, sent as a
 * copy ioreq of count 1 with its data inline (arch/arm/ioreq.c); there are no ports
 * and no string instructions. 0, or -EOPNOTSUPP with errp set. */
static int arm_ioreq_check(const ioreq_t *req, Error **errp)
{
    if (req->type == IOREQ_TYPE_PIO) {
        error_setg_errno(errp, EOPNOTSUPP, "port I/O at 0x%" PRIx64 ": an Arm domain has "
                         "none (Xen forwards only MMIO)", req->addr);
        return -EOPNOTSUPP;
    }
    if (req->count != 1 || req->data_is_ptr) {
        error_setg_errno(errp, EOPNOTSUPP, "a repeated MMIO access at 0x%" PRIx64 " (count "
                         "%u%s): an Arm domain's are one access each, data inline",
                         req->addr, req->count, req->data_is_ptr ? ", data in memory" : "");
        return -EOPNOTSUPP;
    }
    return 0;
}

/* The guest sees an ioreq complete only with the one-way messages (interrupts) the
 * device model sent while handling it: on Xen those hypercalls were done by then. */
static int be_ioreq(void *opaque, unsigned vcpu, ioreq_t *req, unsigned flags, Error **errp)
{
    MxBackend *be = opaque;
    bool raw = flags & GUEST_IOREQ_RAW;
    if (be->d->arch == MX_ARCH_ARM && !raw) {
        int rc = arm_ioreq_check(req, errp);
        if (rc)
            return rc;
    }
    if (!raw && req->addr >= be->buffered_start && req->addr <= be->buffered_end &&
        mx_ioreq_send_buffered(be->d, req))
        return 0;
    int rc = mx_ioreq_send(be->d, vcpu, req, raw, be->ioreq_timeout_ms, errp);
    mx_oneway_sync(be->d);
    return rc;
}

static int be_mem_read(void *opaque, unsigned vcpu, uint64_t gpa, void *buf, size_t len,
                       Error **errp)
{
    MxBackend *be = opaque;
    return mx_domain_read(be->d, gpa, buf, len, errp);
}

static int be_mem_write(void *opaque, unsigned vcpu, uint64_t gpa, const void *buf,
                        size_t len, Error **errp)
{
    MxBackend *be = opaque;
    return mx_domain_write(be->d, gpa, buf, len, errp);
}

/* The model's name for a guest.h interrupt line. */
static MxIrqMatch irq_match(const GuestIrq *irq)
{
    MxIrqMatch m = { .match_addr = irq->match_addr, .match_data = irq->match_data,
                     .msi_addr = irq->msi_addr, .msi_data = irq->msi_data };
    switch (irq->kind) {
    case GUEST_IRQ_ISA:
        m.kind = MX_IRQ_ISA;
        m.line = irq->isa;
        break;
    case GUEST_IRQ_SPI:
        m.kind = MX_IRQ_SPI;
        m.line = irq->isa;
        break;
    case GUEST_IRQ_INTX:
        m.kind = MX_IRQ_INTX;
        m.line = XEN_DMOP_PCI_SBDF(irq->segment, irq->bus, irq->dev, irq->intx);
        break;
    default:
        m.kind = MX_IRQ_MSI;
        break;
    }
    return m;
}

static int be_wait_irq(void *opaque, unsigned vcpu, const GuestIrq *irq, uint64_t timeout_ns,
                       GuestMsi *msi, Error **errp)
{
    MxBackend *be = opaque;
    MxIrqMatch m = irq_match(irq);
    MxMsi taken = { 0 };
    int rc = mx_irq_wait(be->d, &m, timeout_ns, &taken, errp);
    *msi = (GuestMsi){ .addr = taken.addr, .data = taken.data };
    return rc;
}

static int be_irq_level(void *opaque, unsigned vcpu, const GuestIrq *irq, Error **errp)
{
    MxBackend *be = opaque;
    MxIrqMatch m = irq_match(irq);
    mx_oneway_sync(be->d);
    return mx_irq_level(be->d, &m);
}

static int be_log_dirty(void *opaque, unsigned vcpu, bool enable, Error **errp)
{
    MxBackend *be = opaque;
    mx_domain_set_log_dirty(be->d, enable);
    return 0;
}

static int be_dirty_bitmap(void *opaque, unsigned vcpu, uint64_t first_pfn, uint64_t nr,
                           bool clean, unsigned long *bitmap, Error **errp)
{
    MxBackend *be = opaque;
    return mx_domain_dirty_bitmap(be->d, first_pfn, nr, clean, bitmap, errp);
}

static int be_grant_table(void *opaque, unsigned vcpu, uint64_t gpa, uint32_t nr_frames,
                          Error **errp)
{
    MxBackend *be = opaque;
    return mx_gnttab_setup(be->d, gpa, nr_frames, errp);
}

static int be_grant(void *opaque, unsigned vcpu, uint32_t ref, uint16_t domid, uint32_t gfn,
                    bool readonly, Error **errp)
{
    MxBackend *be = opaque;
    return mx_gnttab_grant(be->d, ref, domid, gfn, readonly, errp);
}

static int be_grant_revoke(void *opaque, unsigned vcpu, uint32_t ref, Error **errp)
{
    MxBackend *be = opaque;
    return mx_gnttab_revoke(be->d, ref, errp);
}

static int be_counter(void *opaque, unsigned vcpu, const char *name, uint64_t *value,
                      Error **errp)
{
    MxBackend *be = opaque;
    enum MxKind k;
    int rc = mx_kind_lookup(name, &k);
    if (rc) {
        error_setg_errno(errp, -rc, "counter '%s'", name);
        return rc;
    }
    *value = mx_stats_count(be->stats, k);
    return 0;
}

const GuestBackendOps mx_backend_ops = {
    .ioreq = be_ioreq,
    .mem_read = be_mem_read,
    .mem_write = be_mem_write,
    .wait_irq = be_wait_irq,
    .irq_level = be_irq_level,
    .log_dirty = be_log_dirty,
    .dirty_bitmap = be_dirty_bitmap,
    .counter = be_counter,
    .grant_table = be_grant_table,
    .grant = be_grant,
    .grant_revoke = be_grant_revoke,
};
