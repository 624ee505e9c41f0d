/* The audit log. */
#include <stdlib.h>

#include "store/db.h"
#include "store/store.h"

int store_audit_insert_text(struct store *s, const char *id, const char *org_id,
                            const char *user_id, const char *action,
                            const char *target_type, const char *target_id,
                            const char *details, const char *now, struct err *e)
{
    return db_run(s,
                  "INSERT INTO audit_entries (id, organization_id,"
                  " admin_user_id, action, target_type, target_id, details,"
                  " created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                  DB_ARGS(DB_STR(id), DB_STR(org_id), DB_STR(user_id),
                          DB_STR(action), DB_STR(target_type),
                          DB_STR(target_id), DB_STR(details), DB_STR(now)),
                  e);
}

int store_audit_insert(struct store *s, const char *id, const char *org_id,
                       const char *user_id, const char *action,
                       const char *target_type, const char *target_id,
                       json_t *details, const char *now, struct err *e)
{
    char *text = details ? json_dumps(details, JSON_COMPACT) : NULL;
    int rc =
        store_audit_insert_text(s, id, org_id, user_id, action, target_type,
                                target_id, text ? text : "{}", now, e);

    free(text);
    return rc;
}

static void nest_actor(json_t *entry)
{
    json_t *actor = json_null();

    if (json_is_string(json_object_get(entry, "adminUserId")))
        actor = json_pack("{s:O, s:O, s:O}", "id",
                          json_object_get(entry, "adminUserId"), "name",
                          json_object_get(entry, "actorName"), "email",
                          json_object_get(entry, "actorEmail"));
    json_object_set_new(entry, "actor", actor);
    json_object_del(entry, "actorName");
    json_object_del(entry, "actorEmail");
}

json_t *store_audit_list(struct store *s, const char *org_id,
                         const char *before, int limit, struct err *e)
{
    json_t *rows =
        db_all(s,
               "SELECT a.id, a.organization_id AS \"organizationId\","
               " a.admin_user_id AS \"adminUserId\", u.name AS \"actorName\","
               " u.email AS \"actorEmail\", a.action, a.target_type AS"
               " \"targetType\", a.target_id AS \"targetId\", a.details,"
               " a.created_at AS \"createdAt\""
               " FROM audit_entries a LEFT JOIN admin_users u"
               " ON u.id = a.admin_user_id"
               " WHERE (CAST($1 AS TEXT) IS NULL OR a.organization_id = $1)"
               " AND (CAST($2 AS TEXT) IS NULL OR a.id < $2)"
               " ORDER BY a.id DESC LIMIT $3",
               DB_ARGS(DB_STR(org_id), DB_STR(before), DB_I64(limit)), e);
    size_t i;
    json_t *entry;

    json_array_foreach(rows, i, entry) nest_actor(entry);
    return rows;
}
