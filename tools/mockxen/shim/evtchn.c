/*
 * tools/mockxen/shim/evtchn.c — libxenevtchn.so.1: one eventfd per handle and a
 * pending/masked page shared with the daemon. notify() writes the remote port's
 * eventfd (received at bind time); pending() and unmask() are atomic bit operations:
 * no socket round trip on the ioreq path.
 *
 * xenevtchn_fd() is an epoll fd holding the eventfd and the handle's daemon connection
 * (hang-up only), so a device model polling it also wakes when mockxen dies; pending()
 * then fails with ENOTCONN instead of EAGAIN. After an orderly daemon exit (the page
 * says so) the connection just leaves the epoll set: the device model waits to be
 * stopped, as it would after its domain was destroyed.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xenevtchn.h>

#include "tools/mockxen/shim/client.h"
#include "tools/mockxen/shim/toolcore.h"

#define PAGE_BYTES ((sizeof(MxEvtchnPage) + MX_PAGE_SIZE - 1) & ~(size_t)(MX_PAGE_SIZE - 1))

struct xenevtchn_handle {
    MxClient c;
    MxToolcoreHandle tc;
    int efd;                          /* signalled by the daemon */
    int epfd;                         /* what xenevtchn_fd() returns: efd + hang-up */
    MxEvtchnPage *page;
    bool restricted;
    domid_t restrict_domid;
    int kick[MX_EVTCHN_PORTS];        /* remote eventfd per bound local port, or -1 */
    unsigned next_port;               /* where xenevtchn_pending() looks first */
};

static int restrict_xce(MxToolcoreHandle *tc, domid_t domid)
{
    xenevtchn_handle *xce = container_of(tc, xenevtchn_handle, tc);
    xce->restricted = true;
    xce->restrict_domid = domid;
    return 0;
}

static int open_channel(xenevtchn_handle *xce)
{
    int fds[2];
    if (mx_client_call_two_fds(&xce->c, MX_OP_EVTCHN_OPEN, NULL, 0, NULL, 0, fds) < 0)
        return -1;
    xce->page = mmap(NULL, PAGE_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fds[1], 0);
    close(fds[1]);
    if (xce->page == MAP_FAILED) {
        close(fds[0]);
        return -1;
    }
    xce->efd = fds[0];
    struct epoll_event ev = { .events = EPOLLIN };
    struct epoll_event hup = { .events = EPOLLRDHUP };   /* HUP and ERR are implied */
    xce->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (xce->epfd < 0 || epoll_ctl(xce->epfd, EPOLL_CTL_ADD, xce->efd, &ev) < 0 ||
        epoll_ctl(xce->epfd, EPOLL_CTL_ADD, xce->c.fd, &hup) < 0) {
        int err = errno;
        if (xce->epfd >= 0)
            close(xce->epfd);
        close(xce->efd);
        munmap(xce->page, PAGE_BYTES);
        errno = err;
        return -1;
    }
    return 0;
}

/* Why there is no event: EAGAIN, or ENOTCONN if the daemon died. */
static int no_event_errno(xenevtchn_handle *xce)
{
    struct pollfd pfd = { .fd = xce->c.fd, .events = POLLRDHUP };
    if (poll(&pfd, 1, 0) <= 0 || !(pfd.revents & (POLLHUP | POLLRDHUP | POLLERR)))
        return EAGAIN;
    if (!__atomic_load_n(&xce->page->daemon_exiting, __ATOMIC_SEQ_CST))
        return ENOTCONN;
    epoll_ctl(xce->epfd, EPOLL_CTL_DEL, xce->c.fd, NULL);    /* stop waking up for it */
    return EAGAIN;
}

xenevtchn_handle *xenevtchn_open(struct xentoollog_logger *logger, unsigned int flags)
{
    xenevtchn_handle *xce = calloc(1, sizeof(*xce));
    if (!xce)
        return NULL;
    if (mx_client_open_counted(&xce->c, "xenevtchn", MX_KIND_xenevtchn_open) < 0) {
        free(xce);
        return NULL;
    }
    if (open_channel(xce) < 0) {
        int err = errno;
        mx_client_close(&xce->c);
        free(xce);
        errno = err;
        return NULL;
    }
    for (unsigned i = 0; i < MX_EVTCHN_PORTS; i++)
        xce->kick[i] = -1;
    xce->tc.restrict_callback = restrict_xce;
    xentoolcore__register_active_handle(&xce->tc);
    return xce;
}

xenevtchn_handle *xenevtchn_fdopen(struct xentoollog_logger *logger, int fd, unsigned open_flags)
{
    MX_ENOSYS(xenevtchn_fdopen, NULL);
}

int xenevtchn_close(xenevtchn_handle *xce)
{
    if (!xce)
        return 0;
    MX_ENTER(xenevtchn_close, -1);
    xentoolcore__deregister_active_handle(&xce->tc);
    for (unsigned i = 0; i < MX_EVTCHN_PORTS; i++)
        if (xce->kick[i] >= 0)
            close(xce->kick[i]);
    munmap(xce->page, PAGE_BYTES);
    close(xce->epfd);
    close(xce->efd);
    mx_client_close(&xce->c);
    free(xce);
    return 0;
}

int xenevtchn_restrict(xenevtchn_handle *xce, domid_t domid)
{
    MX_ENTER(xenevtchn_restrict, -1);
    return restrict_xce(&xce->tc, domid);
}

int xenevtchn_fd(xenevtchn_handle *xce)
{
    MX_ENTER(xenevtchn_fd, -1);
    return xce->epfd;
}

static bool valid_port(evtchn_port_t port)
{
    return port > 0 && port < MX_EVTCHN_PORTS;
}

int xenevtchn_notify(xenevtchn_handle *xce, evtchn_port_t port)
{
    MX_ENTER(xenevtchn_notify, -1);
    int fd = valid_port(port) ? __atomic_load_n(&xce->kick[port], __ATOMIC_ACQUIRE) : -1;
    if (fd < 0) {
        errno = EINVAL;
        return -1;
    }
    uint64_t one = 1;
    return write(fd, &one, sizeof(one)) == sizeof(one) ? 0 : -1;
}

xenevtchn_port_or_error_t xenevtchn_bind_interdomain(xenevtchn_handle *xce, uint32_t domid,
                                                     evtchn_port_t remote_port)
{
    MX_ENTER(xenevtchn_bind_interdomain, -1);
    if (xce->restricted && domid != xce->restrict_domid) {
        errno = EPERM;
        return -1;
    }
    MxBindReq req = { .domid = domid, .port = remote_port };
    int fd = -1;
    unsigned nfds = 0;
    int port = mx_client_call(&xce->c, MX_OP_EVTCHN_BIND, &req, sizeof(req), NULL, 0, NULL, 0,
                              NULL, &fd, 1, &nfds);
    if (port < 0)
        return -1;
    if (nfds != 1 || !valid_port(port)) {
        if (nfds)
            close(fd);
        errno = EPROTO;
        return -1;
    }
    __atomic_store_n(&xce->kick[port], fd, __ATOMIC_RELEASE);
    return port;
}

int xenevtchn_unbind(xenevtchn_handle *xce, evtchn_port_t port)
{
    MX_ENTER(xenevtchn_unbind, -1);
    MxBindReq req = { .port = port };
    if (!valid_port(port) ||
        mx_client_simple_call(&xce->c, MX_OP_EVTCHN_UNBIND, &req, sizeof(req)) < 0) {
        if (!valid_port(port))
            errno = EINVAL;
        return -1;
    }
    int fd = __atomic_exchange_n(&xce->kick[port], -1, __ATOMIC_ACQ_REL);
    if (fd >= 0)
        close(fd);
    return 0;
}

/* Is any unmasked port pending? */
static bool any_deliverable(const MxEvtchnPage *pg)
{
    for (unsigned w = 0; w < MX_EVTCHN_WORDS; w++)
        if (__atomic_load_n(&pg->pending[w], __ATOMIC_SEQ_CST) &
            ~__atomic_load_n(&pg->masked[w], __ATOMIC_SEQ_CST))
            return true;
    return false;
}

xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *xce)
{
    MX_ENTER(xenevtchn_pending, -1);
    MxEvtchnPage *pg = xce->page;
    uint64_t count;
    if (read(xce->efd, &count, sizeof(count)) < 0 && errno != EAGAIN)
        return -1;
    /* Round robin from the port after the last one delivered, so a port that is pending
     * again and again cannot starve the others: Linux's evtchn driver hands ports out in
     * the order they fired, which is fair in the same way. */
    for (unsigned k = 0; k <= MX_EVTCHN_WORDS; k++) {
        unsigned w = (xce->next_port / 64 + k) % MX_EVTCHN_WORDS;
        uint64_t from = k == 0 ? ~0ull << (xce->next_port % 64)
                               : k == MX_EVTCHN_WORDS ? ~(~0ull << (xce->next_port % 64))
                                                      : ~0ull;
        uint64_t ready;
        while ((ready = __atomic_load_n(&pg->pending[w], __ATOMIC_SEQ_CST) &
                        ~__atomic_load_n(&pg->masked[w], __ATOMIC_SEQ_CST) & from)) {
            uint64_t bit = ready & -ready;
            /* Like the Linux driver: a delivered port stays masked until unmask(). */
            __atomic_or_fetch(&pg->masked[w], bit, __ATOMIC_SEQ_CST);
            if (!(__atomic_fetch_and(&pg->pending[w], ~bit, __ATOMIC_SEQ_CST) & bit))
                continue;
            if (any_deliverable(pg)) {       /* keep the fd readable for the others */
                uint64_t one = 1;
                if (write(xce->efd, &one, sizeof(one)) < 0)
                    return -1;
            }
            unsigned port = w * 64 + (unsigned)__builtin_ctzll(bit);
            xce->next_port = (port + 1) % MX_EVTCHN_PORTS;
            return (xenevtchn_port_or_error_t)port;
        }
    }
    errno = no_event_errno(xce);
    return -1;
}

int xenevtchn_unmask(xenevtchn_handle *xce, evtchn_port_t port)
{
    MX_ENTER(xenevtchn_unmask, -1);
    if (!valid_port(port)) {
        errno = EINVAL;
        return -1;
    }
    MxEvtchnPage *pg = xce->page;
    uint64_t bit = 1ull << (port % 64);
    __atomic_and_fetch(&pg->masked[port / 64], ~bit, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&pg->pending[port / 64], __ATOMIC_SEQ_CST) & bit) {
        uint64_t one = 1;                    /* it fired while masked: deliver it now */
        if (write(xce->efd, &one, sizeof(one)) < 0)
            return -1;
    }
    return 0;
}

xenevtchn_port_or_error_t xenevtchn_bind_unbound_port(xenevtchn_handle *xce, uint32_t domid)
{
    MX_ENOSYS(xenevtchn_bind_unbound_port, -1);
}

xenevtchn_port_or_error_t xenevtchn_bind_virq(xenevtchn_handle *xce, unsigned int virq)
{
    MX_ENOSYS(xenevtchn_bind_virq, -1);
}
