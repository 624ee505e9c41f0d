/*
 * The web dashboard: its files, built into the binary (web_assets.h),
 * served under /dashboard/ with validators and security headers. Every
 * other /dashboard/... path answers index.html, so a reload or a shared
 * link of a view the browser routes (/dashboard/releases/ID) works; "/"
 * redirects to the releases view. The app talks to the public REST API
 * only.
 */
#include <stdbool.h>
#include <string.h>

#include <event2/buffer.h>

#include "server/http.h"
#include "server/web_assets.h"

#define WEB_HOME  "/dashboard/releases"
#define WEB_INDEX "/dashboard/index.html"

/* No inline script or style and nothing from another origin: the app,
 * preact and htm are all served from here. */
static const char web_csp[] =
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

static const struct web_asset *asset_find(const char *path)
{
    if (!web_assets)
        return NULL;
    for (const struct web_asset *a = web_assets; a->path; a++)
        if (strcmp(a->path, path) == 0)
            return a;
    return NULL;
}

static bool has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void security_headers(struct request *r)
{
    http_set_header(r, "Content-Security-Policy", web_csp);
    http_set_header(r, "X-Content-Type-Options", "nosniff");
    http_set_header(r, "X-Frame-Options", "DENY");
    http_set_header(r, "Referrer-Policy", "no-referrer");
}

/* buf may be NULL (no body). */
static void web_send(struct request *r, int status, struct evbuffer *buf)
{
    http_reply_text(r, status, NULL, buf);
}

/* If-None-Match holds "*" or a list of entity tags, weak ones included. */
static bool etag_matches(const char *inm, const char *etag)
{
    return inm && (strcmp(inm, "*") == 0 || strstr(inm, etag) != NULL);
}

static void serve_asset(struct request *r, const struct web_asset *a)
{
    struct evbuffer *buf;

    security_headers(r);
    http_set_header(r, "ETag", a->etag);
    /* Always revalidate: the files keep their names across upgrades, and
     * a 304 costs one round trip. */
    http_set_header(r, "Cache-Control", "no-cache");
    if (etag_matches(http_header(r, "If-None-Match"), a->etag)) {
        web_send(r, 304, NULL);
        return;
    }
    http_set_header(r, "Content-Type", a->type);
    buf = evbuffer_new();
    evbuffer_add_reference(buf, a->data, a->len, NULL, NULL);
    web_send(r, 200, buf);
    evbuffer_free(buf);
}

static void dashboard(struct request *r)
{
    const struct web_asset *a;

    /* A missing script or stylesheet is a 404, never the HTML page. */
    if (has_prefix(r->path, "/dashboard/assets/") ||
        has_prefix(r->path, "/dashboard/vendor/")) {
        a = asset_find(r->path);
        if (a)
            serve_asset(r, a);
        else
            http_error(r, 404, "NOT_FOUND", "no file %.100s", r->path);
        return;
    }
    a = asset_find(WEB_INDEX);
    if (!a) {
        http_error(r, 503, "DASHBOARD_NOT_BUILT",
                   "this mcd was built without the dashboard");
        return;
    }
    serve_asset(r, a);
}

static void root(struct request *r)
{
    http_set_header(r, "Location", WEB_HOME);
    http_reply(r, 302, NULL);
}

/* The router matches whole segments only, so each depth of /dashboard/
 * is listed. NEEDSWORK: paths deeper than four segments below /dashboard/
 * answer the JSON 404; no view of the app is that deep. */
const struct route routes_web[] = {
    ROUTE(EVHTTP_REQ_GET, "/", AUTH_NONE, ROLE_NONE, root, .on_loop = true),
    ROUTE(EVHTTP_REQ_GET, "/dashboard", AUTH_NONE, ROLE_NONE, dashboard,
          .on_loop = true),
    ROUTE(EVHTTP_REQ_GET, "/dashboard/", AUTH_NONE, ROLE_NONE, dashboard,
          .on_loop = true),
    ROUTE(EVHTTP_REQ_GET, "/dashboard/{}", AUTH_NONE, ROLE_NONE, dashboard,
          .on_loop = true),
    ROUTE(EVHTTP_REQ_GET, "/dashboard/{}/{}", AUTH_NONE, ROLE_NONE, dashboard,
          .on_loop = true),
    ROUTE(EVHTTP_REQ_GET, "/dashboard/{}/{}/{}", AUTH_NONE, ROLE_NONE,
          dashboard, .on_loop = true),
    ROUTE(EVHTTP_REQ_GET, "/dashboard/{}/{}/{}/{}", AUTH_NONE, ROLE_NONE,
          dashboard, .on_loop = true),
    {0},
};
