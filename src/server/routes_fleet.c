/* Locations, nodes and commands (admins), and the agents' stream and
 * status reports. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/fleet.h"
#include "lib/log.h"
#include "lib/semver.h"
#include "server/http.h"
#include "server/hub.h"
#include "server/server.h"

static void locations_get(struct request *r)
{
    const char *before;
    struct err e;
    int limit;

    err_clear(&e);
    if (http_paging(r, &limit, &before))
        return;
    http_reply_result(
        r, 200, location_list(r->store, &r->actor, before, limit, &e), &e);
}

static void locations_post(struct request *r)
{
    struct err e;

    err_clear(&e);
    http_reply_result(r, 201, location_create(r->store, &r->actor, r->body, &e),
                      &e);
}

static void node_post(struct request *r)
{
    struct err e;

    err_clear(&e);
    http_reply_result(r, 201,
                      node_register(r->store, &r->srv->fleet, &r->actor,
                                    r->params[0], r->body, &e),
                      &e);
}

static void close_stream(struct request *r)
{
    hub_close(r->srv->hub, r->params[0]);
}

static void node_decommission_post(struct request *r)
{
    struct err e;
    json_t *out;

    err_clear(&e);
    out = node_decommission(r->store, &r->srv->fleet, &r->actor, r->params[0],
                            &e);
    if (out)
        http_after(r, close_stream);
    http_reply_result(r, 200, out, &e);
}

static void command_get(struct request *r)
{
    struct err e;

    err_clear(&e);
    http_reply_result(r, 200,
                      command_show(r->store, &r->actor, r->params[0], &e), &e);
}

static void command_cancel_post(struct request *r)
{
    struct err e;

    err_clear(&e);
    http_reply_result(
        r, 200, command_cancel(r->store, &r->actor, r->params[0], &e), &e);
}

/* schemaVersion: -1 when absent, -2 when malformed. */
static int64_t query_schema(struct request *r)
{
    const char *v = http_query(r, "schemaVersion");
    char *end;
    long long n;

    if (!v)
        return -1;
    n = strtoll(v, &end, 10);
    if (*end || end == v || n < 0 || n > INT_MAX)
        return -2;
    return n;
}

static void attach_stream(struct request *r)
{
    hub_attach(r->srv->hub, r->req, r->node.id, r->after_data);
}

static void stream_get(struct request *r)
{
    const char *version = http_query(r, "currentVersion");
    const char *last = http_header(r, "Last-Event-ID");
    int64_t schema = query_schema(r);
    struct err e;
    json_t *events;

    err_clear(&e);
    if (version && !semver_valid(version)) {
        http_error(r, 400, "INVALID_QUERY",
                   "currentVersion must be a SemVer version");
        return;
    }
    if (schema == -2) {
        http_error(r, 400, "INVALID_QUERY",
                   "schemaVersion must be an integer 0 to %d", INT_MAX);
        return;
    }
    events = fleet_stream_open(r->store, &r->node, version, schema, &e);
    if (!events) {
        http_reply_err(r, &e);
        return;
    }
    if (last)
        log_debug("stream resume", "node=%s last_event_id=\"%.20s\"",
                  r->node.id, last);
    http_taken(r, 200);
    r->after_data = events;
    http_after(r, attach_stream);
}

static void status_post(struct request *r)
{
    struct err e;

    err_clear(&e);
    http_reply_result(
        r, 200, fleet_report(r->store, &r->node, r->params[0], r->body, &e),
        &e);
}

const struct route routes_fleet[] = {
    ROUTE(EVHTTP_REQ_GET, "/api/admin/locations", AUTH_ADMIN, ROLE_MEMBER,
          locations_get),
    ROUTE(EVHTTP_REQ_POST, "/api/admin/locations", AUTH_ADMIN, ROLE_ADMIN,
          locations_post),
    ROUTE(EVHTTP_REQ_POST, "/api/admin/locations/{}/nodes", AUTH_ADMIN,
          ROLE_ADMIN, node_post),
    ROUTE(EVHTTP_REQ_POST, "/api/admin/nodes/{}/decommission", AUTH_ADMIN,
          ROLE_ADMIN, node_decommission_post),
    ROUTE(EVHTTP_REQ_GET, "/api/admin/commands/{}", AUTH_ADMIN, ROLE_ADMIN,
          command_get),
    ROUTE(EVHTTP_REQ_POST, "/api/admin/commands/{}/cancel", AUTH_ADMIN,
          ROLE_ADMIN, command_cancel_post),
    ROUTE(EVHTTP_REQ_GET, "/api/fleet/stream", AUTH_AGENT, ROLE_NONE,
          stream_get),
    ROUTE(EVHTTP_REQ_POST, "/api/fleet/commands/{}/status", AUTH_AGENT,
          ROLE_NONE, status_post, .batch = true),
    {0},
};
