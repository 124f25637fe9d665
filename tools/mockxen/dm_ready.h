/*
 * tools/mockxen/dm_ready.h — when the guest may start: once its device models are ready.
 *
 * libxl starts a guest once its device model wrote "running" to
 * /local/domain/0/device-model/<domid>/state; mockxen also waits until the expected
 * number of ioreq servers is enabled (--device-models), since a guest that ran before a
 * device model claimed its ranges would find them unclaimed. Secondary device models
 * do not write the state node, so that condition can be dropped (--no-dm-state).
 */
#ifndef MOCKXEN_DM_READY_H
#define MOCKXEN_DM_READY_H

#include <stdbool.h>

#include "tools/mockxen/mockxen.h"
#include "tools/mockxen/xs_server.h"

typedef struct MxDmReady {
    unsigned domid;
    unsigned device_models;   /* enabled ioreq servers to wait for */
    bool dm_state;            /* also wait for the state node to read "running" */
    int timeout_ms;           /* for everything together */
} MxDmReady;

/* Wait until `ready` holds: 0, or -ETIMEDOUT (saying which condition was missing) or
 * -ESHUTDOWN (xenstore stopping) with errp set. */
int mx_wait_dm_ready(MxDomain *d, XsServer *xs, const MxDmReady *ready, Error **errp);

#endif
