/* The exec driver, running real shell commands: environment, exit status
 * and stderr in the message, timeouts that stop the whole process group,
 * and recovery after an interrupted run. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/agent/exec.c"
#include "../../src/agent/util.c"

static char dir[64];

static const struct agent_update update = {
    .command_id = "cmd42",
    .version = "1.4.0",
    .image_tag = "1.4.0",
    .image_ref = "registry.example/pos:1.4.0",
    .image_digest = NULL,
};

static int make_dir(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/mc-agent-exec-XXXXXX");
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

/* Runs cmd through a new exec driver; returns apply's result. */
static int run(const char *cmd, int timeout_s, char *msg, size_t msglen)
{
    struct driver_settings s = {
        .state_dir = dir, .exec_command = cmd, .exec_timeout_s = timeout_s};
    struct driver *d = driver_exec_new(&s, msg, msglen);
    int rc;

    assert_non_null(d);
    msg[0] = '\0';
    rc = d->ops->apply(d, &update, msg, msglen);
    d->ops->free(d);
    return rc;
}

static char *marker_path(void)
{
    return xasprintf("%s/%s", dir, EXEC_MARKER);
}

static void test_success_gets_environment(void **state)
{
    char msg[512], *cmd, *out, *path = xasprintf("%s/env", dir);
    char *marker = marker_path();

    (void)state;
    setenv("MC_VERSION", "stale", 1);
    cmd = xasprintf("echo \"$MC_VERSION|$MC_IMAGE_TAG|$MC_IMAGE_REF|"
                    "$MC_IMAGE_DIGEST|$MC_COMMAND_ID\" > %s; "
                    "test -f %s && echo marker-present >> %s",
                    path, marker, path);
    assert_int_equal(run(cmd, 10, msg, sizeof(msg)), 0);
    out = util_read_small(path, 1024);
    assert_non_null(out);
    /* The marker exists while the command runs, and is gone after. */
    assert_string_equal(out, "1.4.0|1.4.0|registry.example/pos:1.4.0||cmd42"
                             "\nmarker-present");
    assert_int_equal(access(marker, F_OK), -1);
    unsetenv("MC_VERSION");
    free(out);
    free(cmd);
    free(path);
    free(marker);
}

static void test_failure_reports_status_and_last_stderr_line(void **state)
{
    char msg[512];

    (void)state;
    assert_int_equal(run("echo progress; echo 'first' >&2; "
                         "printf 'pull failed: \"no\" space\\n\\n' >&2; "
                         "exit 3",
                         10, msg, sizeof(msg)),
                     -1);
    assert_string_equal(msg, "exec command exited with status 3: pull failed: "
                             "'no' space");
}

static void test_failure_without_output(void **state)
{
    char msg[512];

    (void)state;
    assert_int_equal(run("exit 1", 10, msg, sizeof(msg)), -1);
    assert_string_equal(msg, "exec command exited with status 1");
    assert_int_equal(run("kill -9 $$", 10, msg, sizeof(msg)), -1);
    assert_string_equal(msg, "exec command killed by signal 9");
}

static bool gone(pid_t pid)
{
    char path[64], buf[256];
    FILE *f;
    bool zombie;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (!f)
        return true;
    zombie = fgets(buf, sizeof(buf), f) && strstr(buf, ") Z ");
    fclose(f);
    return zombie;
}

static void test_timeout_kills_process_group(void **state)
{
    char msg[512], *cmd, *pidfile = xasprintf("%s/bg.pid", dir), *pid;
    int64_t start = time_mono_ms();

    (void)state;
    cmd = xasprintf("sleep 60 & echo $! > %s; echo waiting >&2; sleep 60",
                    pidfile);
    assert_int_equal(run(cmd, 1, msg, sizeof(msg)), -1);
    assert_true(time_mono_ms() - start < 4000);
    assert_string_equal(msg, "exec command timed out after 1 s: waiting");
    pid = util_read_small(pidfile, 32);
    assert_non_null(pid);
    /* The background child was in the group, so it was stopped too. */
    for (int i = 0; i < 50 && !gone((pid_t)strtol(pid, NULL, 10)); i++)
        usleep(20000);
    assert_true(gone((pid_t)strtol(pid, NULL, 10)));
    free(pid);
    free(cmd);
    free(pidfile);
}

static void test_timeout_escalates_to_sigkill(void **state)
{
    char msg[512];
    int64_t start = time_mono_ms();

    (void)state;
    assert_int_equal(run("trap '' TERM; sleep 60", 1, msg, sizeof(msg)), -1);
    assert_true(time_mono_ms() - start >= 1000 + EXEC_TERM_GRACE - 100);
    assert_true(time_mono_ms() - start < 1000 + EXEC_TERM_GRACE + 2000);
    assert_string_equal(msg, "exec command timed out after 1 s");
}

static void test_background_child_does_not_block(void **state)
{
    char msg[512];
    int64_t start = time_mono_ms();

    (void)state;
    /* It holds stdout and stderr open after the shell exited. */
    assert_int_equal(run("(sleep 3 &); echo done", 10, msg, sizeof(msg)), 0);
    assert_true(time_mono_ms() - start < 2000);
}

static void test_recover_reports_interrupted_run(void **state)
{
    struct driver_settings s = {
        .state_dir = dir, .exec_command = "true", .exec_timeout_s = 5};
    char msg[256] = "", id[64] = "", *marker = marker_path();
    struct driver *d = driver_exec_new(&s, msg, sizeof(msg));
    FILE *f = fopen(marker, "w");
    int ok = 1;

    (void)state;
    fputs("cmd7\n", f);
    fclose(f);
    assert_int_equal(d->ops->recover(d, id, sizeof(id), &ok, msg, sizeof(msg)),
                     0);
    assert_string_equal(id, "cmd7");
    assert_int_equal(ok, 0);
    assert_non_null(strstr(msg, "interrupted"));
    assert_int_equal(access(marker, F_OK), -1);

    id[0] = '\0';
    ok = 1;
    assert_int_equal(d->ops->recover(d, id, sizeof(id), &ok, msg, sizeof(msg)),
                     0);
    assert_string_equal(id, "");
    assert_int_equal(ok, 0);
    d->ops->free(d);
    free(marker);
}

static void test_settings_checked(void **state)
{
    struct driver_settings s = {.state_dir = dir, .exec_timeout_s = 5};
    char msg[256];

    (void)state;
    assert_null(driver_exec_new(&s, msg, sizeof(msg)));
    assert_string_equal(msg, "the exec driver needs --exec-command");
    s.exec_command = "true";
    s.exec_timeout_s = 0;
    assert_null(driver_exec_new(&s, msg, sizeof(msg)));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, make_dir, remove_dir)
    const struct CMUnitTest tests[] = {
        T(test_success_gets_environment),
        T(test_failure_reports_status_and_last_stderr_line),
        T(test_failure_without_output),
        T(test_timeout_kills_process_group),
        T(test_timeout_escalates_to_sigkill),
        T(test_background_child_does_not_block),
        T(test_recover_reports_interrupted_run),
        T(test_settings_checked),
    };
#undef T

    log_set_level(LOG_WARN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
