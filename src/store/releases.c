/* The release catalogue. */
#include <string.h>

#include "store/db.h"
#include "store/store.h"

#define RELEASE_SELECT                                                         \
    "SELECT r.id, r.version, r.channel, r.image_tag AS \"imageTag\","          \
    " r.image_digest AS \"imageDigest\", r.release_notes AS"                   \
    " \"releaseNotes\", r.min_schema_version AS \"minSchemaVersion\","         \
    " r.rollback_version AS \"rollbackVersion\", r.is_latest AS"               \
    " \"isLatest\", r.is_archived AS \"isArchived\", r.created_by_id AS"       \
    " \"createdById\", u.name AS \"creatorName\", u.email AS"                  \
    " \"creatorEmail\", (SELECT COALESCE(SUM(k.n), 0)"                         \
    " FROM release_deploy_counts k WHERE k.release_id = r.id"                  \
    " AND (CAST($1 AS TEXT) IS NULL OR k.organization_id = $1)) AS"            \
    " \"deployCount\", r.created_at AS \"createdAt\", r.updated_at AS"         \
    " \"updatedAt\", r.archived_at AS \"archivedAt\""                          \
    " FROM releases r JOIN admin_users u ON u.id = r.created_by_id "

static json_t *shape(json_t *r)
{
    json_object_set_new(r, "createdBy",
                        json_pack("{s:O, s:O, s:O}", "id",
                                  json_object_get(r, "createdById"), "name",
                                  json_object_get(r, "creatorName"), "email",
                                  json_object_get(r, "creatorEmail")));
    json_object_del(r, "creatorName");
    json_object_del(r, "creatorEmail");
    return r;
}

static const char *str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

int store_release_insert(struct store *s, json_t *r, struct err *e)
{
    json_t *min = json_object_get(r, "minSchemaVersion");

    return db_run(
        s,
        "INSERT INTO releases (id, version, version_key, channel, image_tag,"
        " image_digest, release_notes, min_schema_version, rollback_version,"
        " created_by_id, created_at, updated_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
        DB_ARGS(DB_STR(str(r, "id")), DB_STR(str(r, "version")),
                DB_STR(str(r, "versionKey")), DB_STR(str(r, "channel")),
                DB_STR(str(r, "imageTag")), DB_STR(str(r, "imageDigest")),
                DB_STR(str(r, "releaseNotes")),
                json_is_integer(min) ? DB_I64(json_integer_value(min)) : DB_NUL,
                DB_STR(str(r, "rollbackVersion")),
                DB_STR(str(r, "createdById")), DB_STR(str(r, "createdAt"))),
        e);
}

json_t *store_release_get(struct store *s, const char *id, const char *org_id,
                          struct err *e)
{
    json_t *r = db_one(s, RELEASE_SELECT "WHERE r.id = $2",
                       DB_ARGS(DB_STR(org_id), DB_STR(id)), e);

    return r ? shape(r) : NULL;
}

json_t *store_release_by_key(struct store *s, const char *version_key,
                             const char *org_id, struct err *e)
{
    json_t *r = db_one(s, RELEASE_SELECT "WHERE r.version_key = $2",
                       DB_ARGS(DB_STR(org_id), DB_STR(version_key)), e);

    return r ? shape(r) : NULL;
}

json_t *store_release_list(struct store *s, const char *org_id,
                           const char *channel, bool include_archived,
                           const char *before, int limit, struct err *e)
{
    json_t *rows = db_all(
        s,
        RELEASE_SELECT "WHERE (CAST($2 AS TEXT) IS NULL OR r.channel = $2)"
                       " AND ($3 = TRUE OR r.is_archived = FALSE)"
                       " AND (CAST($4 AS TEXT) IS NULL OR r.id < $4)"
                       " ORDER BY r.id DESC LIMIT $5",
        DB_ARGS(DB_STR(org_id), DB_STR(channel), DB_I64(include_archived),
                DB_STR(before), DB_I64(limit)),
        e);
    size_t i;
    json_t *r;

    json_array_foreach(rows, i, r) shape(r);
    return rows;
}

json_t *store_release_channel(struct store *s, const char *channel,
                              struct err *e)
{
    return db_all(s,
                  "SELECT id, version FROM releases"
                  " WHERE channel = $1 AND is_archived = FALSE",
                  DB_ARGS(DB_STR(channel)), e);
}

int store_release_set_latest(struct store *s, const char *channel,
                             const char *id, const char *now, struct err *e)
{
    return db_run(s,
                  "UPDATE releases SET is_latest = COALESCE(id = $2, FALSE),"
                  " updated_at = $3 WHERE channel = $1"
                  " AND (is_latest = TRUE OR id = $2)"
                  " AND is_latest <> COALESCE(id = $2, FALSE)",
                  DB_ARGS(DB_STR(channel), DB_STR(id), DB_STR(now)), e);
}

int store_release_archive(struct store *s, const char *id, const char *now,
                          struct err *e)
{
    return db_run(s,
                  "UPDATE releases SET is_archived = TRUE, is_latest = FALSE,"
                  " archived_at = $2, updated_at = $2 WHERE id = $1",
                  DB_ARGS(DB_STR(id), DB_STR(now)), e);
}

int store_release_count_add(struct store *s, const char *release_id,
                            const char *org_id, int64_t n, struct err *e)
{
    return db_run(s,
                  "INSERT INTO release_deploy_counts (release_id,"
                  " organization_id, n) VALUES ($1, $2, $3)"
                  " ON CONFLICT (release_id, organization_id) DO UPDATE"
                  " SET n = release_deploy_counts.n + excluded.n",
                  DB_ARGS(DB_STR(release_id), DB_STR(org_id), DB_I64(n)), e);
}

json_t *store_release_deployments(struct store *s, const char *release_id,
                                  const char *org_id, int limit, struct err *e)
{
    return db_all(
        s,
        "SELECT c.id, c.seq, c.status, c.server_node_id AS \"serverNodeId\","
        " n.name AS \"serverNodeName\", l.id AS \"locationId\","
        " l.name AS \"locationName\", c.created_by_id AS \"createdById\","
        " u.name AS \"createdByName\", c.created_at AS \"createdAt\","
        " c.delivered_at AS \"deliveredAt\", c.acknowledged_at AS"
        " \"acknowledgedAt\", c.started_at AS \"startedAt\","
        " c.finished_at AS \"finishedAt\", c.updated_at AS \"updatedAt\","
        " c.message FROM fleet_commands c"
        " JOIN server_nodes n ON n.id = c.server_node_id"
        " JOIN locations l ON l.id = n.location_id"
        " LEFT JOIN admin_users u ON u.id = c.created_by_id"
        " WHERE c.release_id = $1 AND c.type = 'FORCE_UPDATE'"
        " AND (CAST($2 AS TEXT) IS NULL OR l.organization_id = $2)"
        " ORDER BY c.seq DESC LIMIT $3",
        DB_ARGS(DB_STR(release_id), DB_STR(org_id), DB_I64(limit)), e);
}
