/*
 * tools/mockxen/irq.c — the interrupt lines a device model drives (ISA IRQs, PCI INTx,
 * MSIs), recorded so the guest can wait for them.
 */
#include <errno.h>
#include <time.h>

#include "tools/mockxen/mockxen.h"
#include "util/log.h"

static LogRateLimit msi_overflow_rl;

static int set_intx_locked(MxDomain *d, uint32_t line, uint32_t level)
{
    for (unsigned i = 0; i < d->nr_intx; i++) {
        if (d->intx[i].sbdf_pin == line) {
            d->intx[i].level = level;
            return 0;
        }
    }
    if (d->nr_intx == MX_MAX_INTX)
        return -ENOSPC;
    d->intx[d->nr_intx++] = (MxIntx){ .sbdf_pin = line, .level = level };
    return 0;
}

static void queue_msi_locked(MxDomain *d, uint64_t addr, uint32_t data)
{
    if (d->msi_count == MX_MSI_QUEUE) {         /* the guest is not consuming: drop oldest */
        log_ratelimited(&msi_overflow_rl, LOG_WARN, "MSI queue full, dropping the oldest");
        d->msi_head = (d->msi_head + 1) % MX_MSI_QUEUE;
        d->msi_count--;
    }
    d->msi[(d->msi_head + d->msi_count++) % MX_MSI_QUEUE] = (MxMsi){ addr, data };
}

int mx_irq_set(MxDomain *d, const MxIrqReq *req, Error **errp)
{
    int rc = 0;
    pthread_mutex_lock(&d->lock);
    switch (req->kind) {
    case MX_IRQ_ISA:
        if (req->line >= 16)
            rc = -EINVAL;
        else
            d->isa_level[req->line] = req->level != 0;
        break;
    case MX_IRQ_INTX:
        if ((req->line & 7) > 3)
            rc = -EINVAL;
        else
            rc = set_intx_locked(d, req->line, req->level != 0);
        break;
    case MX_IRQ_MSI:
        queue_msi_locked(d, req->msi_addr, req->level);
        break;
    default:
        rc = -EINVAL;
    }
    pthread_mutex_unlock(&d->lock);
    if (rc)
        error_setg_errno(errp, -rc, "interrupt kind %u line 0x%x level %u", req->kind,
                         req->line, req->level);
    else
        pthread_cond_broadcast(&d->irq_cond);
    return rc;
}

static int level_locked(MxDomain *d, uint32_t kind, uint32_t line)
{
    if (kind == MX_IRQ_ISA)
        return line < 16 ? d->isa_level[line] : 0;
    for (unsigned i = 0; i < d->nr_intx; i++)
        if (d->intx[i].sbdf_pin == line)
            return d->intx[i].level;
    return 0;
}

int mx_irq_level(MxDomain *d, uint32_t kind, uint32_t line)
{
    pthread_mutex_lock(&d->lock);
    int level = level_locked(d, kind, line);
    pthread_mutex_unlock(&d->lock);
    return level;
}

static bool take_msi_locked(MxDomain *d, const MxIrqMatch *m)
{
    for (unsigned i = 0; i < d->msi_count; i++) {
        MxMsi *msi = &d->msi[(d->msi_head + i) % MX_MSI_QUEUE];
        if ((m->match_addr && msi->addr != m->msi_addr) ||
            (m->match_data && msi->data != m->msi_data))
            continue;
        for (unsigned j = i; j + 1 < d->msi_count; j++)    /* close the gap */
            d->msi[(d->msi_head + j) % MX_MSI_QUEUE] =
                d->msi[(d->msi_head + j + 1) % MX_MSI_QUEUE];
        d->msi_count--;
        return true;
    }
    return false;
}

int mx_irq_wait(MxDomain *d, const MxIrqMatch *m, uint64_t timeout_ns, Error **errp)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    uint64_t ns = deadline.tv_nsec + timeout_ns;
    deadline.tv_sec += ns / 1000000000ull;
    deadline.tv_nsec = ns % 1000000000ull;

    int rc = 0;
    pthread_mutex_lock(&d->lock);
    for (;;) {
        if (d->crashed) {
            rc = -ESHUTDOWN;
            break;
        }
        if (m->kind == MX_IRQ_MSI ? take_msi_locked(d, m) : level_locked(d, m->kind, m->line))
            break;
        if (pthread_cond_timedwait(&d->irq_cond, &d->lock, &deadline) == ETIMEDOUT) {
            rc = -ETIMEDOUT;
            break;
        }
    }
    pthread_mutex_unlock(&d->lock);
    if (rc)
        error_setg_errno(errp, -rc, "waiting for interrupt kind %u line 0x%x", m->kind,
                         m->line);
    return rc;
}
