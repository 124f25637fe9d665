/*
 * tools/mockxen/oneway.c — one-way messages (proto.h) kept in order with everything
 * else. A shim adds one to MxStatsPage.oneway_sent before it sends a one-way message
 * (counting first means a message being sent by one thread is never mistaken for
 * handled because another thread's later one was); the socket server adds one to
 * MxDomain.oneway_done after handling each. Whoever must see the effects of every
 * message sent so far — a vCPU before it completes an ioreq or reads an interrupt
 * level, the socket server before it answers a request — waits for the two to meet.
 */
#include <errno.h>
#include <inttypes.h>

#include "tools/mockxen/mockxen.h"
#include "util/log.h"

static uint64_t sent(const MxDomain *d)
{
    return d->stats ? __atomic_load_n(&d->stats->oneway_sent, __ATOMIC_ACQUIRE) : 0;
}

static uint64_t handled(const MxDomain *d)
{
    return __atomic_load_n(&d->oneway_done, __ATOMIC_ACQUIRE);
}

void mx_oneway_done(MxDomain *d)
{
    pthread_mutex_lock(&d->lock);
    __atomic_store_n(&d->oneway_done, d->oneway_done + 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&d->lock);
    pthread_cond_broadcast(&d->oneway_cond);
}

bool mx_oneway_behind(MxDomain *d)
{
    return handled(d) < sent(d);
}

void mx_oneway_sync(MxDomain *d)
{
    uint64_t target = sent(d);
    if (handled(d) >= target)
        return;                     /* the common case: one load each */
    struct timespec deadline = mx_deadline_after_ns(MX_ONEWAY_SYNC_MS * 1000000ull);
    pthread_mutex_lock(&d->lock);
    while (d->oneway_done < target) {
        if (pthread_cond_timedwait(&d->oneway_cond, &d->lock, &deadline) == ETIMEDOUT) {
            log_warn("%" PRIu64 " one-way message(s) from a device model not handled "
                     "within %d ms: going on without them", target - d->oneway_done,
                     MX_ONEWAY_SYNC_MS);
            __atomic_store_n(&d->oneway_done, target, __ATOMIC_RELEASE);
            break;
        }
    }
    pthread_mutex_unlock(&d->lock);
}
