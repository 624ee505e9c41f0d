/* The release catalogue: /api/admin/releases. */
#include <string.h>

#include "core/deploy.h"
#include "core/releases.h"
#include "server/http.h"
#include "server/hub.h"
#include "server/server.h"

static void list(struct request *r)
{
    const char *channel = http_query(r, "channel");
    const char *arch = http_query(r, "includeArchived");
    const char *before;
    struct err e;
    int limit;

    err_clear(&e);
    if (http_paging(r, &limit, &before))
        return;
    if (channel && strcmp(channel, "STABLE") && strcmp(channel, "BETA")) {
        http_error(r, 400, "INVALID_QUERY", "channel must be STABLE or BETA");
        return;
    }
    if (arch && strcmp(arch, "true") && strcmp(arch, "false")) {
        http_error(r, 400, "INVALID_QUERY",
                   "includeArchived must be true or false");
        return;
    }
    http_reply_result(r, 200,
                      release_list(r->store, &r->actor, channel,
                                   arch && strcmp(arch, "true") == 0, before,
                                   limit, &e),
                      &e);
}

static void create(struct request *r)
{
    struct err e;

    err_clear(&e);
    http_reply_result(r, 201, release_create(r->store, &r->actor, r->body, &e),
                      &e);
}

static void show(struct request *r)
{
    struct err e;

    err_clear(&e);
    http_reply_result(
        r, 200, release_detail(r->store, &r->actor, r->params[0], &e), &e);
}

static void archive(struct request *r)
{
    struct err e;

    err_clear(&e);
    http_reply_result(
        r, 200, release_archive(r->store, &r->actor, r->params[0], &e), &e);
}

/* On the loop, once the answer is out. */
static void push(struct request *r)
{
    hub_deliver(r->srv->hub, r->after_pushes);
    r->after_pushes = NULL;
}

static void deploy(struct request *r)
{
    struct deploy_result out;
    struct err e;

    err_clear(&e);
    if (deploy_run(r->store, &r->srv->fleet, &r->actor, r->params[0], r->body,
                   http_header(r, "Idempotency-Key"), &out, &e)) {
        http_reply_err(r, &e);
        return;
    }
    r->srv->deploys++;
    http_reply_json_text(r, out.status, out.body);
    out.body = NULL;
    r->after_pushes = out.fresh;
    out.fresh = NULL;
    http_after(r, push);
    deploy_result_release(&out);
}

const struct route routes_releases[] = {
    ROUTE(EVHTTP_REQ_GET, "/api/admin/releases", AUTH_ADMIN, ROLE_ADMIN, list),
    ROUTE(EVHTTP_REQ_POST, "/api/admin/releases", AUTH_ADMIN, ROLE_ADMIN,
          create),
    ROUTE(EVHTTP_REQ_GET, "/api/admin/releases/{}", AUTH_ADMIN, ROLE_ADMIN,
          show),
    ROUTE(EVHTTP_REQ_DELETE, "/api/admin/releases/{}", AUTH_ADMIN, ROLE_ADMIN,
          archive),
    ROUTE(EVHTTP_REQ_POST, "/api/admin/releases/{}/deploy", AUTH_ADMIN,
          ROLE_ADMIN, deploy),
    {0},
};
