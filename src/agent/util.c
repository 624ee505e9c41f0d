#include "agent/util.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/timeutil.h"
#include "lib/xalloc.h"

void util_scrub(char *s)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            *s = '\'';
        else if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = ' ';
    }
}

char *util_read_small(const char *path, size_t max)
{
    FILE *f = fopen(path, "re");
    char *buf;
    size_t n;

    if (!f)
        return NULL;
    buf = xmalloc(max + 1);
    n = fread(buf, 1, max, f);
    if (ferror(f)) {
        fclose(f);
        free(buf);
        errno = EIO;
        return NULL;
    }
    fclose(f);
    while (n > 0 && strchr(" \t\r\n", buf[n - 1]))
        n--;
    buf[n] = '\0';
    return buf;
}

bool util_wait_stop(int stop_fd, int64_t ms)
{
    struct pollfd p = {.fd = stop_fd, .events = POLLIN};
    int64_t end = time_mono_ms() + ms;

    for (;;) {
        int64_t left = end - time_mono_ms();

        if (left < 0)
            left = 0;
        if (poll(&p, 1, (int)(left > 3600000 ? 3600000 : left)) > 0)
            return true;
        if (left == 0)
            return false;
    }
}

bool util_stopping(int stop_fd)
{
    return util_wait_stop(stop_fd, 0);
}
