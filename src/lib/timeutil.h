/* Wall-clock time in milliseconds and its RFC 3339 UTC form. */
#ifndef MC_TIMEUTIL_H
#define MC_TIMEUTIL_H

#include <stdint.h>

/* "2026-12-03T18:41:02.123Z" and its terminating NUL. */
#define TIME_RFC3339_LEN 25

int64_t time_now_ms(void);

/* Monotonic milliseconds, for durations and timers. */
int64_t time_mono_ms(void);

/* Writes ms since the epoch as RFC 3339 UTC with milliseconds into out. */
void time_format_rfc3339(int64_t ms, char out[TIME_RFC3339_LEN]);

#endif
