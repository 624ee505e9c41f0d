/* Locations, server nodes and fleet commands. */
#include <stdlib.h>
#include <string.h>

#include "store/db.h"
#include "store/store.h"

#define NODE_COLUMNS                                                           \
    "n.id, n.location_id AS \"locationId\", n.name, n.status,"                 \
    " n.current_version AS \"currentVersion\", n.target_version AS"            \
    " \"targetVersion\", n.schema_version AS \"schemaVersion\", n.online,"     \
    " n.last_seen_at AS \"lastSeenAt\", n.created_at AS \"createdAt\","        \
    " n.decommissioned_at AS \"decommissionedAt\""

#define LOCATION_SELECT                                                        \
    "SELECT l.id, l.organization_id AS \"organizationId\", l.name,"            \
    " l.timezone, l.created_at AS \"createdAt\", n.id AS \"n_id\","            \
    " n.location_id AS \"n_locationId\", n.name AS \"n_name\","                \
    " n.status AS \"n_status\", n.current_version AS \"n_currentVersion\","    \
    " n.target_version AS \"n_targetVersion\", n.schema_version AS"            \
    " \"n_schemaVersion\", n.online AS \"n_online\", n.last_seen_at AS"        \
    " \"n_lastSeenAt\", n.created_at AS \"n_createdAt\","                      \
    " n.decommissioned_at AS \"n_decommissionedAt\""                           \
    " FROM locations l LEFT JOIN server_nodes n ON n.location_id = l.id"       \
    " AND n.status = 'ACTIVE' "

#define COMMAND_SELECT                                                         \
    "SELECT c.id, c.seq, c.type, c.server_node_id AS \"serverNodeId\","        \
    " n.location_id AS \"locationId\", c.release_id AS \"releaseId\","         \
    " r.version, c.status, c.message, c.created_by_id AS \"createdById\","     \
    " c.created_at AS \"createdAt\", c.expires_at AS \"expiresAt\","           \
    " c.delivered_at AS \"deliveredAt\", c.acknowledged_at AS"                 \
    " \"acknowledgedAt\", c.started_at AS \"startedAt\", c.finished_at AS"     \
    " \"finishedAt\", c.updated_at AS \"updatedAt\""                           \
    " FROM fleet_commands c JOIN server_nodes n ON n.id = c.server_node_id"    \
    " JOIN locations l ON l.id = n.location_id"                                \
    " LEFT JOIN releases r ON r.id = c.release_id "

/* Folds the n_* columns of a location row into its "serverNode". */
static json_t *nest_node(json_t *row)
{
    json_t *node = json_object();
    const char *key;
    json_t *v;
    void *tmp;

    json_object_foreach_safe(row, tmp, key, v)
    {
        if (strncmp(key, "n_", 2) != 0)
            continue;
        json_object_set(node, key + 2, v);
        json_object_del(row, key);
    }
    if (json_is_null(json_object_get(node, "id"))) {
        json_decref(node);
        node = json_null();
    }
    json_object_set_new(row, "serverNode", node);
    return row;
}

int store_location_insert(struct store *s, const char *id, const char *org_id,
                          const char *name, const char *timezone,
                          const char *now, struct err *e)
{
    return db_run(s,
                  "INSERT INTO locations (id, organization_id, name, timezone,"
                  " created_at) VALUES ($1, $2, $3, $4, $5)",
                  DB_ARGS(DB_STR(id), DB_STR(org_id), DB_STR(name),
                          DB_STR(timezone), DB_STR(now)),
                  e);
}

json_t *store_location_get(struct store *s, const char *id, const char *org_id,
                           struct err *e)
{
    json_t *row = db_one(s,
                         LOCATION_SELECT "WHERE l.id = $1"
                                         " AND (CAST($2 AS TEXT) IS NULL OR"
                                         " l.organization_id = $2)",
                         DB_ARGS(DB_STR(id), DB_STR(org_id)), e);

    return row ? nest_node(row) : NULL;
}

json_t *store_location_list(struct store *s, const char *org_id,
                            const char *before, int limit, struct err *e)
{
    json_t *rows =
        db_all(s,
               LOCATION_SELECT
               "WHERE (CAST($1 AS TEXT) IS NULL OR l.organization_id = $1)"
               " AND (CAST($2 AS TEXT) IS NULL OR l.id < $2)"
               " ORDER BY l.id DESC LIMIT $3",
               DB_ARGS(DB_STR(org_id), DB_STR(before), DB_I64(limit)), e);
    size_t i;
    json_t *row;

    json_array_foreach(rows, i, row) nest_node(row);
    return rows;
}

int store_node_insert(struct store *s, const char *id, const char *location_id,
                      const char *name, const char *token_hash, const char *now,
                      struct err *e)
{
    return db_run(s,
                  "INSERT INTO server_nodes (id, location_id, name, status,"
                  " token_hash, created_at) VALUES ($1, $2, $3, 'ACTIVE', $4,"
                  " $5)",
                  DB_ARGS(DB_STR(id), DB_STR(location_id), DB_STR(name),
                          DB_STR(token_hash), DB_STR(now)),
                  e);
}

json_t *store_node_get(struct store *s, const char *id, const char *org_id,
                       struct err *e)
{
    return db_one(s,
                  "SELECT " NODE_COLUMNS ", l.organization_id AS"
                  " \"organizationId\" FROM server_nodes n"
                  " JOIN locations l ON l.id = n.location_id"
                  " WHERE n.id = $1 AND (CAST($2 AS TEXT) IS NULL OR "
                  "l.organization_id = $2)",
                  DB_ARGS(DB_STR(id), DB_STR(org_id)), e);
}

json_t *store_node_by_token(struct store *s, const char *token_hash,
                            struct err *e)
{
    return db_one(s,
                  "SELECT id FROM server_nodes"
                  " WHERE token_hash = $1 AND status = 'ACTIVE'",
                  DB_ARGS(DB_STR(token_hash)), e);
}

int store_node_decommission(struct store *s, const char *id, const char *now,
                            struct err *e)
{
    return db_run(s,
                  "UPDATE server_nodes SET status = 'DECOMMISSIONED',"
                  " online = FALSE, decommissioned_at = $2 WHERE id = $1",
                  DB_ARGS(DB_STR(id), DB_STR(now)), e);
}

int store_node_seen(struct store *s, const char *id, const char *version,
                    int64_t schema, const char *now, struct err *e)
{
    return db_run(s,
                  "UPDATE server_nodes SET last_seen_at = $2,"
                  " current_version = COALESCE($3, current_version),"
                  " schema_version = COALESCE($4, schema_version)"
                  " WHERE id = $1",
                  DB_ARGS(DB_STR(id), DB_STR(now), DB_STR(version),
                          schema >= 0 ? DB_I64(schema) : DB_NUL),
                  e);
}

int store_node_online(struct store *s, const char *id, bool online,
                      const char *instance, const char *now, struct err *e)
{
    if (online)
        return db_run(s,
                      "UPDATE server_nodes SET online = TRUE,"
                      " online_instance = $2, last_seen_at = $3,"
                      " online_since = $3 WHERE id = $1 AND"
                      " (online_since IS NULL OR online_since <= $3)",
                      DB_ARGS(DB_STR(id), DB_STR(instance), DB_STR(now)), e);
    return db_run(s,
                  "UPDATE server_nodes SET online = FALSE,"
                  " online_instance = NULL, last_seen_at = $3"
                  " WHERE id = $1 AND online_instance = $2",
                  DB_ARGS(DB_STR(id), DB_STR(instance), DB_STR(now)), e);
}

int store_nodes_all_offline(struct store *s, struct err *e)
{
    return db_run(s,
                  "UPDATE server_nodes SET online = FALSE,"
                  " online_instance = NULL WHERE online = TRUE",
                  NULL, 0, e);
}

int store_node_set_current(struct store *s, const char *id, const char *version,
                           struct err *e)
{
    return db_run(s,
                  "UPDATE server_nodes SET current_version = $2 WHERE id = $1",
                  DB_ARGS(DB_STR(id), DB_STR(version)), e);
}

int store_node_set_target(struct store *s, const char *id, const char *version,
                          struct err *e)
{
    return db_run(s,
                  "UPDATE server_nodes SET target_version = $2 WHERE id = $1",
                  DB_ARGS(DB_STR(id), DB_STR(version)), e);
}

#define COMMAND_INSERT                                                         \
    "INSERT INTO fleet_commands (id, server_node_id, type, release_id,"        \
    " payload, signature, status, created_by_id, created_at,"                  \
    " expires_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6,"                 \
    " 'PENDING', $7, $8, $9, $8)"

int64_t store_command_insert(struct store *s, const struct store_command *c,
                             struct err *e)
{
    const struct db_param p[] = {
        DB_STR(c->id),         DB_STR(c->node_id),    DB_STR(c->type),
        DB_STR(c->release_id), DB_STR(c->payload),    DB_STR(c->signature),
        DB_STR(c->created_by), DB_STR(c->created_at), DB_STR(c->expires_at),
    };
    int n = (int)(sizeof(p) / sizeof(p[0]));
    json_t *row;
    int64_t seq;

    if (s->backend->last_id)
        return db_run(s, COMMAND_INSERT, p, n, e) ? -1 : s->backend->last_id(s);
    row = db_one(s, COMMAND_INSERT " RETURNING seq", p, n, e);
    seq = row ? json_integer_value(json_object_get(row, "seq")) : -1;
    json_decref(row);
    return seq;
}

#define TARGET_COLUMNS                                                         \
    "SELECT l.id AS \"locationId\", l.organization_id AS"                      \
    " \"organizationId\", n.id AS \"nodeId\", n.schema_version AS"             \
    " \"schemaVersion\", CASE WHEN EXISTS (SELECT 1 FROM fleet_commands c"     \
    " WHERE c.server_node_id = n.id AND c.status IN ('PENDING', 'DELIVERED')"  \
    " AND c.type = 'FORCE_UPDATE') THEN 1 ELSE 0 END AS \"openCommands\""      \
    " FROM locations l LEFT JOIN server_nodes n"                               \
    " ON n.location_id = l.id AND n.status = 'ACTIVE' "

/* The one place the engines need different SQL: unpacking a JSON array. */
static const char targets_sqlite[] =
    TARGET_COLUMNS "WHERE l.id IN (SELECT value FROM json_each($1))"
                   " AND (CAST($2 AS TEXT) IS NULL OR l.organization_id = $2)";
static const char targets_postgres[] =
    TARGET_COLUMNS "WHERE l.id IN (SELECT json_array_elements_text("
                   "CAST($1 AS json)))"
                   " AND (CAST($2 AS TEXT) IS NULL OR l.organization_id = $2)";

json_t *store_deploy_targets(struct store *s, const char *ids_json,
                             const char *org_id, struct err *e)
{
    return db_all(
        s, s->backend == &db_postgres ? targets_postgres : targets_sqlite,
        DB_ARGS(DB_STR(ids_json), DB_STR(org_id)), e);
}

json_t *store_command_get(struct store *s, const char *id, const char *org_id,
                          struct err *e)
{
    return db_one(s,
                  COMMAND_SELECT
                  "WHERE c.id = $1 AND (CAST($2 AS TEXT) IS NULL OR"
                  " l.organization_id = $2)",
                  DB_ARGS(DB_STR(id), DB_STR(org_id)), e);
}

json_t *store_command_for_node(struct store *s, const char *id,
                               const char *node_id, struct err *e)
{
    return db_one(s,
                  "SELECT c.id, c.seq, c.status, c.release_id AS"
                  " \"releaseId\", r.version FROM fleet_commands c"
                  " LEFT JOIN releases r ON r.id = c.release_id"
                  " WHERE c.id = $1 AND c.server_node_id = $2",
                  DB_ARGS(DB_STR(id), DB_STR(node_id)), e);
}

json_t *store_command_backlog(struct store *s, const char *node_id,
                              struct err *e)
{
    return db_all(s,
                  "SELECT seq, payload, signature FROM fleet_commands"
                  " WHERE server_node_id = $1 AND status IN ('PENDING',"
                  " 'DELIVERED') ORDER BY seq",
                  DB_ARGS(DB_STR(node_id)), e);
}

int store_command_move(struct store *s, const char *id, const char *from,
                       const char *to, const char *message, const char *now,
                       struct err *e)
{
    if (db_run(s,
               "UPDATE fleet_commands SET status = $3, updated_at = $5,"
               " message = COALESCE($4, message),"
               " acknowledged_at = CASE WHEN $3 = 'ACKNOWLEDGED' THEN $5"
               "  ELSE acknowledged_at END,"
               " started_at = CASE WHEN $3 = 'IN_PROGRESS' THEN $5"
               "  ELSE started_at END,"
               " finished_at = CASE WHEN $3 IN ('SUCCEEDED', 'FAILED',"
               "  'TIMED_OUT', 'SUPERSEDED', 'CANCELLED', 'EXPIRED') THEN $5"
               "  ELSE finished_at END"
               " WHERE id = $1 AND status = $2",
               DB_ARGS(DB_STR(id), DB_STR(from), DB_STR(to), DB_STR(message),
                       DB_STR(now)),
               e))
        return e->status;
    if (s->backend->changes(s) == 0)
        return err_set(e, ERR_CONFLICT, "INVALID_TRANSITION",
                       "command is no longer %s", from);
    return 0;
}

int store_command_delivered(struct store *s, const char *id, const char *now,
                            struct err *e)
{
    return db_run(s,
                  "UPDATE fleet_commands SET status = 'DELIVERED',"
                  " delivered_at = $2, updated_at = $2"
                  " WHERE id = $1 AND status = 'PENDING'",
                  DB_ARGS(DB_STR(id), DB_STR(now)), e);
}

int store_command_deliver_backlog(struct store *s, const char *node_id,
                                  const char *now, struct err *e)
{
    return db_run(s,
                  "UPDATE fleet_commands SET status = 'DELIVERED',"
                  " delivered_at = $2, updated_at = $2"
                  " WHERE server_node_id = $1 AND status = 'PENDING'",
                  DB_ARGS(DB_STR(node_id), DB_STR(now)), e);
}

int store_command_supersede(struct store *s, const char *node_id,
                            const char *by_id, const char *now, struct err *e)
{
    return db_run(s,
                  "UPDATE fleet_commands SET status = 'SUPERSEDED',"
                  " finished_at = $3, updated_at = $3,"
                  " message = 'superseded by ' || $2"
                  " WHERE server_node_id = $1 AND type = 'FORCE_UPDATE'"
                  " AND status IN ('PENDING', 'DELIVERED')",
                  DB_ARGS(DB_STR(node_id), DB_STR(by_id), DB_STR(now)), e);
}

int store_command_cancel_node(struct store *s, const char *node_id,
                              const char *now, struct err *e)
{
    return db_run(s,
                  "UPDATE fleet_commands SET finished_at = $2,"
                  " updated_at = $2, message = 'node decommissioned',"
                  " status = CASE WHEN status IN ('PENDING', 'DELIVERED')"
                  "  THEN 'CANCELLED' ELSE 'TIMED_OUT' END"
                  " WHERE server_node_id = $1 AND status IN ('PENDING',"
                  " 'DELIVERED', 'ACKNOWLEDGED', 'IN_PROGRESS')",
                  DB_ARGS(DB_STR(node_id), DB_STR(now)), e);
}

int store_command_sweep(struct store *s, const char *now,
                        const char *ack_before, struct err *e)
{
    json_t *expired = db_all(
        s,
        "UPDATE fleet_commands SET status = 'EXPIRED', finished_at = $1,"
        " updated_at = $1, message = 'not acknowledged before it expired'"
        " WHERE status IN ('PENDING', 'DELIVERED') AND expires_at <= $1"
        " RETURNING id",
        DB_ARGS(DB_STR(now)), e);
    json_t *timed_out =
        expired ? db_all(s,
                         "UPDATE fleet_commands SET status = 'TIMED_OUT', "
                         "finished_at = $1,"
                         " updated_at = $1, message = 'no final report in time'"
                         " WHERE status IN ('ACKNOWLEDGED', 'IN_PROGRESS')"
                         " AND acknowledged_at <= $2 RETURNING id",
                         DB_ARGS(DB_STR(now), DB_STR(ack_before)), e)
                : NULL;
    int n = timed_out
                ? (int)(json_array_size(expired) + json_array_size(timed_out))
                : -1;

    json_decref(expired);
    json_decref(timed_out);
    return n;
}

bool store_is_shared(const struct store *s)
{
    return s->backend == &db_postgres;
}

int store_notify(struct store *s, const char *payload, struct err *e)
{
    json_t *row;

    if (!store_is_shared(s))
        return 0;
    row = db_one(s, "SELECT pg_notify('mc_events', $1) AS sent",
                 DB_ARGS(DB_STR(payload)), e);
    json_decref(row);
    return row ? 0 : (int)e->status;
}

int store_instance_beat(struct store *s, const char *id, const char *now,
                        struct err *e)
{
    return db_run(s,
                  "INSERT INTO instances (id, started_at, heartbeat_at)"
                  " VALUES ($1, $2, $2) ON CONFLICT (id) DO UPDATE"
                  " SET heartbeat_at = $2",
                  DB_ARGS(DB_STR(id), DB_STR(now)), e);
}

int store_instance_reap(struct store *s, const char *alive_after,
                        const char *forget_before, struct err *e)
{
    if (db_run(s,
               "UPDATE server_nodes SET online = FALSE, online_instance = NULL"
               " WHERE online = TRUE AND (online_instance IS NULL OR"
               " online_instance NOT IN (SELECT id FROM instances"
               " WHERE heartbeat_at > $1))",
               DB_ARGS(DB_STR(alive_after)), e))
        return e->status;
    return db_run(s, "DELETE FROM instances WHERE heartbeat_at < $1",
                  DB_ARGS(DB_STR(forget_before)), e);
}

json_t *store_command_range(struct store *s, int64_t from, int64_t to,
                            struct err *e)
{
    return db_all(s,
                  "SELECT seq, id, server_node_id AS \"serverNodeId\","
                  " payload, signature FROM fleet_commands"
                  " WHERE seq >= $1 AND seq <= $2 AND status = 'PENDING'"
                  " ORDER BY seq",
                  DB_ARGS(DB_I64(from), DB_I64(to)), e);
}

int64_t store_command_max_seq(struct store *s, struct err *e)
{
    json_t *row = db_one(s,
                         "SELECT COALESCE(MAX(seq), 0) AS seq"
                         " FROM fleet_commands",
                         NULL, 0, e);
    int64_t seq = row ? json_integer_value(json_object_get(row, "seq")) : -1;

    json_decref(row);
    return seq;
}

json_t *store_command_counts(struct store *s, struct err *e)
{
    return db_all(s,
                  "SELECT status, COUNT(*) AS n FROM fleet_commands"
                  " GROUP BY status ORDER BY status",
                  NULL, 0, e);
}

json_t *store_node_count(struct store *s, struct err *e)
{
    return db_one(s,
                  "SELECT COUNT(*) AS n FROM server_nodes"
                  " WHERE status = 'ACTIVE'",
                  NULL, 0, e);
}

json_t *store_idem_get(struct store *s, const char *user_id, const char *key,
                       struct err *e)
{
    return db_one(s,
                  "SELECT route, request_hash AS \"requestHash\", status,"
                  " response, created_at AS \"createdAt\""
                  " FROM idempotency_keys WHERE user_id = $1 AND key = $2",
                  DB_ARGS(DB_STR(user_id), DB_STR(key)), e);
}

int store_idem_put(struct store *s, const char *user_id, const char *key,
                   const char *route, const char *hash, int status,
                   const char *response, const char *now, struct err *e)
{
    return db_run(s,
                  "INSERT INTO idempotency_keys (user_id, key, route,"
                  " request_hash, status, response, created_at)"
                  " VALUES ($1, $2, $3, $4, $5, $6, $7)",
                  DB_ARGS(DB_STR(user_id), DB_STR(key), DB_STR(route),
                          DB_STR(hash), DB_I64(status), DB_STR(response),
                          DB_STR(now)),
                  e);
}

int store_idem_delete(struct store *s, const char *user_id, const char *key,
                      struct err *e)
{
    return db_run(s,
                  "DELETE FROM idempotency_keys WHERE user_id = $1"
                  " AND key = $2",
                  DB_ARGS(DB_STR(user_id), DB_STR(key)), e);
}
