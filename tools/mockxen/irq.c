/*
 * tools/mockxen/irq.c — the interrupts a device model raises (ISA IRQ lines, PCI INTx
 * on bus 0, MSIs), recorded with Xen's argument checks so the guest can wait for them.
 */
#include <errno.h>

#include "tools/mockxen/mockxen.h"
#include "util/log.h"

static LogRateLimit msi_overflow_rl;

/* An INTx line as MxIrqReq.line: bus 0 (mx_irq_req_check), so device and pin only. */
static uint8_t *intx_locked(MxDomain *d, uint32_t line)
{
    return &d->intx_level[(line >> 3) & 0x1f][line & 3];
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
    int rc = mx_irq_req_check(req, d->arch);
    if (rc) {
        error_setg_errno(errp, -rc, "interrupt kind %u line 0x%x level %u", req->kind,
                         req->line, req->level);
        return rc;
    }
    pthread_mutex_lock(&d->lock);
    switch (req->kind) {
    case MX_IRQ_ISA:
        d->isa_level[req->line] = (uint8_t)req->level;
        break;
    case MX_IRQ_INTX:
        *intx_locked(d, req->line) = (uint8_t)req->level;
        break;
    case MX_IRQ_SPI:
        if (req->level)
            d->spi_pending[req->line - 32] = 1;
        break;
    default:
        queue_msi_locked(d, req->msi_addr, req->level);
        break;
    }
    pthread_mutex_unlock(&d->lock);
    pthread_cond_broadcast(&d->irq_cond);
    return 0;
}

static bool msi_matches(const MxMsi *msi, const MxIrqMatch *m)
{
    return (!m->match_addr || msi->addr == m->msi_addr) &&
           (!m->match_data || msi->data == m->msi_data);
}

static MxMsi *queued_msi_locked(MxDomain *d, unsigned i)
{
    return &d->msi[(d->msi_head + i) % MX_MSI_QUEUE];
}

static int level_locked(MxDomain *d, const MxIrqMatch *m)
{
    MxIrqReq line = { .kind = m->kind, .line = m->line };
    if (m->kind == MX_IRQ_MSI) {
        int n = 0;
        for (unsigned i = 0; i < d->msi_count; i++)
            n += msi_matches(queued_msi_locked(d, i), m);
        return n;
    }
    if (mx_irq_req_check(&line, d->arch))
        return 0;               /* a line Xen does not have is never raised */
    if (m->kind == MX_IRQ_SPI)
        return d->spi_pending[m->line - 32];
    return m->kind == MX_IRQ_ISA ? d->isa_level[m->line] : *intx_locked(d, m->line);
}

int mx_irq_level(MxDomain *d, const MxIrqMatch *m)
{
    pthread_mutex_lock(&d->lock);
    int level = level_locked(d, m);
    pthread_mutex_unlock(&d->lock);
    return level;
}

/* Take the oldest MSI matching m off the queue. */
static bool take_msi_locked(MxDomain *d, const MxIrqMatch *m, MxMsi *taken)
{
    for (unsigned i = 0; i < d->msi_count; i++) {
        if (!msi_matches(queued_msi_locked(d, i), m))
            continue;
        if (taken)
            *taken = *queued_msi_locked(d, i);
        for (unsigned j = i; j + 1 < d->msi_count; j++)    /* close the gap */
            *queued_msi_locked(d, j) = *queued_msi_locked(d, j + 1);
        d->msi_count--;
        return true;
    }
    return false;
}

int mx_irq_wait(MxDomain *d, const MxIrqMatch *m, uint64_t timeout_ns, MxMsi *taken,
                Error **errp)
{
    struct timespec deadline = mx_deadline_after_ns(timeout_ns);
    int rc = 0;
    pthread_mutex_lock(&d->lock);
    for (;;) {
        if (d->crashed) {
            rc = -ESHUTDOWN;
            break;
        }
        if (m->kind == MX_IRQ_MSI ? take_msi_locked(d, m, taken) : level_locked(d, m)) {
            if (m->kind == MX_IRQ_SPI)
                d->spi_pending[m->line - 32] = 0;
            break;
        }
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
