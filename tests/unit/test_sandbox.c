/*
 * The sandbox (sandbox/sandbox.h), each piece in a child process, since none can be
 * undone:
 *   - xendm's seccomp filter (the same builder, the same tables) kills a child that
 *     calls execve, open, socket, connect, fork, io_uring_setup, an unlisted ioctl, or
 *     maps memory executable, while what the loop needs (I/O on open fds, eventfds,
 *     anonymous memory, the Xen ioctls, signals to itself) works;
 *   - the report mode names the forbidden call on stderr and still dies of SIGSYS;
 *   - the sanitizer extras allow read-only opens and nothing more;
 *   - the rule tables are sane (a reason for each, libseccomp knows each call);
 *   - the limits follow what is open, and a write past FSIZE fails with EFBIG.
 * Children report through their exit status, never through cmocka.
 */
#include "tests/unit/support.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <poll.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xen/xen.h>
#include <xen/sys/evtchn.h>
#include <xen/sys/privcmd.h>

#include "block/block.h"
#include "sandbox/sandbox-internal.h"
#include "sandbox/sandbox.h"
#include "util/macros.h"

#define CHILD_OK 0
#define CHILD_WRONG 3           /* an allowed call failed the wrong way */

static const SandboxFilterConfig production = { SANDBOX_VIOLATION_KILL, false };
static const SandboxFilterConfig reporting = { SANDBOX_VIOLATION_REPORT, false };
static const SandboxFilterConfig sanitized = { SANDBOX_VIOLATION_KILL, true };
/* What xendm installs in this build: the allowed calls must work under it (under
 * ASan, its runtime's own calls are among them). */
static SandboxFilterConfig as_xendm;

/* Run fn in a child under the filter cfg; returns its wait status. The child's stderr
 * goes to err_fd when that is >= 0. */
static int run_filtered(const SandboxFilterConfig *cfg, int (*fn)(void), int err_fd)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit no_core = { 0, 0 };
        setrlimit(RLIMIT_CORE, &no_core);     /* SIGSYS would dump one */
        if (err_fd >= 0)
            dup2(err_fd, STDERR_FILENO);
        Error *err = NULL;
        if (sandbox_seccomp_install(cfg, &err) < 0) {
            fprintf(stderr, "%s\n", error_get_pretty(err));
            _exit(2);
        }
        _exit(fn());
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

static void assert_killed(const SandboxFilterConfig *cfg, int (*fn)(void))
{
    int status = run_filtered(cfg, fn, -1);
    if (!WIFSIGNALED(status))
        fail_msg("the child was not killed: exit %d", WEXITSTATUS(status));
    assert_int_equal(WTERMSIG(status), SIGSYS);
}

static void assert_allowed(const SandboxFilterConfig *cfg, int (*fn)(void))
{
    int status = run_filtered(cfg, fn, -1);
    if (WIFSIGNALED(status))
        fail_msg("the child died of signal %d", WTERMSIG(status));
    assert_int_equal(WEXITSTATUS(status), CHILD_OK);
}

/* ---- forbidden ------------------------------------------------------------------------ */

static int do_execve(void)
{
    char *argv[] = { "true", NULL };
    execve("/bin/true", argv, environ);
    return CHILD_OK;
}

static int do_open(void)
{
    open("/dev/null", O_RDONLY);
    return CHILD_OK;
}

static int do_open_for_writing(void)
{
    open("/tmp/xendm-sandbox-never", O_WRONLY | O_CREAT, 0600);
    return CHILD_OK;
}

static int do_socket(void)
{
    socket(AF_UNIX, SOCK_STREAM, 0);
    return CHILD_OK;
}

static int connect_fd = -1;     /* a socket made before the filter */
static int do_connect(void)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = "/nonexistent" };
    connect(connect_fd, (struct sockaddr *)&sa, sizeof(sa));
    return CHILD_OK;
}

static int do_fork(void)
{
    syscall(SYS_fork);
    return CHILD_OK;
}

static int do_thread_clone(void)
{
    /* clone with thread flags: xendm starts its threads before the filter */
    syscall(SYS_clone, CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD,
            NULL, NULL, NULL, 0);
    return CHILD_OK;
}

static int do_io_uring_setup(void)
{
    char params[120] = { 0 };
    syscall(SYS_io_uring_setup, 4, params);
    return CHILD_OK;
}

static int do_unlisted_ioctl(void)
{
    int n;
    ioctl(STDIN_FILENO, FIONREAD, &n);
    return CHILD_OK;
}

static int do_mmap_exec(void)
{
    mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return CHILD_OK;
}

static int do_mprotect_exec(void)
{
    void *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return CHILD_WRONG;
    mprotect(p, 4096, PROT_READ | PROT_EXEC);
    return CHILD_OK;
}

static int do_kill_other(void)
{
    kill(1, 0);
    return CHILD_OK;
}

static void forbidden_calls_kill(void **state)
{
    assert_killed(&production, do_execve);
    assert_killed(&production, do_open);
    assert_killed(&production, do_open_for_writing);
    assert_killed(&production, do_socket);
    connect_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(connect_fd >= 0);
    assert_killed(&production, do_connect);
    close(connect_fd);
    assert_killed(&production, do_fork);
    assert_killed(&production, do_thread_clone);
    assert_killed(&production, do_io_uring_setup);
    assert_killed(&production, do_unlisted_ioctl);
    assert_killed(&production, do_mmap_exec);
    assert_killed(&production, do_mprotect_exec);
    assert_killed(&production, do_kill_other);
    as_xendm = sandbox_filter_default();
    assert_killed(&as_xendm, do_execve);
    assert_killed(&as_xendm, do_socket);
    assert_killed(&as_xendm, do_unlisted_ioctl);
}

/* ---- allowed -------------------------------------------------------------------------- */

static int pipe_fds[2] = { -1, -1 };
static int event_fd = -1;
static int do_io_on_open_fds(void)
{
    char c = 'x';
    uint64_t one = 1, got;
    if (write(pipe_fds[1], &c, 1) != 1 || read(pipe_fds[0], &c, 1) != 1 || c != 'x')
        return CHILD_WRONG;
    if (write(event_fd, &one, sizeof(one)) != sizeof(one) ||
        read(event_fd, &got, sizeof(got)) != sizeof(got) || got != 1)
        return CHILD_WRONG;
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
        return CHILD_WRONG;
    close(pipe_fds[0]);
    return CHILD_OK;
}

static int do_memory(void)
{
    size_t len = 1 << 20;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return CHILD_WRONG;
    memset(p, 1, len);
    if (mprotect(p, len, PROT_READ) < 0 || madvise(p, len, MADV_DONTNEED) < 0 ||
        munmap(p, len) < 0)
        return CHILD_WRONG;
    void *q = malloc(4 << 20);                  /* malloc's own mmap */
    free(q);
    return q ? CHILD_OK : CHILD_WRONG;
}

/* The Xen requests are allowed: on a file that is not privcmd or evtchn the kernel
 * answers ENOTTY, and the child lives to say so. */
static int do_xen_ioctls(void)
{
    unsigned long requests[] = { IOCTL_PRIVCMD_MMAPBATCH_V2, IOCTL_PRIVCMD_MMAP_RESOURCE,
                                 IOCTL_PRIVCMD_DM_OP, IOCTL_EVTCHN_NOTIFY,
                                 IOCTL_EVTCHN_UNBIND };
    for (size_t i = 0; i < ARRAY_SIZE(requests); i++) {
        if (ioctl(pipe_fds[0], requests[i], NULL) == 0 || errno != ENOTTY)
            return CHILD_WRONG;
    }
    return CHILD_OK;
}

static int do_signal_self(void)
{
    signal(SIGUSR1, SIG_IGN);
    return raise(SIGUSR1) == 0 ? CHILD_OK : CHILD_WRONG;
}

static void allowed_calls_work(void **state)
{
    assert_int_equal(pipe2(pipe_fds, O_CLOEXEC), 0);
    event_fd = eventfd(0, EFD_CLOEXEC);
    assert_true(event_fd >= 0);
    as_xendm = sandbox_filter_default();
    assert_allowed(&as_xendm, do_io_on_open_fds);
    assert_allowed(&as_xendm, do_memory);
    assert_allowed(&as_xendm, do_xen_ioctls);
    assert_allowed(&as_xendm, do_signal_self);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    close(event_fd);
}

/* ---- the report mode and the sanitizer extras -------------------------------------------- */

static void report_names_the_call(void **state)
{
    char path[] = "/tmp/xendm-sandbox-err-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    int status = run_filtered(&reporting, do_socket, fd);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGSYS);
    char text[128] = { 0 };
    assert_true(pread(fd, text, sizeof(text) - 1, 0) > 0);
    char want[80];
    snprintf(want, sizeof(want), "xendm: sandbox: forbidden system call %d\n", SYS_socket);
    assert_string_equal(text, want);
    close(fd);
}

static int do_open_read_only(void)
{
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return CHILD_WRONG;
    close(fd);
    return CHILD_OK;
}

static void sanitizer_extras_only_read(void **state)
{
    assert_allowed(&sanitized, do_open_read_only);
    assert_killed(&sanitized, do_open_for_writing);
    assert_killed(&sanitized, do_execve);
    assert_killed(&sanitized, do_socket);
    assert_killed(&sanitized, do_fork);
}

/* ---- the tables ----------------------------------------------------------------------- */

static void check_table(const SandboxRuleTable *t)
{
    for (size_t i = 0; i < t->nr_rules; i++) {
        const SandboxRule *r = &t->rules[i];
        if (!r->why || strlen(r->why) < 10)
            fail_msg("%s rule %zu (%s) gives no reason", t->what, i, r->name);
        char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, r->nr);
        if (!name)
            fail_msg("%s rule %zu (%s): libseccomp does not know call %d", t->what, i,
                     r->name, r->nr);
        assert_string_equal(name, r->name);
        free(name);
    }
}

static void every_rule_has_a_reason_and_a_known_call(void **state)
{
    check_table(&sandbox_production_rules);
    check_table(&sandbox_sanitizer_rules);
    for (size_t i = 0; i < sandbox_production_rules.nr_rules; i++) {
        const char *name = sandbox_production_rules.rules[i].name;
        const char *never[] = { "open", "openat", "execve", "fork", "vfork", "clone",
                                "clone3", "socket", "connect", "io_uring_setup",
                                "io_uring_register", "ptrace", "kill" };
        for (size_t j = 0; j < ARRAY_SIZE(never); j++)
            if (strcmp(name, never[j]) == 0)
                fail_msg("the production rules allow %s", name);
    }
}

/* ---- limits --------------------------------------------------------------------------- */

static int do_limits(void)
{
    /* a 1.5 GiB sparse image, bigger than the floor: FSIZE must let it be written */
    uint64_t size = 3ull << 29;
    char path[] = "/tmp/xendm-sandbox-img-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return CHILD_WRONG;
    unlink(path);
    if (ftruncate(fd, (off_t)size) < 0)
        return CHILD_WRONG;
    /* the highest fd: one just below the current limit */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return CHILD_WRONG;
    int highest = (int)(rl.rlim_cur - 1 < 4000 ? rl.rlim_cur - 1 : 4000);
    SandboxLimits l;
    Error *err = NULL;
    if (dup2(fd, highest) != highest || sandbox_set_limits(&l, &err) < 0)
        return 4;
    if (l.fsize != size || l.nofile != (uint64_t)highest + 1 + SANDBOX_NOFILE_MARGIN)
        return 5;
    const int zero[] = { RLIMIT_CORE, RLIMIT_MEMLOCK, RLIMIT_MSGQUEUE };
    for (size_t i = 0; i < ARRAY_SIZE(zero); i++)
        if (getrlimit(zero[i], &rl) < 0 || rl.rlim_cur != 0 || rl.rlim_max != 0)
            return 6;
    if (getrlimit(RLIMIT_FSIZE, &rl) < 0 || rl.rlim_cur != size || rl.rlim_max != size)
        return 7;
    char c = 1;
    if (pwrite(fd, &c, 1, (off_t)size - 1) != 1)        /* the last byte: fine */
        return 8;
    if (pwrite(fd, &c, 1, (off_t)size) != -1 || errno != EFBIG)   /* past it: EFBIG */
        return 9;
    if (dup2(fd, (int)l.nofile) != -1 || errno != EBADF)
        return 10;
    rl.rlim_cur = rl.rlim_max = size + 1;
    if (geteuid() != 0 && setrlimit(RLIMIT_FSIZE, &rl) == 0)
        return 11;
    return CHILD_OK;
}

/*
 * With the fds below the highest all taken, listing /proc/self/fd opens the next one:
 * NOFILE must not count that listing's own fd, gone by the time anyone looks. (Where
 * a CI runner's fds were dense, xendm's NOFILE came out one above what it said.)
 */
static int do_limits_with_dense_fds(void)
{
    int highest = -1;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return CHILD_WRONG;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' && atoi(e->d_name) != dirfd(d) && atoi(e->d_name) > highest)
            highest = atoi(e->d_name);
    closedir(d);
    int fd;
    while ((fd = dup(0)) >= 0 && fd <= highest)     /* fill every gap below the highest */
        ;
    if (fd != highest + 1)
        return CHILD_WRONG;
    close(fd);
    SandboxLimits l;
    Error *err = NULL;
    if (sandbox_set_limits(&l, &err) < 0)
        return 4;
    return l.nofile == (uint64_t)highest + 1 + SANDBOX_NOFILE_MARGIN ? CHILD_OK : 5;
}

/* The threads engine's workers have finished starting (the C library's and the
 * sanitizers' thread set-up calls, which the filter forbids) by the time blk_open()
 * returns: a filter installed right after it, as xendm's last step does, must not
 * catch a worker still starting. Under load a late worker used to be killed. */
static int engine_then_filter(void)
{
    char path[] = "/tmp/xendm-sandbox-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0 || ftruncate(fd, 1 << 20) < 0)
        return 3;
    close(fd);
    BlockConfig cfg = { .path = path, .aio = BLOCK_AIO_THREADS };
    BlockBackend *bb = blk_open(&cfg, NULL);
    unlink(path);
    if (!bb)
        return 4;
    Error *err = NULL;
    if (sandbox_seccomp_install(&as_xendm, &err) < 0)
        return 5;
    poll(NULL, 0, 50);                      /* time for a late worker to get going */
    return CHILD_OK;
}

static void threads_engine_started_before_the_filter(void **state)
{
    for (unsigned i = 0; i < 20; i++) {
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
            _exit(engine_then_filter());
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (WIFSIGNALED(status))
            fail_msg("round %u: the child died of signal %d", i, WTERMSIG(status));
        assert_int_equal(WEXITSTATUS(status), CHILD_OK);
    }
}

static void assert_child_ok(int (*fn)(void))
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(fn());
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), CHILD_OK);
}

static void limits_follow_what_is_open(void **state)
{
    assert_child_ok(do_limits);
}

static void nofile_leaves_out_the_listing_of_fds(void **state)
{
    assert_child_ok(do_limits_with_dense_fds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(forbidden_calls_kill),
        cmocka_unit_test(allowed_calls_work),
        cmocka_unit_test(threads_engine_started_before_the_filter),
        cmocka_unit_test(report_names_the_call),
        cmocka_unit_test(sanitizer_extras_only_read),
        cmocka_unit_test(every_rule_has_a_reason_and_a_known_call),
        cmocka_unit_test(limits_follow_what_is_open),
        cmocka_unit_test(nofile_leaves_out_the_listing_of_fds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
