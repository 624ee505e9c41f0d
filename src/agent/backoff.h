/*
 * Reconnection delays: exponential back-off with full jitter (a random
 * delay between 0 and min(max, base * 2^attempt)), so a fleet that lost its
 * server does not come back in one wave.
 */
#ifndef MC_AGENT_BACKOFF_H
#define MC_AGENT_BACKOFF_H

#include <stdint.h>

struct backoff {
    int64_t base_ms;
    int64_t max_ms;
    int attempt;
};

void backoff_init(struct backoff *b, int64_t base_ms, int64_t max_ms);

/* The delay before the next attempt; each call doubles the ceiling. */
int64_t backoff_next(struct backoff *b);

/* After a connection that worked: the next delay is short again. */
void backoff_reset(struct backoff *b);

#endif
