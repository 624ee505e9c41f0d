/* Health and the audit log. */
#include "core/audit.h"
#include "server/http.h"

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
    {EVHTTP_REQ_GET, "/healthz", AUTH_NONE, ROLE_NONE, healthz},
    {EVHTTP_REQ_GET, "/api/admin/audit", AUTH_ADMIN, ROLE_ADMIN, audit},
    {0, NULL, 0, 0, NULL},
};
