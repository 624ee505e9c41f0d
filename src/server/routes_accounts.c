/* Organizations, users and API tokens. */
#include "server/http.h"

static void org_post(struct request *r)
{
    struct err e;

    err_clear(&e);
    json_t *org = org_create(r->store, &r->actor, r->body, &e);

    http_reply_result(r, 201,
                      org ? json_pack("{s:o}", "organization", org) : NULL, &e);
}

static void org_get(struct request *r)
{
    struct err e;

    err_clear(&e);
    http_reply_result(r, 200, org_list(r->store, &r->actor, &e), &e);
}

static void user_post(struct request *r)
{
    struct err e;
    json_t *user;

    err_clear(&e);
    user = user_create(r->store, &r->actor, r->body, &e);
    http_reply_result(r, 201, user ? json_pack("{s:o}", "user", user) : NULL,
                      &e);
}

static void token_post(struct request *r)
{
    struct err e;

    err_clear(&e);
    http_reply_result(r, 201, token_create(r->store, &r->actor, r->body, &e),
                      &e);
}

static void token_get(struct request *r)
{
    struct err e;

    err_clear(&e);
    http_reply_result(r, 200, token_list(r->store, &r->actor, &e), &e);
}

static void token_delete(struct request *r)
{
    struct err e;

    err_clear(&e);
    http_reply_result(r, 200,
                      token_revoke(r->store, &r->actor, r->params[0], &e), &e);
}

const struct route routes_accounts[] = {
    ROUTE(EVHTTP_REQ_POST, "/api/admin/organizations", AUTH_ADMIN, ROLE_SUPER,
          org_post),
    ROUTE(EVHTTP_REQ_GET, "/api/admin/organizations", AUTH_ADMIN, ROLE_MEMBER,
          org_get),
    ROUTE(EVHTTP_REQ_POST, "/api/admin/users", AUTH_ADMIN, ROLE_ADMIN,
          user_post),
    ROUTE(EVHTTP_REQ_POST, "/api/admin/tokens", AUTH_ADMIN, ROLE_MEMBER,
          token_post),
    ROUTE(EVHTTP_REQ_GET, "/api/admin/tokens", AUTH_ADMIN, ROLE_MEMBER,
          token_get),
    ROUTE(EVHTTP_REQ_DELETE, "/api/admin/tokens/{}", AUTH_ADMIN, ROLE_MEMBER,
          token_delete),
    {0},
};
