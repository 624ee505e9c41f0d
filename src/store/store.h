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
/* The release's newest FORCE_UPDATE commands, limited to org_id's
 * locations when it is not NULL. */
json_t *store_release_deployments(struct store *s, const char *release_id,
                                  const char *org_id, int limit, struct err *e);

/* --- audit -------------------------------------------------------------- */
int store_audit_insert(struct store *s, const char *id, const char *org_id,
                       const char *user_id, const char *action,
                       const char *target_type, const char *target_id,
                       json_t *details, const char *now, struct err *e);
/* Newest first; org_id NULL means every organization. */
json_t *store_audit_list(struct store *s, const char *org_id,
                         const char *before, int limit, struct err *e);

#endif
