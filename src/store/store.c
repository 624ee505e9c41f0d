/* Opening a store, its migrations, transactions and the row helpers. */
#include "store/store.h"

#include <stdio.h>
#include <string.h>

#include "lib/log.h"
#include "lib/timeutil.h"
#include "lib/xalloc.h"
#include "store/db.h"

json_t *db_all(struct store *s, const char *sql, const struct db_param *p,
               int n, struct err *e)
{
    json_t *rows = NULL;

    if (s->backend->exec(s, sql, p, n, &rows, e))
        return NULL;
    return rows;
}

json_t *db_one(struct store *s, const char *sql, const struct db_param *p,
               int n, struct err *e)
{
    json_t *rows = db_all(s, sql, p, n, e);
    json_t *row;

    if (!rows)
        return NULL;
    row = json_array_get(rows, 0);
    if (row)
        json_incref(row);
    else
        err_set(e, ERR_NOT_FOUND, "NOT_FOUND", "no such object");
    json_decref(rows);
    return row;
}

int db_run(struct store *s, const char *sql, const struct db_param *p, int n,
           struct err *e)
{
    return s->backend->exec(s, sql, p, n, NULL, e);
}

static const struct db_backend *backend_for(const char *url)
{
    if (strncmp(url, "postgres://", 11) == 0 ||
        strncmp(url, "postgresql://", 13) == 0)
        return &db_postgres;
    return &db_sqlite;
}

static int current_version(struct store *s, struct err *e)
{
    json_t *row = db_one(s,
                         "SELECT COALESCE(MAX(version), 0) AS v"
                         " FROM schema_migrations",
                         NULL, 0, e);
    int v = row ? (int)json_integer_value(json_object_get(row, "v")) : -1;

    json_decref(row);
    return v;
}

static int apply_migration(struct store *s, int version, const char *sql,
                           struct err *e)
{
    char now[TIME_RFC3339_LEN];

    time_format_rfc3339(time_now_ms(), now);
    if (store_begin(s, e))
        return e->status;
    if (s->backend->exec_script(s, sql, e) ||
        db_run(s,
               "INSERT INTO schema_migrations (version, applied_at)"
               " VALUES ($1, $2)",
               DB_ARGS(DB_I64(version), DB_STR(now)), e) ||
        store_commit(s, e)) {
        store_rollback(s);
        return e->status;
    }
    log_info("migration applied", "backend=%s version=%d", s->backend->name,
             version);
    return 0;
}

static int migrate_locked(struct store *s, struct err *e)
{
    int have;

    if (s->backend->exec_script(s,
                                "CREATE TABLE IF NOT EXISTS schema_migrations"
                                " (version INTEGER PRIMARY KEY,"
                                " applied_at TEXT NOT NULL)",
                                e))
        return e->status;
    have = current_version(s, e);
    if (have < 0)
        return e->status;
    for (int i = have; s->backend->migrations[i]; i++)
        if (apply_migration(s, i + 1, s->backend->migrations[i], e))
            return e->status;
    return 0;
}

/* Several instances starting at once on one shared database take turns:
 * the first migrates, the others then find nothing left to do. */
static int migrate(struct store *s, struct err *e)
{
    int rc;

    if (!s->backend->lock_migrations)
        return migrate_locked(s, e);
    if (s->backend->lock_migrations(s, true, e))
        return e->status;
    rc = migrate_locked(s, e);
    if (rc)
        s->backend->lock_migrations(s, false, NULL);
    else
        rc = s->backend->lock_migrations(s, false, e);
    return rc;
}

int store_open(const char *url, struct store **out, struct err *e)
{
    struct store *s = xcalloc(1, sizeof(*s));

    *out = NULL;
    s->backend = backend_for(url);
    if (s->backend->open(s, url, e) || migrate(s, e)) {
        store_free(s);
        return e->status;
    }
    *out = s;
    return 0;
}

void store_free(struct store *s)
{
    if (!s)
        return;
    s->backend->close(s);
    free(s);
}

const char *store_backend(const struct store *s)
{
    return s->backend->name;
}

int store_schema_version(struct store *s)
{
    return current_version(s, NULL);
}

/* Transaction statements are constant strings, so both drivers keep them
 * prepared: a deploy runs one savepoint per location. */
#define SP(n) "SAVEPOINT sp" #n
#define RL(n) "RELEASE sp" #n
#define RB(n) "ROLLBACK TO sp" #n
static const char *const savepoints[] = {SP(1), SP(2), SP(3), SP(4),
                                         SP(5), SP(6), SP(7), SP(8)};
static const char *const releases[] = {RL(1), RL(2), RL(3), RL(4),
                                       RL(5), RL(6), RL(7), RL(8)};
static const char *const rollbacks[] = {RB(1), RB(2), RB(3), RB(4),
                                        RB(5), RB(6), RB(7), RB(8)};
#define MAX_DEPTH ((int)(sizeof(savepoints) / sizeof(savepoints[0])))

static int run(struct store *s, const char *sql, struct err *e)
{
    return s->backend->exec(s, sql, NULL, 0, NULL, e);
}

int store_begin(struct store *s, struct err *e)
{
    int rc;

    if (s->tx_depth > MAX_DEPTH)
        return err_set(e, ERR_INTERNAL, "INTERNAL",
                       "transactions nested too deep");
    if (s->tx_depth == 0 && s->backend->begin)
        rc = s->backend->begin(s, e);
    else if (s->tx_depth == 0)
        rc = run(s, "BEGIN IMMEDIATE", e);
    else
        rc = run(s, savepoints[s->tx_depth - 1], e);
    if (rc)
        return rc;
    s->tx_depth++;
    return 0;
}

int store_commit(struct store *s, struct err *e)
{
    const char *sql = s->tx_depth == 1 ? "COMMIT" : releases[s->tx_depth - 2];

    if (run(s, sql, e))
        return e->status;
    s->tx_depth--;
    return 0;
}

void store_rollback(struct store *s)
{
    int rc;

    if (s->tx_depth == 0)
        return;
    if (s->tx_depth == 1)
        rc = run(s, "ROLLBACK", NULL);
    else
        rc = run(s, rollbacks[s->tx_depth - 2], NULL) ||
             run(s, releases[s->tx_depth - 2], NULL);
    if (rc)
        log_error("rollback failed", "depth=%d", s->tx_depth);
    s->tx_depth--;
}

int store_maintain(struct store *s, struct err *e)
{
    if (s->tx_depth > 0 || !s->backend->maintain)
        return 0;
    return s->backend->maintain(s, e);
}

int store_ping(struct store *s, struct err *e)
{
    json_t *row = db_one(s, "SELECT 1 AS one", NULL, 0, e);

    json_decref(row);
    return row ? 0 : e->status;
}
