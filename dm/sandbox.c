/*
 * dm/sandbox.c — xendm's start-up steps that confine it (sandbox/sandbox.h,
 * docs/SECURITY.md), each nothing with --sandbox off.
 *
 * Their places in dm/startup.c's list matter: the namespaces are entered before the
 * machine is built, because a namespace (and chroot's view, once the mount namespace
 * is unshared) belongs to a thread and the threads engine starts its workers there;
 * the limits are set once every fd and thread exists, and before privileges go (only
 * root may set a limit that another user could not); the filter is the very last step,
 * since it forbids what the others call (unshare, setrlimit, chroot, setuid, open).
 */
#include "dm/dm.h"

#include "sandbox/sandbox.h"
#include "util/log.h"

int dm_enter_namespaces(Dm *dm, Error **errp)
{
    bool entered;
    if (!dm->opts.sandbox)
        return 0;
    int ret = sandbox_enter_namespaces(&entered, errp);
    if (ret == 0 && entered)
        log_info("sandbox: own mount, IPC, network and UTS namespaces");
    return ret;
}

int dm_set_limits(Dm *dm, Error **errp)
{
    return dm->opts.sandbox ? sandbox_set_limits(NULL, errp) : 0;
}

int dm_install_seccomp(Dm *dm, Error **errp)
{
    if (!dm->opts.sandbox) {
        log_info("sandbox: off (--sandbox off)");
        return 0;
    }
    SandboxFilterConfig cfg = sandbox_filter_default();
    int ret = sandbox_seccomp_install(&cfg, errp);
    if (ret == 0)
        log_info("sandbox: seccomp filter installed (%s on a forbidden call)",
                 cfg.violation == SANDBOX_VIOLATION_KILL ? "killed" : "reported and killed");
    return ret;
}
