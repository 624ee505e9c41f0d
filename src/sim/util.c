/* Small helpers shared by the simulator's modules. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/strmap.h"
#include "lib/xalloc.h"
#include "sim/sim.h"

bool sim_share(double rate, long i)
{
    /* Exactly floor(n * rate) of the first n are chosen, evenly spread
     * (rate and i are never negative, so the casts floor). */
    return (long)((double)(i + 1) * rate) > (long)((double)i * rate);
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int sim_write_atomic(const char *path, const char *text, size_t len,
                     bool durable)
{
    char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int rc = -1, saved;

    if (fd < 0)
        goto out;
    if (write_all(fd, text, len) || (durable && fsync(fd))) {
        saved = errno;
        close(fd);
        unlink(tmp);
        errno = saved;
        goto out;
    }
    if (close(fd) || rename(tmp, path)) {
        saved = errno;
        unlink(tmp);
        errno = saved;
        goto out;
    }
    rc = 0;
out:
    free(tmp);
    return rc;
}

const char *sim_intern_key(struct sim *s, const char *key)
{
    char *v = strmap_get(s->keys, key);

    if (!v) {
        v = xstrdup(key);
        strmap_put(s->keys, key, v);
    }
    return v;
}
