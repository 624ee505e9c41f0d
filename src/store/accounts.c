/* Organizations, admin users, API tokens and sessions. */
#include <string.h>

#include "store/db.h"
#include "store/store.h"

#define USER_COLUMNS                                                           \
    "u.id, u.organization_id AS \"organizationId\", u.email, u.name,"          \
    " u.role, u.created_at AS \"createdAt\""

#define TOKEN_COLUMNS                                                          \
    "id, name, created_at AS \"createdAt\", last_used_at AS \"lastUsedAt\","   \
    " revoked_at AS \"revokedAt\""

bool store_is_empty(struct store *s)
{
    json_t *row =
        db_one(s, "SELECT COUNT(*) AS n FROM organizations", NULL, 0, NULL);
    bool empty = row && json_integer_value(json_object_get(row, "n")) == 0;

    json_decref(row);
    return empty;
}

int store_org_insert(struct store *s, const char *id, const char *external_id,
                     const char *name, const char *now, struct err *e)
{
    return db_run(
        s,
        "INSERT INTO organizations (id, external_id, name,"
        " created_at) VALUES ($1, $2, $3, $4)",
        DB_ARGS(DB_STR(id), DB_STR(external_id), DB_STR(name), DB_STR(now)), e);
}

json_t *store_org_find(struct store *s, const char *id_or_external,
                       struct err *e)
{
    return db_one(s,
                  "SELECT id, external_id AS \"externalId\", name,"
                  " created_at AS \"createdAt\" FROM organizations"
                  " WHERE id = $1 OR external_id = $1"
                  " ORDER BY (id = $1) DESC LIMIT 1",
                  DB_ARGS(DB_STR(id_or_external)), e);
}

json_t *store_org_list(struct store *s, const char *org_id, struct err *e)
{
    return db_all(s,
                  "SELECT id, external_id AS \"externalId\", name,"
                  " created_at AS \"createdAt\" FROM organizations"
                  " WHERE CAST($1 AS TEXT) IS NULL OR id = $1"
                  " ORDER BY id DESC",
                  DB_ARGS(DB_STR(org_id)), e);
}

int store_user_insert(struct store *s, const char *id, const char *org_id,
                      const char *email, const char *name, const char *role,
                      const char *password_hash, const char *now, struct err *e)
{
    return db_run(s,
                  "INSERT INTO admin_users (id, organization_id, email, name,"
                  " role, password_hash, created_at, updated_at)"
                  " VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
                  DB_ARGS(DB_STR(id), DB_STR(org_id), DB_STR(email),
                          DB_STR(name), DB_STR(role), DB_STR(password_hash),
                          DB_STR(now)),
                  e);
}

json_t *store_user_by_email(struct store *s, const char *email, struct err *e)
{
    return db_one(s,
                  "SELECT " USER_COLUMNS ", u.password_hash AS"
                  " \"passwordHash\" FROM admin_users u"
                  " WHERE u.email = $1",
                  DB_ARGS(DB_STR(email)), e);
}

json_t *store_user_get(struct store *s, const char *id, struct err *e)
{
    return db_one(s,
                  "SELECT " USER_COLUMNS " FROM admin_users u WHERE u.id = $1",
                  DB_ARGS(DB_STR(id)), e);
}

int store_token_insert(struct store *s, const char *id, const char *user_id,
                       const char *name, const char *hash, const char *now,
                       struct err *e)
{
    return db_run(s,
                  "INSERT INTO api_tokens (id, user_id, name, token_hash,"
                  " created_at) VALUES ($1, $2, $3, $4, $5)",
                  DB_ARGS(DB_STR(id), DB_STR(user_id), DB_STR(name),
                          DB_STR(hash), DB_STR(now)),
                  e);
}

json_t *store_token_auth(struct store *s, const char *hash, const char *now,
                         const char *stale_before, struct err *e)
{
    json_t *user = db_one(s,
                          "SELECT " USER_COLUMNS ", t.id AS \"tokenId\","
                          " t.last_used_at AS \"lastUsedAt\""
                          " FROM api_tokens t JOIN admin_users u"
                          " ON u.id = t.user_id"
                          " WHERE t.token_hash = $1 AND t.revoked_at IS NULL",
                          DB_ARGS(DB_STR(hash)), e);
    const char *last;

    if (!user)
        return NULL;
    last = json_string_value(json_object_get(user, "lastUsedAt"));
    if (!last || strcmp(last, stale_before) < 0)
        db_run(
            s, "UPDATE api_tokens SET last_used_at = $2 WHERE id = $1",
            DB_ARGS(DB_STR(json_string_value(json_object_get(user, "tokenId"))),
                    DB_STR(now)),
            NULL);
    json_object_del(user, "lastUsedAt");
    return user;
}

json_t *store_token_list(struct store *s, const char *user_id, struct err *e)
{
    return db_all(s,
                  "SELECT " TOKEN_COLUMNS " FROM api_tokens"
                  " WHERE user_id = $1 ORDER BY id DESC",
                  DB_ARGS(DB_STR(user_id)), e);
}

json_t *store_token_revoke(struct store *s, const char *id, const char *user_id,
                           const char *now, struct err *e)
{
    if (db_run(s,
               "UPDATE api_tokens SET revoked_at = $3 WHERE id = $1"
               " AND user_id = $2 AND revoked_at IS NULL",
               DB_ARGS(DB_STR(id), DB_STR(user_id), DB_STR(now)), e))
        return NULL;
    return db_one(s,
                  "SELECT " TOKEN_COLUMNS " FROM api_tokens"
                  " WHERE id = $1 AND user_id = $2",
                  DB_ARGS(DB_STR(id), DB_STR(user_id)), e);
}

int store_session_insert(struct store *s, const char *id, const char *user_id,
                         const char *hash, const char *csrf, const char *now,
                         const char *expires, struct err *e)
{
    /* Expired sessions are swept here: logins are rare and cheap. */
    if (db_run(s, "DELETE FROM sessions WHERE expires_at < $1",
               DB_ARGS(DB_STR(now)), e))
        return e->status;
    return db_run(s,
                  "INSERT INTO sessions (id, user_id, token_hash,"
                  " csrf_token, created_at, expires_at)"
                  " VALUES ($1, $2, $3, $4, $5, $6)",
                  DB_ARGS(DB_STR(id), DB_STR(user_id), DB_STR(hash),
                          DB_STR(csrf), DB_STR(now), DB_STR(expires)),
                  e);
}

json_t *store_session_auth(struct store *s, const char *hash, const char *now,
                           struct err *e)
{
    return db_one(s,
                  "SELECT " USER_COLUMNS ", x.csrf_token AS \"csrfToken\""
                  " FROM sessions x JOIN admin_users u ON u.id = x.user_id"
                  " WHERE x.token_hash = $1 AND x.expires_at > $2",
                  DB_ARGS(DB_STR(hash), DB_STR(now)), e);
}

int store_session_delete(struct store *s, const char *hash, struct err *e)
{
    return db_run(s, "DELETE FROM sessions WHERE token_hash = $1",
                  DB_ARGS(DB_STR(hash)), e);
}
