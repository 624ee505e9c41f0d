#include "sim/sse.h"

#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"

void sse_parser_init(struct sse_parser *p)
{
    memset(p, 0, sizeof(*p));
    p->pending = evbuffer_new();
    p->retry_ms = -1;
}

void sse_parser_release(struct sse_parser *p)
{
    if (p->pending)
        evbuffer_free(p->pending);
    free(p->data);
    memset(p, 0, sizeof(*p));
}

static void clear_event(struct sse_parser *p)
{
    p->event[0] = '\0';
    p->id[0] = '\0';
    p->data_len = 0;
    p->has_data = false;
    /* A quiet stream should not keep a large buffer per agent. */
    if (p->data_cap > 4096) {
        free(p->data);
        p->data = NULL;
        p->data_cap = 0;
    }
}

void sse_parser_reset(struct sse_parser *p)
{
    evbuffer_drain(p->pending, evbuffer_get_length(p->pending));
    clear_event(p);
}

static void add_data(struct sse_parser *p, const char *v, size_t n)
{
    size_t need = p->data_len + n + 2;

    if (need > p->data_cap) {
        p->data_cap = need < 512 ? 512 : need * 2;
        p->data = xrealloc(p->data, p->data_cap);
    }
    if (p->has_data)
        p->data[p->data_len++] = '\n';
    memcpy(p->data + p->data_len, v, n);
    p->data_len += n;
    p->data[p->data_len] = '\0';
    p->has_data = true;
}

static void copy_field(char *dst, size_t cap, const char *v, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

static void dispatch(struct sse_parser *p,
                     void (*on_event)(void *, const struct sse_event *),
                     void *arg)
{
    struct sse_event ev = {.event = p->event[0] ? p->event : "message",
                           .id = p->id,
                           .data = p->data};

    if (p->has_data)
        on_event(arg, &ev);
    clear_event(p);
}

static void field(struct sse_parser *p, char *line, size_t n)
{
    char *colon = memchr(line, ':', n);
    size_t name_len = colon ? (size_t)(colon - line) : n;
    const char *v = colon ? colon + 1 : line + n;
    size_t vlen = colon ? n - name_len - 1 : 0;

    if (vlen > 0 && *v == ' ') {
        v++;
        vlen--;
    }
    if (name_len == 4 && !memcmp(line, "data", 4))
        add_data(p, v, vlen);
    else if (name_len == 5 && !memcmp(line, "event", 5))
        copy_field(p->event, sizeof(p->event), v, vlen);
    else if (name_len == 2 && !memcmp(line, "id", 2))
        copy_field(p->id, sizeof(p->id), v, vlen);
    else if (name_len == 5 && !memcmp(line, "retry", 5) && vlen < 10) {
        char num[12];
        char *end;
        long ms;

        copy_field(num, sizeof(num), v, vlen);
        ms = strtol(num, &end, 10);
        if (end != num && !*end && ms >= 0)
            p->retry_ms = ms;
    }
    /* Other fields are ignored, as the SSE specification says. */
}

static void line(struct sse_parser *p, char *s, size_t n,
                 void (*on_event)(void *, const struct sse_event *), void *arg)
{
    if (n > 0 && s[n - 1] == '\r')
        s[--n] = '\0';
    if (n == 0) {
        dispatch(p, on_event, arg);
    } else if (s[0] == ':') {
        struct sse_event ev = {
            .event = "", .id = "", .data = "", .comment = true};

        on_event(arg, &ev);
    } else {
        field(p, s, n);
    }
}

int sse_parser_feed(struct sse_parser *p, struct evbuffer *in,
                    void (*on_event)(void *arg, const struct sse_event *ev),
                    void *arg)
{
    char *s;
    size_t n;

    evbuffer_add_buffer(p->pending, in);
    while ((s = evbuffer_readln(p->pending, &n, EVBUFFER_EOL_LF))) {
        line(p, s, n, on_event, arg);
        free(s);
    }
    if (evbuffer_get_length(p->pending) > SSE_LINE_MAX)
        return -1;
    return 0;
}
