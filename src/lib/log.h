/*
 * Operator logs: one line per event on stderr,
 *   ts=2026-12-03T18:41:02.123Z level=info msg="deploy" release=1.4.0
 * The key=value tail is printf-formatted only when the level is enabled.
 * Never pass a secret (token, password, cookie) to these macros.
 */
#ifndef MC_LOG_H
#define MC_LOG_H

#include <stdbool.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log_set_level(enum log_level level);

/* Parses "error", "warn", "info" or "debug"; returns -1 on anything else. */
int log_level_parse(const char *s);

bool log_enabled(enum log_level level);

/* Writes one line; msg is quoted, fmt forms the key=value tail (may be ""). */
void log_write(enum log_level level, const char *msg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_at(lvl, msg, ...)                                                  \
    do {                                                                       \
        if (log_enabled(lvl))                                                  \
            log_write(lvl, msg, __VA_ARGS__);                                  \
    } while (0)

#define log_error(msg, ...) log_at(LOG_ERROR, msg, __VA_ARGS__)
#define log_warn(msg, ...)  log_at(LOG_WARN, msg, __VA_ARGS__)
#define log_info(msg, ...)  log_at(LOG_INFO, msg, __VA_ARGS__)
#define log_debug(msg, ...) log_at(LOG_DEBUG, msg, __VA_ARGS__)

#endif
