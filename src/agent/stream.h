/*
 * One connection of the agent's event stream: GET the stream URL, parse the
 * events, hand each to a callback, and notice a stream gone silent. It
 * blocks in poll(2) while nothing arrives, so an idle agent uses no CPU.
 */
#ifndef MC_AGENT_STREAM_H
#define MC_AGENT_STREAM_H

#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>

#include "agent/sse.h"

#define STREAM_ERROR_MAX 256

struct stream_opts {
    const char *url;
    struct curl_slist *headers; /* Authorization, Accept, Last-Event-ID */
    const char *ca_file;        /* or NULL for the system's */
    int64_t silence_ms;         /* no byte for this long: the stream is dead */
    int stop_fd;                /* readable: stop at once */
    sse_event_fn on_event;      /* non-zero return ends the stream */
    void *arg;
};

enum stream_end {
    STREAM_STOPPED, /* stop_fd became readable */
    STREAM_FAILED,  /* connect, HTTP status, framing, silence, or read */
    STREAM_CLOSED,  /* the server ended a stream that worked */
    STREAM_ABORTED, /* on_event asked to end it */
};

struct stream_result {
    enum stream_end end;
    long http_status; /* 0 when none came */
    bool opened;      /* answered 200 with an event stream */
    int events;       /* events handed to on_event */
    int64_t open_ms;  /* how long it was open */
    long retry_ms;    /* the server's "retry:", -1 when none */
    char error[STREAM_ERROR_MAX];
};

/* Runs one connection to its end and says how it ended in res. */
void stream_run(const struct stream_opts *o, struct stream_result *res);

#endif
