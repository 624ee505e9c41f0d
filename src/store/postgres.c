/*
 * The PostgreSQL backend over libpq: one connection, statements prepared
 * once per connection and cached by the address of their SQL text (every
 * query of the store is a string literal, so the address names the query),
 * parameters sent as text for the server to type from their use.
 *
 * A lost connection fails the call in progress with DATABASE_UNAVAILABLE;
 * the next call outside a transaction reconnects, so an instance recovers by
 * itself when the database comes back. Inside a transaction it never
 * reconnects: a transaction that lost its connection fails as a whole.
 *
 * Every call blocks the calling thread until PostgreSQL answers (and a
 * reconnect until it connects or connect_timeout passes): mcd calls the
 * store only from its database worker thread, never from the event loop.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "lib/log.h"
#include "lib/timeutil.h"
#include "lib/xalloc.h"
#include "store/db.h"
#include "store/migrations.h"
#include "store/stmtcache.h"
#include "store/store.h"

/* Type oids of the results we convert (catalog/pg_type.h is a server
 * header; these numbers are fixed). */
enum pg_oid {
    OID_BOOL = 16,
    OID_INT8 = 20,
    OID_INT2 = 21,
    OID_INT4 = 23,
    OID_JSON = 114,
    OID_FLOAT4 = 700,
    OID_FLOAT8 = 701,
    OID_NUMERIC = 1700,
    OID_JSONB = 3802,
};

#define MAX_PARAMS 64

/* Keys of the advisory locks: any constants no other application on the
 * database uses; these spell "mc-migr" and "mc-write". */
#define LOCK_MIGRATIONS "30789819221763954"
#define LOCK_WRITERS    "7882193763872371813"

/* A database that does not answer is tried again at most this often, so a
 * dead server does not make every request wait for a connect. */
#define RECONNECT_EVERY_MS 1000

/* A statement prepared on this connection. */
struct pg_stmt {
    int nparams;
    char name[16];
};

struct pg_conn {
    PGconn *conn;
    struct stmtcache stmts; /* of struct pg_stmt */
    unsigned next_name;
    bool broken;
    int64_t last_attempt_ms;
    int64_t changes; /* rows the last statement changed */
};

/* The first line of libpq's last error, which may span several. */
static const char *last_error(const struct pg_conn *c, char *buf, size_t size)
{
    const char *msg = c->conn ? PQerrorMessage(c->conn) : "out of memory";
    size_t len = strcspn(msg, "\n");

    snprintf(buf, size, "%.*s", (int)len, len ? msg : "unknown error");
    return buf;
}

/* msg fit for a quoted log value: PostgreSQL quotes names with '"'. */
static const char *log_safe(const char *msg, char *buf, size_t size)
{
    size_t i;

    for (i = 0; msg[i] && i + 1 < size; i++)
        buf[i] = msg[i] == '"' || msg[i] == '\n' ? '\'' : msg[i];
    buf[i] = '\0';
    return buf;
}

/* SQLSTATE class 08 (connection exception) and 57P01..57P03 (the server
 * shuts down or cannot take connections) mean the database is gone. */
static bool state_is_lost(const char *state)
{
    return state &&
           (strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0 ||
            strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0);
}

static int unavailable(struct pg_conn *c, const char *why, struct err *e)
{
    char safe[256];

    c->broken = true;
    log_error("database unavailable", "backend=postgres error=\"%s\"",
              log_safe(why, safe, sizeof(safe)));
    return err_set(e, ERR_UNAVAILABLE, "DATABASE_UNAVAILABLE",
                   "the database is unavailable: %s", why);
}

/* Maps a failed result (or NULL: libpq could not even make one). */
static int result_error(struct pg_conn *c, const PGresult *res,
                        const char *what, struct err *e)
{
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    char buf[256], safe[256];

    if (!msg)
        msg = last_error(c, buf, sizeof(buf));
    if (state && strcmp(state, "23505") == 0)
        return err_set(e, ERR_CONFLICT, "CONFLICT", "%s", msg);
    if (state_is_lost(state) || PQstatus(c->conn) == CONNECTION_BAD)
        return unavailable(c, msg, e);
    log_error("database error",
              "backend=postgres op=%s sqlstate=%s"
              " error=\"%s\"",
              what, state ? state : "none", log_safe(msg, safe, sizeof(safe)));
    return err_set(e, ERR_INTERNAL, "INTERNAL", "database error: %s", msg);
}

static bool result_ok(const PGresult *res)
{
    ExecStatusType st = PQresultStatus(res);

    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/* Server notices ("relation already exists, skipping") are not for
 * operators; libpq would print them raw on stderr. */
static void on_notice(void *arg, const char *message)
{
    (void)arg;
    char safe[256];

    log_debug("database notice", "backend=postgres message=\"%s\"",
              log_safe(message, safe, sizeof(safe)));
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

/* Checks a fresh connection; the error names the server, never the URL,
 * which may hold a password. */
static int connected(struct pg_conn *c, struct err *e)
{
    char why[200], safe[200];

    if (PQstatus(c->conn) == CONNECTION_OK) {
        PQsetNoticeProcessor(c->conn, on_notice, NULL);
        c->broken = false;
        return 0;
    }
    c->broken = true;
    last_error(c, why, sizeof(why));
    log_error("database unavailable",
              "backend=postgres db=%s host=%s port=%s"
              " error=\"%s\"",
              or_empty(PQdb(c->conn)), or_empty(PQhost(c->conn)),
              or_empty(PQport(c->conn)), log_safe(why, safe, sizeof(safe)));
    return err_set(e, ERR_UNAVAILABLE, "DATABASE_UNAVAILABLE",
                   "cannot connect to database \"%s\" on %s:%s: %s",
                   or_empty(PQdb(c->conn)), or_empty(PQhost(c->conn)),
                   or_empty(PQport(c->conn)), why);
}

static int reconnect(struct store *s, struct err *e)
{
    struct pg_conn *c = s->conn;
    int64_t now = time_mono_ms();

    if (c->last_attempt_ms && now - c->last_attempt_ms < RECONNECT_EVERY_MS)
        return err_set(e, ERR_UNAVAILABLE, "DATABASE_UNAVAILABLE",
                       "the database is unavailable; retrying shortly");
    c->last_attempt_ms = now;
    /* Prepared statements live as long as the session. */
    stmtcache_clear(&c->stmts, free);
    PQreset(c->conn);
    if (connected(c, e))
        return ERR_UNAVAILABLE;
    c->last_attempt_ms = 0;
    log_info("database reconnected", "backend=postgres");
    return 0;
}

static void rollback_leftover(struct pg_conn *c)
{
    PGresult *res = PQexec(c->conn, "ROLLBACK");

    log_error("open transaction rolled back", "backend=postgres");
    PQclear(res);
}

/*
 * Makes the connection usable for the next statement: reconnects when it was
 * lost, unless a transaction is open (which must then fail as a whole), and
 * ends a transaction the store does not know it holds.
 */
static int ready(struct store *s, struct err *e)
{
    struct pg_conn *c = s->conn;
    PGTransactionStatusType tx;

    if (c->broken || PQstatus(c->conn) != CONNECTION_OK) {
        if (s->tx_depth > 0)
            return err_set(e, ERR_UNAVAILABLE, "DATABASE_UNAVAILABLE",
                           "the database connection was lost during a "
                           "transaction");
        return reconnect(s, e);
    }
    tx = PQtransactionStatus(c->conn);
    if (s->tx_depth == 0 && (tx == PQTRANS_INTRANS || tx == PQTRANS_INERROR))
        rollback_leftover(c);
    return 0;
}

static int pg_open(struct store *s, const char *url, struct err *e)
{
    /* Later keys win: the URL's own settings override these defaults. */
    static const char *const keys[] = {
        "connect_timeout",
        "fallback_application_name",
        "client_encoding",
        "dbname",
        NULL,
    };
    const char *values[] = {"10", "mcd", "UTF8", url, NULL};
    struct pg_conn *c = xcalloc(1, sizeof(*c));

    s->conn = c;
    c->conn = PQconnectdbParams(keys, values, 1);
    if (connected(c, e))
        return ERR_UNAVAILABLE;
    if (PQserverVersion(c->conn) < 100000)
        return err_set(e, ERR_INTERNAL, "INTERNAL",
                       "PostgreSQL %d is too old: version 10 or newer is "
                       "required",
                       PQserverVersion(c->conn) / 10000);
    return 0;
}

static void pg_close(struct store *s)
{
    struct pg_conn *c = s->conn;

    if (!c)
        return;
    PQfinish(c->conn);
    stmtcache_clear(&c->stmts, free);
    free(c);
    s->conn = NULL;
}

static int pg_exec_script(struct store *s, const char *sql, struct err *e)
{
    struct pg_conn *c = s->conn;
    PGresult *res;
    int rc;

    rc = ready(s, e);
    if (rc)
        return rc;
    res = PQexec(c->conn, sql);
    if (!result_ok(res))
        rc = result_error(c, res, "exec", e);
    else if (strcmp(sql, "COMMIT") == 0 &&
             strcmp(PQcmdStatus(res), "ROLLBACK") == 0)
        /* PostgreSQL answers COMMIT of a failed transaction by rolling it
         * back, without an error. */
        rc = err_set(e, ERR_INTERNAL, "INTERNAL",
                     "database error: the transaction was rolled back after "
                     "an earlier error");
    PQclear(res);
    return rc;
}

/* Prepares sql once per connection; its parameter count comes from the
 * server, so a query may be given more values than it uses, as on SQLite. */
static int prepare(struct pg_conn *c, const char *sql,
                   const struct pg_stmt **out, struct err *e)
{
    struct pg_stmt st = {0}, *made;
    PGresult *res;
    int rc;

    *out = stmtcache_get(&c->stmts, sql);
    if (*out)
        return 0;
    snprintf(st.name, sizeof(st.name), "mc%u", ++c->next_name);
    res = PQprepare(c->conn, st.name, sql, 0, NULL);
    rc = result_ok(res) ? 0 : result_error(c, res, "prepare", e);
    PQclear(res);
    if (rc)
        return rc;
    res = PQdescribePrepared(c->conn, st.name);
    rc = result_ok(res) ? 0 : result_error(c, res, "describe", e);
    st.nparams = rc ? 0 : PQnparams(res);
    PQclear(res);
    if (rc)
        return rc;
    made = xmalloc(sizeof(*made));
    *made = st;
    stmtcache_put(&c->stmts, sql, made);
    *out = made;
    return 0;
}

/* Text values for the statement's parameters; ints are written into
 * ints[], which must outlive the call that sends them. */
static int text_params(const struct pg_stmt *st, const struct db_param *p,
                       int n, const char **values, char (*ints)[24],
                       struct err *e)
{
    if (st->nparams > n || st->nparams > MAX_PARAMS)
        return err_set(e, ERR_INTERNAL, "INTERNAL",
                       "query parameter $%d has no value",
                       st->nparams > MAX_PARAMS ? MAX_PARAMS + 1 : n + 1);
    for (int k = 0; k < st->nparams; k++) {
        if (p[k].type == DB_TEXT) {
            values[k] = p[k].s;
        } else if (p[k].type == DB_INT) {
            snprintf(ints[k], sizeof(ints[k]), "%" PRId64, p[k].i);
            values[k] = ints[k];
        } else {
            values[k] = NULL;
        }
    }
    return 0;
}

/* NUMERIC (SUM of bigints, for one) as the JSON number SQLite would give. */
static json_t *numeric_value(const char *v)
{
    char *end;
    long long ll;
    double d;

    errno = 0;
    ll = strtoll(v, &end, 10);
    if (!*end && !errno)
        return json_integer(ll);
    d = strtod(v, &end);
    if (!*end && isfinite(d))
        return json_real(d);
    return json_string(v);
}

static json_t *cell_value(const PGresult *res, int row, int col)
{
    const char *v;
    json_t *j;

    if (PQgetisnull(res, row, col))
        return json_null();
    v = PQgetvalue(res, row, col);
    switch ((enum pg_oid)PQftype(res, col)) {
    case OID_BOOL:
        return json_boolean(v[0] == 't');
    case OID_INT2:
    case OID_INT4:
    case OID_INT8:
        return json_integer(strtoll(v, NULL, 10));
    case OID_FLOAT4:
    case OID_FLOAT8:
    case OID_NUMERIC:
        return numeric_value(v);
    case OID_JSON:
    case OID_JSONB:
        j = json_loads(v, JSON_DECODE_ANY, NULL);
        return j ? j : json_string(v);
    }
    return json_string(v);
}

static json_t *result_rows(const PGresult *res)
{
    json_t *rows = json_array();
    int nrows = PQntuples(res), ncols = PQnfields(res);

    for (int r = 0; r < nrows; r++) {
        json_t *row = json_object();

        for (int col = 0; col < ncols; col++)
            json_object_set_new(row, PQfname(res, col),
                                cell_value(res, r, col));
        json_array_append_new(rows, row);
    }
    return rows;
}

static int pg_exec(struct store *s, const char *sql, const struct db_param *p,
                   int n, json_t **rows, struct err *e)
{
    struct pg_conn *c = s->conn;
    const char *values[MAX_PARAMS];
    char ints[MAX_PARAMS][24];
    const struct pg_stmt *st;
    PGresult *res;
    int rc;

    rc = ready(s, e);
    if (!rc)
        rc = prepare(c, sql, &st, e);
    if (!rc)
        rc = text_params(st, p, n, values, ints, e);
    if (rc)
        return rc;
    res = PQexecPrepared(c->conn, st->name, st->nparams, values, NULL, NULL, 0);
    if (!result_ok(res))
        rc = result_error(c, res, "exec", e);
    else if (rows)
        *rows = result_rows(res);
    c->changes = rc ? 0 : strtoll(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    return rc;
}

static int64_t pg_changes(struct store *s)
{
    struct pg_conn *c = s->conn;

    return c->changes;
}

/*
 * Write transactions take one database-wide lock first, as SQLite's BEGIN
 * IMMEDIATE does: the store's read-then-write transactions (moving the
 * latest flag, for one) were written for one writer at a time, and several
 * mcd instances on one database must not interleave them.
 *
 * NEEDSWORK: this serialises every transaction of every instance, like
 * SQLite; finer locks (per channel, per node) would let writers run side by
 * side at the cost of reviewing each transaction.
 */
static int pg_begin(struct store *s, struct err *e)
{
    struct pg_conn *c = s->conn;
    int rc = pg_exec_script(
        s, "BEGIN; SELECT pg_advisory_xact_lock(" LOCK_WRITERS ")", e);

    if (rc && c->conn && PQtransactionStatus(c->conn) != PQTRANS_IDLE &&
        PQtransactionStatus(c->conn) != PQTRANS_UNKNOWN)
        PQclear(PQexec(c->conn, "ROLLBACK"));
    return rc;
}

static int pg_lock_migrations(struct store *s, bool lock, struct err *e)
{
    return pg_exec_script(s,
                          lock ? "SELECT pg_advisory_lock(" LOCK_MIGRATIONS ")"
                               : "SELECT pg_advisory_unlock(" LOCK_MIGRATIONS
                                 ")",
                          e);
}

const struct db_backend db_postgres = {
    .name = "postgres",
    .migrations = migrations_postgres,
    .open = pg_open,
    .close = pg_close,
    .exec = pg_exec,
    .exec_script = pg_exec_script,
    .begin = pg_begin,
    .changes = pg_changes,
    .lock_migrations = pg_lock_migrations,
};

/* --- notifications between instances -------------------------------------
 * A listener is a connection of its own, used only for LISTEN, so the
 * event loop can wait on its socket while the store's connection is busy
 * on the worker. */

#define LISTEN_CHANNEL "mc_events"

struct store_listener {
    PGconn *conn;
};

struct store_listener *store_listener_new(const char *url, struct err *e)
{
    static const char *const keys[] = {"connect_timeout",
                                       "fallback_application_name",
                                       "client_encoding", "dbname", NULL};
    const char *values[] = {"10", "mcd-listen", "UTF8", url, NULL};
    struct store_listener *l = xcalloc(1, sizeof(*l));
    PGresult *res;

    l->conn = PQconnectdbParams(keys, values, 1);
    if (PQstatus(l->conn) != CONNECTION_OK) {
        err_set(e, ERR_UNAVAILABLE, "DATABASE_UNAVAILABLE",
                "cannot connect the listener: %s", PQerrorMessage(l->conn));
        store_listener_free(l);
        return NULL;
    }
    PQsetNoticeProcessor(l->conn, on_notice, NULL);
    res = PQexec(l->conn, "LISTEN " LISTEN_CHANNEL);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        err_set(e, ERR_UNAVAILABLE, "DATABASE_UNAVAILABLE", "LISTEN failed: %s",
                PQerrorMessage(l->conn));
        PQclear(res);
        store_listener_free(l);
        return NULL;
    }
    PQclear(res);
    PQsetnonblocking(l->conn, 1);
    return l;
}

int store_listener_fd(const struct store_listener *l)
{
    return PQsocket(l->conn);
}

int store_listener_read(struct store_listener *l,
                        void (*fn)(const char *payload, void *arg), void *arg)
{
    PGnotify *n;

    if (!PQconsumeInput(l->conn) || PQstatus(l->conn) != CONNECTION_OK)
        return -1;
    while ((n = PQnotifies(l->conn)) != NULL) {
        fn(n->extra, arg);
        PQfreemem(n);
    }
    return 0;
}

void store_listener_free(struct store_listener *l)
{
    if (!l)
        return;
    PQfinish(l->conn);
    free(l);
}
