/*
 * dm/event_loop.c — the one thread that serves the guest.
 *
 * It waits on the event-channel fd (ioreqs), the signal fd (SIGTERM/SIGINT/SIGHUP end
 * the run) and the devices' input fds. Everything, device emulation included, runs
 * here, so the memory model needs no locks.
 */
#include "dm/dm.h"

#include <errno.h>
#include <poll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "util/log.h"

#define LOOP_MAX_FDS (2 + DM_MAX_DEVICES)

static int handle_signal(Dm *dm)
{
    struct signalfd_siginfo si;
    if (read(dm->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        log_info("signal %u: shutting down", si.ssi_signo);
        dm->stop = true;
    }
    return 0;
}

int dm_run(Dm *dm, Error **errp)
{
    struct pollfd fds[LOOP_MAX_FDS];
    Device *fd_dev[LOOP_MAX_FDS];
    const int event_fd = xen_dm_event_fd(dm->xen);
    while (!dm->stop) {
        unsigned n = 0;
        fds[n++] = (struct pollfd){ .fd = event_fd, .events = POLLIN };
        fds[n++] = (struct pollfd){ .fd = dm->signal_fd, .events = POLLIN };
        for (unsigned i = 0; i < dm->nr_devices; i++) {
            int fd = device_poll_fd(dm->devices[i]);
            if (fd >= 0) {
                fd_dev[n] = dm->devices[i];
                fds[n++] = (struct pollfd){ .fd = fd, .events = POLLIN };
            }
        }
        if (poll(fds, n, -1) < 0) {
            if (errno == EINTR)
                continue;
            int err = errno;
            error_setg_errno(errp, err, "poll failed");
            return -err;
        }
        if (fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
            error_setg(errp, "the event-channel connection failed (is Xen / mockxen gone?)");
            return -EPIPE;
        }
        if (fds[0].revents & POLLIN) {
            int ret = xen_dm_handle_events(dm->xen, errp);
            if (ret < 0)
                return ret;
        }
        if (fds[1].revents & POLLIN)
            handle_signal(dm);
        for (unsigned i = 2; i < n; i++) {
            if (fds[i].revents) {
                Error *err = NULL;
                if (device_handle_readable(fd_dev[i], &err) < 0) {
                    log_warn("%s", error_get_pretty(err));
                    error_free(err);
                }
            }
        }
    }
    return 0;
}
