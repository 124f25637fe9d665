/* util/log.c — see log.h. */
#include "util/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/clock.h"
#include "util/macros.h"

static const char *const level_names[] = { "error", "warn", "info", "debug" };
#define LEVEL_UNSET (-2)                 /* not yet read from XENDM_LOG */
static int current_level = LEVEL_UNSET;

int log_parse_level(const char *name, enum log_level *out)
{
    for (unsigned i = 0; i < ARRAY_SIZE(level_names); i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -EINVAL;
}

void log_set_level(enum log_level level)
{
    current_level = (int)level;
}

enum log_level log_get_level(void)
{
    if (current_level == LEVEL_UNSET) {
        enum log_level lvl = LOG_WARN;
        const char *env = getenv("XENDM_LOG");
        if (env && log_parse_level(env, &lvl) < 0)
            lvl = LOG_WARN;
        current_level = (int)lvl;
    }
    return (enum log_level)current_level;
}

__attribute__((format(printf, 2, 0)))
static void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
    char buf[1024];
    vsnprintf(buf, sizeof(buf), fmt, ap);
    fprintf(stderr, "xendm: %s: %s\n", level_names[level], buf);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (level > log_get_level())
        return;
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, fmt, ap);
    va_end(ap);
}

void log_ratelimited(LogRateLimit *rl, enum log_level level, const char *fmt, ...)
{
    if (level > log_get_level())
        return;
    uint64_t now = clock_monotonic_ms();
    if (now >= rl->next_ms) {           /* refill the bucket once per interval */
        rl->tokens = LOG_RATELIMIT_BURST;
        rl->next_ms = now + LOG_RATELIMIT_INTERVAL_MS;
    }
    if (rl->tokens == 0) {
        rl->suppressed++;
        return;
    }
    rl->tokens--;
    if (rl->suppressed) {
        log_msg(level, "(%lu similar messages suppressed)", rl->suppressed);
        rl->suppressed = 0;
    }
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, fmt, ap);
    va_end(ap);
}
