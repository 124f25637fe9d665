/*
 * sandbox/limits.c — resource limits from what xendm has open once started.
 *
 * Soft and hard limits are set alike, so they cannot be raised again. What they bound
 * once the seccomp filter forbids opening files and creating processes anyway: no core
 * file with guest memory in it (CORE), no locked memory (MEMLOCK), no POSIX message
 * queues (MSGQUEUE), no more fds than the control socket's clients and the shims'
 * received memfds need (NOFILE), no more tasks than now, should the filter be off
 * (NPROC, per user and not enforced for root), and no regular file grown beyond the
 * largest one open (FSIZE): a disk image is written up to its size, a chardev log up
 * to SANDBOX_FSIZE_MIN.
 */
#include "sandbox/sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "util/log.h"
#include "util/macros.h"

typedef struct OpenFiles {
    int highest_fd;
    uint64_t largest_file;      /* bytes, among open regular files */
} OpenFiles;

/*
 * The entries of a /proc directory whose names are numbers, each passed to fn. Listing
 * /proc/self/fd shows the fd of the listing itself, gone once it is done: with
 * skip_own_fd it is left out, or it would count as the highest open fd whenever the
 * fds below it are all taken.
 */
static int for_each_number(const char *dir, bool skip_own_fd,
                           void (*fn)(long n, void *opaque), void *opaque, Error **errp)
{
    DIR *d = opendir(dir);
    if (!d) {
        int err = errno;
        error_setg_errno(errp, err, "cannot list %s", dir);
        return -err;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        char *end;
        long n = strtol(e->d_name, &end, 10);
        if (end != e->d_name && !*end && !(skip_own_fd && n == dirfd(d)))
            fn(n, opaque);
    }
    closedir(d);
    return 0;
}

static void note_fd(long fd, void *opaque)
{
    OpenFiles *f = opaque;
    struct stat st;
    if (fd > f->highest_fd)
        f->highest_fd = (int)fd;
    if (fstat((int)fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size > f->largest_file)
        f->largest_file = (uint64_t)st.st_size;
}

static void count_task(long tid, void *opaque)
{
    (*(uint64_t *)opaque)++;
}

static int limit(int resource, const char *name, uint64_t value, Error **errp)
{
    struct rlimit rl = { .rlim_cur = value, .rlim_max = value };
    struct rlimit now;
    /* Never raise a limit someone already set lower. */
    if (getrlimit(resource, &now) == 0 && now.rlim_max != RLIM_INFINITY &&
        now.rlim_max < value)
        rl.rlim_cur = rl.rlim_max = now.rlim_max;
    if (setrlimit(resource, &rl) < 0) {
        int err = errno;
        error_setg_errno(errp, err, "cannot set RLIMIT_%s to %llu", name,
                         (unsigned long long)value);
        return -err;
    }
    return 0;
}

int sandbox_set_limits(SandboxLimits *chosen, Error **errp)
{
    OpenFiles files = { .highest_fd = -1 };
    uint64_t tasks = 0;
    int ret = for_each_number("/proc/self/fd", true, note_fd, &files, errp);
    if (ret == 0)
        ret = for_each_number("/proc/self/task", false, count_task, &tasks, errp);
    if (ret < 0)
        return ret;
    SandboxLimits l = {
        .nofile = (uint64_t)files.highest_fd + 1 + SANDBOX_NOFILE_MARGIN,
        .nproc = tasks + SANDBOX_NPROC_MARGIN,
        .fsize = files.largest_file > SANDBOX_FSIZE_MIN ? files.largest_file
                                                        : SANDBOX_FSIZE_MIN,
    };
    const struct { int resource; const char *name; uint64_t value; } limits[] = {
        { RLIMIT_CORE, "CORE", 0 },
        { RLIMIT_MEMLOCK, "MEMLOCK", 0 },
        { RLIMIT_MSGQUEUE, "MSGQUEUE", 0 },
        { RLIMIT_NOFILE, "NOFILE", l.nofile },
        { RLIMIT_NPROC, "NPROC", l.nproc },
        { RLIMIT_FSIZE, "FSIZE", l.fsize },
    };
    signal(SIGXFSZ, SIG_IGN);
    for (size_t i = 0; i < ARRAY_SIZE(limits); i++) {
        ret = limit(limits[i].resource, limits[i].name, limits[i].value, errp);
        if (ret < 0)
            return ret;
    }
    log_info("limits: NOFILE %llu, NPROC %llu, FSIZE %llu bytes; CORE, MEMLOCK, MSGQUEUE 0",
             (unsigned long long)l.nofile, (unsigned long long)l.nproc,
             (unsigned long long)l.fsize);
    if (chosen)
        *chosen = l;
    return 0;
}
