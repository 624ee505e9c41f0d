/*
 * The client side of Server-Sent Events framing (the WHATWG "event stream"
 * grammar): bytes in, events out. Lines end in LF, CRLF or CR; "data:"
 * lines of one event are joined by LF; "id:", "event:" and "retry:" are
 * kept; a line starting with ':' is a comment. Lines and events are bounded,
 * so a peer cannot make the parser hold more than max bytes of each.
 */
#ifndef MC_AGENT_SSE_H
#define MC_AGENT_SSE_H

#include <stdbool.h>
#include <stddef.h>

#define SSE_DEFAULT_MAX (64 * 1024)
#define SSE_FIELD_MAX   256 /* "event:" and "id:" values */

struct sse_event {
    const char *type; /* "message" unless an "event:" line said otherwise */
    const char *id;   /* the last event id seen on the stream, or "" */
    const char *data; /* NUL-terminated, data lines joined by LF */
    size_t data_len;
};

/* Called for each complete event; a non-zero return stops sse_feed, which
 * then returns that value. The event is valid only during the call. */
typedef int (*sse_event_fn)(const struct sse_event *ev, void *arg);

struct sse_parser {
    sse_event_fn on_event;
    void *arg;
    size_t max; /* longest line, and largest event data */
    char *line; /* the line being read, without its end */
    size_t line_len, line_cap;
    char *data; /* data of the event being read */
    size_t data_len, data_cap;
    char type[SSE_FIELD_MAX];
    char id[SSE_FIELD_MAX];
    long retry_ms; /* the last "retry:" value, -1 when none came */
    bool after_cr; /* the previous byte ended a line with CR */
    bool started;  /* past a leading byte order mark, if any */
    size_t bom_seen;
    bool failed;
};

void sse_parser_init(struct sse_parser *p, size_t max, sse_event_fn on_event,
                     void *arg);

/* Feeds len bytes. 0 when all were taken; SSE_TOO_LONG (and the parser
 * refuses further input) when a line or an event's data exceeds max; or
 * the non-zero value an on_event callback returned. */
#define SSE_TOO_LONG (-2)
int sse_parser_feed(struct sse_parser *p, const char *buf, size_t len);

void sse_parser_release(struct sse_parser *p);

#endif
