/*
 * sandbox/namespaces.c — leave the host's mount, IPC, network and UTS namespaces.
 *
 * After this xendm sees no network interface but a down loopback (the Unix sockets it
 * uses are connected or bound already, and a socket bound to a path stays reachable
 * by path), no System V IPC object of the host, and its own hostname; mounts made
 * later elsewhere do not reach it, nor its own anywhere. Only root may: otherwise
 * nothing happens and --chroot/--runas are refused later for the same reason.
 */
#include "sandbox/sandbox.h"

#include <errno.h>
#include <sched.h>
#include <unistd.h>

#include "util/log.h"

#define SANDBOX_NAMESPACES (CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWUTS)

int sandbox_enter_namespaces(bool *entered, Error **errp)
{
    *entered = false;
    if (geteuid() != 0) {
        log_info("namespaces: not root, staying in the host's");
        return 0;
    }
    if (unshare(SANDBOX_NAMESPACES) < 0) {
        int err = errno;
        error_setg_errno(errp, err, "cannot unshare the mount, IPC, network and UTS "
                         "namespaces (--sandbox off runs without)");
        return -err;
    }
    *entered = true;
    return 0;
}
