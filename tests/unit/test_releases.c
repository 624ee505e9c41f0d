/* core/releases: validation and the latest-per-channel rule, over a real
 * store in a temporary SQLite file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "core/releases.h"
#include "lib/log.h"

struct fixture {
    char dir[64];
    struct store *s;
    struct actor admin;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char path[128];
    struct err e;

    snprintf(f->dir, sizeof(f->dir), "/tmp/mc-rel-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(path, sizeof(path), "%s/mc.db", f->dir);
    log_set_level(LOG_ERROR);
    if (store_open(path, &f->s, &e) ||
        auth_bootstrap(f->s, "unit-test-token-0123456789", NULL, "password1",
                       &e) ||
        auth_token(f->s, "unit-test-token-0123456789", &f->admin, &e))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];

    store_free(f->s);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

/* Creates a release from JSON text; answers the error status. */
static int create(struct fixture *f, const char *body, struct err *e)
{
    json_t *b = json_loads(body, 0, NULL);
    json_t *r;

    err_clear(e);
    r = release_create(f->s, &f->admin, b, e);
    json_decref(b);
    json_decref(r);
    return r ? 0 : (int)e->status;
}

static bool is_latest(struct fixture *f, const char *version)
{
    struct err e;
    json_t *r = release_find(f->s, &f->admin, version, &e);
    bool latest = json_is_true(json_object_get(r, "isLatest"));

    assert_non_null(r);
    json_decref(r);
    return latest;
}

static void latest_follows_precedence_per_channel(void **state)
{
    struct fixture *f = *state;
    struct err e;
    json_t *r;

    assert_int_equal(
        create(f, "{\"version\":\"1.0.0\",\"imageTag\":\"a\"}", &e), 0);
    assert_true(is_latest(f, "1.0.0"));
    assert_int_equal(
        create(f, "{\"version\":\"1.2.0\",\"imageTag\":\"a\"}", &e), 0);
    assert_true(is_latest(f, "1.2.0"));
    assert_false(is_latest(f, "1.0.0"));
    /* Lower precedence, created later: the flag stays. */
    assert_int_equal(
        create(f, "{\"version\":\"1.1.0\",\"imageTag\":\"a\"}", &e), 0);
    assert_true(is_latest(f, "1.2.0"));
    /* A pre-release is below its release; BETA has its own latest. */
    assert_int_equal(create(f,
                            "{\"version\":\"1.3.0-rc.1\",\"channel\":"
                            "\"BETA\",\"imageTag\":\"a\"}",
                            &e),
                     0);
    assert_true(is_latest(f, "1.3.0-rc.1"));
    assert_true(is_latest(f, "1.2.0"));
    /* Archiving the latest hands the flag down; the last one clears it. */
    r = release_archive(f->s, &f->admin, "1.2.0", &e);
    assert_non_null(r);
    json_decref(r);
    assert_true(is_latest(f, "1.1.0"));
    assert_false(is_latest(f, "1.2.0"));
    r = release_archive(f->s, &f->admin, "1.3.0-rc.1", &e);
    assert_non_null(r);
    json_decref(r);
    assert_false(is_latest(f, "1.3.0-rc.1"));
    assert_null(release_archive(f->s, &f->admin, "1.2.0", &e));
    assert_string_equal(e.code, "RELEASE_ARCHIVED");
}

static void equal_precedence_is_a_conflict(void **state)
{
    struct fixture *f = *state;
    struct err e;

    assert_int_equal(
        create(f, "{\"version\":\"2.0.0\",\"imageTag\":\"a\"}", &e), 0);
    assert_int_equal(
        create(f, "{\"version\":\"2.0.0+build.7\",\"imageTag\":\"a\"}", &e),
        409);
    assert_string_equal(e.code, "VERSION_EXISTS");
}

static void expect_field(struct fixture *f, const char *body, const char *field)
{
    struct err e;

    assert_int_equal(create(f, body, &e), 400);
    assert_string_equal(e.code, "VALIDATION_ERROR");
    assert_string_equal(e.field, field);
}

static void validation_names_the_field(void **state)
{
    struct fixture *f = *state;

    expect_field(f, "{\"version\":\"1.2\",\"imageTag\":\"a\"}", "version");
    expect_field(f, "{\"version\":\"\",\"imageTag\":\"a\"}", "version");
    expect_field(f, "{\"version\":7,\"imageTag\":\"a\"}", "version");
    expect_field(f, "{\"version\":\"1.0.0\"}", "imageTag");
    expect_field(f, "{\"version\":\"1.0.0\",\"imageTag\":\"A B\"}", "imageTag");
    expect_field(f,
                 "{\"version\":\"1.0.0\",\"imageTag\":\"a\",\"channel\":"
                 "\"NIGHTLY\"}",
                 "channel");
    expect_field(f,
                 "{\"version\":\"1.0.0\",\"imageTag\":\"a\","
                 "\"minSchemaVersion\":-1}",
                 "minSchemaVersion");
    expect_field(f,
                 "{\"version\":\"1.0.0\",\"imageTag\":\"a\","
                 "\"minSchemaVersion\":1.5}",
                 "minSchemaVersion");
    expect_field(f,
                 "{\"version\":\"1.0.0\",\"imageTag\":\"a\","
                 "\"imageDigest\":\"sha256:XYZ\"}",
                 "imageDigest");
    expect_field(f,
                 "{\"version\":\"1.0.0\",\"imageTag\":\"a\","
                 "\"rollbackVersion\":\"1.0.1\"}",
                 "rollbackVersion");
    expect_field(f, "{\"version\":\"1.0.0\",\"imageTag\":\"a\",\"x\":1}", "x");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(latest_follows_precedence_per_channel,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(equal_precedence_is_a_conflict, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(validation_names_the_field, setup,
                                        teardown),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
