/*
 * The stream hub: the open agent streams of this mcd, one per node, as
 * Server-Sent Events over chunked HTTP replies. It frames and writes
 * events, sends keep-alives, bounds each stream's unsent output, and tells
 * the fleet when a stream closes.
 */
#ifndef MC_SERVER_HUB_H
#define MC_SERVER_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/http.h>
#include <jansson.h>

struct server;
struct hub;
struct fleet_pushes;

/* Output that may wait unsent for one stream before it is closed. */
#define HUB_OUTPUT_MAX (256 * 1024)
/* The reconnect delay the agents are told, in milliseconds. */
#define HUB_RETRY_MS 5000

struct hub *hub_new(struct server *srv, int keepalive_s);
void hub_free(struct hub *h);

/* Makes req the stream of node_id and sends it events ([{seq, data}]); an
 * older stream of the node is closed. */
void hub_attach(struct hub *h, struct evhttp_request *req, const char *node_id,
                json_t *events);

/* Writes a command event to the node's stream; false when it has none (or
 * it had to be closed for being too slow). */
bool hub_push(struct hub *h, const char *node_id, int64_t seq,
              const char *data);

/* Pushes the commands (taken over) to the streams held here, a slice per
 * turn of the loop, and has the worker mark those DELIVERED. The others go
 * out when their node connects. */
void hub_deliver(struct hub *h, struct fleet_pushes *commands);

/* Closes the node's stream, if it has one. */
void hub_close(struct hub *h, const char *node_id);

/* Closes every stream (shutdown); their nodes go offline through the
 * worker like any other close. */
void hub_close_all(struct hub *h);

/* Hands pending online/offline changes to the worker now. */
void hub_flush(struct hub *h);

size_t hub_count(const struct hub *h);

#endif
