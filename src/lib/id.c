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

/* Random base-36 digits from a buffer refilled 4 KiB at a time: one
 * getrandom() per ~300 ids instead of one per digit. Bytes of 252 and up
 * are skipped so that every digit is equally likely. */
static char random_digit(void)
{
    static _Thread_local unsigned char pool[4096];
    static _Thread_local size_t left;
    unsigned char b;

    do {
        if (left == 0) {
            randombytes_buf(pool, sizeof(pool));
            left = sizeof(pool);
        }
        b = pool[--left];
    } while (b >= 252);
    return digits[b % 36];
}

void id_new(char out[ID_LEN + 1])
{
    static _Thread_local int64_t last_ms;
    static _Thread_local uint32_t counter;
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
        out[i] = random_digit();
    out[ID_LEN] = '\0';
}

bool id_valid(const char *s)
{
    if (strlen(s) != ID_LEN)
        return false;
    return strspn(s, digits) == ID_LEN;
}
