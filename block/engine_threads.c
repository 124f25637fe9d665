/*
 * block/engine_threads.c — host operations on a small pool of worker threads.
 *
 * The engine that works everywhere: where io_uring is forbidden, and for the ioctls
 * io_uring cannot issue. The loop thread stages operations on a private list and hands
 * the whole batch over at a kick (one lock, one wake-up); a worker performs one
 * operation with the lock released, appends the slot to the done list and signals the
 * eventfd. The loop thread holds the lock only to move lists, never across I/O.
 * Workers block every signal: signals are the loop thread's business.
 */
#include "block/block-internal.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>

#include "util/macros.h"

typedef struct ThreadsEngine {
    BlockEngine engine;
    int fd, event_fd;
    BlockSlotList staged;       /* loop thread only */
    pthread_mutex_t lock;
    pthread_cond_t work;
    pthread_cond_t ready;       /* a worker has started */
    unsigned running;           /* workers that reached worker_main, under lock */
    BlockSlotList todo, done;   /* under lock */
    bool stopping;              /* under lock */
    unsigned nthreads;          /* started */
    pthread_t threads[];
} ThreadsEngine;

static ThreadsEngine *threads_of(BlockEngine *e)
{
    return container_of(e, ThreadsEngine, engine);
}

static BlockSlot *next_job(ThreadsEngine *t)
{
    pthread_mutex_lock(&t->lock);
    while (!t->todo.head && !t->stopping)
        pthread_cond_wait(&t->work, &t->lock);
    BlockSlot *s = slot_list_pop(&t->todo);
    pthread_mutex_unlock(&t->lock);
    return s;
}

static void *worker_main(void *arg)
{
    ThreadsEngine *t = arg;
    pthread_mutex_lock(&t->lock);
    t->running++;
    pthread_cond_signal(&t->ready);
    pthread_mutex_unlock(&t->lock);
    BlockSlot *s;
    while ((s = next_job(t))) {
        s->host_ret = blk_host_op_run(t->fd, &s->host);
        pthread_mutex_lock(&t->lock);
        slot_list_push(&t->done, s);
        pthread_mutex_unlock(&t->lock);
        eventfd_write(t->event_fd, 1);
    }
    return NULL;
}

static bool threads_can(BlockHostKind kind)
{
    return true;
}

static int threads_stage(BlockEngine *e, BlockSlot *slot)
{
    slot_list_push(&threads_of(e)->staged, slot);
    return 0;
}

static int threads_kick(BlockEngine *e)
{
    ThreadsEngine *t = threads_of(e);
    if (!t->staged.head)
        return 0;
    bool several = t->staged.head != t->staged.tail;
    pthread_mutex_lock(&t->lock);
    slot_list_splice(&t->todo, &t->staged);
    if (several)
        pthread_cond_broadcast(&t->work);
    else
        pthread_cond_signal(&t->work);
    pthread_mutex_unlock(&t->lock);
    return 1;
}

static unsigned threads_reap(BlockEngine *e, BlockSlot **out, unsigned max)
{
    ThreadsEngine *t = threads_of(e);
    unsigned n = 0;
    pthread_mutex_lock(&t->lock);
    while (n < max && t->done.head)
        out[n++] = slot_list_pop(&t->done);
    pthread_mutex_unlock(&t->lock);
    return n;
}

static bool threads_pending(BlockEngine *e)
{
    ThreadsEngine *t = threads_of(e);
    pthread_mutex_lock(&t->lock);
    bool pending = t->done.head != NULL;
    pthread_mutex_unlock(&t->lock);
    return pending;
}

static void threads_stop(ThreadsEngine *t)
{
    pthread_mutex_lock(&t->lock);
    t->stopping = true;
    pthread_cond_broadcast(&t->work);
    pthread_mutex_unlock(&t->lock);
    for (unsigned i = 0; i < t->nthreads; i++)
        pthread_join(t->threads[i], NULL);
    pthread_cond_destroy(&t->work);
    pthread_cond_destroy(&t->ready);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

static void threads_destroy(BlockEngine *e)
{
    threads_stop(threads_of(e));
}

static const BlockEngineOps threads_ops = {
    .name = "threads",
    .can = threads_can,
    .stage = threads_stage,
    .kick = threads_kick,
    .reap = threads_reap,
    .pending = threads_pending,
    .destroy = threads_destroy,
};

BlockEngine *blk_threads_engine_new(int fd, int event_fd, unsigned nthreads,
                                    Error **errp)
{
    ThreadsEngine *t = calloc(1, sizeof(*t) + nthreads * sizeof(t->threads[0]));
    if (!t) {
        error_setg_errno(errp, ENOMEM, "cannot allocate a pool of %u I/O threads", nthreads);
        return NULL;
    }
    *t = (ThreadsEngine){ .engine.ops = &threads_ops, .fd = fd, .event_fd = event_fd };
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->work, NULL);
    pthread_cond_init(&t->ready, NULL);

    /* Workers take no asynchronous signal (the loop's signalfd must get them all); the
     * synchronous ones stay open, or a fault or a forbidden system call would kill the
     * process before its handler (ASan's, the sandbox's report) could say where. */
    sigset_t all, old;
    sigfillset(&all);
    sigdelset(&all, SIGSYS);
    sigdelset(&all, SIGSEGV);
    sigdelset(&all, SIGBUS);
    sigdelset(&all, SIGFPE);
    sigdelset(&all, SIGILL);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int err = 0;
    while (t->nthreads < nthreads && !err) {
        err = pthread_create(&t->threads[t->nthreads], NULL, worker_main, t);
        if (!err)
            t->nthreads++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    /* Every worker has run its thread start-up (the C library's and the sanitizers'
     * system calls: robust list, rseq, signal stack) before this returns, so none of
     * it can come after the sandbox's seccomp filter, which does not allow it. */
    pthread_mutex_lock(&t->lock);
    while (t->running < t->nthreads)
        pthread_cond_wait(&t->ready, &t->lock);
    pthread_mutex_unlock(&t->lock);
    if (err) {
        error_setg_errno(errp, err, "cannot start I/O thread %u of %u", t->nthreads + 1,
                         nthreads);
        threads_stop(t);
        return NULL;
    }
    return &t->engine;
}
