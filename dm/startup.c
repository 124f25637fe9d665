/*
 * dm/startup.c — start-up as an ordered list of steps, and the teardown that undoes
 * exactly the steps that completed, in reverse.
 *
 * Each step is logged as it starts; a failing step reports why and stops the list.
 * The order follows what Xen needs: the ioreq server must exist before ranges and PCI
 * devices can be registered, the server is enabled once the machine is complete, and
 * the guest is told we are ready (xenstore "running") only after that. The sandbox
 * steps (dm/sandbox.c) come where each can: namespaces before the machine starts
 * threads, limits once everything is open, the seccomp filter last.
 */
#include "dm/dm.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/log.h"
#include "util/macros.h"

typedef struct DmStep {
    const char *name;
    int (*up)(Dm *dm, Error **errp);
    void (*down)(Dm *dm);
} DmStep;

static int signals_up(Dm *dm, Error **errp)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    signal(SIGPIPE, SIG_IGN);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 ||
        (dm->signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
        int err = errno;
        error_setg_errno(errp, err, "cannot set up signal handling");
        return -err;
    }
    return 0;
}

static void signals_down(Dm *dm)
{
    close(dm->signal_fd);
    dm->signal_fd = -1;
}

static int stats_up(Dm *dm, Error **errp)
{
    return dm_stats_open(dm, errp);
}

static int control_up(Dm *dm, Error **errp)
{
    return dm_control_open(dm, errp);
}

static int xen_up(Dm *dm, Error **errp)
{
    XenDMConfig cfg = { .domid = dm->opts.domid,
                        .buffered_ioreqs = dm->opts.buffered_ioreqs &&
                                           dm->opts.machine->buffered_ioreqs,
                        .force_legacy_pages = dm->opts.legacy_ioreq_pages,
                        .secondary = dm->opts.secondary };
    dm->xen = xen_dm_open(&cfg, errp);
    return dm->xen ? 0 : -ENODEV;
}

static void xen_down(Dm *dm)
{
    xen_dm_close(dm->xen);
    dm->xen = NULL;
}

static int server_up(Dm *dm, Error **errp)
{
    return xen_ioreq_server_create(dm->xen, errp);
}

static void server_down(Dm *dm)
{
    /* The server is destroyed by xen_dm_close, which also undoes a partial create. */
}

/* The mapcache, and the RAM backend the machine's RAM is created with (dm_machine_create). */
static int memory_up(Dm *dm, Error **errp)
{
    MapCacheConfig mc_cfg = { .bucket_size = dm->opts.mapcache_bucket,
                              .max_size = dm->opts.mapcache_max };
    dm->mapcache = mapcache_new(&mc_cfg, &xen_mapper_ops, dm->xen, errp);
    if (!dm->mapcache)
        return -EINVAL;
    dm->xen_ram = xen_ram_new(dm->xen, dm->mapcache, errp);
    if (!dm->xen_ram)
        return -ENOMEM;
    xen_dm_set_log_dirty(dm->xen, dm->opts.log_dirty);
    return 0;
}

static void memory_down(Dm *dm)
{
    xen_ram_free(dm->xen_ram);
    dm->xen_ram = NULL;
    mapcache_free(dm->mapcache);
    dm->mapcache = NULL;
}

static int machine_up(Dm *dm, Error **errp)
{
    return dm_machine_create(dm, errp);
}

static int xsdev_up(Dm *dm, Error **errp)
{
    return dm->opts.xenstore_devices ? dm_xsdev_start(dm, errp) : 0;
}

static int xsdev_watch_up(Dm *dm, Error **errp)
{
    return dm->opts.xenstore_devices ? dm_xsdev_watch(dm, errp) : 0;
}

static int enable_up(Dm *dm, Error **errp)
{
    return xen_ioreq_server_enable(dm->xen, errp);
}

static int announce_up(Dm *dm, Error **errp)
{
    return xen_dm_announce_running(dm->xen, errp);
}

static int restrict_up(Dm *dm, Error **errp)
{
    return dm->opts.restrict_handles ? xen_dm_restrict(dm->xen, errp) : 0;
}

static int privileges_up(Dm *dm, Error **errp)
{
    return dm_drop_privileges(dm, errp);
}

static void nothing_down(Dm *dm)
{
}

static const DmStep steps[] = {
    { "signal handling",             signals_up,  signals_down },
    { "create the event loop",       dm_loop_open, dm_loop_close },
    { "open the statistics file",    stats_up,    dm_stats_close },
    { "open the control socket",     control_up,  dm_control_close },
    { "open the Xen interfaces",     xen_up,      xen_down },
    { "create the ioreq server",     server_up,   server_down },
    { "set up guest memory access",  memory_up,   memory_down },
    { "enter namespaces",            dm_enter_namespaces, nothing_down },
    { "build the machine",           machine_up,  dm_machine_destroy },
    { "serve the devices in xenstore", xsdev_up,  dm_xsdev_stop },
    { "claim the devices' places",   dm_secondary_claim, nothing_down },
    { "enable the ioreq server",     enable_up,   nothing_down },
    { "announce 'running'",          announce_up, nothing_down },
    { "watch for the domain's end",  dm_secondary_probe_open, dm_secondary_probe_close },
    { "restrict the Xen handles",    restrict_up, nothing_down },
    { "watch the devices in xenstore", xsdev_watch_up, nothing_down },
    { "set resource limits",         dm_set_limits, nothing_down },
    { "drop privileges",             privileges_up, nothing_down },
    { "install the seccomp filter",  dm_install_seccomp, nothing_down },
};
#define NR_STEPS ARRAY_SIZE(steps)

int dm_start(Dm *dm, Error **errp)
{
    dm->signal_fd = -1;
    dm->loop_fd = -1;
    dm->control_fd = -1;
    dm->probe_fd = -1;
    dm->xsdev_fd = -1;
    for (dm->steps_done = 0; dm->steps_done < NR_STEPS; dm->steps_done++) {
        const DmStep *s = &steps[dm->steps_done];
        log_info("step %u/%zu: %s", dm->steps_done + 1, NR_STEPS, s->name);
        uint64_t t0 = clock_monotonic_ns();
        int ret = s->up(dm, errp);
        log_debug("step %u/%zu took %.3f ms", dm->steps_done + 1, NR_STEPS,
                  (clock_monotonic_ns() - t0) / 1e6);
        if (ret < 0) {
            error_prepend(errp, "%s", s->name);
            /* The failed step may have done part of its work: undo that too. */
            s->down(dm);
            dm_stop(dm);
            return ret;
        }
    }
    return 0;
}

void dm_stop(Dm *dm)
{
    while (dm->steps_done > 0) {
        const DmStep *s = &steps[--dm->steps_done];
        log_info("undo: %s", s->name);
        s->down(dm);
    }
}
