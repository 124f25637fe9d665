/*
 * dm/event_loop.c — the one thread that serves the guest.
 *
 * An epoll set holds the event-channel fd (ioreqs), the signal fd (SIGTERM, SIGINT and
 * SIGHUP end the run), the control socket (--control) and the devices' input fds
 * (a UART's chardev, a disk's I/O completions). Everything, device emulation included,
 * runs on this thread, so the memory model needs no locks. Each turn serves what is
 * ready, then runs the device work deferred before the turn began (a virtio queue with
 * more requests than its budget); while work is pending the wait does not block.
 *
 * A device's input fd can change between wake-ups (a UART socket accepts a client, a
 * file reaches EOF), so before each wait the loop compares what each device wants
 * polled with what is registered and fixes the set: one comparison per device, and an
 * epoll_ctl only when something changed. Regular files and /dev/null cannot be in an
 * epoll set (EPERM) but are always readable: such a device is served before the wait,
 * which then does not block. It stops asking once its input ends or the device is full.
 */
#include "dm/dm.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "util/log.h"

/* epoll data for the two fixed sources; devices use their index. */
#define SOURCE_EVTCHN  (DM_MAX_DEVICES + 0)
#define SOURCE_SIGNAL  (DM_MAX_DEVICES + 1)
#define SOURCE_CONTROL (DM_MAX_DEVICES + 2)
#define LOOP_MAX_EVENTS (DM_MAX_DEVICES + 3)

typedef struct EventLoop {
    int epfd;
    int device_fd[DM_MAX_DEVICES];      /* registered fd per device, -1: none */
    bool always_ready[DM_MAX_DEVICES];  /* device_fd cannot be polled: always readable */
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

static void handle_device_input(Dm *dm, unsigned i);

/* First pass of sync_device_fds: every registered fd that is no longer its device's
 * leaves the set, before any new fd joins. An fd number one device closed may already
 * be another device's new fd (accept() takes the lowest free number): removing the old
 * registration after the new one was added would silently unwatch the new owner. */
static void unwatch_stale_fds(EventLoop *loop, const int *fds, unsigned nr)
{
    for (unsigned i = 0; i < nr; i++) {
        /* The old fd may be closed already, which removed it from the set. */
        int old = loop->device_fd[i];
        if (fds[i] != old && old >= 0 && !loop->always_ready[i])
            epoll_ctl(loop->epfd, EPOLL_CTL_DEL, old, NULL);
    }
}

/* Bring the set in line with the devices' fds. Returns how many devices are always
 * readable now (served here, before the wait), or -errno. */
static int sync_device_fds(Dm *dm, EventLoop *loop, Error **errp)
{
    int fds[DM_MAX_DEVICES];
    for (unsigned i = 0; i < dm->nr_devices; i++)
        fds[i] = device_poll_fd(dm->devices[i]);
    unwatch_stale_fds(loop, fds, dm->nr_devices);
    int ready = 0;
    for (unsigned i = 0; i < dm->nr_devices; i++) {
        int fd = fds[i];
        if (fd != loop->device_fd[i]) {
            loop->device_fd[i] = fd;
            loop->always_ready[i] = false;
            struct epoll_event ev = { .events = EPOLLIN, .data.u64 = i };
            if (fd >= 0 && epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
                if (errno != EPERM) {
                    int err = errno;
                    error_setg_errno(errp, err, "cannot watch fd %d of device %u", fd, i);
                    return -err;
                }
                loop->always_ready[i] = true;
            }
        }
        if (fd >= 0 && loop->always_ready[i]) {
            handle_device_input(dm, i);
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

static void handle_device_input(Dm *dm, unsigned i)
{
    Error *err = NULL;
    if (device_handle_readable(dm->devices[i], &err) < 0) {
        log_warn("%s", error_get_pretty(err));
        error_free(err);
    }
}

/* Serve one batch of ready sources. Returns 0 or -errno (fatal) with errp set. */
static int dispatch(Dm *dm, const struct epoll_event *ev, int n, Error **errp)
{
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
        } else if (source < dm->nr_devices) {
            handle_device_input(dm, (unsigned)source);
        }
    }
    return 0;
}

static int loop_run(Dm *dm, EventLoop *loop, Error **errp)
{
    struct epoll_event ev[LOOP_MAX_EVENTS];
    int ret = watch(loop, EPOLL_CTL_ADD, xen_dm_event_fd(dm->xen), SOURCE_EVTCHN, errp);
    if (ret == 0)
        ret = watch(loop, EPOLL_CTL_ADD, dm->signal_fd, SOURCE_SIGNAL, errp);
    if (ret == 0 && dm->control_fd >= 0)
        ret = watch(loop, EPOLL_CTL_ADD, dm->control_fd, SOURCE_CONTROL, errp);
    while (ret == 0 && !dm->stop) {
        int ready = sync_device_fds(dm, loop, errp);
        if (ready < 0) {
            ret = ready;
            break;
        }
        bool busy = ready || device_work_pending(&dm->work);
        int n = epoll_wait(loop->epfd, ev, LOOP_MAX_EVENTS, busy ? 0 : -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            ret = -errno;
            error_setg_errno(errp, -ret, "epoll_wait failed");
            break;
        }
        ret = dispatch(dm, ev, n, errp);
        /* Deferred device work last: what was ready now (other vCPUs' ioreqs) has been
         * served, and work that defers itself again waits for the next turn. */
        if (ret == 0)
            device_work_run(&dm->work);
    }
    return ret;
}

int dm_run(Dm *dm, Error **errp)
{
    EventLoop loop;
    loop.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop.epfd < 0) {
        int err = errno;
        error_setg_errno(errp, err, "cannot create the event loop's epoll set");
        return -err;
    }
    for (unsigned i = 0; i < DM_MAX_DEVICES; i++) {
        loop.device_fd[i] = -1;
        loop.always_ready[i] = false;
    }
    int ret = loop_run(dm, &loop, errp);
    close(loop.epfd);
    return ret;
}
