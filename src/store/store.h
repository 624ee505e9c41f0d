/*
 * The one interface to persistent state. Every SQL statement of Mission
 * Control lives behind it. Objects come back as JSON objects already shaped
 * like the API's (camelCase keys), as new references the caller must
 * json_decref. Functions returning int answer 0 or an err_status with e set;
 * functions returning json_t * answer NULL with e set (ERR_NOT_FOUND when
 * the object does not exist). A unique constraint violation is ERR_CONFLICT.
 *
 * Times passed in are RFC 3339 strings (lib/timeutil.h).
 */
#ifndef MC_STORE_H
#define MC_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "lib/err.h"

struct store;

/* Opens the database named by url (a path, or postgres:// URL) and runs the
 * pending migrations. */
int store_open(const char *url, struct store **out, struct err *e);
void store_free(struct store *s);
const char *store_backend(const struct store *s);

/* The schema version after migrations. */
int store_schema_version(struct store *s);

/* Transactions nest: the outermost is BEGIN/COMMIT, inner ones savepoints.
 * store_rollback undoes the innermost open one. */
int store_begin(struct store *s, struct err *e);
int store_commit(struct store *s, struct err *e);
void store_rollback(struct store *s);

/* Housekeeping to run now and then outside transactions (SQLite copies
 * its write-ahead log back into the database file). */
int store_maintain(struct store *s, struct err *e);

/* Cheap query that proves the database answers. */
int store_ping(struct store *s, struct err *e);

/* --- organizations ------------------------------------------------------ */
bool store_is_empty(struct store *s);
int store_org_insert(struct store *s, const char *id, const char *external_id,
                     const char *name, const char *now, struct err *e);
/* By internal id or by externalId. */
json_t *store_org_find(struct store *s, const char *id_or_external,
                       struct err *e);
/* All organizations, or only org_id's when it is not NULL. */
json_t *store_org_list(struct store *s, const char *org_id, struct err *e);

/* --- admin users -------------------------------------------------------- */
int store_user_insert(struct store *s, const char *id, const char *org_id,
                      const char *email, const char *name, const char *role,
                      const char *password_hash, const char *now,
                      struct err *e);
/* The user with "passwordHash" added, for login. */
json_t *store_user_by_email(struct store *s, const char *email, struct err *e);
json_t *store_user_get(struct store *s, const char *id, struct err *e);

/* --- API tokens and sessions --------------------------------------------- */
int store_token_insert(struct store *s, const char *id, const char *user_id,
                       const char *name, const char *hash, const char *now,
                       struct err *e);
/* The user owning the unrevoked token with this hash; marks it used (at
 * most once a minute, to keep reads free of writes). */
json_t *store_token_auth(struct store *s, const char *hash, const char *now,
                         const char *stale_before, struct err *e);
json_t *store_token_list(struct store *s, const char *user_id, struct err *e);
json_t *store_token_revoke(struct store *s, const char *id, const char *user_id,
                           const char *now, struct err *e);

int store_session_insert(struct store *s, const char *id, const char *user_id,
                         const char *hash, const char *csrf, const char *now,
                         const char *expires, struct err *e);
/* The user of the live session with this hash, plus "csrfToken". */
json_t *store_session_auth(struct store *s, const char *hash, const char *now,
                           struct err *e);
int store_session_delete(struct store *s, const char *hash, struct err *e);

/* --- releases ----------------------------------------------------------- */
/* r holds id, version, versionKey, channel, imageTag, imageDigest,
 * releaseNotes, minSchemaVersion, rollbackVersion, createdById, createdAt. */
int store_release_insert(struct store *s, json_t *r, struct err *e);
/* The release with createdBy and deployCount; deployCount counts only
 * org_id's commands when org_id is not NULL. */
json_t *store_release_get(struct store *s, const char *id, const char *org_id,
                          struct err *e);
json_t *store_release_by_key(struct store *s, const char *version_key,
                             const char *org_id, struct err *e);
/* Newest first; channel may be NULL; before is an id cursor or NULL. */
json_t *store_release_list(struct store *s, const char *org_id,
                           const char *channel, bool include_archived,
                           const char *before, int limit, struct err *e);
/* [{id, version}] of the channel's non-archived releases. */
json_t *store_release_channel(struct store *s, const char *channel,
                              struct err *e);
/* Moves the channel's latest flag to id (NULL: no release is latest). */
int store_release_set_latest(struct store *s, const char *channel,
                             const char *id, const char *now, struct err *e);
int store_release_archive(struct store *s, const char *id, const char *now,
                          struct err *e);
/* Adds n FORCE_UPDATE commands of org_id to the release's deployCount. */
int store_release_count_add(struct store *s, const char *release_id,
                            const char *org_id, int64_t n, struct err *e);
/* The release's newest FORCE_UPDATE commands, limited to org_id's
 * locations when it is not NULL. */
json_t *store_release_deployments(struct store *s, const char *release_id,
                                  const char *org_id, int limit, struct err *e);

/* --- locations and nodes ------------------------------------------------ */
int store_location_insert(struct store *s, const char *id, const char *org_id,
                          const char *name, const char *timezone,
                          const char *now, struct err *e);
/* The location with "serverNode" (its active node, or null); org_id NULL
 * means any organization. */
json_t *store_location_get(struct store *s, const char *id, const char *org_id,
                           struct err *e);
json_t *store_location_list(struct store *s, const char *org_id,
                            const char *before, int limit, struct err *e);

int store_node_insert(struct store *s, const char *id, const char *location_id,
                      const char *name, const char *token_hash, const char *now,
                      struct err *e);
/* The node with "organizationId"; org_id NULL means any organization. */
json_t *store_node_get(struct store *s, const char *id, const char *org_id,
                       struct err *e);
/* {id} of the ACTIVE node whose agent token has this hash. */
json_t *store_node_by_token(struct store *s, const char *token_hash,
                            struct err *e);
int store_node_decommission(struct store *s, const char *id, const char *now,
                            struct err *e);
/* Records a stream opening: lastSeenAt and, when given (not NULL / not
 * negative), the reported versions. */
int store_node_seen(struct store *s, const char *id, const char *version,
                    int64_t schema, const char *now, struct err *e);
/* Marks the node online at instance as of now, the time its stream opened
 * (unless a stream opened later marked it first), or offline as of now,
 * the time its stream closed, when instance still holds it (a stream that
 * moved on to another instance is left alone). */
int store_node_online(struct store *s, const char *id, bool online,
                      const char *instance, const char *now, struct err *e);
/* Marks every node offline (a single mcd at start holds no streams). */
int store_nodes_all_offline(struct store *s, struct err *e);
/* The version the node runs (its agent reported SUCCEEDED), or is meant
 * to run (a deploy). */
int store_node_set_current(struct store *s, const char *id, const char *version,
                           struct err *e);
int store_node_set_target(struct store *s, const char *id, const char *version,
                          struct err *e);

/* --- fleet commands ----------------------------------------------------- */
struct store_command {
    const char *id, *node_id, *type, *release_id;
    const char *payload; /* JSON text */
    const char *signature, *created_by, *created_at, *expires_at;
};

/* Inserts a PENDING command; answers its seq, or -1. */
int64_t store_command_insert(struct store *s, const struct store_command *c,
                             struct err *e);

/* For a deploy: each of the ids (a JSON array text) that is a location of
 * org_id (NULL: any), as {locationId, organizationId, nodeId,
 * schemaVersion, openCommands} with its active node or nulls; openCommands
 * is 1 when the node has a PENDING or DELIVERED FORCE_UPDATE, else 0. */
json_t *store_deploy_targets(struct store *s, const char *ids_json,
                             const char *org_id, struct err *e);
/* The admin view of a command; org_id NULL means any organization. */
json_t *store_command_get(struct store *s, const char *id, const char *org_id,
                          struct err *e);
/* {id, seq, status, releaseId, version} of the node's command id. */
json_t *store_command_for_node(struct store *s, const char *id,
                               const char *node_id, struct err *e);
/* The node's PENDING and DELIVERED commands, oldest first, as {seq,
 * payload, signature}. */
json_t *store_command_backlog(struct store *s, const char *node_id,
                              struct err *e);
/* Moves a command from one status to another, stamping the time column
 * that belongs to the new status. ERR_CONFLICT when it was not in from. */
int store_command_move(struct store *s, const char *id, const char *from,
                       const char *to, const char *message, const char *now,
                       struct err *e);
/* Marks a PENDING command DELIVERED. */
int store_command_delivered(struct store *s, const char *id, const char *now,
                            struct err *e);
/* Marks all of the node's PENDING commands DELIVERED. */
int store_command_deliver_backlog(struct store *s, const char *node_id,
                                  const char *now, struct err *e);
/* Supersedes the node's open FORCE_UPDATE commands. */
int store_command_supersede(struct store *s, const char *node_id,
                            const char *by_id, const char *now, struct err *e);
/* A node is decommissioned: its commands not yet acknowledged become
 * CANCELLED, and those acknowledged (which it can no longer finish)
 * TIMED_OUT. */
int store_command_cancel_node(struct store *s, const char *node_id,
                              const char *now, struct err *e);
/* Expires unacknowledged commands past expiresAt; times out acknowledged
 * ones acknowledged before ack_before. Answers how many moved, or -1. */
int store_command_sweep(struct store *s, const char *now,
                        const char *ack_before, struct err *e);

/* [{status, n}] over all commands, and {"n"} of active nodes. */
json_t *store_command_counts(struct store *s, struct err *e);
json_t *store_node_count(struct store *s, struct err *e);

/* --- several instances on one database ----------------------------------
 * PostgreSQL only; on SQLite (one mcd per database) the notify is a no-op
 * and there is no listener. */
bool store_is_shared(const struct store *s);
/* Sends payload to every instance's listener when the transaction commits
 * (at once outside one). */
int store_notify(struct store *s, const char *payload, struct err *e);

struct store_listener;
/* Connects a listener of its own to the database at url. */
struct store_listener *store_listener_new(const char *url, struct err *e);
int store_listener_fd(const struct store_listener *l);
/* Reads what arrived and calls fn for each payload; -1 when the connection
 * is lost (free it and make a new one). Never blocks. */
int store_listener_read(struct store_listener *l,
                        void (*fn)(const char *payload, void *arg), void *arg);
void store_listener_free(struct store_listener *l);

/* Records that instance id is alive. */
int store_instance_beat(struct store *s, const char *id, const char *now,
                        struct err *e);
/* Marks offline the nodes held by instances not seen since alive_after, and
 * forgets instances not seen since forget_before. */
int store_instance_reap(struct store *s, const char *alive_after,
                        const char *forget_before, struct err *e);
/* PENDING commands with from <= seq <= to, oldest first, as {seq, id,
 * serverNodeId, payload, signature}. */
json_t *store_command_range(struct store *s, int64_t from, int64_t to,
                            struct err *e);

/* The highest seq of any command (0 when none), or -1. */
int64_t store_command_max_seq(struct store *s, struct err *e);

/* --- idempotency keys --------------------------------------------------- */
/* The stored {route, requestHash, status, response, createdAt} or NULL. */
json_t *store_idem_get(struct store *s, const char *user_id, const char *key,
                       struct err *e);
/* Keeps an answer (response: its JSON text) for replays of the key. */
int store_idem_put(struct store *s, const char *user_id, const char *key,
                   const char *route, const char *hash, int status,
                   const char *response, const char *now, struct err *e);
int store_idem_delete(struct store *s, const char *user_id, const char *key,
                      struct err *e);

/* --- audit -------------------------------------------------------------- */
int store_audit_insert(struct store *s, const char *id, const char *org_id,
                       const char *user_id, const char *action,
                       const char *target_type, const char *target_id,
                       json_t *details, const char *now, struct err *e);
/* The same with details already as JSON text. */
int store_audit_insert_text(struct store *s, const char *id, const char *org_id,
                            const char *user_id, const char *action,
                            const char *target_type, const char *target_id,
                            const char *details, const char *now,
                            struct err *e);
/* Newest first; org_id NULL means every organization. */
json_t *store_audit_list(struct store *s, const char *org_id,
                         const char *before, int limit, struct err *e);

#endif
