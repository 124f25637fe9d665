/*
 * util/log.h — leveled logging to stderr, with rate limiting for guest-triggered events.
 *
 * The level is process-wide (set once at start-up by the program, or by XENDM_LOG in the
 * environment: error, warn, info, debug). Messages go to stderr as
 * "xendm: <level>: <text>". Guest-triggered conditions (bad ioreqs, unassigned accesses)
 * must use log_ratelimited() so a hostile guest cannot flood the log.
 */
#ifndef XENDM_UTIL_LOG_H
#define XENDM_UTIL_LOG_H

#include <stdbool.h>
#include <stdint.h>

/* LOG_SILENT drops everything; only a program (a test) sets it, XENDM_LOG cannot. */
enum log_level { LOG_SILENT = -1, LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parse "error|warn|info|debug"; returns -EINVAL for anything else. */
int log_parse_level(const char *name, enum log_level *out);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * A token bucket: at most `burst` messages, then one per `interval_ms`. Messages
 * suppressed in between are counted and reported with the next one that passes.
 */
typedef struct LogRateLimit {
    uint64_t next_ms;
    unsigned tokens;
    unsigned long suppressed;
} LogRateLimit;

#define LOG_RATELIMIT_BURST 10
#define LOG_RATELIMIT_INTERVAL_MS 1000

void log_ratelimited(LogRateLimit *rl, enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) do { if (log_get_level() >= LOG_DEBUG) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
