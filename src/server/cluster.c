#include "server/cluster.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <event2/event.h>
#include <jansson.h>

#include "core/fleet.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "server/hub.h"
#include "server/server.h"
#include "server/worker.h"

#define RECONNECT_S 1

struct cluster {
    struct server *srv;
    char *url;
    struct store_listener *listener;
    struct event *readable;
    struct event *retry;
    struct event *beat;
    int64_t last_seq; /* highest command seq seen here; loop thread only */
    bool connecting;
};

/* --- commands announced by other instances ------------------------------ */

struct range_job {
    struct cluster *c;
    int64_t from, to;
    struct fleet_pushes *commands;
};

static void range_run(struct store *s, void *arg)
{
    struct range_job *j = arg;

    j->commands = fleet_pending(s, j->from, j->to);
}

static void range_done(void *arg)
{
    struct range_job *j = arg;

    if (j->commands->n > 0)
        log_debug("commands from another instance",
                  "seq_from=%lld seq_to=%lld pending=%zu", (long long)j->from,
                  (long long)j->to, j->commands->n);
    hub_deliver(j->c->srv->hub, j->commands);
    free(j);
}

static void fetch(struct cluster *c, int64_t from, int64_t to)
{
    struct range_job *j = xcalloc(1, sizeof(*j));

    j->c = c;
    j->from = from;
    j->to = to;
    if (to > c->last_seq)
        c->last_seq = to;
    worker_submit(c->srv->worker, range_run, range_done, j);
}

static void close_nodes(struct cluster *c, json_t *nodes)
{
    json_t *n;
    size_t i;

    json_array_foreach(nodes, i, n)
        hub_close(c->srv->hub, json_string_value(n));
}

static void on_payload(const char *payload, void *arg)
{
    struct cluster *c = arg;
    json_t *m = json_loads(payload, 0, NULL);
    const char *type = json_string_value(json_object_get(m, "type"));
    const char *from = json_string_value(json_object_get(m, "instance"));

    if (!type || !from || strcmp(from, c->srv->instance_id) == 0)
        goto out;
    if (strcmp(type, "commands") == 0)
        fetch(c, json_integer_value(json_object_get(m, "from")),
              json_integer_value(json_object_get(m, "to")));
    else if (strcmp(type, "streams") == 0)
        close_nodes(c, json_object_get(m, "nodes"));
    else if (strcmp(type, "close") == 0)
        hub_close(c->srv->hub, json_string_value(json_object_get(m, "node")));
out:
    json_decref(m);
}

/* --- the listener's connection ------------------------------------------ */

static void schedule_retry(struct cluster *c)
{
    struct timeval tv = {RECONNECT_S, 0};

    event_add(c->retry, &tv);
}

static void drop_listener(struct cluster *c)
{
    if (c->readable)
        event_free(c->readable);
    c->readable = NULL;
    store_listener_free(c->listener);
    c->listener = NULL;
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    struct cluster *c = arg;

    (void)fd;
    (void)what;
    if (store_listener_read(c->listener, on_payload, c) == 0)
        return;
    log_warn("listener lost its database connection", "retry_s=%d",
             RECONNECT_S);
    drop_listener(c);
    schedule_retry(c);
}

struct connect_job {
    struct cluster *c;
    char *url;
    bool first;
    int64_t last_seq;
    struct store_listener *listener;
    struct err e;
};

/* On the worker: connecting may wait on a database that is away. */
static void connect_run(struct store *s, void *arg)
{
    struct connect_job *j = arg;

    err_clear(&j->e);
    j->listener = store_listener_new(j->url, &j->e);
    if (j->listener && j->first)
        j->last_seq = fleet_last_seq(s);
}

static void connect_done(void *arg)
{
    struct connect_job *j = arg;
    struct cluster *c = j->c;

    c->connecting = false;
    if (!j->listener) {
        log_warn("listener cannot connect", "error=\"%s\" retry_s=%d",
                 j->e.message, RECONNECT_S);
        schedule_retry(c);
    } else {
        c->listener = j->listener;
        c->readable = event_new(c->srv->base, store_listener_fd(c->listener),
                                EV_READ | EV_PERSIST, on_readable, c);
        event_add(c->readable, NULL);
        log_info("listening for other instances", "first=%d", j->first);
        /* What the others made while nobody listened here. */
        if (j->first)
            c->last_seq = j->last_seq;
        else
            fetch(c, c->last_seq + 1, INT64_MAX);
    }
    free(j->url);
    free(j);
}

static void connect_listener(struct cluster *c, bool first)
{
    struct connect_job *j = xcalloc(1, sizeof(*j));

    if (c->connecting || c->srv->stopping) {
        free(j);
        return;
    }
    c->connecting = true;
    j->c = c;
    j->url = xstrdup(c->url);
    j->first = first;
    worker_submit(c->srv->worker, connect_run, connect_done, j);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    connect_listener(arg, false);
}

/* --- heartbeat ----------------------------------------------------------- */

static void beat_run(struct store *s, void *arg)
{
    struct server *srv = arg;

    fleet_heartbeat(s, &srv->fleet);
}

static void on_beat(evutil_socket_t fd, short what, void *arg)
{
    struct cluster *c = arg;

    (void)fd;
    (void)what;
    worker_submit(c->srv->worker, beat_run, NULL, c->srv);
}

struct cluster *cluster_new(struct server *srv, const char *db_url)
{
    struct cluster *c = xcalloc(1, sizeof(*c));
    struct timeval tv = {FLEET_HEARTBEAT_S, 0};

    c->srv = srv;
    c->url = xstrdup(db_url);
    c->beat = event_new(srv->base, -1, EV_PERSIST, on_beat, c);
    event_add(c->beat, &tv);
    on_beat(-1, 0, c);
    c->retry = event_new(srv->base, -1, 0, on_retry, c);
    if (store_is_shared(srv->store))
        connect_listener(c, true);
    return c;
}

void cluster_free(struct cluster *c)
{
    if (!c)
        return;
    drop_listener(c);
    event_free(c->retry);
    event_free(c->beat);
    free(c->url);
    free(c);
}
