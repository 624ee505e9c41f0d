#include "sim/pool.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/keyvalq_struct.h>

#include "lib/xalloc.h"

/* A report that gets no answer in this long is retried. */
#define POOL_TIMEOUT_S 30
/* Answers are small JSON objects; a larger one is not parsed. */
#define POOL_ANSWER_MAX (1024 * 1024)

struct pool_req {
    struct pool_req *prev, *next;
    struct pool *pool;
    pool_cb cb;
    void *arg;
};

struct pool {
    struct evhttp_connection **conns;
    long n, next;
    char *host;
    struct pool_req *reqs; /* under way */
};

struct pool *pool_new(struct event_base *base, const char *host, int port,
                      long conns, int priority)
{
    struct pool *p = xcalloc(1, sizeof(*p));

    p->n = conns > 0 ? conns : 1;
    p->conns = xcalloc((size_t)p->n, sizeof(*p->conns));
    p->host = xstrdup(host);
    for (long i = 0; i < p->n; i++) {
        p->conns[i] =
            evhttp_connection_base_new(base, NULL, host, (unsigned short)port);
        evhttp_connection_set_timeout(p->conns[i], POOL_TIMEOUT_S);
        bufferevent_priority_set(evhttp_connection_get_bufferevent(p->conns[i]),
                                 priority);
    }
    return p;
}

void pool_free(struct pool *p)
{
    struct pool_req *r, *next;

    if (!p)
        return;
    /* Freeing a connection frees its requests without their callbacks. */
    for (long i = 0; i < p->n; i++)
        evhttp_connection_free(p->conns[i]);
    for (r = p->reqs; r; r = next) {
        next = r->next;
        free(r);
    }
    free(p->conns);
    free(p->host);
    free(p);
}

static void unlink_req(struct pool_req *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        r->pool->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
}

static json_t *answer_json(struct evhttp_request *req)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in);

    if (n == 0 || n > POOL_ANSWER_MAX)
        return NULL;
    return json_loadb((const char *)evbuffer_pullup(in, -1), n, 0, NULL);
}

static void on_done(struct evhttp_request *req, void *arg)
{
    struct pool_req *r = arg;
    json_t *answer = NULL;
    int status = 0;

    if (req) {
        status = evhttp_request_get_response_code(req);
        answer = answer_json(req);
    }
    unlink_req(r);
    r->cb(status, answer, r->arg);
    json_decref(answer);
    free(r);
}

void pool_request(struct pool *p, enum evhttp_cmd_type method, const char *path,
                  const char *token, const json_t *body, pool_cb cb, void *arg)
{
    struct pool_req *r = xcalloc(1, sizeof(*r));
    struct evhttp_request *req = evhttp_request_new(on_done, r);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    char *auth = xasprintf("Bearer %s", token);

    r->pool = p;
    r->cb = cb;
    r->arg = arg;
    r->next = p->reqs;
    if (p->reqs)
        p->reqs->prev = r;
    p->reqs = r;
    evhttp_add_header(h, "Host", p->host);
    evhttp_add_header(h, "Authorization", auth);
    if (body) {
        char *text = json_dumps(body, JSON_COMPACT);

        evhttp_add_header(h, "Content-Type", "application/json");
        evbuffer_add(evhttp_request_get_output_buffer(req), text, strlen(text));
        free(text);
    }
    free(auth);
    /* Round robin: evhttp queues requests on a busy connection. */
    evhttp_make_request(p->conns[p->next], req, method, path);
    p->next = (p->next + 1) % p->n;
}
