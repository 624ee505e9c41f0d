/* Dashboard sessions: /api/auth/login, /logout, /me. */
#include <stdio.h>
#include <stdlib.h>

#include "server/http.h"
#include "server/server.h"

#define SESSION_COOKIE_MAX_AGE (12 * 3600)

static void set_cookie(struct request *r, const char *value, int max_age)
{
    char h[256];

    snprintf(h, sizeof(h),
             "mc_session=%s; Path=/; Max-Age=%d; HttpOnly; SameSite=Strict%s",
             value, max_age, r->srv->secure_cookies ? "; Secure" : "");
    http_set_header(r, "Set-Cookie", h);
}

static void login(struct request *r)
{
    struct err e;
    char *cookie;
    json_t *me;

    err_clear(&e);
    if (auth_login(r->store, r->body, &cookie, &me, &e)) {
        http_reply_err(r, &e);
        return;
    }
    set_cookie(r, cookie, SESSION_COOKIE_MAX_AGE);
    free(cookie);
    http_reply(r, 200, me);
}

static void logout(struct request *r)
{
    char *value = NULL;
    struct err e;

    err_clear(&e);
    /* The router authenticated and CSRF-checked this session; deleting it
     * by its cookie ends exactly that session. */
    if (r->actor.via_session)
        value = http_cookie(r, "mc_session");
    if (value && auth_logout(r->store, value, &e)) {
        free(value);
        http_reply_err(r, &e);
        return;
    }
    free(value);
    set_cookie(r, "", 0);
    http_reply(r, 200, json_pack("{s:b}", "ok", 1));
}

static void me(struct request *r)
{
    struct err e;

    err_clear(&e);
    http_reply_result(r, 200, auth_me(r->store, &r->actor, &e), &e);
}

const struct route routes_auth[] = {
    ROUTE(EVHTTP_REQ_POST, "/api/auth/login", AUTH_NONE, ROLE_NONE, login),
    ROUTE(EVHTTP_REQ_POST, "/api/auth/logout", AUTH_ADMIN, ROLE_NONE, logout),
    ROUTE(EVHTTP_REQ_GET, "/api/auth/me", AUTH_ADMIN, ROLE_NONE, me),
    {0},
};
