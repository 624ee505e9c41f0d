/*
 * The deploy core on a temporary SQLite database: the payload text a deploy
 * signs is the canonical form, every command is signed and announced, and
 * when one location's writes fail the others still get theirs, each
 * location all of its writes or none.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "core/auth.h"
#include "core/deploy.h"
#include "core/fleet.h"
#include "core/releases.h"
#include "lib/log.h"
#include "lib/sign.h"
#include "store/db.h"
#include "store/store.h"

#define TOKEN  "mc_unit_deploy_token_000000000001"
#define SITES  100
#define BROKEN 37 /* the site whose audit entry a trigger refuses */

struct fixture {
    char dir[64];
    struct store *s;
    struct sign_key *key;
    struct fleet_config cfg;
    struct actor admin;
    char release_id[ID_LEN + 1];
    char loc[SITES][ID_LEN + 1];
    char node[SITES][ID_LEN + 1];
};

static json_t *got(json_t *v, const struct err *e)
{
    if (!v)
        fail_msg("call failed: %d %s %s", e->status, e->code, e->message);
    return v;
}

static const char *str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static void add_site(struct fixture *f, int i)
{
    struct err e;
    char name[32];
    json_t *body, *loc, *reg;

    snprintf(name, sizeof(name), "site %d", i);
    body = json_pack("{s:s, s:s}", "name", name, "timezone", "UTC");
    loc = got(location_create(f->s, &f->admin, body, &e), &e);
    snprintf(f->loc[i], sizeof(f->loc[i]), "%s",
             str(json_object_get(loc, "location"), "id"));
    json_decref(body);
    body = json_pack("{s:s}", "name", name);
    reg = got(node_register(f->s, &f->cfg, &f->admin, f->loc[i], body, &e), &e);
    snprintf(f->node[i], sizeof(f->node[i]), "%s",
             str(json_object_get(reg, "serverNode"), "id"));
    json_decref(body);
    json_decref(reg);
    json_decref(loc);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char path[128];
    struct err e;
    json_t *body, *rel;

    err_clear(&e);
    log_set_level(LOG_ERROR);
    snprintf(f->dir, sizeof(f->dir), "/tmp/mc-test-deploy-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(path, sizeof(path), "%s/mc.db", f->dir);
    if (store_open(path, &f->s, &e) ||
        auth_bootstrap(f->s, TOKEN, "root@example.com", "unit-password", &e) ||
        auth_token(f->s, TOKEN, &f->admin, &e))
        fail_msg("set-up: %s", e.message);
    snprintf(path, sizeof(path), "%s/server.key", f->dir);
    f->key = sign_key_load(path, &e);
    assert_non_null(f->key);
    f->cfg = (struct fleet_config){.key = f->key,
                                   .instance_id = "unit",
                                   .command_ttl_ms = 3600 * 1000,
                                   .command_timeout_ms = 600 * 1000};
    body = json_pack("{s:s, s:s, s:s}", "version", "2.1.0", "imageTag",
                     "registry.example.com/pos:2.1.0", "releaseNotes",
                     "quotes \" and \\ stay out of the payload");
    rel = got(release_create(f->s, &f->admin, body, &e), &e);
    snprintf(f->release_id, sizeof(f->release_id), "%s",
             str(json_object_get(rel, "release"), "id"));
    json_decref(rel);
    json_decref(body);
    for (int i = 0; i < SITES; i++)
        add_site(f, i);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];

    store_free(f->s);
    sign_key_free(f->key);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", f->dir);
    free(f);
    return 0;
}

static long long count(struct store *s, const char *sql, const char *arg)
{
    struct err e;
    json_t *row = got(db_one(s, sql, DB_ARGS(DB_STR(arg)), &e), &e);
    long long n = json_integer_value(json_object_get(row, "n"));

    json_decref(row);
    return n;
}

static json_t *deploy(struct fixture *f, json_t *ids, struct deploy_result *out)
{
    struct err e;
    json_t *body = json_pack("{s:O}", "locationIds", ids);
    json_t *answer;

    err_clear(&e);
    if (deploy_run(f->s, &f->cfg, &f->admin, f->release_id, body, NULL, out,
                   &e))
        fail_msg("deploy_run: %s", e.message);
    json_decref(body);
    answer = json_loads(out->body, 0, NULL);
    assert_non_null(answer);
    return answer;
}

static json_t *all_sites(struct fixture *f)
{
    json_t *ids = json_array();

    for (int i = 0; i < SITES; i++)
        json_array_append_new(ids, json_string(f->loc[i]));
    return ids;
}

/* Every pushed event carries a signature over its own canonical form. */
static void assert_signed(struct fixture *f, const struct fleet_push *p)
{
    json_t *ev = json_loads(p->data, 0, NULL);
    json_t *payload = json_copy(ev);
    const char *sig = str(ev, "signature");

    assert_non_null(ev);
    json_object_del(payload, "signature");
    assert_true(sign_verify(sign_key_public(f->key), payload, sig));
    assert_string_equal(str(ev, "id"), p->id);
    assert_string_equal(str(ev, "serverNodeId"), p->node_id);
    json_decref(payload);
    json_decref(ev);
}

static void test_payload_is_canonical(void **state)
{
    static const char *const nodes[] = {"0mx8kzumv0000pk4tbrzpssce",
                                        "not \"an\" id\\"};
    json_t *rel =
        json_pack("{s:s, s:s, s:s, s:n, s:s}", "version", "1.2.3-rc.1+b.7",
                  "channel", "BETA", "imageTag", "pos:1.2.3", "imageDigest",
                  "rollbackVersion", "1.2.2");
    json_t *part = deploy_command_release(rel);
    char *rel_text = sign_canonical(part);

    (void)state;
    for (size_t i = 0; i < 2; i++) {
        json_t *whole = json_pack(
            "{s:s, s:s, s:s, s:O, s:s, s:s}", "id", "0mx8kzuxb0000ljj4tor9fya9",
            "type", "FORCE_UPDATE", "serverNodeId", nodes[i], "release", part,
            "createdAt", "2026-12-04T06:07:01.896Z", "expiresAt",
            "2026-12-05T06:07:01.896Z");
        char *want = sign_canonical(whole);
        char *have = deploy_command_payload(
            rel_text, "0mx8kzuxb0000ljj4tor9fya9", nodes[i],
            "2026-12-04T06:07:01.896Z", "2026-12-05T06:07:01.896Z");

        assert_string_equal(have, want);
        free(have);
        free(want);
        json_decref(whole);
    }
    free(rel_text);
    json_decref(part);
    json_decref(rel);
}

static void test_deploy_all(void **state)
{
    struct fixture *f = *state;
    struct deploy_result out;
    json_t *ids = all_sites(f);
    json_t *answer = deploy(f, ids, &out);
    json_t *results = json_object_get(answer, "results");

    assert_int_equal(out.status, 200);
    assert_int_equal(json_array_size(results), SITES);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(answer, "summary"), "succeeded")),
                     SITES);
    assert_int_equal(out.fresh->n, SITES);
    for (size_t i = 0; i < SITES; i++) {
        json_t *r = json_array_get(results, i);

        assert_true(json_is_true(json_object_get(r, "success")));
        assert_string_equal(str(r, "locationId"), f->loc[i]);
        assert_string_equal(str(r, "serverNodeId"), f->node[i]);
        assert_true(json_is_null(json_object_get(r, "error")));
        assert_string_equal(out.fresh->v[i].id, str(r, "commandId"));
        if (i > 0)
            assert_true(out.fresh->v[i].seq > out.fresh->v[i - 1].seq);
        assert_signed(f, &out.fresh->v[i]);
    }
    assert_int_equal(count(f->s,
                           "SELECT COUNT(*) AS n FROM audit_entries"
                           " WHERE action = 'release.deploy' AND"
                           " target_id = $1",
                           f->release_id),
                     SITES);
    deploy_result_release(&out);
    json_decref(answer);
    json_decref(ids);
}

/* A trigger refuses one location's audit entry, its last write: the deploy
 * is written again location by location, that location fails alone and
 * keeps nothing (no command, no target version), and every other location
 * gets its command, target and audit entry. */
static void test_one_failure_costs_one_location(void **state)
{
    struct fixture *f = *state;
    struct deploy_result out;
    struct err e;
    char sql[256];
    json_t *ids = all_sites(f), *answer, *bad;

    snprintf(sql, sizeof(sql),
             "CREATE TRIGGER refuse BEFORE INSERT ON audit_entries"
             " WHEN NEW.details LIKE '%%%s%%'"
             " BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
             f->node[BROKEN]);
    if (db_run(f->s, sql, NULL, 0, &e))
        fail_msg("trigger: %s", e.message);
    json_array_append_new(ids, json_string("0unknownlocation000000000"));
    answer = deploy(f, ids, &out);

    assert_int_equal(out.status, 207);
    assert_int_equal(out.fresh->n, SITES - 1);
    bad = json_array_get(json_object_get(answer, "results"), BROKEN);
    assert_false(json_is_true(json_object_get(bad, "success")));
    assert_string_equal(str(json_object_get(bad, "error"), "code"), "INTERNAL");
    bad = json_array_get(json_object_get(answer, "results"), SITES);
    assert_string_equal(str(json_object_get(bad, "error"), "code"),
                        "LOCATION_NOT_FOUND");
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(answer, "summary"), "failed")),
                     2);
    for (int i = 0; i < SITES; i++) {
        long long cmds = count(f->s,
                               "SELECT COUNT(*) AS n FROM fleet_commands"
                               " WHERE server_node_id = $1",
                               f->node[i]);
        long long targets = count(f->s,
                                  "SELECT COUNT(*) AS n FROM server_nodes"
                                  " WHERE id = $1 AND"
                                  " target_version = '2.1.0'",
                                  f->node[i]);
        long long audits = count(f->s,
                                 "SELECT COUNT(*) AS n FROM audit_entries"
                                 " WHERE action = 'release.deploy' AND"
                                 " details LIKE '%' || $1 || '%'",
                                 f->node[i]);

        assert_int_equal(cmds, i == BROKEN ? 0 : 1);
        assert_int_equal(targets, i == BROKEN ? 0 : 1);
        assert_int_equal(audits, i == BROKEN ? 0 : 1);
    }
    deploy_result_release(&out);
    json_decref(answer);
    json_decref(ids);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_payload_is_canonical),
        cmocka_unit_test_setup_teardown(test_deploy_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_failure_costs_one_location,
                                        setup, teardown),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
