/* Small helpers the agent's modules share. */
#ifndef MC_AGENT_UTIL_H
#define MC_AGENT_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Makes s safe inside a quoted log value: '"' and '\' become '\'', control
 * characters a space. */
void util_scrub(char *s);

/* Reads a whole small file (at most max bytes) into a new string with
 * trailing whitespace removed; NULL with errno set on failure. */
char *util_read_small(const char *path, size_t max);

/* Sleeps up to ms milliseconds without using the CPU; true when stop_fd
 * became readable (a stop was asked) before, and then at once. */
bool util_wait_stop(int stop_fd, int64_t ms);

/* True when a stop was asked (stop_fd is readable). */
bool util_stopping(int stop_fd);

#endif
