#include "server/hub.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/keyvalq_struct.h>

#include "core/fleet.h"
#include "lib/id.h"
#include "lib/log.h"
#include "lib/strmap.h"
#include "lib/timeutil.h"
#include "lib/xalloc.h"
#include "server/server.h"
#include "server/worker.h"

/* Node ids per "streams" notification: 200 ids stay well inside
 * PostgreSQL's 8000-byte payload. */
#define HUB_ANNOUNCE_BATCH 200

/* Commands pushed per turn of the loop. */
#define HUB_PUSH_SLICE 1000

/* A stuck client's pending write fails after this long. */
#define STREAM_WRITE_TIMEOUT_S 30

/* How often the keep-alive timer looks for streams that are due one. */
#define KEEPALIVE_TICK_MS 250

struct stream {
    struct hub *hub;
    struct evhttp_request *req;
    struct evhttp_connection *evcon;
    int64_t opened_ms;
    int64_t written_ms;       /* when something was last written to it */
    TAILQ_ENTRY(stream) idle; /* in the hub's list, least recent first */
    char node_id[ID_LEN + 1];
};

struct hub {
    struct server *srv;
    struct strmap *streams; /* node id -> struct stream */
    /* Every stream, by the time of its last write: each gets its keep-alive
     * when it has been quiet for the interval, so keep-alives are spread
     * as the streams' openings were, not sent to all at once. */
    TAILQ_HEAD(, stream) by_write;
    int64_t keepalive_ms;
    struct event *keepalive;
    /* Online/offline changes not yet written, in the order they happened:
     * [[node id, online, when], ...]; flushed once per loop turn, so a
     * thousand agents reconnecting cost one transaction, not a thousand. */
    json_t *presence;
    struct event *flush;
};

static void presence(struct hub *h, const char *node_id, bool online)
{
    char now[TIME_RFC3339_LEN];

    time_format_rfc3339(time_now_ms(), now);
    if (json_array_size(h->presence) == 0)
        event_active(h->flush, 0, 0);
    json_array_append_new(h->presence,
                          json_pack("[s, b, s]", node_id, online, now));
    h->srv->streams_open = strmap_size(h->streams);
}

struct presence_job {
    struct hub *hub;
    json_t *changes;
};

static void presence_run(struct store *s, void *arg)
{
    struct presence_job *j = arg;
    json_t *c;
    size_t i;

    json_t *opened = json_array();

    fleet_presence(s, &j->hub->srv->fleet, j->changes);
    /* A stream that opened here replaces the node's stream elsewhere. Ids
     * go in batches that fit PostgreSQL's notification payload. */
    json_array_foreach(j->changes, i, c)
    {
        if (json_is_true(json_array_get(c, 1)))
            json_array_append(opened, json_array_get(c, 0));
        if (json_array_size(opened) == HUB_ANNOUNCE_BATCH ||
            (i + 1 == json_array_size(j->changes) &&
             json_array_size(opened) > 0)) {
            fleet_announce(
                s, &j->hub->srv->fleet,
                json_pack("{s:s, s:o}", "type", "streams", "nodes", opened));
            opened = json_array();
        }
    }
    json_decref(opened);
}

static void presence_done(void *arg)
{
    struct presence_job *j = arg;

    json_decref(j->changes);
    free(j);
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    struct hub *h = arg;
    struct presence_job *j;

    (void)fd;
    (void)what;
    if (json_array_size(h->presence) == 0)
        return;
    j = xmalloc(sizeof(*j));
    j->hub = h;
    j->changes = h->presence;
    h->presence = json_array();
    worker_submit(h->srv->worker, presence_run, presence_done, j);
}

static void stream_drop(struct stream *st, const char *why)
{
    struct evhttp_connection *evcon = st->evcon;

    log_info("stream closing", "node=%s reason=%s", st->node_id, why);
    /* Freeing the connection runs on_close, which forgets st. */
    evhttp_connection_free(evcon);
}

static bool too_slow(struct stream *st)
{
    struct bufferevent *bev = evhttp_connection_get_bufferevent(st->evcon);

    return evbuffer_get_length(bufferevent_get_output(bev)) > HUB_OUTPUT_MAX;
}

/* Writes buf (drained) to the stream; false when it was closed for it.
 * The bytes go to the socket now rather than on a later turn of the loop:
 * for a deploy to ten thousand streams that saves ten thousand epoll
 * round trips, and the write interest evhttp switched on is switched off
 * in the same turn, which the loop's changelist folds into nothing. What
 * the socket does not take, the loop writes later as usual. */
static bool stream_write(struct stream *st, struct evbuffer *buf)
{
    struct bufferevent *bev = evhttp_connection_get_bufferevent(st->evcon);
    struct evbuffer *out = bufferevent_get_output(bev);

    st->written_ms = time_mono_ms();
    TAILQ_REMOVE(&st->hub->by_write, st, idle);
    TAILQ_INSERT_TAIL(&st->hub->by_write, st, idle);
    evhttp_send_reply_chunk(st->req, buf);
    if (evbuffer_write(out, bufferevent_getfd(bev)) >= 0 &&
        evbuffer_get_length(out) == 0)
        bufferevent_disable(bev, EV_WRITE);
    if (too_slow(st)) {
        stream_drop(st, "slow");
        return false;
    }
    return true;
}

static void on_close(struct evhttp_connection *evcon, void *arg)
{
    struct stream *st = arg;
    struct hub *h = st->hub;

    (void)evcon;
    TAILQ_REMOVE(&h->by_write, st, idle);
    if (strmap_get(h->streams, st->node_id) == st) {
        strmap_del(h->streams, st->node_id);
        presence(h, st->node_id, false);
    }
    log_info("stream closed", "node=%s seconds=%lld", st->node_id,
             (long long)((time_mono_ms() - st->opened_ms) / 1000));
    /* When the client went away, libevent detached our unfinished reply
     * from the connection and left it to us. */
    if (!evhttp_request_get_connection(st->req))
        evhttp_request_free(st->req);
    free(st);
}

static void add_event(struct evbuffer *buf, int64_t seq, const char *data)
{
    evbuffer_add_printf(buf, "id: %lld\nevent: command\ndata: %s\n\n",
                        (long long)seq, data);
}

static void start_reply(struct stream *st, json_t *events)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(st->req);
    struct evbuffer *buf = evbuffer_new();
    struct timeval wr = {STREAM_WRITE_TIMEOUT_S, 0};
    json_t *ev;
    size_t i;

    evhttp_add_header(out, "Content-Type", "text/event-stream");
    evhttp_add_header(out, "Cache-Control", "no-cache");
    evhttp_add_header(out, "X-Accel-Buffering", "no");
    evhttp_send_reply_start(st->req, 200, "OK");
    /* A stream is quiet for long stretches: no read timeout, and a write
     * that stays pending this long means the client is gone. */
    bufferevent_set_timeouts(evhttp_connection_get_bufferevent(st->evcon), NULL,
                             &wr);
    evbuffer_add_printf(buf, "retry: %d\n\n", HUB_RETRY_MS);
    json_array_foreach(events, i, ev)
        add_event(buf, json_integer_value(json_object_get(ev, "seq")),
                  json_string_value(json_object_get(ev, "data")));
    /* No size check here: this runs inside the stream's own request
     * callback, where the connection must not be freed. */
    evhttp_send_reply_chunk(st->req, buf);
    evbuffer_free(buf);
}

void hub_attach(struct hub *h, struct evhttp_request *req, const char *node_id,
                json_t *events)
{
    struct stream *st = xcalloc(1, sizeof(*st));
    struct stream *old;

    st->hub = h;
    st->req = req;
    st->evcon = evhttp_request_get_connection(req);
    st->opened_ms = time_mono_ms();
    st->written_ms = st->opened_ms;
    TAILQ_INSERT_TAIL(&h->by_write, st, idle);
    snprintf(st->node_id, sizeof(st->node_id), "%s", node_id);
    old = strmap_put(h->streams, node_id, st);
    if (old)
        stream_drop(old, "replaced");
    evhttp_connection_set_closecb(st->evcon, on_close, st);
    presence(h, node_id, true);
    log_info("stream open", "node=%s backlog=%zu streams=%zu", node_id,
             json_array_size(events), strmap_size(h->streams));
    start_reply(st, events);
}

bool hub_push(struct hub *h, const char *node_id, int64_t seq, const char *data)
{
    struct stream *st = strmap_get(h->streams, node_id);
    struct evbuffer *buf;
    bool ok;

    if (!st)
        return false;
    buf = evbuffer_new();
    add_event(buf, seq, data);
    ok = stream_write(st, buf);
    evbuffer_free(buf);
    return ok;
}

static void delivered_run(struct store *s, void *arg)
{
    fleet_delivered(s, arg);
}

static void delivered_done(void *arg)
{
    json_decref(arg);
}

struct delivery {
    struct hub *hub;
    struct fleet_pushes *commands;
    size_t next;
};

/* Pushes the next slice, and leaves the rest for the next turn of the loop:
 * a deploy to ten thousand streams does not hold up every other client
 * for the whole push. */
static void deliver_slice(evutil_socket_t fd, short what, void *arg)
{
    struct delivery *d = arg;
    struct hub *h = d->hub;
    size_t total = d->commands->n;
    size_t end =
        d->next + HUB_PUSH_SLICE < total ? d->next + HUB_PUSH_SLICE : total;
    json_t *sent = json_array();

    (void)fd;
    (void)what;
    for (size_t i = d->next; i < end; i++) {
        const struct fleet_push *c = &d->commands->v[i];

        if (hub_push(h, c->node_id, c->seq, c->data))
            json_array_append_new(sent, json_string(c->id));
    }
    h->srv->commands_pushed += json_array_size(sent);
    if (json_array_size(sent) > 0)
        worker_submit(h->srv->worker, delivered_run, delivered_done, sent);
    else
        json_decref(sent);
    d->next = end;
    if (end < total &&
        event_base_once(h->srv->base, -1, EV_TIMEOUT, deliver_slice, d,
                        &(struct timeval){0, 0}) == 0)
        return;
    h->srv->deferred--;
    fleet_pushes_free(d->commands);
    free(d);
}

void hub_deliver(struct hub *h, struct fleet_pushes *commands)
{
    struct delivery *d = xcalloc(1, sizeof(*d));

    d->hub = h;
    d->commands = commands;
    h->srv->deferred++;
    deliver_slice(-1, 0, d);
}

void hub_close(struct hub *h, const char *node_id)
{
    struct stream *st = strmap_get(h->streams, node_id);

    if (st)
        stream_drop(st, "closed by server");
}

void hub_close_all(struct hub *h)
{
    void **all = strmap_values(h->streams);

    for (void **p = all; *p; p++)
        stream_drop(*p, "shutdown");
    free(all);
}

void hub_flush(struct hub *h)
{
    on_flush(-1, 0, h);
}

size_t hub_count(const struct hub *h)
{
    return strmap_size(h->streams);
}

static void on_keepalive(evutil_socket_t fd, short what, void *arg)
{
    struct hub *h = arg;
    int64_t due = time_mono_ms() - h->keepalive_ms;
    struct evbuffer *buf = evbuffer_new();
    struct stream *st;

    (void)fd;
    (void)what;
    /* Writing moves a stream to the tail, or closes it. */
    while ((st = TAILQ_FIRST(&h->by_write)) && st->written_ms <= due) {
        evbuffer_add(buf, ": keep-alive\n\n", 14);
        stream_write(st, buf);
    }
    evbuffer_free(buf);
}

struct hub *hub_new(struct server *srv, int keepalive_s)
{
    struct hub *h = xcalloc(1, sizeof(*h));
    int tick = keepalive_s * 1000 < KEEPALIVE_TICK_MS ? keepalive_s * 1000
                                                      : KEEPALIVE_TICK_MS;
    struct timeval tv = {tick / 1000, (tick % 1000) * 1000};

    h->srv = srv;
    h->streams = strmap_new();
    TAILQ_INIT(&h->by_write);
    h->keepalive_ms = (int64_t)keepalive_s * 1000;
    h->keepalive = event_new(srv->base, -1, EV_PERSIST, on_keepalive, h);
    event_add(h->keepalive, &tv);
    h->presence = json_array();
    h->flush = event_new(srv->base, -1, 0, on_flush, h);
    return h;
}

void hub_free(struct hub *h)
{
    if (!h)
        return;
    event_free(h->keepalive);
    event_free(h->flush);
    json_decref(h->presence);
    strmap_free(h->streams);
    free(h);
}
