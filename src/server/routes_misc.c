/* Health and the audit log. */
#include <event2/buffer.h>

#include "core/audit.h"
#include "lib/timeutil.h"
#include "server/http.h"
#include "server/hub.h"
#include "server/server.h"

static void healthz(struct request *r)
{
    struct err e;

    err_clear(&e);
    if (store_ping(r->store, &e)) {
        http_error(r, 503, "UNAVAILABLE", "the database does not answer");
        return;
    }
    http_reply(r, 200, json_pack("{s:s}", "status", "ok"));
}

static void metric(struct evbuffer *b, const char *name, const char *type,
                   const char *help)
{
    evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
                        type);
}

static void command_metrics(struct request *r, struct evbuffer *b)
{
    struct err e;
    json_t *rows = store_command_counts(r->store, &e);
    json_t *nodes = store_node_count(r->store, &e);
    json_t *row;
    size_t i;

    metric(b, "mc_commands", "gauge", "Fleet commands by status.");
    json_array_foreach(rows, i, row) evbuffer_add_printf(
        b, "mc_commands{status=\"%s\"} %lld\n",
        json_string_value(json_object_get(row, "status")),
        (long long)json_integer_value(json_object_get(row, "n")));
    metric(b, "mc_nodes_active", "gauge", "Server nodes not decommissioned.");
    evbuffer_add_printf(
        b, "mc_nodes_active %lld\n",
        (long long)json_integer_value(json_object_get(nodes, "n")));
    json_decref(rows);
    json_decref(nodes);
}

/* Prometheus text format. Public: it holds counts, never names or ids. */
static void metrics(struct request *r)
{
    struct evbuffer *b = evbuffer_new();
    struct server *srv = r->srv;
    static const char *const classes[] = {"other", "1xx", "2xx",
                                          "3xx",   "4xx", "5xx"};

    metric(b, "mc_http_requests_total", "counter",
           "HTTP requests answered, by status class.");
    for (int i = 0; i < 6; i++)
        evbuffer_add_printf(b, "mc_http_requests_total{class=\"%s\"} %llu\n",
                            classes[i], (unsigned long long)srv->requests[i]);
    metric(b, "mc_streams_open", "gauge", "Agent streams held by this mcd.");
    evbuffer_add_printf(b, "mc_streams_open %llu\n",
                        (unsigned long long)srv->streams_open);
    metric(b, "mc_deploys_total", "counter", "Deploy calls answered.");
    evbuffer_add_printf(b, "mc_deploys_total %llu\n",
                        (unsigned long long)srv->deploys);
    metric(b, "mc_commands_pushed_total", "counter",
           "Commands pushed to open streams right after a deploy.");
    evbuffer_add_printf(b, "mc_commands_pushed_total %llu\n",
                        (unsigned long long)srv->commands_pushed);
    command_metrics(r, b);
    metric(b, "mc_uptime_seconds", "gauge", "Seconds since mcd started.");
    evbuffer_add_printf(b, "mc_uptime_seconds %lld\n",
                        (long long)((time_mono_ms() - srv->started_ms) / 1000));
    http_reply_text(r, 200, "text/plain; version=0.0.4", b);
    evbuffer_free(b);
}

static void audit(struct request *r)
{
    const char *before;
    struct err e;
    int limit;

    err_clear(&e);
    if (http_paging(r, &limit, &before))
        return;
    http_reply_result(r, 200,
                      audit_list(r->store, &r->actor, before, limit, &e), &e);
}

const struct route routes_misc[] = {
    ROUTE(EVHTTP_REQ_GET, "/healthz", AUTH_NONE, ROLE_NONE, healthz),
    ROUTE(EVHTTP_REQ_GET, "/metrics", AUTH_NONE, ROLE_NONE, metrics),
    ROUTE(EVHTTP_REQ_GET, "/api/admin/audit", AUTH_ADMIN, ROLE_ADMIN, audit),
    {0},
};
