/* tools/mockxen/dm_ready.c — waiting for the device models before the guest starts. */
#include "tools/mockxen/dm_ready.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

#include "util/clock.h"

int mx_wait_dm_ready(MxDomain *d, XsServer *xs, const MxDmReady *ready, Error **errp)
{
    uint64_t deadline = clock_monotonic_ms() + (uint64_t)ready->timeout_ms;
    if (ready->dm_state) {
        char path[96];
        snprintf(path, sizeof(path), "/local/domain/0/device-model/%u/state", ready->domid);
        int rc = xs_server_wait_value(xs, path, "running", ready->timeout_ms, errp);
        if (rc)
            return rc;
    }
    unsigned enabled;
    while ((enabled = mx_server_count_enabled(d)) < ready->device_models) {
        if (clock_monotonic_ms() >= deadline) {
            error_setg_errno(errp, ETIMEDOUT, "%u of %u device model(s) enabled an ioreq "
                             "server within %d ms%s", enabled, ready->device_models,
                             ready->timeout_ms,
                             ready->dm_state ? " (the state node said running)" : "");
            return -ETIMEDOUT;
        }
        nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
    }
    return 0;
}
