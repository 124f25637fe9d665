/*
 * block/threads.c — the thread-pool engine: for hosts where io_uring is missing or
 * refused, and as the reference the io_uring engine is tested against.
 *
 * Requests staged by submit() go to the workers in one batch at flush() (one lock, one
 * broadcast). A worker makes one system call for a request (preadv2/pwritev2,
 * fdatasync, fallocate) and puts it on the done list with its result, then bumps the
 * eventfd; reap() on the caller's thread takes done requests up to its budget and
 * hands each to blk_request_finished(), which decides (as for io_uring) whether it is
 * complete or the rest must go round again. Workers never run callbacks.
 */
#include "block/block-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define THREADS_MAX         16u
#define THREAD_STACK_SIZE   (256u << 10)

typedef struct ReqList {
    BlockRequest *head, **tail;
} ReqList;

typedef struct Threads {
    pthread_mutex_t lock;
    pthread_cond_t work_ready, done_ready;
    ReqList todo, done;             /* under lock */
    ReqList staged;                 /* caller's thread only */
    bool stop;
    int efd;
    unsigned nr_threads;
    pthread_t threads[THREADS_MAX];
    BlockBackend *bb;
} Threads;

static void list_init(ReqList *l)
{
    l->head = NULL;
    l->tail = &l->head;
}

static void list_push(ReqList *l, BlockRequest *req)
{
    req->next = NULL;
    *l->tail = req;
    l->tail = &req->next;
}

static BlockRequest *list_pop(ReqList *l)
{
    BlockRequest *req = l->head;
    if (req && !(l->head = req->next))
        l->tail = &l->head;
    return req;
}

static void list_append(ReqList *to, ReqList *from)
{
    if (!from->head)
        return;
    *to->tail = from->head;
    to->tail = from->tail;
    list_init(from);
}

/* One system call for req: bytes moved or 0, or -errno. */
static int run_one(BlockBackend *bb, BlockRequest *req)
{
    off_t off = (off_t)(req->offset + req->done_bytes);
    ssize_t n;
    int mode;
    switch (req->op) {
    case BLK_OP_READ:
        n = preadv2(bb->fd, req->iov, req->iovcnt, off, 0);
        break;
    case BLK_OP_WRITE:
        n = pwritev2(bb->fd, req->iov, req->iovcnt, off, req->durable ? RWF_DSYNC : 0);
        break;
    case BLK_OP_FLUSH:
        n = fdatasync(bb->fd);
        break;
    default:
        mode = blk_fallocate_mode(bb, req);
        n = mode ? fallocate(bb->fd, mode, (off_t)req->offset, (off_t)req->len) : 0;
        break;
    }
    if (n < 0)
        return -errno;
    return n > INT32_MAX ? INT32_MAX : (int)n;
}

static void *worker(void *opaque)
{
    Threads *t = opaque;
    pthread_mutex_lock(&t->lock);
    for (;;) {
        BlockRequest *req;
        while (!t->stop && !(req = list_pop(&t->todo)))
            pthread_cond_wait(&t->work_ready, &t->lock);
        if (t->stop)
            break;
        pthread_mutex_unlock(&t->lock);
        req->result = run_one(t->bb, req);
        pthread_mutex_lock(&t->lock);
        list_push(&t->done, req);
        pthread_cond_signal(&t->done_ready);
        eventfd_write(t->efd, 1);
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

static Threads *threads_of(const BlockBackend *bb)
{
    return bb->engine_state;
}

static void threads_fini(BlockBackend *bb)
{
    Threads *t = threads_of(bb);
    if (!t)
        return;
    pthread_mutex_lock(&t->lock);
    t->stop = true;
    pthread_cond_broadcast(&t->work_ready);
    pthread_mutex_unlock(&t->lock);
    for (unsigned i = 0; i < t->nr_threads; i++)
        pthread_join(t->threads[i], NULL);
    pthread_cond_destroy(&t->work_ready);
    pthread_cond_destroy(&t->done_ready);
    pthread_mutex_destroy(&t->lock);
    if (t->efd >= 0)
        close(t->efd);
    free(t);
    bb->engine_state = NULL;
}

static int threads_init(BlockBackend *bb, Error **errp)
{
    Threads *t = calloc(1, sizeof(*t));
    if (!t) {
        error_setg_errno(errp, ENOMEM, "cannot allocate the thread pool");
        return -ENOMEM;
    }
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->work_ready, NULL);
    pthread_cond_init(&t->done_ready, NULL);
    list_init(&t->todo);
    list_init(&t->done);
    list_init(&t->staged);
    t->bb = bb;
    bb->engine_state = t;
    t->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (t->efd < 0) {
        int err = errno;
        error_setg_errno(errp, err, "eventfd");
        threads_fini(bb);
        return -err;
    }
    unsigned want = bb->cfg.queue_depth < THREADS_MAX ? bb->cfg.queue_depth : THREADS_MAX;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, THREAD_STACK_SIZE);
    for (; t->nr_threads < want; t->nr_threads++) {
        int ret = pthread_create(&t->threads[t->nr_threads], &attr, worker, t);
        if (ret) {
            pthread_attr_destroy(&attr);
            error_setg_errno(errp, ret, "cannot start I/O thread %u of %u", t->nr_threads + 1,
                             want);
            threads_fini(bb);
            return -ret;
        }
    }
    pthread_attr_destroy(&attr);
    return 0;
}

static void threads_submit(BlockBackend *bb, BlockRequest *req)
{
    list_push(&threads_of(bb)->staged, req);
}

static void threads_flush(BlockBackend *bb)
{
    Threads *t = threads_of(bb);
    if (!t->staged.head)
        return;
    pthread_mutex_lock(&t->lock);
    list_append(&t->todo, &t->staged);
    pthread_cond_broadcast(&t->work_ready);
    pthread_mutex_unlock(&t->lock);
}

static bool threads_reap(BlockBackend *bb, unsigned budget)
{
    Threads *t = threads_of(bb);
    eventfd_t ignored;
    eventfd_read(t->efd, &ignored);
    bool more = false;
    for (unsigned n = 0; n < budget; n++) {
        pthread_mutex_lock(&t->lock);
        BlockRequest *req = list_pop(&t->done);
        more = t->done.head != NULL;
        pthread_mutex_unlock(&t->lock);
        if (!req)
            return false;
        blk_request_finished(bb, req, req->result);
    }
    return more;
}

static void threads_wait(BlockBackend *bb)
{
    Threads *t = threads_of(bb);
    threads_flush(bb);
    pthread_mutex_lock(&t->lock);
    while (!t->done.head)
        pthread_cond_wait(&t->done_ready, &t->lock);
    pthread_mutex_unlock(&t->lock);
}

static int threads_completion_fd(const BlockBackend *bb)
{
    return threads_of(bb)->efd;
}

const BlockEngineOps blk_threads_engine = {
    .name = "threads",
    .init = threads_init,
    .fini = threads_fini,
    .submit = threads_submit,
    .flush = threads_flush,
    .reap = threads_reap,
    .wait = threads_wait,
    .completion_fd = threads_completion_fd,
};
