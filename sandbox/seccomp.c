/*
 * sandbox/seccomp.c — build the seccomp-bpf filter from the rule tables
 * (seccomp_rules.c) with libseccomp and load it into the process.
 *
 * The filter is synchronised to every thread (SECCOMP_FILTER_FLAG_TSYNC), so the block
 * engines' workers, started earlier, are filtered too; libseccomp sets no_new_privs
 * before loading. A violation either kills the process outright (production) or, for
 * diagnosis, first writes the call's number to stderr from a SIGSYS handler that then
 * lets SIGSYS kill the process (sandbox/sandbox.h).
 */
#include "sandbox/sandbox.h"
#include "sandbox/sandbox-internal.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

/* Whether this build runs under AddressSanitizer (gcc's macro, or clang's feature). */
#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_SANITIZED 1
#endif
#endif
#ifndef SANDBOX_SANITIZED
#define SANDBOX_SANITIZED 0
#endif

SandboxFilterConfig sandbox_filter_default(void)
{
    return (SandboxFilterConfig){
        .violation = SANDBOX_SANITIZED ? SANDBOX_VIOLATION_REPORT : SANDBOX_VIOLATION_KILL,
        .sanitizer_extras = SANDBOX_SANITIZED,
    };
}

/* Decimal digits of v at the end of buf[len]; returns where they start. */
static char *format_decimal(char *buf, size_t len, unsigned long v)
{
    char *p = buf + len;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v && p > buf);
    return p;
}

/* SIGSYS from SECCOMP_RET_TRAP: only async-signal-safe calls the filter allows (write,
 * and raise's rt_sigprocmask, getpid, gettid, tgkill). SA_RESETHAND has already put
 * the default action back, so the raise ends the process with SIGSYS. */
static void report_violation(int sig, siginfo_t *info, void *uctx)
{
    static const char head[] = "xendm: sandbox: forbidden system call ";
    char num[24];
    char *digits = format_decimal(num, sizeof(num) - 1, (unsigned long)info->si_syscall);
    num[sizeof(num) - 1] = '\n';
    ssize_t ignored = write(STDERR_FILENO, head, sizeof(head) - 1);
    ignored = write(STDERR_FILENO, digits, (size_t)(num + sizeof(num) - digits));
    (void)ignored;
    raise(SIGSYS);
}

static int install_report_handler(Error **errp)
{
    struct sigaction sa = { .sa_sigaction = report_violation,
                            .sa_flags = SA_SIGINFO | SA_RESETHAND | SA_NODEFER };
    sigemptyset(&sa.sa_mask);
    sigset_t sys;
    sigemptyset(&sys);
    sigaddset(&sys, SIGSYS);
    if (sigaction(SIGSYS, &sa, NULL) < 0 || sigprocmask(SIG_UNBLOCK, &sys, NULL) < 0) {
        int err = errno;
        error_setg_errno(errp, err, "cannot install the SIGSYS handler");
        return -err;
    }
    return 0;
}

static int add_rule(scmp_filter_ctx ctx, const SandboxRule *r)
{
    SandboxRule rule = *r;
    if (rule.arg0_is_own_pid)
        rule.arg[0].datum_a = (scmp_datum_t)getpid();
    return seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, rule.nr, rule.nr_args, rule.arg);
}

static int add_table(scmp_filter_ctx ctx, const SandboxRuleTable *t, Error **errp)
{
    for (size_t i = 0; i < t->nr_rules; i++) {
        int ret = add_rule(ctx, &t->rules[i]);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "cannot add the %s rule for %s (rule %zu)",
                             t->what, t->rules[i].name, i);
            return ret;
        }
    }
    return 0;
}

/* The filter for cfg, not loaded; NULL with errp set. */
static scmp_filter_ctx build_filter(const SandboxFilterConfig *cfg, Error **errp)
{
    uint32_t violation = cfg->violation == SANDBOX_VIOLATION_KILL ? SCMP_ACT_KILL_PROCESS
                                                                  : SCMP_ACT_TRAP;
    scmp_filter_ctx ctx = seccomp_init(violation);
    if (!ctx) {
        error_setg(errp, "cannot create a seccomp filter (libseccomp)");
        return NULL;
    }
    int ret = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
    if (ret < 0)
        error_setg_errno(errp, -ret, "cannot ask for the filter on every thread (TSYNC)");
    if (ret == 0)
        ret = add_table(ctx, &sandbox_production_rules, errp);
    if (ret == 0 && cfg->sanitizer_extras)
        ret = add_table(ctx, &sandbox_sanitizer_rules, errp);
    if (ret < 0) {
        seccomp_release(ctx);
        return NULL;
    }
    return ctx;
}

int sandbox_seccomp_install(const SandboxFilterConfig *cfg, Error **errp)
{
    scmp_filter_ctx ctx = build_filter(cfg, errp);
    if (!ctx)
        return -EINVAL;
    int ret = 0;
    if (cfg->violation == SANDBOX_VIOLATION_REPORT)
        ret = install_report_handler(errp);
    if (ret == 0) {
        ret = seccomp_load(ctx);
        if (ret < 0)
            error_setg_errno(errp, -ret, "cannot load the seccomp filter");
    }
    seccomp_release(ctx);
    return ret;
}
