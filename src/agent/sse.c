#include "agent/sse.h"

#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"

static const char bom[] = "\xEF\xBB\xBF";

void sse_parser_init(struct sse_parser *p, size_t max, sse_event_fn on_event,
                     void *arg)
{
    memset(p, 0, sizeof(*p));
    p->on_event = on_event;
    p->arg = arg;
    p->max = max ? max : SSE_DEFAULT_MAX;
    p->retry_ms = -1;
}

void sse_parser_release(struct sse_parser *p)
{
    free(p->line);
    free(p->data);
    p->line = p->data = NULL;
}

/* Appends n bytes to a growing buffer that never exceeds max bytes (and a
 * NUL); -1 when it would. */
static int append(char **buf, size_t *len, size_t *cap, size_t max,
                  const char *s, size_t n)
{
    if (*len + n > max)
        return -1;
    if (*len + n + 1 > *cap) {
        size_t want = *cap ? *cap : 256;

        while (want < *len + n + 1)
            want *= 2;
        if (want > max + 1)
            want = max + 1;
        *buf = xrealloc(*buf, want);
        *cap = want;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

static void set_field(char *dst, const char *value, size_t n)
{
    if (n >= SSE_FIELD_MAX)
        n = SSE_FIELD_MAX - 1;
    memcpy(dst, value, n);
    dst[n] = '\0';
}

static void set_retry(struct sse_parser *p, const char *v, size_t n)
{
    long ms = 0;

    if (n == 0 || n > 9)
        return;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return;
        ms = ms * 10 + (v[i] - '0');
    }
    p->retry_ms = ms;
}

static int dispatch(struct sse_parser *p)
{
    struct sse_event ev;
    int rc;

    if (p->data_len == 0) {
        p->type[0] = '\0';
        return 0;
    }
    /* The last data line's LF is a separator, not part of the data. */
    p->data[--p->data_len] = '\0';
    ev.type = p->type[0] ? p->type : "message";
    ev.id = p->id;
    ev.data = p->data;
    ev.data_len = p->data_len;
    rc = p->on_event(&ev, p->arg);
    p->data_len = 0;
    p->data[0] = '\0';
    p->type[0] = '\0';
    return rc;
}

static int field(struct sse_parser *p, const char *name, size_t nlen,
                 const char *v, size_t vlen)
{
    if (nlen == 4 && memcmp(name, "data", 4) == 0) {
        if (append(&p->data, &p->data_len, &p->data_cap, p->max, v, vlen) ||
            append(&p->data, &p->data_len, &p->data_cap, p->max, "\n", 1))
            return SSE_TOO_LONG;
    } else if (nlen == 5 && memcmp(name, "event", 5) == 0) {
        set_field(p->type, v, vlen);
    } else if (nlen == 2 && memcmp(name, "id", 2) == 0) {
        /* An id with a NUL in it is ignored, as the standard says. */
        if (!memchr(v, '\0', vlen))
            set_field(p->id, v, vlen);
    } else if (nlen == 5 && memcmp(name, "retry", 5) == 0) {
        set_retry(p, v, vlen);
    }
    return 0;
}

static int end_line(struct sse_parser *p)
{
    const char *line = p->line ? p->line : "";
    size_t len = p->line_len;
    const char *colon;
    size_t nlen;
    const char *v = "";
    size_t vlen = 0;

    p->line_len = 0;
    if (len == 0)
        return dispatch(p);
    if (line[0] == ':')
        return 0;
    colon = memchr(line, ':', len);
    nlen = colon ? (size_t)(colon - line) : len;
    if (colon) {
        v = colon + 1;
        vlen = len - nlen - 1;
        if (vlen && *v == ' ') {
            v++;
            vlen--;
        }
    }
    return field(p, line, nlen, v, vlen);
}

/* Takes the bytes of one line up to (not including) its end. */
static int take(struct sse_parser *p, const char *s, size_t n)
{
    if (append(&p->line, &p->line_len, &p->line_cap, p->max, s, n))
        return SSE_TOO_LONG;
    return 0;
}

static int feed_bytes(struct sse_parser *p, const char *buf, size_t len)
{
    size_t i = 0;
    int rc;

    while (i < len) {
        size_t run = i;

        if (p->after_cr && buf[i] == '\n') {
            p->after_cr = false;
            i++;
            continue;
        }
        p->after_cr = false;
        while (run < len && buf[run] != '\n' && buf[run] != '\r')
            run++;
        if ((rc = take(p, buf + i, run - i)))
            return rc;
        if (run == len)
            break;
        p->after_cr = buf[run] == '\r';
        i = run + 1;
        if ((rc = end_line(p)))
            return rc;
    }
    return 0;
}

/* Drops one leading UTF-8 byte order mark, even when it arrives split. */
static size_t skip_bom(struct sse_parser *p, const char *buf, size_t len,
                       int *rc)
{
    size_t i = 0;

    *rc = 0;
    while (!p->started && i < len) {
        if (buf[i] != bom[p->bom_seen]) {
            size_t seen = p->bom_seen;

            p->started = true;
            *rc = feed_bytes(p, bom, seen);
            return i;
        }
        i++;
        if (++p->bom_seen == 3)
            p->started = true;
    }
    return i;
}

int sse_parser_feed(struct sse_parser *p, const char *buf, size_t len)
{
    size_t skipped;
    int rc;

    if (p->failed)
        return SSE_TOO_LONG;
    skipped = skip_bom(p, buf, len, &rc);
    if (!rc)
        rc = feed_bytes(p, buf + skipped, len - skipped);
    if (rc == SSE_TOO_LONG)
        p->failed = true;
    return rc;
}
