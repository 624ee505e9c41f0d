/*
 * The driver interface under the store: each backend (sqlite.c, postgres.c)
 * runs parameterised SQL and hands rows back as JSON objects keyed by column
 * name. The domain queries in the store's other files are written once, with
 * $1, $2... placeholders that both engines accept, so only the schema DDL
 * differs between backends. Internal to src/store/.
 */
#ifndef MC_STORE_DB_H
#define MC_STORE_DB_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "lib/err.h"

enum db_type { DB_NULL, DB_TEXT, DB_INT };

struct db_param {
    enum db_type type;
    const char *s;
    int64_t i;
};

/* A text parameter; NULL binds SQL NULL. */
static inline struct db_param db_str(const char *s)
{
    return (struct db_param){s ? DB_TEXT : DB_NULL, s, 0};
}

#define DB_STR(x) db_str(x)
#define DB_I64(x) ((struct db_param){DB_INT, NULL, (x)})
#define DB_NUL    ((struct db_param){DB_NULL, NULL, 0})

struct store;

struct db_backend {
    const char *name;
    /* The numbered migrations, NULL-terminated; index 0 is version 1. */
    const char *const *migrations;
    int (*open)(struct store *s, const char *url, struct err *e);
    void (*close)(struct store *s);
    /*
     * Runs sql with n parameters. When rows is not NULL it receives a new
     * array of row objects: integers as JSON integers, BOOLEAN columns as
     * true/false, JSONTEXT/jsonb columns parsed, text as strings. A unique
     * constraint violation answers ERR_CONFLICT, anything else ERR_INTERNAL
     * (ERR_UNAVAILABLE when the database cannot be reached).
     */
    int (*exec)(struct store *s, const char *sql, const struct db_param *p,
                int n, json_t **rows, struct err *e);
    /* Runs one or more statements without parameters (DDL, BEGIN...). */
    int (*exec_script)(struct store *s, const char *sql, struct err *e);
    /*
     * Optional. Starts the outermost transaction (NULL: BEGIN IMMEDIATE).
     * On failure no transaction is left open.
     */
    int (*begin)(struct store *s, struct err *e);
    /*
     * Optional. Takes (lock true) or releases the lock that lets only one
     * process at a time migrate a database shared by several (NULL: none).
     */
    int (*lock_migrations)(struct store *s, bool lock, struct err *e);
    /* Optional. The rowid of the last INSERT, so that INSERT needs no
     * RETURNING (which costs SQLite a temporary table per row). */
    int64_t (*last_id)(struct store *s);
    /* The rows the last statement inserted, changed or deleted. */
    int64_t (*changes)(struct store *s);
    /* Optional. Housekeeping between requests (SQLite: WAL checkpoint). */
    int (*maintain)(struct store *s, struct err *e);
};

struct store {
    const struct db_backend *backend;
    void *conn;
    int tx_depth;
};

/* Runs sql and returns its first row (new reference), or NULL with e set:
 * ERR_NOT_FOUND (code NOT_FOUND) when there is no row. */
json_t *db_one(struct store *s, const char *sql, const struct db_param *p,
               int n, struct err *e);

/* Runs sql and returns all rows (new array), NULL with e set on failure. */
json_t *db_all(struct store *s, const char *sql, const struct db_param *p,
               int n, struct err *e);

/* Runs sql that answers no rows. */
int db_run(struct store *s, const char *sql, const struct db_param *p, int n,
           struct err *e);

#define DB_ARGS(...)                                                           \
    (const struct db_param[]){__VA_ARGS__},                                    \
        (int)(sizeof((struct db_param[]){__VA_ARGS__}) /                       \
              sizeof(struct db_param))

extern const struct db_backend db_sqlite;
extern const struct db_backend db_postgres;

#endif
