/* The agent's state file: round trip, atomic replacement, the bounded
 * list of handled commands, and refusal of a damaged file. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/agent/state.c"

static char dir[64];

static int make_dir(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/mc-agent-state-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    (void)state;
    while (d && (e = readdir(d))) {
        char *p = xasprintf("%s/%s", dir, e->d_name);

        if (e->d_name[0] != '.')
            unlink(p);
        free(p);
    }
    if (d)
        closedir(d);
    return rmdir(dir);
}

static void write_file(const char *text)
{
    char *p = xasprintf("%s/%s", dir, STATE_FILE);
    FILE *f = fopen(p, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    free(p);
}

static int count_files(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void test_missing_file_is_empty(void **state)
{
    struct agent_state s;
    char msg[256];

    (void)state;
    assert_int_equal(state_load(&s, dir, msg, sizeof(msg)), 0);
    assert_null(s.current_version);
    assert_null(s.last_event_id);
    assert_int_equal(s.handled_count, 0);
    assert_int_equal(s.flight.stage, STAGE_NONE);
    state_release(&s);
}

static void test_round_trip(void **state)
{
    struct agent_state s, t;
    char msg[256];

    (void)state;
    assert_int_equal(state_load(&s, dir, msg, sizeof(msg)), 0);
    state_set(&s.current_version, "1.4.0");
    state_set(&s.last_event_id, "17");
    state_add_handled(&s, "cmd1", "SUCCEEDED", NULL);
    state_add_handled(&s, "cmd2", "FAILED",
                      "exec command exited with "
                      "status 3: \"no\" \\ luck\n");
    state_flight_begin(&s, "cmd3", "{\"id\":\"cmd3\"}");
    state_flight_finish(&s, "FAILED", "boom");
    assert_int_equal(state_save(&s, msg, sizeof(msg)), 0);
    /* Only the state file (no temp file) is left behind. */
    assert_int_equal(count_files(), 1);

    assert_int_equal(state_load(&t, dir, msg, sizeof(msg)), 0);
    assert_string_equal(t.current_version, "1.4.0");
    assert_string_equal(t.last_event_id, "17");
    assert_int_equal(t.handled_count, 2);
    assert_string_equal(state_find(&t, "cmd1")->status, "SUCCEEDED");
    assert_null(state_find(&t, "cmd1")->message);
    assert_string_equal(state_find(&t, "cmd2")->message,
                        "exec command exited with status 3: \"no\" \\ "
                        "luck\n");
    assert_null(state_find(&t, "cmd9"));
    assert_int_equal(t.flight.stage, STAGE_FINISHED);
    assert_string_equal(t.flight.id, "cmd3");
    assert_string_equal(t.flight.command, "{\"id\":\"cmd3\"}");
    assert_string_equal(t.flight.status, "FAILED");
    assert_string_equal(t.flight.message, "boom");
    state_release(&s);
    state_release(&t);
}

static void test_each_stage_survives(void **state)
{
    enum state_stage stages[] = {STAGE_RECEIVED, STAGE_APPLYING};
    char msg[256];

    (void)state;
    for (size_t i = 0; i < 2; i++) {
        struct agent_state s, t;

        assert_int_equal(state_load(&s, dir, msg, sizeof(msg)), 0);
        state_flight_begin(&s, "c", "{}");
        s.flight.stage = stages[i];
        assert_int_equal(state_save(&s, msg, sizeof(msg)), 0);
        assert_int_equal(state_load(&t, dir, msg, sizeof(msg)), 0);
        assert_int_equal(t.flight.stage, stages[i]);
        state_flight_clear(&t);
        assert_int_equal(state_save(&t, msg, sizeof(msg)), 0);
        state_release(&s);
        state_release(&t);
        assert_int_equal(state_load(&t, dir, msg, sizeof(msg)), 0);
        assert_int_equal(t.flight.stage, STAGE_NONE);
        state_release(&t);
    }
}

static void test_handled_list_bounded(void **state)
{
    struct agent_state s, t;
    char msg[256], id[32];

    (void)state;
    assert_int_equal(state_load(&s, dir, msg, sizeof(msg)), 0);
    for (int i = 0; i < STATE_HANDLED_MAX + 10; i++) {
        snprintf(id, sizeof(id), "c%d", i);
        state_add_handled(&s, id, "SUCCEEDED", "m");
    }
    assert_int_equal(s.handled_count, STATE_HANDLED_MAX);
    assert_int_equal(state_save(&s, msg, sizeof(msg)), 0);
    assert_int_equal(state_load(&t, dir, msg, sizeof(msg)), 0);
    assert_int_equal(t.handled_count, STATE_HANDLED_MAX);
    /* The oldest ten were dropped, the newest kept. */
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof(id), "c%d", i);
        assert_null(state_find(&t, id));
    }
    snprintf(id, sizeof(id), "c%d", STATE_HANDLED_MAX + 9);
    assert_non_null(state_find(&t, id));
    assert_non_null(state_find(&t, "c10"));
    state_release(&s);
    state_release(&t);
}

static void test_long_message_cut_at_character(void **state)
{
    struct agent_state s;
    char msg[256], *m = xmalloc(STATE_MESSAGE_MAX * 2 + 1);

    (void)state;
    /* Two-byte characters, so the limit falls inside one. */
    for (int i = 0; i < STATE_MESSAGE_MAX; i++)
        memcpy(m + 2 * i + 1, "\xC3\xA9", 2);
    m[0] = 'x';
    m[STATE_MESSAGE_MAX * 2 + 1 - 1] = '\0';
    assert_int_equal(state_load(&s, dir, msg, sizeof(msg)), 0);
    state_add_handled(&s, "c", "FAILED", m);
    assert_true(strlen(s.handled[0].message) <= STATE_MESSAGE_MAX);
    assert_int_equal(strlen(s.handled[0].message) % 2, 1);
    state_release(&s);
    free(m);
}

static void test_damaged_file_refused(void **state)
{
    static const char *const bad[] = {
        "{\"format\": 1, \"handled\": [",
        "[]",
        "{\"format\": 2}",
        "{\"format\": 1, \"handled\": [{\"status\": \"x\"}]}",
        "{\"format\": 1, \"inFlight\": {\"stage\": \"flying\", \"id\": "
        "\"c\", \"command\": \"{}\"}}",
        "{\"format\": 1, \"format\": 1}",
    };
    struct agent_state s;
    char msg[256];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        write_file(bad[i]);
        msg[0] = '\0';
        assert_int_equal(state_load(&s, dir, msg, sizeof(msg)), -1);
        assert_non_null(strstr(msg, "cannot read state file"));
        state_release(&s);
    }
}

static void test_save_failure_keeps_old_file(void **state)
{
    struct agent_state s, t;
    char msg[256];
    char *tmp = xasprintf("%s/%s.tmp", dir, STATE_FILE);

    (void)state;
    assert_int_equal(state_load(&s, dir, msg, sizeof(msg)), 0);
    state_set(&s.current_version, "1.0.0");
    assert_int_equal(state_save(&s, msg, sizeof(msg)), 0);
    /* A directory where the temp file goes fails the save, even as root. */
    assert_int_equal(mkdir(tmp, 0700), 0);
    state_set(&s.current_version, "2.0.0");
    assert_int_equal(state_save(&s, msg, sizeof(msg)), -1);
    assert_int_equal(rmdir(tmp), 0);
    assert_non_null(strstr(msg, "cannot create state file"));
    assert_int_equal(state_load(&t, dir, msg, sizeof(msg)), 0);
    assert_string_equal(t.current_version, "1.0.0");
    state_release(&s);
    state_release(&t);
    free(tmp);
}

static void test_save_replaces_stale_temp_file(void **state)
{
    struct agent_state s, t;
    char msg[256];
    char *tmp = xasprintf("%s/%s.tmp", dir, STATE_FILE);
    FILE *f;

    (void)state;
    /* A temp file left by a crash in the middle of a save is replaced,
     * and the state file itself is never written in place. */
    f = fopen(tmp, "w");
    fputs("{\"half\":", f);
    fclose(f);
    assert_int_equal(state_load(&s, dir, msg, sizeof(msg)), 0);
    state_set(&s.current_version, "3.0.0");
    assert_int_equal(state_save(&s, msg, sizeof(msg)), 0);
    assert_int_equal(access(tmp, F_OK), -1);
    assert_int_equal(state_load(&t, dir, msg, sizeof(msg)), 0);
    assert_string_equal(t.current_version, "3.0.0");
    state_release(&s);
    state_release(&t);
    free(tmp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_missing_file_is_empty, make_dir,
                                        remove_dir),
        cmocka_unit_test_setup_teardown(test_round_trip, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_each_stage_survives, make_dir,
                                        remove_dir),
        cmocka_unit_test_setup_teardown(test_handled_list_bounded, make_dir,
                                        remove_dir),
        cmocka_unit_test_setup_teardown(test_long_message_cut_at_character,
                                        make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_damaged_file_refused, make_dir,
                                        remove_dir),
        cmocka_unit_test_setup_teardown(test_save_failure_keeps_old_file,
                                        make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_save_replaces_stale_temp_file,
                                        make_dir, remove_dir),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
