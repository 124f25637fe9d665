/*
 * Block backend tests that need a second process:
 *   - where io_uring is forbidden (a seccomp filter refuses io_uring_setup, as container
 *     runtimes do), aio=io_uring falls back to the thread pool and says so in the log;
 *   - durability: a child writes, gets the FLUSH completion (or writes durable ones),
 *     tells the parent, which SIGKILLs it and then finds the data in the file through a
 *     descriptor of its own; the dead child's lock went with it;
 *   - the lock works between processes.
 * Children report through their exit status, never through cmocka.
 */
#include "tests/unit/support.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "util/macros.h"

#define IMAGE_SIZE (1u << 20)
#define CHILD_SKIP 77

static const TestDiskSpec io_uring = { BLOCK_AIO_IO_URING, IMAGE_SIZE };
static const TestDiskSpec threads = { BLOCK_AIO_THREADS, IMAGE_SIZE };

/* ---- the child's side ------------------------------------------------------------------ */

/* test_blk_sync() without cmocka: the request's ret, or -ETIMEDOUT. */
static int child_sync(BlockBackend *bb, BlockOp op, uint64_t off, void *buf, uint64_t len,
                      bool durable)
{
    TestBlkRequest c;
    test_blk_request_init(&c, op, off, buf, len);
    c.req.durable = durable;
    int ret = blk_submit(bb, &c.req);
    if (ret < 0 || (ret = blk_kick(bb)) < 0)
        return ret;
    while (!c.done) {
        struct pollfd pfd = { .fd = blk_completion_fd(bb), .events = POLLIN };
        if (poll(&pfd, 1, 10000) != 1)
            return -ETIMEDOUT;
        blk_process_completions(bb, UINT_MAX);
    }
    return c.ret;
}

static uint8_t pattern(uint64_t off)
{
    return (uint8_t)(off * 13 + 5);
}

static void fill(uint8_t *buf, uint64_t off, size_t len)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = pattern(off + i);
}

typedef int ChildFn(const char *path, BlockAio aio, int ready_fd);

typedef struct Child {
    pid_t pid;
    int ready_fd;               /* readable once the child has written its byte */
} Child;

static Child start_child(ChildFn *fn, const char *path, BlockAio aio)
{
    int fds[2];
    assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        _exit(fn(path, aio, fds[1]));
    }
    close(fds[1]);
    return (Child){ .pid = pid, .ready_fd = fds[0] };
}

/* The child's exit status (or 128 + its signal). */
static int wait_child(Child *c)
{
    int status;
    assert_int_equal(waitpid(c->pid, &status, 0), c->pid);
    close(c->ready_fd);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void wait_ready(Child *c)
{
    struct pollfd pfd = { .fd = c->ready_fd, .events = POLLIN };
    assert_int_equal(poll(&pfd, 1, 10000), 1);
    char byte = 0;
    if (read(c->ready_fd, &byte, 1) != 1 || byte != 'R') {
        int status = wait_child(c);
        fail_msg("the child ended (status %d) before it was ready", status);
    }
}

static void tell_ready_and_wait_for_death(int ready_fd)
{
    if (write(ready_fd, "R", 1) != 1)
        _exit(3);
    for (;;)
        pause();
}

/* ---- io_uring forbidden -------------------------------------------------------------- */

static bool forbid_io_uring(void)
{
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { .len = ARRAY_SIZE(filter), .filter = filter };
    return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
           prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
}

static int child_without_io_uring(const char *path, BlockAio aio, int ready_fd)
{
    if (!forbid_io_uring())
        return CHILD_SKIP;
    log_set_level(LOG_WARN);
    BlockConfig cfg = { .path = path, .aio = BLOCK_AIO_IO_URING };
    BlockBackend *bb = blk_open(&cfg, NULL);
    if (!bb)
        return 10;
    if (strcmp(blk_engine_name(bb), "threads"))
        return 11;
    uint8_t buf[4096], back[4096];
    fill(buf, 0, sizeof(buf));
    if (child_sync(bb, BLOCK_OP_WRITE, 8192, buf, sizeof(buf), false) != sizeof(buf) ||
        child_sync(bb, BLOCK_OP_FLUSH, 0, NULL, 0, false) != 0 ||
        child_sync(bb, BLOCK_OP_READ, 8192, back, sizeof(back), false) != sizeof(back) ||
        memcmp(buf, back, sizeof(buf)))
        return 12;
    blk_close(bb);
    return 0;
}

static void forbidden_io_uring_falls_back_to_threads(void **state)
{
    TestDisk *f = *state;
    char log_path[TEST_PATH_MAX];
    test_image_create(log_path, 0);
    int log_fd = open(log_path, O_RDWR | O_CLOEXEC);
    int saved_stderr = dup(STDERR_FILENO);
    fflush(stderr);
    dup2(log_fd, STDERR_FILENO);
    Child c = start_child(child_without_io_uring, f->path, f->aio);
    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stderr);
    int status = wait_child(&c);
    char log[4096] = "";
    ssize_t n = pread(log_fd, log, sizeof(log) - 1, 0);
    close(log_fd);
    unlink(log_path);
    if (status == CHILD_SKIP)
        skip();                 /* no seccomp here: cannot forbid io_uring */
    if (status)
        fail_msg("child status %d, log: %s", status, log);
    assert_true(n > 0);
    assert_non_null(strstr(log, "io_uring is not available"));
    assert_non_null(strstr(log, "using the thread pool"));
    assert_non_null(strstr(log, f->path));
}

/* ---- durability ------------------------------------------------------------------------ */

#define DURABLE_OFF1 12288u
#define DURABLE_OFF2 (IMAGE_SIZE - 65536u)
#define DURABLE_LEN  65536u

static int write_and_die(const char *path, BlockAio aio, int ready_fd, bool durable)
{
    BlockConfig cfg = { .path = path, .aio = aio };
    BlockBackend *bb = blk_open(&cfg, NULL);
    if (!bb)
        return 10;
    static uint8_t buf[DURABLE_LEN];
    const uint64_t offs[] = { DURABLE_OFF1, DURABLE_OFF2 };
    for (unsigned i = 0; i < ARRAY_SIZE(offs); i++) {
        fill(buf, offs[i], sizeof(buf));
        if (child_sync(bb, BLOCK_OP_WRITE, offs[i], buf, sizeof(buf), durable) != sizeof(buf))
            return 11;
    }
    /* The flush covers the writes completed before it was submitted. */
    if (!durable && child_sync(bb, BLOCK_OP_FLUSH, 0, NULL, 0, false) != 0)
        return 12;
    tell_ready_and_wait_for_death(ready_fd);
    return 0;
}

static int child_flushes(const char *path, BlockAio aio, int ready_fd)
{
    return write_and_die(path, aio, ready_fd, false);
}

static int child_writes_durably(const char *path, BlockAio aio, int ready_fd)
{
    return write_and_die(path, aio, ready_fd, true);
}

/* The dead child's lock is gone (its ring may release the file a moment later). */
static void assert_lock_released(const char *path)
{
    BlockConfig cfg = { .path = path };
    struct timespec pause_10ms = { .tv_nsec = 10 * 1000 * 1000 };
    for (unsigned i = 0; i < 200; i++) {
        BlockBackend *bb = blk_open(&cfg, NULL);
        if (bb) {
            blk_close(bb);
            return;
        }
        nanosleep(&pause_10ms, NULL);
    }
    fail_msg("the killed child's lock on %s is still held after 2 s", path);
}

static void assert_survived(const char *path)
{
    static uint8_t disk[DURABLE_LEN], want[DURABLE_LEN];
    const uint64_t offs[] = { DURABLE_OFF1, DURABLE_OFF2 };
    for (unsigned i = 0; i < ARRAY_SIZE(offs); i++) {
        test_file_read(path, offs[i], disk, sizeof(disk));
        fill(want, offs[i], sizeof(want));
        assert_memory_equal(disk, want, sizeof(disk));
    }
}

static void killed_after_completion(const char *path, BlockAio aio, ChildFn *fn)
{
    Child c = start_child(fn, path, aio);
    wait_ready(&c);
    assert_int_equal(kill(c.pid, SIGKILL), 0);
    assert_int_equal(wait_child(&c), 128 + SIGKILL);
    assert_survived(path);
    assert_lock_released(path);
}

static void flushed_writes_survive_a_kill(void **state)
{
    TestDisk *f = *state;
    killed_after_completion(f->path, f->aio, child_flushes);
}

static void durable_writes_survive_a_kill(void **state)
{
    TestDisk *f = *state;
    killed_after_completion(f->path, f->aio, child_writes_durably);
}

/* ---- the lock between processes ------------------------------------------------------- */

static int child_holds_the_image(const char *path, BlockAio aio, int ready_fd)
{
    BlockConfig cfg = { .path = path, .aio = aio };
    if (!blk_open(&cfg, NULL))
        return 10;
    tell_ready_and_wait_for_death(ready_fd);
    return 0;
}

static void another_process_cannot_open_a_locked_image(void **state)
{
    TestDisk *f = *state;
    Child c = start_child(child_holds_the_image, f->path, f->aio);
    wait_ready(&c);
    Error *err = NULL;
    BlockConfig cfg = { .path = f->path, .readonly = true };
    assert_null(blk_open(&cfg, &err));
    assert_non_null(strstr(error_get_pretty(err), f->path));
    assert_non_null(strstr(error_get_pretty(err), "locked"));
    error_free(err);
    kill(c.pid, SIGKILL);
    assert_int_equal(wait_child(&c), 128 + SIGKILL);
    assert_lock_released(f->path);
}

#define BOTH(fn) TEST_DISK_CASE(fn, io_uring), TEST_DISK_CASE(fn, threads)

int main(void)
{
    log_set_level(LOG_ERROR);
    const struct CMUnitTest tests[] = {
        TEST_DISK_CASE(forbidden_io_uring_falls_back_to_threads, io_uring),
        BOTH(flushed_writes_survive_a_kill),
        BOTH(durable_writes_survive_a_kill),
        BOTH(another_process_cannot_open_a_locked_image),
    };
    return cmocka_run_group_tests_name("block_process", tests, NULL, NULL);
}
