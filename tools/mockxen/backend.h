/*
 * tools/mockxen/backend.h — the daemon's implementation of the guest interpreter's
 * GuestBackendOps (guest.h) on top of the domain model (mockxen.h).
 *
 * Writes by Xen's buffered rules go through the buffered ring when they fall in the
 * configured window (Xen buffers standard-VGA memory writes: 0xa0000-0xbffff by
 * default); everything else is a synchronous ioreq. The MxBackend is owned by main and
 * must outlive every guest_run() that uses it.
 */
#ifndef MOCKXEN_BACKEND_H
#define MOCKXEN_BACKEND_H

#include "tools/mockxen/guest.h"
#include "tools/mockxen/mockxen.h"
#include "tools/mockxen/stats.h"

typedef struct MxBackend {
    MxDomain *d;
    MxStats *stats;
    int ioreq_timeout_ms;
    uint64_t buffered_start, buffered_end;   /* inclusive; start > end: never buffer */
} MxBackend;

extern const GuestBackendOps mx_backend_ops;

#endif
