/*
 * tools/mockxen/shim/toolcore.h — libxentoolcore's internal ABI, as the other Xen
 * libraries (including Debian's real libxenstore) call it.
 *
 * A library embeds an MxToolcoreHandle in each open handle and registers it;
 * xentoolcore_restrict_all(domid) then calls every registered handle's callback. The
 * layout (callback pointer, then the two list pointers of a tail-queue entry) matches
 * Xen's Xentoolcore__Active_Handle, which libraries built against the real headers
 * allocate. The registry is process-wide and protected by a mutex.
 */
#ifndef MOCKXEN_SHIM_TOOLCORE_H
#define MOCKXEN_SHIM_TOOLCORE_H

#include <xentoolcore.h>

#include "util/macros.h"     /* container_of: a handle from its MxToolcoreHandle */

typedef struct MxToolcoreHandle MxToolcoreHandle;
typedef int MxRestrictCallback(MxToolcoreHandle *handle, domid_t domid);

struct MxToolcoreHandle {
    MxRestrictCallback *restrict_callback;
    MxToolcoreHandle *next;          /* list linkage owned by libxentoolcore */
    MxToolcoreHandle **prev;
};

void xentoolcore__register_active_handle(MxToolcoreHandle *handle);
void xentoolcore__deregister_active_handle(MxToolcoreHandle *handle);
/* A restrict callback for fd-based handles: make the fd refer to /dev/null. */
int xentoolcore__restrict_by_dup2_null(int fd);

#endif
