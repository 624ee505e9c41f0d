/* The release catalogue: /api/admin/releases. */
#include <string.h>

#include "core/releases.h"
#include "server/http.h"

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

const struct route routes_releases[] = {
    {EVHTTP_REQ_GET, "/api/admin/releases", AUTH_ADMIN, ROLE_ADMIN, list},
    {EVHTTP_REQ_POST, "/api/admin/releases", AUTH_ADMIN, ROLE_ADMIN, create},
    {EVHTTP_REQ_GET, "/api/admin/releases/{}", AUTH_ADMIN, ROLE_ADMIN, show},
    {EVHTTP_REQ_DELETE, "/api/admin/releases/{}", AUTH_ADMIN, ROLE_ADMIN,
     archive},
    {0, NULL, 0, 0, NULL},
};
