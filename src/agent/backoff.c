#include "agent/backoff.h"

#include <sodium.h>

void backoff_init(struct backoff *b, int64_t base_ms, int64_t max_ms)
{
    b->base_ms = base_ms > 0 ? base_ms : 1;
    b->max_ms = max_ms > b->base_ms ? max_ms : b->base_ms;
    b->attempt = 0;
}

int64_t backoff_next(struct backoff *b)
{
    int64_t ceiling = b->base_ms;

    for (int i = 0; i < b->attempt && ceiling < b->max_ms; i++)
        ceiling *= 2;
    if (ceiling > b->max_ms)
        ceiling = b->max_ms;
    if (ceiling < b->max_ms)
        b->attempt++;
    /* Uniform in [0, ceiling]; the ceiling fits 32 bits (at most hours). */
    return (int64_t)randombytes_uniform((uint32_t)ceiling + 1);
}

void backoff_reset(struct backoff *b)
{
    b->attempt = 0;
}
