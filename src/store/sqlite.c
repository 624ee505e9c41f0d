/* The SQLite backend: one connection, WAL, prepared statements cached. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "store/db.h"
#include "store/migrations.h"
#include "store/stmtcache.h"

struct sqlite_conn {
    sqlite3 *db;
    struct stmtcache stmts;
};

static int db_error(struct sqlite_conn *c, int rc, const char *what,
                    struct err *e)
{
    const char *msg = sqlite3_errmsg(c->db);

    if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
        return err_set(e, ERR_CONFLICT, "CONFLICT", "%s", msg);
    log_error("database error", "op=%s rc=%d error=\"%s\"", what, rc, msg);
    return err_set(e, ERR_INTERNAL, "INTERNAL", "database error: %s", msg);
}

static int make_parent_dir(const char *path, struct err *e)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');

    if (!slash || slash == path)
        return 0;
    if ((size_t)(slash - path) >= sizeof(dir))
        return err_set(e, ERR_INTERNAL, "INTERNAL", "path too long");
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash - path] = '\0';
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        mkdir(dir, 0750);
        *p = '/';
    }
    if (mkdir(dir, 0750) != 0 && errno != EEXIST)
        return err_set(e, ERR_INTERNAL, "INTERNAL",
                       "cannot create directory \"%s\": %s", dir,
                       strerror(errno));
    return 0;
}

static int sqlite_exec_script(struct store *s, const char *sql, struct err *e)
{
    struct sqlite_conn *c = s->conn;
    int rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);

    return rc == SQLITE_OK ? 0 : db_error(c, rc, "exec", e);
}

static int sqlite_open(struct store *s, const char *path, struct err *e)
{
    struct sqlite_conn *c = xcalloc(1, sizeof(*c));
    int rc;

    s->conn = c;
    /* No allocation statistics: they cost a global mutex on every malloc.
     * (Refused harmlessly once SQLite is initialised.) */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    if (strncmp(path, "sqlite://", 9) == 0)
        path += 9;
    if (make_parent_dir(path, e))
        return e->status;
    rc = sqlite3_open_v2(
        path, &c->db,
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK)
        return err_set(e, ERR_INTERNAL, "INTERNAL",
                       "cannot open database \"%s\": %s", path,
                       c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, 5000);
    /* Savepoint journals in memory and a cache that holds a large deploy's
     * pages: a deploy to thousands of locations is one commit, not a
     * stream of temp-file writes. Checkpoints run from store_maintain(),
     * after the answers, not inside the commit that fills the log. */
    return sqlite_exec_script(s,
                              "PRAGMA journal_mode=WAL;"
                              "PRAGMA synchronous=NORMAL;"
                              "PRAGMA foreign_keys=ON;"
                              "PRAGMA temp_store=MEMORY;"
                              "PRAGMA cache_size=-65536;"
                              "PRAGMA wal_autocheckpoint=0;",
                              e);
}

static void finalize(void *stmt)
{
    sqlite3_finalize(stmt);
}

static void sqlite_close(struct store *s)
{
    struct sqlite_conn *c = s->conn;

    if (!c)
        return;
    stmtcache_clear(&c->stmts, finalize);
    if (c->db && sqlite3_close(c->db) != SQLITE_OK)
        log_warn("database close failed", "error=\"%s\"",
                 sqlite3_errmsg(c->db));
    free(c);
    s->conn = NULL;
}

/* SQLite numbers named parameters by first appearance, so "$2" used before
 * "$1" would take slot 1: bind each slot by the number in its name. */
static int bind_all(struct sqlite_conn *c, sqlite3_stmt *st,
                    const struct db_param *p, int n, struct err *e)
{
    int count = sqlite3_bind_parameter_count(st);

    for (int slot = 1; slot <= count; slot++) {
        const char *name = sqlite3_bind_parameter_name(st, slot);
        int k = name && name[0] == '$' ? (int)strtol(name + 1, NULL, 10) : 0;
        const struct db_param *v;
        int rc;

        if (k < 1 || k > n)
            return err_set(e, ERR_INTERNAL, "INTERNAL",
                           "query parameter %s has no value",
                           name ? name : "?");
        v = &p[k - 1];
        if (v->type == DB_TEXT)
            rc = sqlite3_bind_text(st, slot, v->s, -1, SQLITE_STATIC);
        else if (v->type == DB_INT)
            rc = sqlite3_bind_int64(st, slot, v->i);
        else
            rc = sqlite3_bind_null(st, slot);
        if (rc != SQLITE_OK)
            return db_error(c, rc, "bind", e);
    }
    return 0;
}

static json_t *column_value(sqlite3_stmt *st, int i)
{
    const char *decl = sqlite3_column_decltype(st, i);
    const char *text;

    switch (sqlite3_column_type(st, i)) {
    case SQLITE_NULL:
        return json_null();
    case SQLITE_INTEGER:
        if (decl && strcmp(decl, "BOOLEAN") == 0)
            return json_boolean(sqlite3_column_int64(st, i));
        return json_integer(sqlite3_column_int64(st, i));
    case SQLITE_FLOAT:
        return json_real(sqlite3_column_double(st, i));
    default:
        text = (const char *)sqlite3_column_text(st, i);
        if (decl && strcmp(decl, "JSONTEXT") == 0) {
            json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
            if (v)
                return v;
        }
        return json_string(text);
    }
}

static json_t *row_object(sqlite3_stmt *st)
{
    json_t *row = json_object();
    int n = sqlite3_column_count(st);

    for (int i = 0; i < n; i++)
        json_object_set_new(row, sqlite3_column_name(st, i),
                            column_value(st, i));
    return row;
}

static sqlite3_stmt *prepare(struct sqlite_conn *c, const char *sql,
                             struct err *e)
{
    sqlite3_stmt *st = stmtcache_get(&c->stmts, sql);
    int rc;

    if (st)
        return st;
    rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st,
                            NULL);
    if (rc != SQLITE_OK) {
        db_error(c, rc, "prepare", e);
        return NULL;
    }
    stmtcache_put(&c->stmts, sql, st);
    return st;
}

static int sqlite_exec(struct store *s, const char *sql,
                       const struct db_param *p, int n, json_t **rows,
                       struct err *e)
{
    struct sqlite_conn *c = s->conn;
    sqlite3_stmt *st = prepare(c, sql, e);
    json_t *out = rows ? json_array() : NULL;
    int rc;

    if (!st || bind_all(c, st, p, n, e))
        goto fail;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (out)
            json_array_append_new(out, row_object(st));
    if (rc != SQLITE_DONE) {
        db_error(c, rc, "step", e);
        goto fail;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rows)
        *rows = out;
    return 0;

fail:
    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    json_decref(out);
    return e ? (int)e->status : ERR_INTERNAL;
}

static int64_t sqlite_last_id(struct store *s)
{
    struct sqlite_conn *c = s->conn;

    return sqlite3_last_insert_rowid(c->db);
}

static int64_t sqlite_changes(struct store *s)
{
    struct sqlite_conn *c = s->conn;

    return sqlite3_changes64(c->db);
}

static int sqlite_maintain(struct store *s, struct err *e)
{
    struct sqlite_conn *c = s->conn;
    int rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
                                       NULL, NULL);

    return rc == SQLITE_OK || rc == SQLITE_BUSY
               ? 0
               : db_error(c, rc, "checkpoint", e);
}

const struct db_backend db_sqlite = {
    .name = "sqlite",
    .migrations = migrations_sqlite,
    .open = sqlite_open,
    .close = sqlite_close,
    .exec = sqlite_exec,
    .exec_script = sqlite_exec_script,
    .maintain = sqlite_maintain,
    .last_id = sqlite_last_id,
    .changes = sqlite_changes,
};
