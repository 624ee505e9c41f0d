#include "server/http.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/keyvalq_struct.h>
#include <sodium.h>

#include "lib/log.h"
#include "lib/timeutil.h"
#include "lib/xalloc.h"
#include "server/server.h"
#include "server/worker.h"

static const struct route *const tables[] = {
    routes_auth,  routes_accounts, routes_releases,
    routes_fleet, routes_misc,     routes_web,
    NULL,
};

static const char *method_name(enum evhttp_cmd_type m)
{
    switch (m) {
    case EVHTTP_REQ_GET:
        return "GET";
    case EVHTTP_REQ_POST:
        return "POST";
    case EVHTTP_REQ_PUT:
        return "PUT";
    case EVHTTP_REQ_DELETE:
        return "DELETE";
    case EVHTTP_REQ_HEAD:
        return "HEAD";
    case EVHTTP_REQ_PATCH:
        return "PATCH";
    case EVHTTP_REQ_OPTIONS:
        return "OPTIONS";
    default:
        return "OTHER";
    }
}

void http_set_header(struct request *r, const char *name, const char *value)
{
    evhttp_remove_header(&r->out_headers, name);
    evhttp_add_header(&r->out_headers, name, value);
}

const char *http_header(struct request *r, const char *name)
{
    return evhttp_find_header(&r->in_headers, name);
}

const char *http_query(struct request *r, const char *name)
{
    return evhttp_find_header(&r->query, name);
}

static void log_request(struct request *r, int status)
{
    r->srv->requests[status >= 100 && status < 600 ? status / 100 : 0]++;
    log_info("request", "id=%s method=%s path=\"%s\" status=%d ms=%lld", r->id,
             method_name(r->method), r->path ? r->path : "?", status,
             (long long)(time_mono_ms() - r->start_ms));
}

void http_taken(struct request *r, int status)
{
    r->taken = true;
    r->status = status;
}

void http_after(struct request *r, void (*fn)(struct request *r))
{
    r->after = fn;
}

static void set_answer(struct request *r, int status)
{
    if (r->answered) {
        /* A second answer is a bug in a handler: keep the first. */
        log_error("request answered twice", "id=%s", r->id);
        return;
    }
    r->status = status;
    r->answered = true;
}

static void free_text(const void *data, size_t len, void *arg)
{
    (void)len;
    (void)arg;
    free((void *)data);
}

void http_reply_json_text(struct request *r, int status, char *text)
{
    if (!r->answered && text) {
        /* Not copied: a deploy's answer is megabytes. */
        evbuffer_add_reference(r->out, text, strlen(text), free_text, NULL);
        evbuffer_add(r->out, "\n", 1);
        http_set_header(r, "Content-Type", "application/json");
        text = NULL;
    }
    if (!r->answered)
        http_set_header(r, "Cache-Control", "no-store");
    set_answer(r, status);
    free(text);
}

void http_reply(struct request *r, int status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;

    json_decref(body);
    http_reply_json_text(r, status, text);
}

void http_reply_text(struct request *r, int status, const char *type,
                     struct evbuffer *buf)
{
    if (!r->answered) {
        if (type)
            http_set_header(r, "Content-Type", type);
        if (buf)
            evbuffer_add_buffer(r->out, buf);
    }
    set_answer(r, status);
}

void http_reply_err(struct request *r, const struct err *e)
{
    json_t *inner =
        json_pack("{s:s, s:s}", "code", e->code[0] ? e->code : "INTERNAL",
                  "message", e->message[0] ? e->message : "internal error");

    if (e->field[0])
        json_object_set_new(inner, "field", json_string(e->field));
    if (e->status >= 500)
        log_error("request failed", "id=%s code=%s error=\"%s\"", r->id,
                  e->code, e->message);
    http_reply(r, e->status ? (int)e->status : 500,
               json_pack("{s:o}", "error", inner));
}

void http_error(struct request *r, int status, const char *code,
                const char *fmt, ...)
{
    struct err e;
    va_list ap;

    err_set(&e, (enum err_status)status, code, "%s", "");
    va_start(ap, fmt);
    vsnprintf(e.message, sizeof(e.message), fmt, ap);
    va_end(ap);
    http_reply_err(r, &e);
}

void http_reply_result(struct request *r, int status, json_t *body,
                       const struct err *e)
{
    if (body)
        http_reply(r, status, body);
    else
        http_reply_err(r, e);
}

int http_paging(struct request *r, int *limit, const char **before)
{
    const char *l = http_query(r, "limit");
    char *end;
    long v;

    *limit = 100;
    *before = http_query(r, "before");
    if (*before && !id_valid(*before)) {
        http_error(r, 400, "INVALID_QUERY", "before must be an id");
        return -1;
    }
    if (!l)
        return 0;
    v = strtol(l, &end, 10);
    if (*end || end == l || v < 1 || v > 1000) {
        http_error(r, 400, "INVALID_QUERY", "limit must be 1 to 1000");
        return -1;
    }
    *limit = (int)v;
    return 0;
}

/* --- routing ------------------------------------------------------------ */

static bool match(const char *pattern, const char *path, char **params)
{
    int n = 0;

    while (*pattern && *path) {
        if (strncmp(pattern, "{}", 2) == 0) {
            size_t len = strcspn(path, "/");
            size_t out;
            char *raw;

            if (len == 0 || n == HTTP_MAX_PARAMS)
                return false;
            raw = xstrndup(path, len);
            params[n] = evhttp_uridecode(raw, 0, &out);
            free(raw);
            n++;
            pattern += 2;
            path += len;
        } else if (*pattern++ != *path++) {
            return false;
        }
    }
    return *pattern == '\0' && *path == '\0';
}

static void free_params(char **params)
{
    for (int i = 0; i < HTTP_MAX_PARAMS; i++) {
        free(params[i]);
        params[i] = NULL;
    }
}

/* The route for method and path; *allow lists the methods of a path that
 * matched under another method. */
static const struct route *route_find(struct request *r, char *allow,
                                      size_t allow_len)
{
    enum evhttp_cmd_type m = r->method;

    allow[0] = '\0';
    for (int t = 0; tables[t]; t++) {
        for (const struct route *rt = tables[t]; rt->pattern; rt++) {
            char *params[HTTP_MAX_PARAMS] = {0};

            if (!match(rt->pattern, r->path, params)) {
                free_params(params);
                continue;
            }
            if (rt->method == m ||
                (m == EVHTTP_REQ_HEAD && rt->method == EVHTTP_REQ_GET)) {
                memcpy(r->params, params, sizeof(params));
                return rt;
            }
            free_params(params);
            if (!strstr(allow, method_name(rt->method)))
                snprintf(allow + strlen(allow), allow_len - strlen(allow),
                         "%s%s", allow[0] ? ", " : "", method_name(rt->method));
        }
    }
    return NULL;
}

/* --- authentication ----------------------------------------------------- */

char *http_cookie(struct request *r, const char *name)
{
    const char *h = http_header(r, "Cookie");
    size_t nlen = strlen(name);

    while (h && *h) {
        h += strspn(h, " ;");
        if (strncmp(h, name, nlen) == 0 && h[nlen] == '=') {
            h += nlen + 1;
            return xstrndup(h, strcspn(h, ";"));
        }
        h = strchr(h, ';');
    }
    return NULL;
}

static bool safe_method(struct request *r)
{
    enum evhttp_cmd_type m = r->method;

    return m == EVHTTP_REQ_GET || m == EVHTTP_REQ_HEAD;
}

static bool csrf_ok(struct request *r)
{
    const char *h = http_header(r, "X-CSRF-Token");
    size_t len = strlen(r->actor.csrf);

    return h && len > 0 && strlen(h) == len &&
           sodium_memcmp(h, r->actor.csrf, len) == 0;
}

static int authenticate(struct request *r, struct err *e)
{
    const char *auth = http_header(r, "Authorization");
    char *cookie;
    int rc;

    if (auth && strncasecmp(auth, "Bearer ", 7) == 0)
        return auth_token(r->store, auth + 7, &r->actor, e);
    if (auth)
        return err_set(e, ERR_UNAUTHORIZED, "UNAUTHORIZED",
                       "Authorization must be a Bearer token");
    cookie = http_cookie(r, "mc_session");
    rc = auth_session(r->store, cookie, &r->actor, e);
    free(cookie);
    if (rc)
        return rc;
    if (!safe_method(r) && !csrf_ok(r))
        return err_set(e, ERR_FORBIDDEN, "CSRF_FAILED",
                       "missing or wrong X-CSRF-Token header");
    return 0;
}

static int authenticate_agent(struct request *r, struct err *e)
{
    const char *auth = http_header(r, "Authorization");

    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0)
        return err_set(e, ERR_UNAUTHORIZED, "UNAUTHORIZED",
                       "an agent token is required");
    return fleet_auth(r->store, auth + 7, &r->node, e);
}

static int check_role(struct request *r, const struct route *rt, struct err *e)
{
    if (r->actor.role < rt->min_role)
        return err_set(e, ERR_FORBIDDEN, "FORBIDDEN", "this needs the %s role",
                       role_name(rt->min_role));
    return 0;
}

/* --- bodies ------------------------------------------------------------- */

static bool is_json_type(const char *ct)
{
    size_t n = strlen("application/json");

    return ct && strncasecmp(ct, "application/json", n) == 0 &&
           (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static int read_body(struct request *r, struct err *e)
{
    size_t len = r->raw_len;
    json_error_t jerr;

    if (len == 0)
        return 0;
    if (!is_json_type(http_header(r, "Content-Type")))
        return err_set(e, 415, "UNSUPPORTED_MEDIA_TYPE",
                       "request body must be application/json");
    r->body = json_loadb(r->raw_body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!r->body)
        return err_set(e, ERR_INVALID, "INVALID_JSON",
                       "malformed JSON at line %d column %d: %s", jerr.line,
                       jerr.column, jerr.text);
    return 0;
}

/* --- dispatch ----------------------------------------------------------- */

static void request_free(struct request *r)
{
    free_params(r->params);
    evhttp_clear_headers(&r->query);
    evhttp_clear_headers(&r->in_headers);
    evhttp_clear_headers(&r->out_headers);
    evbuffer_free(r->out);
    json_decref(r->body);
    json_decref(r->after_data);
    fleet_pushes_free(r->after_pushes);
    free(r->raw_body);
    free(r->path);
    free(r);
}

static void copy_headers(struct evkeyvalq *to, const struct evkeyvalq *from)
{
    const struct evkeyval *h;

    TAILQ_FOREACH(h, from, next)
    evhttp_add_header(to, h->key, h->value);
}

/* Everything a handler may read is copied off the evhttp request here, on
 * the loop: the handler runs on the worker, where evhttp is off limits. */
static struct request *request_new(struct evhttp_request *req,
                                   struct server *srv, bool *bad_query)
{
    struct request *r = xcalloc(1, sizeof(*r));
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);

    r->req = req;
    r->srv = srv;
    r->store = srv->store;
    r->method = evhttp_request_get_command(req);
    r->start_ms = time_mono_ms();
    TAILQ_INIT(&r->query);
    TAILQ_INIT(&r->in_headers);
    TAILQ_INIT(&r->out_headers);
    r->out = evbuffer_new();
    id_new(r->id);
    r->path = xstrdup(path && *path ? path : "/");
    copy_headers(&r->in_headers, evhttp_request_get_input_headers(req));
    r->raw_len = evbuffer_get_length(in);
    if (r->raw_len > 0 && r->raw_len <= HTTP_BODY_MAX) {
        r->raw_body = xmalloc(r->raw_len);
        evbuffer_remove(in, r->raw_body, r->raw_len);
    }
    http_set_header(r, "X-Request-Id", r->id);
    *bad_query = q && evhttp_parse_query_str(q, &r->query) != 0;
    return r;
}

/* On the worker: who is asking, the body, then the handler. */
static void run_route(struct store *s, void *arg)
{
    struct request *r = arg;
    struct err e;

    (void)s;
    err_clear(&e);
    if (r->route->auth == AUTH_AGENT && authenticate_agent(r, &e))
        http_reply_err(r, &e);
    else if (r->route->auth == AUTH_ADMIN &&
             (authenticate(r, &e) || check_role(r, r->route, &e)))
        http_reply_err(r, &e);
    else if (read_body(r, &e))
        http_reply_err(r, &e);
    else
        r->route->handler(r);
    if (!r->answered && !r->taken)
        http_error(r, 500, "INTERNAL", "no answer");
}

/* On the worker: the commit this request shared failed, so whatever it
 * answered did not happen. */
static void batch_failed(void *arg)
{
    struct request *r = arg;

    evbuffer_drain(r->out, evbuffer_get_length(r->out));
    evhttp_clear_headers(&r->out_headers);
    http_set_header(r, "X-Request-Id", r->id);
    r->answered = false;
    r->after = NULL;
    http_error(r, 503, "DATABASE_UNAVAILABLE", "the change was not stored");
}

static void run_after(evutil_socket_t fd, short what, void *arg)
{
    struct request *r = arg;

    (void)fd;
    (void)what;
    r->srv->deferred--;
    r->after(r);
    request_free(r);
}

/* libevent writes at most 16 KiB per turn of the loop on a connection: a
 * deploy's answer of a megabyte and more would trickle out between the
 * slices of its own push. An answer goes out in as few writes as the
 * socket takes. */
static void send_whole(struct request *r)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(r->req);
    size_t len = evbuffer_get_length(r->out);

    if (evcon && len > 16384)
        bufferevent_set_max_single_write(
            evhttp_connection_get_bufferevent(evcon), len + 4096);
}

/* On the loop: the answer goes out (or the request was taken over as a
 * stream), then the route's follow-up runs. */
static void finish_route(void *arg)
{
    struct request *r = arg;
    const struct evkeyval *h;

    if (!r->taken) {
        struct evkeyvalq *out = evhttp_request_get_output_headers(r->req);

        TAILQ_FOREACH(h, &r->out_headers, next)
        evhttp_add_header(out, h->key, h->value);
        send_whole(r);
        /* When the client is gone this frees the request instead. */
        evhttp_send_reply(r->req, r->status, NULL, r->out);
    }
    log_request(r, r->status);
    if (!r->after) {
        request_free(r);
        return;
    }
    /* The follow-up (pushing a deploy to thousands of streams) waits for
     * the next turn of the loop, so that the answer leaves first. */
    r->srv->deferred++;
    if (event_base_once(r->srv->base, -1, EV_TIMEOUT, run_after, r,
                        &(struct timeval){0, 0}) != 0)
        run_after(-1, 0, r);
}

static void route(struct request *r)
{
    char allow[128];

    r->route = route_find(r, allow, sizeof(allow));
    if (!r->route && allow[0]) {
        http_set_header(r, "Allow", allow);
        http_error(r, 405, "METHOD_NOT_ALLOWED", "method not allowed on %.100s",
                   r->path);
    } else if (!r->route) {
        http_error(r, 404, "NOT_FOUND", "no route %.100s", r->path);
    } else if (r->route->on_loop) {
        r->route->handler(r);
    } else if (r->route->batch) {
        worker_submit_batch(r->srv->worker, run_route, finish_route,
                            batch_failed, r);
        return;
    } else {
        worker_submit(r->srv->worker, run_route, finish_route, r);
        return;
    }
    finish_route(r);
}

static void on_request(struct evhttp_request *req, void *arg)
{
    struct server *srv = arg;
    bool bad_query;
    struct request *r = request_new(req, srv, &bad_query);

    if (bad_query) {
        http_error(r, 400, "INVALID_QUERY", "malformed query string");
    } else if (srv->stopping) {
        http_error(r, 503, "SHUTTING_DOWN", "the server is stopping");
    } else if (r->raw_len > HTTP_BODY_MAX) {
        http_error(r, 413, "BODY_TOO_LARGE", "request body is over %d bytes",
                   HTTP_BODY_MAX);
    } else {
        route(r);
        return;
    }
    finish_route(r);
}

void http_setup(struct evhttp *http, struct server *srv)
{
    /* Bodies between HTTP_BODY_MAX and this get the JSON 413; beyond it
     * libevent answers 413 itself, with its own HTML body. */
    evhttp_set_max_body_size(http, 4 * HTTP_BODY_MAX);
    evhttp_set_max_headers_size(http, 16 * 1024);
    evhttp_set_timeout(http, 60);
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
                                         EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                         EVHTTP_REQ_HEAD | EVHTTP_REQ_PATCH |
                                         EVHTTP_REQ_OPTIONS);
    evhttp_set_gencb(http, on_request, srv);
}
