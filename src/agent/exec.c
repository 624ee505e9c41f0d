/*
 * The exec driver: an update is one run of a configured shell command, for
 * hosts without Docker and for tests. The command gets the update in its
 * environment; exit status 0 is success. It runs in its own process group,
 * so a timeout stops everything it started.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/driver.h"
#include "agent/util.h"
#include "lib/log.h"
#include "lib/timeutil.h"
#include "lib/xalloc.h"

#define EXEC_MARKER     "exec-pending"
#define EXEC_LINE_MAX   1024
#define EXEC_TERM_GRACE 3000 /* ms between SIGTERM and SIGKILL */

extern char **environ;

struct exec_driver {
    struct driver base;
    char *marker; /* "<state_dir>/exec-pending": a run was started */
};

/* One output pipe of the child, read line by line into the log. */
struct exec_pipe {
    int fd;
    const char *name;
    char line[EXEC_LINE_MAX];
    size_t len;
    char last[EXEC_LINE_MAX]; /* the last non-empty line */
};

struct exec_run {
    const struct agent_update *u;
    pid_t pid;
    int pidfd;
    int status;
    bool exited;
    bool timed_out;
    struct exec_pipe out, err;
};

/* --- the child's environment and start --------------------------------- */

static bool is_ours(const char *entry)
{
    static const char *const names[] = {
        "MC_VERSION=",      "MC_IMAGE_TAG=",  "MC_IMAGE_REF=",
        "MC_IMAGE_DIGEST=", "MC_COMMAND_ID=", NULL};

    for (int i = 0; names[i]; i++)
        if (strncmp(entry, names[i], strlen(names[i])) == 0)
            return true;
    return false;
}

/* environ without our names, then ours; free with free_env. */
static char **make_env(const struct agent_update *u)
{
    size_t n = 0, k = 0;
    char **env;

    while (environ[n])
        n++;
    env = xcalloc(n + 6, sizeof(*env));
    for (size_t i = 0; i < n; i++)
        if (!is_ours(environ[i]))
            env[k++] = xstrdup(environ[i]);
    env[k++] = xasprintf("MC_VERSION=%s", u->version);
    env[k++] = xasprintf("MC_IMAGE_TAG=%s", u->image_tag);
    env[k++] = xasprintf("MC_IMAGE_REF=%s", u->image_ref);
    env[k++] =
        xasprintf("MC_IMAGE_DIGEST=%s", u->image_digest ? u->image_digest : "");
    env[k++] = xasprintf("MC_COMMAND_ID=%s", u->command_id);
    return env;
}

static void free_env(char **env)
{
    for (size_t i = 0; env[i]; i++)
        free(env[i]);
    free(env);
}

static int spawn(struct exec_run *r, const char *cmd, char *msg, size_t msglen)
{
    int out[2] = {-1, -1}, err[2] = {-1, -1}, rc = -1;
    char *argv[] = {"sh", "-c", (char *)cmd, NULL};
    char **env = make_env(r->u);
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;

    if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) {
        snprintf(msg, msglen, "cannot start the exec command: %s",
                 strerror(errno));
        goto out;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    rc = posix_spawn(&r->pid, "/bin/sh", &fa, &attr, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc) {
        snprintf(msg, msglen, "cannot start /bin/sh: %s", strerror(rc));
        rc = -1;
        goto out;
    }
    r->out.fd = out[0];
    r->err.fd = err[0];
    out[0] = err[0] = -1;
out:
    for (int i = 0; i < 2; i++) {
        if (out[i] >= 0)
            close(out[i]);
        if (err[i] >= 0)
            close(err[i]);
    }
    free_env(env);
    return rc;
}

/* --- watching it -------------------------------------------------------- */

static void emit_line(struct exec_pipe *p, const char *command_id)
{
    p->line[p->len] = '\0';
    p->len = 0;
    util_scrub(p->line);
    if (!p->line[strspn(p->line, " ")])
        return;
    memcpy(p->last, p->line, sizeof(p->last));
    log_info("exec output", "command=%s stream=%s line=\"%s\"", command_id,
             p->name, p->line);
}

/* Reads what is there; closes the pipe at end of file. */
static void drain(struct exec_pipe *p, const char *command_id)
{
    char buf[4096];
    ssize_t n = read(p->fd, buf, sizeof(buf));

    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        if (p->len)
            emit_line(p, command_id);
        close(p->fd);
        p->fd = -1;
        return;
    }
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] == '\n') {
            emit_line(p, command_id);
            continue;
        }
        p->line[p->len++] = buf[i];
        if (p->len == EXEC_LINE_MAX - 1)
            emit_line(p, command_id);
    }
}

static void reap(struct exec_run *r)
{
    if (waitpid(r->pid, &r->status, WNOHANG) == r->pid)
        r->exited = true;
}

/* Escalates when the deadline passed: SIGTERM to the group, then, after a
 * grace period, SIGKILL. Returns the next deadline. */
static int64_t on_deadline(struct exec_run *r, int64_t now)
{
    if (!r->timed_out) {
        r->timed_out = true;
        kill(-r->pid, SIGTERM);
        return now + EXEC_TERM_GRACE;
    }
    kill(-r->pid, SIGKILL);
    return INT64_MAX;
}

/* Fills fds with the open pipes (and the pidfd when there is one). */
static int poll_set(struct exec_run *r, struct pollfd *fds,
                    struct exec_pipe **pipes, int *np)
{
    int n = 0;

    *np = 0;
    if (r->out.fd >= 0)
        pipes[(*np)++] = &r->out;
    if (r->err.fd >= 0)
        pipes[(*np)++] = &r->err;
    for (int i = 0; i < *np; i++)
        fds[n++] = (struct pollfd){.fd = pipes[i]->fd, .events = POLLIN};
    if (r->pidfd >= 0 && !r->exited)
        fds[n++] = (struct pollfd){.fd = r->pidfd, .events = POLLIN};
    return n;
}

/* Waits up to wait_ms for output or the exit; false when nothing came. */
static bool read_ready(struct exec_run *r, int wait_ms)
{
    struct pollfd fds[3];
    struct exec_pipe *pipes[2];
    int np, n = poll_set(r, fds, pipes, &np);

    if (poll(fds, (nfds_t)n, wait_ms) <= 0)
        return false;
    for (int i = 0; i < np; i++)
        if (fds[i].revents)
            drain(pipes[i], r->u->command_id);
    return true;
}

static void watch(struct exec_run *r, int timeout_s)
{
    int64_t deadline = time_mono_ms() + (int64_t)timeout_s * 1000;

    while (!r->exited) {
        int64_t now = time_mono_ms();
        int64_t wait_ms;

        if (now >= deadline)
            deadline = on_deadline(r, now);
        /* Without a pidfd, its exit is noticed by looking now and then. */
        wait_ms = r->pidfd >= 0 ? -1 : 100;
        if (deadline != INT64_MAX && (wait_ms < 0 || wait_ms > deadline - now))
            wait_ms = deadline - now;
        read_ready(r, (int)wait_ms);
        reap(r);
    }
    /* Take what the pipes hold, but do not wait for what it left running
     * in the background (it may keep them open for ever). */
    for (int i = 0; i < 64 && (r->out.fd >= 0 || r->err.fd >= 0); i++)
        if (!read_ready(r, 0))
            break;
}

static void finish(struct exec_run *r)
{
    if (!r->exited && waitpid(r->pid, &r->status, 0) == r->pid)
        r->exited = true;
    if (r->out.len)
        emit_line(&r->out, r->u->command_id);
    if (r->err.len)
        emit_line(&r->err, r->u->command_id);
    if (r->out.fd >= 0)
        close(r->out.fd);
    if (r->err.fd >= 0)
        close(r->err.fd);
    if (r->pidfd >= 0)
        close(r->pidfd);
}

static int outcome(const struct exec_run *r, int timeout_s, char *msg,
                   size_t msglen)
{
    const char *last = r->err.last;

    if (r->timed_out) {
        snprintf(msg, msglen, "exec command timed out after %d s%s%s",
                 timeout_s, *last ? ": " : "", last);
        return -1;
    }
    if (WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0)
        return 0;
    if (WIFEXITED(r->status))
        snprintf(msg, msglen, "exec command exited with status %d%s%s",
                 WEXITSTATUS(r->status), *last ? ": " : "", last);
    else
        snprintf(msg, msglen, "exec command killed by signal %d%s%s",
                 WTERMSIG(r->status), *last ? ": " : "", last);
    return -1;
}

/* --- the driver --------------------------------------------------------- */

static int write_marker(const char *path, const char *command_id)
{
    FILE *f = fopen(path, "we");
    int rc;

    if (!f)
        return -1;
    rc = fprintf(f, "%s\n", command_id) < 0;
    rc |= fflush(f) || fsync(fileno(f));
    rc |= fclose(f);
    return rc ? -1 : 0;
}

static int exec_apply(struct driver *d, const struct agent_update *u, char *msg,
                      size_t msglen)
{
    struct exec_driver *x = (struct exec_driver *)d;
    const struct driver_settings *s = d->settings;
    struct exec_run r = {.u = u, .pidfd = -1};
    int rc;

    r.out = (struct exec_pipe){.fd = -1, .name = "stdout"};
    r.err = (struct exec_pipe){.fd = -1, .name = "stderr"};
    if (write_marker(x->marker, u->command_id)) {
        snprintf(msg, msglen, "cannot write \"%s\": %s", x->marker,
                 strerror(errno));
        return -1;
    }
    log_info("exec start", "command=%s version=%s timeout=%d", u->command_id,
             u->version, s->exec_timeout_s);
    if (spawn(&r, s->exec_command, msg, msglen)) {
        unlink(x->marker);
        return -1;
    }
    r.pidfd = (int)syscall(SYS_pidfd_open, r.pid, 0);
    watch(&r, s->exec_timeout_s);
    finish(&r);
    rc = outcome(&r, s->exec_timeout_s, msg, msglen);
    unlink(x->marker);
    return rc;
}

static int exec_recover(struct driver *d, char *command_id, size_t idlen,
                        int *succeeded, char *msg, size_t msglen)
{
    struct exec_driver *x = (struct exec_driver *)d;
    char *id = util_read_small(x->marker, 256);

    *succeeded = 0;
    if (!id)
        return 0;
    snprintf(command_id, idlen, "%s", id);
    snprintf(msg, msglen,
             "the exec command was interrupted by an agent "
             "restart; its outcome is unknown");
    free(id);
    unlink(x->marker);
    return 0;
}

static void exec_free(struct driver *d)
{
    struct exec_driver *x = (struct exec_driver *)d;

    if (!x)
        return;
    free(x->marker);
    free(x);
}

static const struct driver_ops exec_ops = {
    .name = "exec",
    .apply = exec_apply,
    .recover = exec_recover,
    .free = exec_free,
};

struct driver *driver_exec_new(const struct driver_settings *s, char *msg,
                               size_t msglen)
{
    struct exec_driver *x;

    if (!s->exec_command || !*s->exec_command) {
        snprintf(msg, msglen, "the exec driver needs --exec-command");
        return NULL;
    }
    if (s->exec_timeout_s <= 0) {
        snprintf(msg, msglen, "--exec-timeout must be a positive number");
        return NULL;
    }
    x = xcalloc(1, sizeof(*x));
    x->base.ops = &exec_ops;
    x->base.settings = s;
    x->marker = xasprintf("%s/%s", s->state_dir, EXEC_MARKER);
    return &x->base;
}
