/*
 * dm/event_loop.c — the one thread that serves the guest.
 *
 * An epoll set holds the event-channel fd (ioreqs), the signal fd (SIGTERM, SIGINT and
 * SIGHUP end the run), the control server's fd (--control), the domain probe's timer
 * (--secondary: the run ends with the domain), xenstore's watch fd (--xenstore-devices:
 * devices come and go) and the devices' input and output fds (a UART's chardev, a
 * disk's I/O completions). Everything, device emulation
 * included, runs on this thread, so the memory model needs no locks. Nothing on it
 * blocks, and every source does a bounded amount of work per iteration
 * (docs/LOOP-BOUNDS.md lists them): a long rep runs one slice per iteration
 * (xen_dm_continue_requests), a virtio queue with more requests than its budget defers
 * the rest to the device work queue, which runs after everything ready was served and
 * only for work deferred before the turn began; while either is unfinished the wait
 * does not sleep.
 *
 * A device's fds can change between wake-ups (a UART socket accepts a client, a file
 * reaches EOF, queued output appears or drains), so before each wait the loop compares
 * what each device wants polled (POLLIN for input, POLLOUT for queued output) with what
 * is registered and fixes the set: one comparison per device and direction, and an
 * epoll_ctl only when something changed. Regular files and /dev/null cannot be in an
 * epoll set (EPERM) but are always ready: such a device is served before the wait,
 * which then does not block. It stops asking once its input ends or the device is full
 * (or its output queue is empty).
 *
 * Asked to stop, the loop does not end at once: it first takes no new requests and
 * settles those already posted (stopped(), below), so that no vCPU is left waiting on a
 * server that is about to go.
 */
#include "dm/dm.h"

#include <errno.h>
#include <inttypes.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/log.h"

/* epoll data: device i's input is i, its output SOURCE_OUTPUT + i; then the fixed
 * sources. */
#define SOURCE_OUTPUT  DM_MAX_DEVICES
#define SOURCE_EVTCHN  (2 * DM_MAX_DEVICES + 0)
#define SOURCE_SIGNAL  (2 * DM_MAX_DEVICES + 1)
#define SOURCE_CONTROL (2 * DM_MAX_DEVICES + 2)
#define SOURCE_PROBE   (2 * DM_MAX_DEVICES + 3)
#define SOURCE_XENSTORE (2 * DM_MAX_DEVICES + 4)
#define LOOP_MAX_EVENTS (SOURCE_XENSTORE + 1)   /* every source ready at once */
/* How long a stop may wait for requests in flight: a rep's slices and a reset waiting
 * for its disk's requests take far less; past it the guest's vCPU is left waiting. */
#define DM_STOP_DRAIN_MS 2000

/* One device fd in the set, for one direction. */
typedef struct FdWatch {
    int fd;                     /* registered fd, -1: none */
    bool always_ready;          /* fd cannot be polled: served before every wait */
} FdWatch;

typedef struct EventLoop {
    int epfd;
    FdWatch input[DM_MAX_DEVICES], output[DM_MAX_DEVICES];
} EventLoop;

static int watch(EventLoop *loop, int op, int fd, uint64_t source, Error **errp)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = source };
    if (epoll_ctl(loop->epfd, op, fd, &ev) < 0) {
        int err = errno;
        error_setg_errno(errp, err, "cannot watch fd %d", fd);
        return -err;
    }
    return 0;
}

static void handle_device_input(Dm *dm, unsigned i)
{
    Error *err = NULL;
    if (device_handle_readable(dm->devices[i], &err) < 0) {
        log_warn("%s", error_get_pretty(err));
        error_free(err);
    }
}

static void handle_device_output(Dm *dm, unsigned i)
{
    device_handle_writable(dm->devices[i]);
}

/* First pass of sync_device_fds: every registered fd that is no longer its device's
 * leaves the set, before any new fd joins. An fd number one device closed may already
 * be another device's new fd (accept() takes the lowest free number): removing the old
 * registration after the new one was added would silently unwatch the new owner. */
static void unwatch_stale_fds(EventLoop *loop, FdWatch *w, const int *fds, unsigned nr)
{
    for (unsigned i = 0; i < nr; i++) {
        /* The old fd may be closed already, which removed it from the set. */
        int old = w[i].fd;
        if (fds[i] != old && old >= 0 && !w[i].always_ready)
            epoll_ctl(loop->epfd, EPOLL_CTL_DEL, old, NULL);
    }
}

/* Register fd as w's new fd for `events`. Returns 0 or -errno. */
static int rewatch(EventLoop *loop, FdWatch *w, int fd, uint32_t events, uint64_t source,
                   Error **errp)
{
    w->fd = fd;
    w->always_ready = false;
    struct epoll_event ev = { .events = events, .data.u64 = source };
    if (fd < 0 || epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) == 0)
        return 0;
    if (errno != EPERM) {
        int err = errno;
        error_setg_errno(errp, err, "cannot watch fd %d of device %" PRIu64, fd,
                         source % DM_MAX_DEVICES);
        return -err;
    }
    w->always_ready = true;
    return 0;
}

/* Bring the set in line with the devices' fds. Returns how many device fds are always
 * ready now (served here, before the wait), or -errno. */
static int sync_device_fds(Dm *dm, EventLoop *loop, Error **errp)
{
    int in[DM_MAX_DEVICES], out[DM_MAX_DEVICES];
    for (unsigned i = 0; i < dm->nr_devices; i++) {
        in[i] = dm->devices[i] ? device_poll_fd(dm->devices[i]) : -1;
        out[i] = dm->devices[i] ? device_poll_out_fd(dm->devices[i]) : -1;
    }
    unwatch_stale_fds(loop, loop->input, in, dm->nr_devices);
    unwatch_stale_fds(loop, loop->output, out, dm->nr_devices);
    int ready = 0;
    for (unsigned i = 0; i < dm->nr_devices; i++) {
        int ret = 0;
        if (in[i] != loop->input[i].fd)
            ret = rewatch(loop, &loop->input[i], in[i], EPOLLIN, i, errp);
        if (ret == 0 && out[i] != loop->output[i].fd)
            ret = rewatch(loop, &loop->output[i], out[i], EPOLLOUT, SOURCE_OUTPUT + i, errp);
        if (ret < 0)
            return ret;
        if (in[i] >= 0 && loop->input[i].always_ready) {
            handle_device_input(dm, i);
            ready++;
        }
        if (out[i] >= 0 && loop->output[i].always_ready) {
            handle_device_output(dm, i);
            ready++;
        }
    }
    return ready;
}

static void handle_signal(Dm *dm)
{
    struct signalfd_siginfo si;
    if (read(dm->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        log_info("signal %u: shutting down", si.ssi_signo);
        dm->stop = true;
    }
}

/* Serve one batch of ready sources. Returns 0 or -errno (fatal) with errp set. Devices
 * added or removed through xenstore change the slots, so that comes after the batch. */
static int dispatch(Dm *dm, const struct epoll_event *ev, int n, Error **errp)
{
    bool xenstore = false;
    for (int i = 0; i < n; i++) {
        uint64_t source = ev[i].data.u64;
        if (source == SOURCE_EVTCHN) {
            if ((ev[i].events & (EPOLLERR | EPOLLHUP)) && !(ev[i].events & EPOLLIN)) {
                error_setg(errp, "the event-channel fd failed (is Xen or mockxen gone?)");
                return -EPIPE;
            }
            int ret = xen_dm_handle_events(dm->xen, errp);
            if (ret < 0)
                return ret;
        } else if (source == SOURCE_SIGNAL) {
            handle_signal(dm);
        } else if (source == SOURCE_CONTROL) {
            dm_control_serve(dm);
        } else if (source == SOURCE_PROBE) {
            int ret = dm_secondary_probe(dm, errp);
            if (ret < 0)
                return ret;
        } else if (source == SOURCE_XENSTORE) {
            xenstore = true;
        } else if (source < dm->nr_devices && dm->devices[source]) {
            handle_device_input(dm, (unsigned)source);
        } else if (source - SOURCE_OUTPUT < dm->nr_devices &&
                   dm->devices[source - SOURCE_OUTPUT]) {
            handle_device_output(dm, (unsigned)(source - SOURCE_OUTPUT));
        }
    }
    if (xenstore)
        dm_xsdev_handle(dm);
    return 0;
}

/* How long the wait may sleep: not at all while a device is always ready or a request
 * can go on, briefly while one waits for its device or a stop waits for the vCPUs to
 * take their answers, else until the next control-client deadline (-1: no limit). */
static int wait_timeout_ms(Dm *dm, int ready)
{
    if (ready || xen_dm_requests_pending(dm->xen) || device_work_pending(&dm->work))
        return 0;
    int timeout = dm_control_timeout_ms(dm);
    bool polling = xen_dm_requests_waiting(dm->xen) || dm->stop_deadline_ns;  /* draining */
    if (polling && (timeout < 0 || timeout > XEN_DM_WAIT_RETRY_MS))
        timeout = XEN_DM_WAIT_RETRY_MS;
    return timeout;
}

/* The loop was busy from woke_ns until now, about to wait again: the longest such
 * stretch is the longest any newly posted request waited to be picked up. */
static void account_busy(Dm *dm, uint64_t woke_ns)
{
    uint64_t busy = clock_monotonic_ns() - woke_ns;
    if (busy > dm->loop_max_busy_ns)
        dm->loop_max_busy_ns = busy;
}

/*
 * Asked to stop? The first time, the server takes no new requests, and those vCPUs
 * posted before are answered by the devices while they are all still there; the loop
 * ends once every request is answered and every answer taken (a rep's slices, a
 * request waiting for its device, a vCPU yet to run), or after DM_STOP_DRAIN_MS with a
 * warning. If the server cannot be disabled (the domain is gone), it ends at once.
 */
static bool stopped(Dm *dm)
{
    if (!dm->stop)
        return false;
    uint64_t now = clock_monotonic_ns();
    if (!dm->stop_deadline_ns) {
        Error *err = NULL;
        if (xen_dm_stop_taking_requests(dm->xen, &err) < 0) {
            log_info("%s: stopping at once", error_get_pretty(err));
            error_free(err);
            return true;
        }
        dm->stop_deadline_ns = now + DM_STOP_DRAIN_MS * 1000000ull;
    }
    if (xen_dm_requests_settled(dm->xen))
        return true;
    if (now < dm->stop_deadline_ns)
        return false;
    log_warn("stopping with guest requests unanswered or answers not taken after %d ms",
             DM_STOP_DRAIN_MS);
    return true;
}

static int loop_run(Dm *dm, EventLoop *loop, Error **errp)
{
    struct epoll_event ev[LOOP_MAX_EVENTS];
    uint64_t woke_ns = clock_monotonic_ns();
    int ret = watch(loop, EPOLL_CTL_ADD, xen_dm_event_fd(dm->xen), SOURCE_EVTCHN, errp);
    if (ret == 0)
        ret = watch(loop, EPOLL_CTL_ADD, dm->signal_fd, SOURCE_SIGNAL, errp);
    if (ret == 0 && dm->control_fd >= 0)
        ret = watch(loop, EPOLL_CTL_ADD, dm->control_fd, SOURCE_CONTROL, errp);
    if (ret == 0 && dm->probe_fd >= 0)
        ret = watch(loop, EPOLL_CTL_ADD, dm->probe_fd, SOURCE_PROBE, errp);
    if (ret == 0 && dm->xsdev_fd >= 0)
        ret = watch(loop, EPOLL_CTL_ADD, dm->xsdev_fd, SOURCE_XENSTORE, errp);
    while (ret == 0 && !stopped(dm)) {
        xen_dm_continue_requests(dm->xen);     /* the next slice of each long rep */
        int ready = sync_device_fds(dm, loop, errp);
        if (ready < 0) {
            ret = ready;
            break;
        }
        int timeout = wait_timeout_ms(dm, ready);
        account_busy(dm, woke_ns);
        int n = epoll_wait(loop->epfd, ev, LOOP_MAX_EVENTS, timeout);
        woke_ns = clock_monotonic_ns();
        if (n < 0) {
            if (errno == EINTR)
                continue;
            ret = -errno;
            error_setg_errno(errp, -ret, "epoll_wait failed");
            break;
        }
        ret = dispatch(dm, ev, n, errp);
        if (dm_control_timeout_ms(dm) == 0)
            dm_control_serve(dm);               /* drop the clients that are late */
        /* Deferred device work last: what was ready now (other vCPUs' ioreqs) has been
         * served, and work that defers itself again waits for the next turn. */
        if (ret == 0)
            device_work_run(&dm->work);
        /* Devices also write guest memory outside any ioreq (disk completions, deferred
         * queue work): report those pages now, not at the next request. */
        xen_modified_memory_flush(dm->xen);
    }
    return ret;
}

int dm_loop_open(Dm *dm, Error **errp)
{
    dm->loop_fd = epoll_create1(EPOLL_CLOEXEC);
    if (dm->loop_fd < 0) {
        int err = errno;
        error_setg_errno(errp, err, "cannot create the event loop's epoll set");
        return -err;
    }
    return 0;
}

void dm_loop_close(Dm *dm)
{
    if (dm->loop_fd >= 0)
        close(dm->loop_fd);
    dm->loop_fd = -1;
}

int dm_run(Dm *dm, Error **errp)
{
    EventLoop loop = { .epfd = dm->loop_fd };
    for (unsigned i = 0; i < DM_MAX_DEVICES; i++)
        loop.input[i] = loop.output[i] = (FdWatch){ .fd = -1 };
    return loop_run(dm, &loop, errp);
}
