/*
 * A few keep-alive HTTP connections to the server, shared by all agents
 * for their status reports and by the registration: JSON in, JSON out.
 */
#ifndef MC_SIM_POOL_H
#define MC_SIM_POOL_H

#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>

struct pool;

/* status is the HTTP status, 0 when no answer came; answer is the parsed
 * body or NULL, borrowed for the call. */
typedef void (*pool_cb)(int status, json_t *answer, void *arg);

/* conns keep-alive connections to host:port, their events at priority. */
struct pool *pool_new(struct event_base *base, const char *host, int port,
                      long conns, int priority);

/* Drops requests under way without calling their callbacks. */
void pool_free(struct pool *p);

/* Sends method path with the bearer token and body (borrowed, may be
 * NULL); calls cb once with the outcome. */
void pool_request(struct pool *p, enum evhttp_cmd_type method, const char *path,
                  const char *token, const json_t *body, pool_cb cb, void *arg);

#endif
