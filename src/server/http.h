/*
 * HTTP plumbing of mcd: routing, authentication, JSON bodies and answers,
 * the per-request log line. Route handlers live in routes_<resource>.c and
 * see only struct request.
 */
#ifndef MC_SERVER_HTTP_H
#define MC_SERVER_HTTP_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "core/auth.h"
#include "core/fleet.h"
#include "lib/err.h"
#include "lib/id.h"

#define HTTP_BODY_MAX   (1024 * 1024)
#define HTTP_MAX_PARAMS 4

struct server;

/*
 * One request. Routes run on the database worker (src/server/worker.h),
 * except those marked on_loop: a handler reads the copies here and builds
 * its answer with http_reply*(); the loop sends it, then runs the
 * follow-up set with http_after() (pushes to streams and the like), where
 * r->req and the hub may be used.
 */
struct request {
    struct evhttp_request *req; /* loop thread only */
    struct server *srv;
    struct store *store; /* worker thread only */
    const struct route *route;
    char id[ID_LEN + 1];
    int64_t start_ms;
    enum evhttp_cmd_type method;
    char *path;
    struct evkeyvalq query;
    struct evkeyvalq in_headers;
    char *params[HTTP_MAX_PARAMS];
    char *raw_body;
    size_t raw_len;
    json_t *body;
    struct actor actor;
    struct fleet_node node; /* AUTH_AGENT routes */
    /* The answer. */
    int status;
    struct evkeyvalq out_headers;
    struct evbuffer *out;
    bool answered;
    bool taken; /* a stream: no answer is sent */
    void (*after)(struct request *r);
    json_t *after_data; /* for the follow-up; freed with the request */
    struct fleet_pushes *after_pushes; /* likewise */
};

enum route_auth {
    AUTH_ADMIN, /* API token or session cookie, min_role applies */
    AUTH_NONE,  /* public */
    AUTH_AGENT, /* an agent token (fleet routes) */
};

struct route {
    enum evhttp_cmd_type method;
    const char *pattern; /* "/api/admin/releases/{}" : {} is one segment */
    enum route_auth auth;
    enum role min_role;
    void (*handler)(struct request *r);
    bool on_loop; /* no database: runs on the loop (AUTH_NONE only) */
    bool batch;   /* a small write that may share a commit (worker.h) */
};

/* One route: ROUTE(method, pattern, auth, min_role, handler) and, after
 * those, designated flags such as .on_loop = true. */
#define ROUTE(m, p, a, r, h, ...)                                              \
    {                                                                          \
        .method = (m), .pattern = (p), .auth = (a), .min_role = (r),           \
        .handler = (h), __VA_ARGS__                                            \
    }

/* The route tables, each ended by an entry with a NULL pattern. */
extern const struct route routes_auth[];
extern const struct route routes_accounts[];
extern const struct route routes_releases[];
extern const struct route routes_misc[];
extern const struct route routes_web[];
extern const struct route routes_fleet[];

/* Installs the dispatcher on http. */
void http_setup(struct evhttp *http, struct server *srv);

/* Marks the request as taken over (a stream): no answer is sent; the
 * follow-up takes r->req. */
void http_taken(struct request *r, int status);

/* Sets the follow-up that runs on the loop once the answer is out. */
void http_after(struct request *r, void (*fn)(struct request *r));

/* Answers with status and body (stolen; NULL answers no body). The first
 * answer counts. */
void http_reply(struct request *r, int status, json_t *body);

/* Answers with status and a body that is JSON text already (stolen: freed
 * once sent). The first answer counts. */
void http_reply_json_text(struct request *r, int status, char *text);

/* Answers a non-JSON body (drained from buf, which may be NULL) of the
 * given type (NULL: none). */
void http_reply_text(struct request *r, int status, const char *type,
                     struct evbuffer *buf);

/* Answers {"error": {...}} from e. */
void http_reply_err(struct request *r, const struct err *e);

/* Answers an error built here. */
void http_error(struct request *r, int status, const char *code,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Answers body with 200, or the error in e when body is NULL. */
void http_reply_result(struct request *r, int status, json_t *body,
                       const struct err *e);

/* A query parameter or NULL. */
const char *http_query(struct request *r, const char *name);

/* Parses ?limit= and ?before=; answers 400 itself and returns -1 on a bad
 * value. */
int http_paging(struct request *r, int *limit, const char **before);

/* The value of a request cookie (caller frees), or NULL. */
char *http_cookie(struct request *r, const char *name);

void http_set_header(struct request *r, const char *name, const char *value);
const char *http_header(struct request *r, const char *name);

#endif
