#include "lib/id.h"

#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "lib/timeutil.h"

static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";

static void put_base36(char *out, int width, uint64_t v)
{
    for (int i = width - 1; i >= 0; i--) {
        out[i] = digits[v % 36];
        v /= 36;
    }
}

void id_new(char out[ID_LEN + 1])
{
    static int64_t last_ms;
    static uint32_t counter;
    int64_t ms = time_now_ms();

    /* A clock that steps back must not reorder ids of this process. */
    if (ms <= last_ms) {
        ms = last_ms;
        if (++counter >= 36 * 36 * 36 * 36) {
            ms = ++last_ms;
            counter = 0;
        }
    } else {
        last_ms = ms;
        counter = 0;
    }
    put_base36(out, 9, (uint64_t)ms);
    put_base36(out + 9, 4, counter);
    for (int i = 13; i < ID_LEN; i++)
        out[i] = digits[randombytes_uniform(36)];
    out[ID_LEN] = '\0';
}

bool id_valid(const char *s)
{
    if (strlen(s) != ID_LEN)
        return false;
    return strspn(s, digits) == ID_LEN;
}
