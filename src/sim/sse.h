/*
 * Server-Sent Events framing for the simulated agents: lines in, events
 * out. Fed with what evhttp hands over per chunk; keeps partial lines.
 */
#ifndef MC_SIM_SSE_H
#define MC_SIM_SSE_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/buffer.h>

/* A line longer than this ends the stream: a command is a few hundred
 * bytes, so this is a broken or hostile server. */
#define SSE_LINE_MAX (256 * 1024)

struct sse_event {
    const char *event; /* "message" when the server named none */
    const char *id;    /* "" when none */
    const char *data;
    bool comment; /* a ":" line (keep-alive); the other fields are empty */
};

struct sse_parser {
    struct evbuffer *pending; /* a partial line */
    char event[32];
    char id[32];
    char *data;
    size_t data_len, data_cap;
    bool has_data;
    long retry_ms; /* the last "retry:", -1 when none */
};

void sse_parser_init(struct sse_parser *p);
void sse_parser_release(struct sse_parser *p);

/* Forgets a partial event, for a new connection. */
void sse_parser_reset(struct sse_parser *p);

/* Drains in and calls on_event for each complete event or comment.
 * Returns -1 when a line exceeds SSE_LINE_MAX. */
int sse_parser_feed(struct sse_parser *p, struct evbuffer *in,
                    void (*on_event)(void *arg, const struct sse_event *ev),
                    void *arg);

#endif
