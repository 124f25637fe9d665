/* tools/mockxen/shim/toolcore.c — libxentoolcore.so.1: restrict every open handle. */
#include "tools/mockxen/shim/toolcore.h"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include "tools/mockxen/shim/client.h"

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static MxToolcoreHandle *registry;

void xentoolcore__register_active_handle(MxToolcoreHandle *h)
{
    pthread_mutex_lock(&registry_lock);
    h->next = registry;
    h->prev = &registry;
    if (registry)
        registry->prev = &h->next;
    registry = h;
    pthread_mutex_unlock(&registry_lock);
}

void xentoolcore__deregister_active_handle(MxToolcoreHandle *h)
{
    pthread_mutex_lock(&registry_lock);
    *h->prev = h->next;
    if (h->next)
        h->next->prev = h->prev;
    pthread_mutex_unlock(&registry_lock);
}

int xentoolcore__restrict_by_dup2_null(int fd)
{
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null < 0)
        return -1;
    int rc = dup3(null, fd, O_CLOEXEC);
    close(null);
    return rc < 0 ? -1 : 0;
}

int xentoolcore_restrict_all(domid_t domid)
{
    MX_ENTER(xentoolcore_restrict_all, -1);
    int rc = 0;
    pthread_mutex_lock(&registry_lock);
    for (MxToolcoreHandle *h = registry; h && rc == 0; h = h->next)
        rc = h->restrict_callback(h, domid);
    pthread_mutex_unlock(&registry_lock);
    return rc;
}
