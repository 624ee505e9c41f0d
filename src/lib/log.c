#include "lib/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib/timeutil.h"

static enum log_level current = LOG_INFO;
static const char *const names[] = {"error", "warn", "info", "debug"};

void log_set_level(enum log_level level)
{
    current = level;
}

int log_level_parse(const char *s)
{
    for (int i = 0; i <= LOG_DEBUG; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

bool log_enabled(enum log_level level)
{
    return level <= current;
}

void log_write(enum log_level level, const char *msg, const char *fmt, ...)
{
    char ts[TIME_RFC3339_LEN];
    char tail[2048];
    va_list ap;

    time_format_rfc3339(time_now_ms(), ts);
    va_start(ap, fmt);
    vsnprintf(tail, sizeof(tail), fmt, ap);
    va_end(ap);
    fprintf(stderr, "ts=%s level=%s msg=\"%s\"%s%s\n", ts, names[level], msg,
            tail[0] ? " " : "", tail);
}
