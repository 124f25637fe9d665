/*
 * tools/mockxen/guest_vcpus.c — runs every vCPU program of a guest script at once, one
 * thread per vCPU, and folds their outcomes into one result.
 *
 * The first vCPU to fail raises the shared stop flag so the others end at their next
 * statement (they report -ECANCELED, which is not counted as a failure of their own).
 * The first real failure (in vCPU order) is returned; any further ones are logged.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tools/mockxen/guest.h"
#include "util/log.h"

typedef struct VcpuThread {
    const GuestScript *script;
    unsigned index;
    const GuestBackendOps *ops;
    void *opaque;
    atomic_bool *stop;
    pthread_t thread;
    int ret;
    Error *err;
} VcpuThread;

static void *vcpu_thread(void *arg)
{
    VcpuThread *t = arg;
    t->ret = guest_run_program(t->script, t->index, t->ops, t->opaque, t->stop, &t->err);
    if (t->ret)
        atomic_store(t->stop, true);
    return NULL;
}

/* Hand the first failure that is not a cancellation to errp, log the others. */
static int collect(VcpuThread *threads, unsigned n, Error **errp)
{
    int first = 0;
    for (unsigned i = 0; i < n; i++) {
        VcpuThread *t = &threads[i];
        if (t->ret && t->ret != -ECANCELED) {
            if (!first) {
                first = t->ret;
                error_propagate(errp, t->err);
                t->err = NULL;
            } else {
                log_error("guest: also %s",
                          t->err ? error_get_pretty(t->err) : strerror(-t->ret));
            }
        }
        error_free(t->err);
    }
    for (unsigned i = 0; i < n && !first; i++) {
        if (threads[i].ret) {
            first = threads[i].ret;     /* only cancellations: someone else stopped us */
            error_setg(errp, "guest run cancelled");
        }
    }
    return first;
}

int guest_run(const GuestScript *script, const GuestBackendOps *ops, void *opaque,
              Error **errp)
{
    unsigned n = script->nprograms;
    int ret = guest_script_check_params(script, errp);
    if (ret || !n)
        return ret;
    VcpuThread *threads = calloc(n, sizeof(*threads));
    if (!threads) {
        error_setg(errp, "no memory for %u vCPU threads", n);
        return -ENOMEM;
    }
    atomic_bool stop = false;
    unsigned started = 0;
    for (; started < n; started++) {
        VcpuThread *t = &threads[started];
        *t = (VcpuThread){ .script = script, .index = started, .ops = ops,
                           .opaque = opaque, .stop = &stop };
        ret = pthread_create(&t->thread, NULL, vcpu_thread, t);
        if (ret) {
            atomic_store(&stop, true);
            break;
        }
    }
    for (unsigned i = 0; i < started; i++)
        pthread_join(threads[i].thread, NULL);
    if (ret) {
        for (unsigned i = 0; i < started; i++)
            error_free(threads[i].err);
        error_setg_errno(errp, ret, "cannot start the thread of vcpu %u",
                         script->programs[started].vcpu);
        free(threads);
        return -ret;
    }
    ret = collect(threads, n, errp);
    free(threads);
    return ret;
}
