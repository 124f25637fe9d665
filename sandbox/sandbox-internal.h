/*
 * sandbox/sandbox-internal.h — the seccomp rule tables (seccomp_rules.c) as the filter
 * builder (seccomp.c) and the tests read them.
 */
#ifndef XENDM_SANDBOX_INTERNAL_H
#define XENDM_SANDBOX_INTERNAL_H

#include <seccomp.h>
#include <stdbool.h>
#include <stddef.h>

/* One allowed system call, with at most two conditions on its arguments (all must
 * hold). A call may appear in several rules: any one of them allows it. */
typedef struct SandboxRule {
    int nr;                         /* SCMP_SYS(name) */
    const char *name;
    unsigned nr_args;
    struct scmp_arg_cmp arg[2];
    bool arg0_is_own_pid;           /* arg[0].datum_a is this process's pid, at install */
    const char *why;
} SandboxRule;

typedef struct SandboxRuleTable {
    const char *what;
    const SandboxRule *rules;
    size_t nr_rules;
} SandboxRuleTable;

/* What xendm's loop, engines and teardown need; what only the sanitizers' runtimes do. */
extern const SandboxRuleTable sandbox_production_rules;
extern const SandboxRuleTable sandbox_sanitizer_rules;

#endif
