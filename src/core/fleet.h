/*
 * The fleet: locations, their server nodes, and the command lifecycle as
 * the agents and admins drive it. No HTTP in here: the stream hub of the
 * server asks this module what to send and tells it what happened.
 */
#ifndef MC_CORE_FLEET_H
#define MC_CORE_FLEET_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "core/auth.h"
#include "lib/sign.h"

/* An instance that has not beaten for this long is taken for dead, and
 * the nodes it held for offline. */
#define FLEET_INSTANCE_TTL_MS (30 * 1000LL)
#define FLEET_HEARTBEAT_S     10

/* The settings of the command lifecycle. */
struct fleet_config {
    const struct sign_key *key;
    const char *instance_id;    /* this mcd among those sharing the store */
    int64_t command_ttl_ms;     /* PENDING/DELIVERED until EXPIRED */
    int64_t command_timeout_ms; /* ACKNOWLEDGED until TIMED_OUT */
};

/* An authenticated agent. */
struct fleet_node {
    char id[ID_LEN + 1];
};

json_t *location_create(struct store *s, const struct actor *a, json_t *body,
                        struct err *e);
/* {"locations": [...]} */
json_t *location_list(struct store *s, const struct actor *a,
                      const char *before, int limit, struct err *e);

/* Registers the location's node: {"serverNode", "token",
 * "serverPublicKey"}; 409 NODE_EXISTS when it has an active one. */
json_t *node_register(struct store *s, const struct fleet_config *cfg,
                      const struct actor *a, const char *location_id,
                      json_t *body, struct err *e);
/* {"serverNode"}; its open commands are cancelled. */
json_t *node_decommission(struct store *s, const struct fleet_config *cfg,
                          const struct actor *a, const char *node_id,
                          struct err *e);

/* {"command"} */
json_t *command_show(struct store *s, const struct actor *a, const char *id,
                     struct err *e);
/* {"command"} CANCELLED; 409 INVALID_TRANSITION once acknowledged. */
json_t *command_cancel(struct store *s, const struct actor *a, const char *id,
                       struct err *e);

/* Authenticates an agent token; 401 when it names no active node. */
int fleet_auth(struct store *s, const char *token, struct fleet_node *out,
               struct err *e);

/* A stream opens: records the reported versions (version NULL, schema < 0
 * when not reported) and answers the node's backlog, oldest first, as
 * SSE-ready events {seq, data}, now marked DELIVERED. */
json_t *fleet_stream_open(struct store *s, const struct fleet_node *n,
                          const char *version, int64_t schema, struct err *e);
/* Streams opened and closed at this instance, in order: [[node id,
 * online, when], ...] (when: RFC 3339), written in one transaction. */
void fleet_presence(struct store *s, const struct fleet_config *cfg,
                    json_t *changes);

/* This instance is alive; nodes held by instances that are not go
 * offline. Runs every few seconds. */
void fleet_heartbeat(struct store *s, const struct fleet_config *cfg);

/* Tells the other instances sharing the store (no-op on SQLite): payload
 * {"type", ...}, stamped with this instance's id. Steals payload. */
void fleet_announce(struct store *s, const struct fleet_config *cfg,
                    json_t *payload);

/* A command on its way to its node's stream. */
struct fleet_push {
    char node_id[ID_LEN + 1];
    char id[ID_LEN + 1];
    int64_t seq;
    char *data; /* the event's data line: the payload with its signature */
};

/* Commands to push, oldest first. */
struct fleet_pushes {
    struct fleet_push *v;
    size_t n;
};

/* A new, empty list with room for n. */
struct fleet_pushes *fleet_pushes_new(size_t n);

/* Appends a command (data is taken over). */
void fleet_pushes_add(struct fleet_pushes *p, const char *node_id,
                      const char *id, int64_t seq, char *data);

/* Frees the list and what it holds; tolerates NULL. */
void fleet_pushes_free(struct fleet_pushes *p);

/* The PENDING commands with from <= seq <= to (caller frees). */
struct fleet_pushes *fleet_pending(struct store *s, int64_t from, int64_t to);

/* The highest command seq so far (0 when none). */
int64_t fleet_last_seq(struct store *s);

/* The data line of a command event: the payload with its signature. */
char *fleet_event_data(json_t *payload, const char *signature);

/* Marks pushed commands DELIVERED (an array of ids), in one transaction. */
void fleet_delivered(struct store *s, json_t *command_ids);

/* An agent's status report; {"command"}; 400 / 404 / 409 per the
 * lifecycle. */
json_t *fleet_report(struct store *s, const struct fleet_node *n,
                     const char *command_id, json_t *body, struct err *e);

/* Expires and times out overdue commands; answers how many moved. */
int fleet_sweep(struct store *s, const struct fleet_config *cfg);

#endif
