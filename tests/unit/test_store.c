/*
 * The store on both engines: every case runs on SQLite in a temp file, then
 * again on PostgreSQL when MC_TEST_PG_URL names a database this test may
 * create schemas in (each case gets its own schema, dropped afterwards),
 * e.g. MC_TEST_PG_URL=postgresql://postgres@127.0.0.1:5432/postgres.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "lib/log.h"
#include "lib/timeutil.h"
#include "store/db.h"
#include "store/store.h"

/* The numbered migrations there are (store/migrations_*.c). */
#define MIGRATIONS 4

enum engine { SQLITE, POSTGRES };

static enum engine engine;
static const char *pg_url;
static int case_seq;

struct fixture {
    struct store *s;
    char url[1024];
    char dir[64];
    char schema[64];
};

static void quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static PGconn *pg_admin(void)
{
    PGconn *c = PQconnectdb(pg_url);

    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("cannot connect to MC_TEST_PG_URL: %s", PQerrorMessage(c));
    PQsetNoticeProcessor(c, quiet, NULL);
    return c;
}

static void pg_admin_run(const char *sql)
{
    PGconn *c = pg_admin();
    PGresult *r = PQexec(c, sql);

    if (PQresultStatus(r) != PGRES_COMMAND_OK &&
        PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

/* The same URL with its own schema first in search_path, and an
 * application_name that lets a case find its connections. */
static void pg_case_url(struct fixture *f)
{
    char sql[160];

    snprintf(f->schema, sizeof(f->schema), "mc_unit_%d_%d", (int)getpid(),
             ++case_seq);
    snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", f->schema);
    pg_admin_run(sql);
    snprintf(f->url, sizeof(f->url),
             "%s%coptions=-csearch_path%%3D%s&application_name=%s", pg_url,
             strchr(pg_url, '?') ? '&' : '?', f->schema, f->schema);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct err e;

    err_clear(&e);
    if (engine == SQLITE) {
        snprintf(f->dir, sizeof(f->dir), "/tmp/mc-test-store-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->url, sizeof(f->url), "%s/mc.db", f->dir);
    } else {
        pg_case_url(f);
    }
    if (store_open(f->url, &f->s, &e))
        fail_msg("store_open: %s", e.message);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[160];

    store_free(f->s);
    if (engine == SQLITE) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "cannot remove %s\n", f->dir);
    } else {
        snprintf(cmd, sizeof(cmd), "DROP SCHEMA %s CASCADE", f->schema);
        pg_admin_run(cmd);
    }
    free(f);
    return 0;
}

static const char *T(int i)
{
    static char buf[8][TIME_RFC3339_LEN];
    char *out = buf[i & 7];

    time_format_rfc3339(1767225600000LL + i * 1000LL, out);
    return out;
}

static void ok(int rc, const struct err *e)
{
    if (rc)
        fail_msg("store call failed: %d %s %s", rc, e->code, e->message);
}

static json_t *got(json_t *v, const struct err *e)
{
    if (!v)
        fail_msg("store call failed: %d %s %s", e->status, e->code, e->message);
    return v;
}

/* An organization, a super admin in it, and a second organization. */
static void seed(struct store *s)
{
    struct err e;

    err_clear(&e);
    ok(store_org_insert(s, "org1", "ext-1", "Org One", T(0), &e), &e);
    ok(store_org_insert(s, "org2", NULL, "Org Two", T(1), &e), &e);
    ok(store_user_insert(s, "usr1", "org1", "a@example.com", "Ann",
                         "super_admin", "hash", T(2), &e),
       &e);
}

static void add_release(struct store *s, const char *id, const char *version,
                        const char *channel, json_int_t min_schema)
{
    json_t *r = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "id", id,
                          "version", version, "versionKey", version, "channel",
                          channel, "imageTag", version, "releaseNotes",
                          "notes ✓", "createdById", "usr1", "createdAt", T(3));
    struct err e;

    err_clear(&e);
    if (min_schema >= 0)
        json_object_set_new(r, "minSchemaVersion", json_integer(min_schema));
    ok(store_release_insert(s, r, &e), &e);
    json_decref(r);
}

static const char *str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static void test_migrations_run_once(void **state)
{
    struct fixture *f = *state;
    struct store *again = NULL;
    json_t *rows;
    struct err e;

    err_clear(&e);
    assert_int_equal(store_schema_version(f->s), MIGRATIONS);
    ok(store_open(f->url, &again, &e), &e);
    assert_int_equal(store_schema_version(again), MIGRATIONS);
    rows =
        got(db_all(again, "SELECT version FROM schema_migrations", NULL, 0, &e),
            &e);
    assert_int_equal(json_array_size(rows), MIGRATIONS);
    json_decref(rows);
    store_free(again);
    assert_string_equal(store_backend(f->s),
                        engine == SQLITE ? "sqlite" : "postgres");
}

/* Booleans as JSON booleans, integers as integers, NULL as null. */
static void test_column_types(void **state)
{
    struct fixture *f = *state;
    struct err e;
    json_t *r;

    err_clear(&e);
    seed(f->s);
    add_release(f->s, "rel1", "1.0.0", "STABLE", 7);
    add_release(f->s, "rel2", "1.1.0", "STABLE", -1);
    ok(store_release_set_latest(f->s, "STABLE", "rel2", T(4), &e), &e);

    r = got(store_release_get(f->s, "rel1", NULL, &e), &e);
    assert_true(json_is_false(json_object_get(r, "isLatest")));
    assert_true(json_is_false(json_object_get(r, "isArchived")));
    assert_true(json_is_integer(json_object_get(r, "minSchemaVersion")));
    assert_int_equal(json_integer_value(json_object_get(r, "minSchemaVersion")),
                     7);
    assert_true(json_is_integer(json_object_get(r, "deployCount")));
    assert_int_equal(json_integer_value(json_object_get(r, "deployCount")), 0);
    assert_true(json_is_null(json_object_get(r, "imageDigest")));
    assert_true(json_is_null(json_object_get(r, "archivedAt")));
    assert_string_equal(str(r, "releaseNotes"), "notes ✓");
    assert_string_equal(str(r, "createdAt"), T(3));
    assert_string_equal(str(json_object_get(r, "createdBy"), "email"),
                        "a@example.com");
    json_decref(r);

    r = got(store_release_by_key(f->s, "1.1.0", "org1", &e), &e);
    assert_true(json_is_true(json_object_get(r, "isLatest")));
    assert_true(json_is_null(json_object_get(r, "minSchemaVersion")));
    json_decref(r);

    r = got(db_one(f->s, "SELECT COUNT(*) AS n, 1 = 1 AS yes FROM releases",
                   NULL, 0, &e),
            &e);
    assert_int_equal(json_integer_value(json_object_get(r, "n")), 2);
    assert_true(json_is_true(json_object_get(r, "yes")) ||
                (engine == SQLITE &&
                 json_integer_value(json_object_get(r, "yes")) == 1));
    json_decref(r);
}

static void test_json_columns(void **state)
{
    struct fixture *f = *state;
    json_t *details = json_pack("{s:i, s:[b, n, s], s:{s:f}}", "count", 3,
                                "list", 1, "x ✓", "nested", "pi", 3.5);
    json_t *list;
    struct err e;

    err_clear(&e);
    seed(f->s);
    ok(store_audit_insert(f->s, "aud1", "org1", "usr1", "release.create",
                          "release", "rel1", details, T(5), &e),
       &e);
    ok(store_audit_insert(f->s, "aud2", "org2", NULL, "org.create", "org", NULL,
                          NULL, T(6), &e),
       &e);
    list = got(store_audit_list(f->s, NULL, NULL, 10, &e), &e);
    assert_int_equal(json_array_size(list), 2);
    assert_string_equal(str(json_array_get(list, 0), "id"), "aud2");
    assert_true(json_equal(json_object_get(json_array_get(list, 1), "details"),
                           details));
    assert_true(
        json_is_object(json_object_get(json_array_get(list, 0), "details")));
    assert_true(
        json_is_null(json_object_get(json_array_get(list, 0), "actor")));
    assert_string_equal(
        str(json_object_get(json_array_get(list, 1), "actor"), "name"), "Ann");
    json_decref(list);

    list = got(store_audit_list(f->s, "org1", NULL, 10, &e), &e);
    assert_int_equal(json_array_size(list), 1);
    json_decref(list);
    list = got(store_audit_list(f->s, NULL, "aud2", 10, &e), &e);
    assert_int_equal(json_array_size(list), 1);
    assert_string_equal(str(json_array_get(list, 0), "id"), "aud1");
    json_decref(list);
    json_decref(details);
}

/* NULL and non-NULL filters and cursors, in the same prepared queries. */
static void test_optional_filters(void **state)
{
    struct fixture *f = *state;
    struct err e;
    json_t *l;

    err_clear(&e);
    seed(f->s);
    add_release(f->s, "rel1", "1.0.0", "STABLE", -1);
    add_release(f->s, "rel2", "2.0.0-beta.1", "BETA", -1);
    add_release(f->s, "rel3", "1.1.0", "STABLE", -1);
    ok(store_release_archive(f->s, "rel1", T(7), &e), &e);

    l = got(store_org_list(f->s, NULL, &e), &e);
    assert_int_equal(json_array_size(l), 2);
    json_decref(l);
    l = got(store_org_list(f->s, "org2", &e), &e);
    assert_int_equal(json_array_size(l), 1);
    assert_true(
        json_is_null(json_object_get(json_array_get(l, 0), "externalId")));
    json_decref(l);
    l = got(store_org_find(f->s, "ext-1", &e), &e);
    assert_string_equal(str(l, "id"), "org1");
    json_decref(l);

    l = got(store_release_list(f->s, NULL, NULL, false, NULL, 10, &e), &e);
    assert_int_equal(json_array_size(l), 2);
    json_decref(l);
    l = got(store_release_list(f->s, "org1", NULL, true, NULL, 10, &e), &e);
    assert_int_equal(json_array_size(l), 3);
    assert_string_equal(str(json_array_get(l, 0), "id"), "rel3");
    json_decref(l);
    l = got(store_release_list(f->s, NULL, "STABLE", true, "rel3", 10, &e), &e);
    assert_int_equal(json_array_size(l), 1);
    assert_string_equal(str(json_array_get(l, 0), "id"), "rel1");
    assert_true(
        json_is_true(json_object_get(json_array_get(l, 0), "isArchived")));
    json_decref(l);
    l = got(store_release_list(f->s, NULL, NULL, true, NULL, 1, &e), &e);
    assert_int_equal(json_array_size(l), 1);
    json_decref(l);
    l = got(store_release_channel(f->s, "STABLE", &e), &e);
    assert_int_equal(json_array_size(l), 1);
    json_decref(l);
    l = got(store_release_deployments(f->s, "rel1", NULL, 10, &e), &e);
    assert_int_equal(json_array_size(l), 0);
    json_decref(l);
    l = got(store_release_deployments(f->s, "rel1", "org1", 10, &e), &e);
    json_decref(l);
}

static void test_unique_is_conflict(void **state)
{
    struct fixture *f = *state;
    struct err e;

    json_t *r;

    err_clear(&e);
    seed(f->s);
    assert_int_equal(store_org_insert(f->s, "org3", "ext-1", "x", T(1), &e),
                     ERR_CONFLICT);
    assert_string_equal(e.code, "CONFLICT");
    add_release(f->s, "rel1", "1.0.0", "STABLE", -1);
    err_clear(&e);
    r = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "id", "relx",
                  "version", "1.0.0", "versionKey", "1.0.0x", "channel",
                  "STABLE", "imageTag", "t", "releaseNotes", "", "createdById",
                  "usr1", "createdAt", T(3));
    assert_int_equal(store_release_insert(f->s, r, &e), ERR_CONFLICT);
    json_decref(r);

    /* A check constraint is not a conflict. */
    err_clear(&e);
    assert_int_equal(store_user_insert(f->s, "usr9", "org1", "b@example.com",
                                       "B", "root", NULL, T(2), &e),
                     ERR_INTERNAL);
    /* The store still works after errors outside a transaction. */
    assert_false(store_is_empty(f->s));
}

static bool org_exists(struct store *s, const char *id)
{
    struct err e;
    json_t *o = store_org_find(s, id, &e);

    json_decref(o);
    return o != NULL;
}

static void test_transactions(void **state)
{
    struct fixture *f = *state;
    struct err e;

    err_clear(&e);
    assert_true(store_is_empty(f->s));
    ok(store_begin(f->s, &e), &e);
    ok(store_org_insert(f->s, "a", NULL, "A", T(0), &e), &e);
    store_rollback(f->s);
    assert_false(org_exists(f->s, "a"));

    ok(store_begin(f->s, &e), &e);
    ok(store_org_insert(f->s, "b", NULL, "B", T(0), &e), &e);
    ok(store_begin(f->s, &e), &e);
    ok(store_org_insert(f->s, "c", NULL, "C", T(0), &e), &e);
    store_rollback(f->s);
    ok(store_begin(f->s, &e), &e);
    ok(store_org_insert(f->s, "d", NULL, "D", T(0), &e), &e);
    ok(store_commit(f->s, &e), &e);
    ok(store_commit(f->s, &e), &e);
    assert_true(org_exists(f->s, "b"));
    assert_false(org_exists(f->s, "c"));
    assert_true(org_exists(f->s, "d"));

    /* A failed statement inside a savepoint is undone with it. */
    ok(store_begin(f->s, &e), &e);
    ok(store_begin(f->s, &e), &e);
    assert_int_equal(store_org_insert(f->s, "b", NULL, "B", T(0), &e),
                     ERR_CONFLICT);
    store_rollback(f->s);
    ok(store_org_insert(f->s, "e", NULL, "E", T(0), &e), &e);
    ok(store_commit(f->s, &e), &e);
    assert_true(org_exists(f->s, "e"));

    /* A failed transaction rolled back leaves the store usable. */
    ok(store_begin(f->s, &e), &e);
    assert_int_equal(store_org_insert(f->s, "e", NULL, "E", T(0), &e),
                     ERR_CONFLICT);
    store_rollback(f->s);
    ok(store_org_insert(f->s, "f", NULL, "F", T(0), &e), &e);
    assert_true(org_exists(f->s, "f"));
}

static void test_tokens_and_sessions(void **state)
{
    struct fixture *f = *state;
    struct err e;
    json_t *u;

    err_clear(&e);
    seed(f->s);
    ok(store_token_insert(f->s, "tok1", "usr1", "ci", "h1", T(1), &e), &e);
    u = got(store_token_auth(f->s, "h1", T(9), T(8), &e), &e);
    assert_string_equal(str(u, "email"), "a@example.com");
    json_decref(u);
    u = got(store_token_list(f->s, "usr1", &e), &e);
    assert_string_equal(str(json_array_get(u, 0), "lastUsedAt"), T(9));
    json_decref(u);
    u = got(store_token_revoke(f->s, "tok1", "usr1", T(10), &e), &e);
    assert_string_equal(str(u, "revokedAt"), T(10));
    json_decref(u);
    assert_null(store_token_auth(f->s, "h1", T(11), T(10), &e));
    assert_int_equal(e.status, ERR_NOT_FOUND);

    ok(store_session_insert(f->s, "ses1", "usr1", "sh", "csrf", T(1), T(20),
                            &e),
       &e);
    u = got(store_session_auth(f->s, "sh", T(19), &e), &e);
    assert_string_equal(str(u, "csrfToken"), "csrf");
    json_decref(u);
    assert_null(store_session_auth(f->s, "sh", T(21), &e));
    ok(store_session_delete(f->s, "sh", &e), &e);
    assert_null(store_session_auth(f->s, "sh", T(19), &e));
}

/* The fleet tables through raw SQL, the same text on both engines: the
 * identity column, JSON payloads, booleans, the one-active-node index. */
static void test_fleet_schema(void **state)
{
    struct fixture *f = *state;
    struct err e;
    json_t *r;

    err_clear(&e);
    seed(f->s);
    add_release(f->s, "rel1", "1.0.0", "STABLE", -1);
    ok(db_run(f->s,
              "INSERT INTO locations (id, organization_id, name, timezone,"
              " created_at) VALUES ($1, 'org1', 'Shop', 'UTC', $2)",
              DB_ARGS(DB_STR("loc1"), DB_STR(T(1))), &e),
       &e);
    ok(db_run(f->s,
              "INSERT INTO server_nodes (id, location_id, name, status,"
              " token_hash, created_at, online, schema_version)"
              " VALUES ($1, 'loc1', 'n', $2, $3, $4, $5, $6)",
              DB_ARGS(DB_STR("node1"), DB_STR("ACTIVE"), DB_STR("th1"),
                      DB_STR(T(1)), DB_I64(1), DB_I64(42)),
              &e),
       &e);
    assert_int_equal(
        db_run(f->s,
               "INSERT INTO server_nodes (id, location_id, name, status,"
               " token_hash, created_at) VALUES ($1, 'loc1', 'n', $2, $3, $4)",
               DB_ARGS(DB_STR("node2"), DB_STR("ACTIVE"), DB_STR("th2"),
                       DB_STR(T(1))),
               &e),
        ERR_CONFLICT);
    ok(db_run(f->s,
              "INSERT INTO server_nodes (id, location_id, name, status,"
              " token_hash, created_at) VALUES ($1, 'loc1', 'n', $2, $3, $4)",
              DB_ARGS(DB_STR("node3"), DB_STR("DECOMMISSIONED"), DB_STR("th3"),
                      DB_STR(T(1))),
              &e),
       &e);
    r = got(db_one(f->s,
                   "SELECT online, schema_version AS \"schemaVersion\""
                   " FROM server_nodes WHERE id = $1",
                   DB_ARGS(DB_STR("node1")), &e),
            &e);
    assert_true(json_is_true(json_object_get(r, "online")));
    assert_int_equal(json_integer_value(json_object_get(r, "schemaVersion")),
                     42);
    json_decref(r);

    for (int i = 0; i < 3; i++) {
        char id[8];

        snprintf(id, sizeof(id), "cmd%d", i);
        r = got(db_one(f->s,
                       "INSERT INTO fleet_commands (id, server_node_id, type,"
                       " release_id, payload, signature, status, created_at,"
                       " expires_at, updated_at) VALUES ($1, 'node1',"
                       " 'FORCE_UPDATE', 'rel1', $2, 'sig', 'PENDING', $3,"
                       " $3, $3) RETURNING seq",
                       DB_ARGS(DB_STR(id), DB_STR("{\"v\":[1,true]}"),
                               DB_STR(T(i))),
                       &e),
                &e);
        assert_int_equal(json_integer_value(json_object_get(r, "seq")), i + 1);
        json_decref(r);
    }
    r = got(db_all(f->s, "SELECT seq, payload FROM fleet_commands ORDER BY seq",
                   NULL, 0, &e),
            &e);
    assert_int_equal(json_array_size(r), 3);
    assert_true(json_is_true(json_array_get(
        json_object_get(json_object_get(json_array_get(r, 2), "payload"), "v"),
        1)));
    json_decref(r);

    /* A deploy keeps the count as it writes its commands. */
    ok(store_release_count_add(f->s, "rel1", "org1", 2, &e), &e);
    ok(store_release_count_add(f->s, "rel1", "org1", 1, &e), &e);
    r = got(store_release_get(f->s, "rel1", "org1", &e), &e);
    assert_int_equal(json_integer_value(json_object_get(r, "deployCount")), 3);
    json_decref(r);
    r = got(store_release_get(f->s, "rel1", "org2", &e), &e);
    assert_int_equal(json_integer_value(json_object_get(r, "deployCount")), 0);
    json_decref(r);
    r = got(store_release_deployments(f->s, "rel1", "org1", 2, &e), &e);
    assert_int_equal(json_array_size(r), 2);
    assert_string_equal(str(json_array_get(r, 0), "id"), "cmd2");
    json_decref(r);
}

static void test_too_few_params(void **state)
{
    struct fixture *f = *state;
    struct err e;

    err_clear(&e);
    assert_int_equal(db_run(f->s,
                            "DELETE FROM sessions WHERE id = $1"
                            " OR token_hash = $2",
                            DB_ARGS(DB_STR("x")), &e),
                     ERR_INTERNAL);
    ok(db_run(f->s, "DELETE FROM sessions WHERE id = $1",
              DB_ARGS(DB_STR("x"), DB_STR("unused")), &e),
       &e);
}

/* --- PostgreSQL only ------------------------------------------------------ */

static void terminate_store_connections(const struct fixture *f)
{
    char sql[256];

    snprintf(sql, sizeof(sql),
             "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
             " WHERE application_name = '%s'",
             f->schema);
    pg_admin_run(sql);
}

static void test_pg_reconnects(void **state)
{
    struct fixture *f = *state;
    struct err e;

    err_clear(&e);
    seed(f->s);
    ok(store_ping(f->s, &e), &e);
    terminate_store_connections(f);
    assert_int_equal(store_ping(f->s, &e), ERR_UNAVAILABLE);
    assert_string_equal(e.code, "DATABASE_UNAVAILABLE");
    err_clear(&e);
    ok(store_ping(f->s, &e), &e);
    assert_true(org_exists(f->s, "org1"));

    /* Lost inside a transaction: the transaction fails as a whole, and
     * nothing reconnects until it is rolled back. */
    ok(store_begin(f->s, &e), &e);
    ok(store_org_insert(f->s, "org9", NULL, "Nine", T(1), &e), &e);
    terminate_store_connections(f);
    assert_int_equal(store_org_insert(f->s, "org8", NULL, "8", T(1), &e),
                     ERR_UNAVAILABLE);
    assert_int_equal(store_commit(f->s, &e), ERR_UNAVAILABLE);
    store_rollback(f->s);
    err_clear(&e);
    ok(store_ping(f->s, &e), &e);
    assert_false(org_exists(f->s, "org9"));
    assert_false(org_exists(f->s, "org8"));
}

/* Several processes open a fresh database at once: one migrates, none
 * fails. */
static void test_pg_concurrent_migrations(void **state)
{
    struct fixture *f = *state;
    char sql[256];
    pid_t kids[6];
    json_t *rows;
    struct err e;

    store_free(f->s);
    f->s = NULL;
    snprintf(sql, sizeof(sql), "DROP SCHEMA %s CASCADE; CREATE SCHEMA %s",
             f->schema, f->schema);
    pg_admin_run(sql);
    for (size_t i = 0; i < sizeof(kids) / sizeof(kids[0]); i++) {
        kids[i] = fork();
        assert_true(kids[i] >= 0);
        if (kids[i] == 0) {
            struct store *s;
            int rc = store_open(f->url, &s, &e);

            if (rc)
                fprintf(stderr, "child: %s\n", e.message);
            else
                store_free(s);
            _exit(rc ? 1 : 0);
        }
    }
    for (size_t i = 0; i < sizeof(kids) / sizeof(kids[0]); i++) {
        int status;

        assert_int_equal(waitpid(kids[i], &status, 0), kids[i]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    err_clear(&e);
    ok(store_open(f->url, &f->s, &e), &e);
    rows = got(
        db_all(f->s, "SELECT version FROM schema_migrations", NULL, 0, &e), &e);
    assert_int_equal(json_array_size(rows), MIGRATIONS);
    json_decref(rows);
}

/* Transactions of two connections take turns, as SQLite's do. */
static void test_pg_writers_take_turns(void **state)
{
    struct fixture *f = *state;
    int64_t started;
    pid_t kid;
    int status;
    struct err e;

    err_clear(&e);
    ok(store_begin(f->s, &e), &e);
    started = time_mono_ms();
    kid = fork();
    assert_true(kid >= 0);
    if (kid == 0) {
        struct store *s;
        int rc = store_open(f->url, &s, &e) || store_begin(s, &e);
        int64_t waited = time_mono_ms() - started;

        if (!rc)
            store_rollback(s);
        _exit(rc ? 2 : waited >= 300 ? 0 : 1);
    }
    usleep(400 * 1000);
    ok(store_org_insert(f->s, "a", NULL, "A", T(0), &e), &e);
    ok(store_commit(f->s, &e), &e);
    assert_int_equal(waitpid(kid, &status, 0), kid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

#define CASE(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest both[] = {
        CASE(test_migrations_run_once), CASE(test_column_types),
        CASE(test_json_columns),        CASE(test_optional_filters),
        CASE(test_unique_is_conflict),  CASE(test_transactions),
        CASE(test_tokens_and_sessions), CASE(test_fleet_schema),
        CASE(test_too_few_params),
    };
    const struct CMUnitTest pg_only[] = {
        CASE(test_pg_reconnects),
        CASE(test_pg_concurrent_migrations),
        CASE(test_pg_writers_take_turns),
    };
    int failed;

    log_set_level(getenv("MC_TEST_VERBOSE") ? LOG_DEBUG : LOG_ERROR);
    engine = SQLITE;
    failed = cmocka_run_group_tests_name("store_sqlite", both, NULL, NULL);
    pg_url = getenv("MC_TEST_PG_URL");
    if (!pg_url || !*pg_url) {
        fprintf(stderr, "MC_TEST_PG_URL not set: PostgreSQL cases skipped\n");
        return failed;
    }
    engine = POSTGRES;
    failed += cmocka_run_group_tests_name("store_postgres", both, NULL, NULL);
    failed +=
        cmocka_run_group_tests_name("store_postgres_only", pg_only, NULL, NULL);
    return failed;
}
