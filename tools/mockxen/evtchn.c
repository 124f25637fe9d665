/*
 * tools/mockxen/evtchn.c — event channels between the guest's ioreq ports and device
 * model xenevtchn handles.
 *
 * Towards the device model an event is a bit in the handle's shared MxEvtchnPage plus a
 * write to its eventfd (skipped while the port is masked; unmask re-signals). Towards
 * the guest, the device model's notify() writes the port's kick eventfd directly (the
 * shim holds a copy), so neither direction needs a socket round trip.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tools/mockxen/mockxen.h"

#define EVTCHN_PAGE_BYTES \
    ((sizeof(MxEvtchnPage) + MX_PAGE_SIZE - 1) & ~(size_t)(MX_PAGE_SIZE - 1))

MxEvtchnHandle *mx_evtchn_open(Error **errp)
{
    MxEvtchnHandle *h = calloc(1, sizeof(*h));
    if (!h) {
        error_setg(errp, "out of memory for an event channel handle");
        return NULL;
    }
    h->restrict_domid = DOMID_INVALID;
    h->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    h->page_fd = memfd_create("mockxen-evtchn", MFD_CLOEXEC);
    if (h->efd < 0 || h->page_fd < 0 || ftruncate(h->page_fd, EVTCHN_PAGE_BYTES) < 0) {
        error_setg_errno(errp, errno, "creating event channel handle fds");
        goto fail;
    }
    h->page = mmap(NULL, EVTCHN_PAGE_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED,
                   h->page_fd, 0);
    if (h->page == MAP_FAILED) {
        error_setg_errno(errp, errno, "mapping an event channel page");
        h->page = NULL;
        goto fail;
    }
    return h;
fail:
    if (h->efd >= 0)
        close(h->efd);
    if (h->page_fd >= 0)
        close(h->page_fd);
    free(h);
    return NULL;
}

static void unbind_locked(MxDomain *d, MxPort *p)
{
    uint32_t l = p->local_port;
    __atomic_and_fetch(&p->bound->page->pending[l / 64], ~(1ull << (l % 64)),
                       __ATOMIC_SEQ_CST);
    d->local_used[l] = false;
    p->bound = NULL;
    p->local_port = 0;
}

void mx_evtchn_close(MxDomain *d, MxEvtchnHandle *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&d->lock);
    for (unsigned i = 1; i < MX_GUEST_PORTS; i++)
        if (d->ports[i].used && d->ports[i].bound == h)
            unbind_locked(d, &d->ports[i]);
    pthread_mutex_unlock(&d->lock);
    munmap(h->page, EVTCHN_PAGE_BYTES);
    close(h->efd);
    close(h->page_fd);
    free(h);
}

uint32_t mx_port_alloc_locked(MxDomain *d, int kick_fd)
{
    for (uint32_t i = 1; i < MX_GUEST_PORTS; i++) {
        if (!d->ports[i].used) {
            d->ports[i] = (MxPort){ .used = true, .kick_fd = kick_fd };
            return i;
        }
    }
    return 0;
}

void mx_port_free_locked(MxDomain *d, uint32_t port)
{
    MxPort *p = &d->ports[port];
    if (p->bound)
        unbind_locked(d, p);
    p->used = false;
}

/* Mark the bound port pending for its device model and wake it unless masked. */
static void set_pending_locked(MxPort *p)
{
    MxEvtchnPage *pg = p->bound->page;
    uint32_t l = p->local_port;
    uint64_t bit = 1ull << (l % 64);
    __atomic_or_fetch(&pg->pending[l / 64], bit, __ATOMIC_SEQ_CST);
    if (!(__atomic_load_n(&pg->masked[l / 64], __ATOMIC_SEQ_CST) & bit)) {
        uint64_t one = 1;
        ssize_t n = write(p->bound->efd, &one, sizeof(one));
        (void)n;                          /* fails only saturated: the DM is woken anyway */
    }
}

int mx_evtchn_bind(MxDomain *d, MxEvtchnHandle *h, uint32_t remote, int *kick_fd,
                   Error **errp)
{
    pthread_mutex_lock(&d->lock);
    MxPort *p = remote < MX_GUEST_PORTS ? &d->ports[remote] : NULL;
    if (!p || !p->used || p->bound) {
        pthread_mutex_unlock(&d->lock);
        error_setg_errno(errp, EINVAL, "bind_interdomain: domain %u port %u is not an "
                         "unbound port", d->domid, remote);
        return -EINVAL;
    }
    uint32_t l = 1;
    while (l < MX_EVTCHN_PORTS && d->local_used[l])
        l++;
    if (l == MX_EVTCHN_PORTS) {
        pthread_mutex_unlock(&d->lock);
        error_setg_errno(errp, ENOSPC, "bind_interdomain: all %u local ports in use",
                         MX_EVTCHN_PORTS - 1);
        return -ENOSPC;
    }
    d->local_used[l] = true;
    p->bound = h;
    p->local_port = l;
    __atomic_and_fetch(&h->page->masked[l / 64], ~(1ull << (l % 64)), __ATOMIC_SEQ_CST);
    /* As Xen's evtchn_bind_interdomain: notifications sent while the guest's port was
     * still unbound were lost, so the new port starts pending (an ioreq published
     * before the device model bound its port is found). */
    set_pending_locked(p);
    *kick_fd = p->kick_fd;
    pthread_mutex_unlock(&d->lock);
    return l;
}

int mx_evtchn_unbind(MxDomain *d, MxEvtchnHandle *h, uint32_t local, Error **errp)
{
    pthread_mutex_lock(&d->lock);
    for (unsigned i = 1; i < MX_GUEST_PORTS; i++) {
        MxPort *p = &d->ports[i];
        if (p->used && p->bound == h && p->local_port == local) {
            unbind_locked(d, p);
            pthread_mutex_unlock(&d->lock);
            return 0;
        }
    }
    pthread_mutex_unlock(&d->lock);
    error_setg_errno(errp, EINVAL, "unbind: local port %u is not bound by this handle",
                     local);
    return -EINVAL;
}

bool mx_evtchn_send_locked(MxDomain *d, uint32_t port)
{
    MxPort *p = port && port < MX_GUEST_PORTS ? &d->ports[port] : NULL;
    if (!p || !p->used || !p->bound)
        return false;
    if (mx_stats_hit(d->stats, MX_KIND_event_to_dm, 0))
        return true;                      /* fault injection: this event is lost */
    set_pending_locked(p);
    return true;
}

