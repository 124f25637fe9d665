/*
 * sandbox/sandbox.h — what xendm gives up once it is serving a guest: namespaces,
 * resource limits and a seccomp-bpf system-call filter (docs/SECURITY.md).
 *
 * Each is one call, made by one of xendm's start-up steps (dm/startup.c) in this
 * order: sandbox_enter_namespaces() before any thread exists and before the chroot;
 * sandbox_set_limits() once every file, socket and thread is open or started;
 * sandbox_seccomp_install() last of all, after privileges are dropped. None can be
 * undone: the teardown runs under all of them.
 *
 * The filter allows only what the event loop, the block engines and the teardown call,
 * through glibc, Debian's Xen libraries and mockxen's shims; its rules are one table
 * (sandbox/seccomp_rules.c), each with its reason. Nothing here keeps state; the
 * process owns what it installed.
 */
#ifndef XENDM_SANDBOX_H
#define XENDM_SANDBOX_H

#include <stdbool.h>
#include <stdint.h>

#include "util/error.h"

/* What a forbidden system call does. */
typedef enum SandboxViolation {
    /* The kernel kills the whole process with SIGSYS (SECCOMP_RET_KILL_PROCESS) and
     * logs the call in the audit log (dmesg: "audit: type=1326 ... syscall=N"). */
    SANDBOX_VIOLATION_KILL,
    /* SIGSYS is delivered (SECCOMP_RET_TRAP) to a handler that writes
     * "xendm: sandbox: forbidden system call N" to stderr, then the process dies of
     * SIGSYS all the same. */
    SANDBOX_VIOLATION_REPORT,
} SandboxViolation;

typedef struct SandboxFilterConfig {
    SandboxViolation violation;
    /* Also allow what AddressSanitizer's and LeakSanitizer's runtimes call (reports,
     * the leak check at exit): sandbox/seccomp_rules.c, sanitizer_rules. */
    bool sanitizer_extras;
} SandboxFilterConfig;

/* The filter xendm installs: KILL for a release build; under the sanitizers (make
 * test) REPORT, so a missing rule names itself in the test's log, plus their extras. */
SandboxFilterConfig sandbox_filter_default(void);

/* Set no_new_privs and load the filter onto every thread of the calling process
 * (TSYNC: the threads that exist already get it too, so they too may only make the
 * calls it allows). 0, or -errno with the reason. */
int sandbox_seccomp_install(const SandboxFilterConfig *cfg, Error **errp);

/* unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWUTS) when running as
 * root (*entered set true); otherwise nothing (*entered false). Namespaces belong to a
 * thread, so this must run before the process starts any. 0, or -errno. */
int sandbox_enter_namespaces(bool *entered, Error **errp);

/* The limits sandbox_set_limits() chose. */
typedef struct SandboxLimits {
    uint64_t nofile;    /* highest open fd + 1 + SANDBOX_NOFILE_MARGIN */
    uint64_t nproc;     /* this process's threads + SANDBOX_NPROC_MARGIN */
    uint64_t fsize;     /* the largest open regular file, at least SANDBOX_FSIZE_MIN */
} SandboxLimits;

#define SANDBOX_NOFILE_MARGIN 64            /* control clients, received memfds */
#define SANDBOX_NPROC_MARGIN 8
#define SANDBOX_FSIZE_MIN (1ull << 30)      /* log files: what a guest may make us write */

/*
 * Lower the limits (a process may always lower its own): CORE 0, MEMLOCK 0,
 * MSGQUEUE 0, and NOFILE, NPROC, FSIZE from what is open now (SandboxLimits). FSIZE
 * lets every open disk image be written up to its size; SIGXFSZ is ignored, so a write
 * past FSIZE fails with EFBIG instead of killing xendm. Reads /proc/self/fd and
 * /proc/self/task, so it runs before the chroot. 0, or -errno.
 */
int sandbox_set_limits(SandboxLimits *chosen, Error **errp);

#endif
