/* mc-agent: the sync agent of one server node. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "agent/agent.h"
#include "agent/backoff.h"
#include "agent/stream.h"
#include "agent/util.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/semver.h"
#include "lib/timeutil.h"
#include "lib/xalloc.h"

/* A stream that stayed open this long worked: back-off starts over. */
#define HEALTHY_STREAM_MS 10000
#define REPORT_ATTEMPTS   5

static struct config_opt options[] = {
    {"server", "MC_AGENT_SERVER", NULL, "URL",
     "the Mission Control server (http:// or https://)", NULL},
    {"token", "MC_AGENT_TOKEN", NULL, "TOKEN", "this node's agent token", NULL},
    {"server-key", "MC_AGENT_SERVER_KEY", NULL, "PUBLIC_KEY",
     "the server's command signing key (base64)", NULL},
    {"node-id", "MC_AGENT_NODE_ID", NULL, "ID",
     "refuse commands for another node (not checked when unset)", NULL},
    {"state-dir", "MC_AGENT_STATE_DIR", "/var/lib/mc-agent", "DIR",
     "where the state file lives", NULL},
    {"schema-version", "MC_AGENT_SCHEMA_VERSION", NULL, "N",
     "the POS database schema version to report", NULL},
    {"schema-version-file", "MC_AGENT_SCHEMA_VERSION_FILE", NULL, "PATH",
     "read the schema version from this file at each connect", NULL},
    {"driver", "MC_AGENT_DRIVER", "docker", "docker|exec",
     "how an update is applied", NULL},
    {"docker-socket", "MC_AGENT_DOCKER_SOCKET", "/var/run/docker.sock", "PATH",
     "docker: the Engine API socket", NULL},
    {"container", "MC_AGENT_CONTAINER", NULL, "NAME",
     "docker: the POS container", NULL},
    {"image-repo", "MC_AGENT_IMAGE_REPO", NULL, "REPO",
     "joined to bare image tags (registry/path)", NULL},
    {"health-url", "MC_AGENT_HEALTH_URL", NULL, "URL",
     "docker: must answer 2xx once the new container runs", NULL},
    {"health-timeout", "MC_AGENT_HEALTH_TIMEOUT", "120", "SECONDS",
     "docker: how long to wait for healthy", NULL},
    {"settle", "MC_AGENT_SETTLE", "10", "SECONDS",
     "docker: must still run after this long", NULL},
    {"exec-command", "MC_AGENT_EXEC_COMMAND", NULL, "CMD",
     "exec: run through /bin/sh -c", NULL},
    {"exec-timeout", "MC_AGENT_EXEC_TIMEOUT", "600", "SECONDS",
     "exec: stopped after this long", NULL},
    {"keepalive", "MC_AGENT_KEEPALIVE", "15", "SECONDS",
     "the server's keep-alive interval; silent twice that: reconnect", NULL},
    {"backoff-max", "MC_AGENT_BACKOFF_MAX", "60", "SECONDS",
     "longest wait between reconnects", NULL},
    {"ca-file", "MC_AGENT_CA_FILE", NULL, "PATH",
     "CA certificates for an https server (default: the system's)", NULL},
    {"log-level", "MC_AGENT_LOG_LEVEL", "info", "LEVEL",
     "error, warn, info or debug", NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

struct program {
    struct config *cfg;
    struct driver_settings ds;
    struct agent a;
    char *server; /* without a trailing slash */
    const char *token;
    const char *ca_file;
    long schema_version; /* -1: none given */
    const char *schema_file;
    int keepalive_s;
    int backoff_max_s;
    int lock_fd;
};

static int stop_pipe[2] = {-1, -1};

static void on_stop(int sig)
{
    int saved = errno;
    char c = (char)sig;

    /* Never drained: once asked, every later wait ends at once. */
    if (write(stop_pipe[1], &c, 1) < 0) {
        /* full: a stop is already pending */
    }
    errno = saved;
}

static void usage(struct config *c, FILE *out)
{
    fprintf(out, "Usage: mc-agent [OPTION]...\n"
                 "The sync agent of a server node: holds the server's "
                 "event stream, verifies\n"
                 "and applies update commands, reports their status.\n\n"
                 "Options (flags, then environment, then config file):\n");
    config_usage(c, out);
    fprintf(out, "\nSee docs/agent.md for the config file, the state file "
                 "and the drivers.\n");
}

/* --- settings ----------------------------------------------------------- */

static int number(const struct config *c, const char *name, long min, long max,
                  long *out)
{
    const char *v = config_get(c, name);
    char *end;

    if (!v)
        return 0;
    errno = 0;
    *out = strtol(v, &end, 10);
    if (errno || end == v || *end || *out < min || *out > max) {
        fprintf(stderr,
                "mc-agent: invalid --%s \"%s\": expected a number from %ld "
                "to %ld\n",
                name, v, min, max);
        return -1;
    }
    return 0;
}

static int need(const struct config *c, const char *name)
{
    if (config_get(c, name) && *config_get(c, name))
        return 0;
    fprintf(stderr, "mc-agent: --%s is required (see mc-agent --help)\n", name);
    return -1;
}

static int read_server(struct program *p)
{
    const char *url = config_get(p->cfg, "server");
    size_t n = strlen(url);

    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
        fprintf(stderr,
                "mc-agent: invalid --server \"%s\": expected an http:// or "
                "https:// URL\n",
                url);
        return -1;
    }
    while (n > 0 && url[n - 1] == '/')
        n--;
    p->server = xstrndup(url, n);
    return 0;
}

static int read_numbers(struct program *p)
{
    long health = 0, settle = 0, exec_t = 0, keep = 0, backoff = 0;
    const struct config *c = p->cfg;

    p->schema_version = -1;
    if (number(c, "schema-version", 0, 2147483647L, &p->schema_version) ||
        number(c, "health-timeout", 1, 86400, &health) ||
        number(c, "settle", 0, 3600, &settle) ||
        number(c, "exec-timeout", 1, 86400, &exec_t) ||
        number(c, "keepalive", 1, 3600, &keep) ||
        number(c, "backoff-max", 1, 3600, &backoff))
        return -1;
    p->ds.health_timeout_s = (int)health;
    p->ds.settle_s = (int)settle;
    p->ds.exec_timeout_s = (int)exec_t;
    p->keepalive_s = (int)keep;
    p->backoff_max_s = (int)backoff;
    return 0;
}

static int read_settings(struct program *p)
{
    const struct config *c = p->cfg;

    if (need(c, "server") || need(c, "token") || need(c, "server-key") ||
        need(c, "state-dir") || read_server(p) || read_numbers(p))
        return -1;
    if (command_key_decode(config_get(c, "server-key"), p->a.key)) {
        fprintf(stderr, "mc-agent: invalid --server-key: expected the "
                        "base64 of a 32-byte ed25519 public key\n");
        return -1;
    }
    p->token = config_get(c, "token");
    p->ca_file = config_get(c, "ca-file");
    p->schema_file = config_get(c, "schema-version-file");
    p->a.node_id = config_get(c, "node-id");
    p->a.image_repo = config_get(c, "image-repo");
    p->ds.state_dir = config_get(c, "state-dir");
    p->ds.docker_socket = config_get(c, "docker-socket");
    p->ds.container = config_get(c, "container");
    p->ds.image_repo = p->a.image_repo;
    p->ds.health_url = config_get(c, "health-url");
    p->ds.exec_command = config_get(c, "exec-command");
    return 0;
}

/* --- start-up ----------------------------------------------------------- */

/* Creates the state directory when missing, and makes sure one agent at a
 * time uses it: two would both act on the same commands. */
static int lock_state_dir(struct program *p)
{
    const char *dir = p->ds.state_dir;
    char *path = xasprintf("%s/lock", dir);
    int rc = -1;

    if (mkdir(dir, 0700) && errno != EEXIST) {
        fprintf(stderr, "mc-agent: cannot create state directory \"%s\": %s\n",
                dir, strerror(errno));
        goto out;
    }
    p->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (p->lock_fd < 0) {
        fprintf(stderr, "mc-agent: cannot open \"%s\": %s\n", path,
                strerror(errno));
        goto out;
    }
    if (flock(p->lock_fd, LOCK_EX | LOCK_NB)) {
        fprintf(stderr,
                "mc-agent: state directory \"%s\" is in use by another "
                "mc-agent\n",
                dir);
        goto out;
    }
    rc = 0;
out:
    free(path);
    return rc;
}

static int install_signals(void)
{
    struct sigaction sa;

    if (pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK))
        return -1;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    return 0;
}

static struct curl_slist *auth_headers(const char *token, const char *more)
{
    char *auth = xasprintf("Authorization: Bearer %s", token);
    struct curl_slist *h = curl_slist_append(NULL, auth);

    h = curl_slist_append(h, more);
    sodium_memzero(auth, strlen(auth));
    free(auth);
    return h;
}

/* --- the stream loop ---------------------------------------------------- */

/* The schema version to report now, or -1 when unknown. */
static long schema_version(const struct program *p)
{
    char *text, *end;
    long v;

    if (!p->schema_file)
        return p->schema_version;
    text = util_read_small(p->schema_file, 64);
    if (!text) {
        log_warn("schema version unknown", "file=%s error=\"%s\"",
                 p->schema_file, strerror(errno));
        return -1;
    }
    errno = 0;
    v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < 0 || v > 2147483647L) {
        log_warn("schema version unknown", "file=%s error=\"not a number\"",
                 p->schema_file);
        v = -1;
    }
    free(text);
    return v;
}

/* NEEDSWORK: the version reported is the one the agent last installed;
 * a node changed by hand (or before its first update) reports none, so the
 * dashboard shows no current version until the first update succeeds. */
static char *stream_url(const struct program *p)
{
    const char *cur = p->a.state.current_version;
    long schema = schema_version(p);
    char *ver = NULL, *url;

    if (cur && semver_valid(cur))
        ver = curl_easy_escape(NULL, cur, 0);
    url = xasprintf("%s/api/fleet/stream%s%s%s", p->server,
                    ver ? "?currentVersion=" : "", ver ? ver : "",
                    schema >= 0 ? (ver ? "&schemaVersion=" : "?schemaVersion=")
                                : "");
    if (schema >= 0) {
        char *with = xasprintf("%s%ld", url, schema);

        free(url);
        url = with;
    }
    curl_free(ver);
    return url;
}

static void connect_once(struct program *p, struct stream_result *res)
{
    struct curl_slist *h = auth_headers(p->token, "Accept: text/event-stream");
    char *last = NULL;
    struct stream_opts o = {.ca_file = p->ca_file,
                            .silence_ms = 2000LL * p->keepalive_s,
                            .stop_fd = stop_pipe[0],
                            .on_event = agent_on_event,
                            .arg = &p->a};

    if (p->a.state.last_event_id) {
        last = xasprintf("Last-Event-ID: %s", p->a.state.last_event_id);
        h = curl_slist_append(h, last);
    }
    o.url = stream_url(p);
    o.headers = h;
    log_info("connecting", "url=%s last_event_id=%s", o.url,
             p->a.state.last_event_id ? p->a.state.last_event_id : "-");
    stream_run(&o, res);
    free((char *)o.url);
    free(last);
    curl_slist_free_all(h);
}

static void serve(struct program *p)
{
    struct backoff b;
    struct stream_result res;

    backoff_init(&b, 1000, 1000LL * p->backoff_max_s);
    while (!util_stopping(stop_pipe[0])) {
        int64_t delay;

        if (agent_resume(&p->a) == 0) {
            connect_once(p, &res);
            if (res.end == STREAM_STOPPED)
                break;
            if (res.opened &&
                (res.open_ms >= HEALTHY_STREAM_MS || res.events > 0))
                backoff_reset(&b);
            if (res.retry_ms > 0)
                b.base_ms = res.retry_ms < b.max_ms ? res.retry_ms : b.max_ms;
            log_warn("stream ended", "http=%ld open_ms=%lld error=\"%s\"",
                     res.http_status, (long long)res.open_ms, res.error);
        }
        delay = backoff_next(&b);
        log_info("reconnecting", "in_ms=%lld", (long long)delay);
        util_wait_stop(stop_pipe[0], delay);
    }
}

static int start(struct program *p)
{
    char msg[512];

    if (lock_state_dir(p))
        return 1;
    if (state_load(&p->a.state, p->ds.state_dir, msg, sizeof(msg))) {
        fprintf(stderr, "mc-agent: %s\n", msg);
        return 1;
    }
    p->a.driver =
        driver_new(config_get(p->cfg, "driver"), &p->ds, msg, sizeof(msg));
    if (!p->a.driver) {
        fprintf(stderr, "mc-agent: %s\n", msg);
        return 2;
    }
    if (install_signals()) {
        fprintf(stderr, "mc-agent: cannot make a pipe: %s\n", strerror(errno));
        return 1;
    }
    p->a.stop_fd = stop_pipe[0];
    p->a.report = (struct report_client){
        .server = p->server,
        .headers = auth_headers(p->token, "Content-Type: application/json"),
        .ca_file = p->ca_file,
        .stop_fd = stop_pipe[0],
        .attempts = REPORT_ATTEMPTS};
    return 0;
}

static int run(struct config *c)
{
    struct program p = {.cfg = c, .lock_fd = -1};
    int rc;

    if (read_settings(&p)) {
        free(p.server);
        return 2;
    }
    rc = start(&p);
    if (rc)
        goto out;
    log_info("starting",
             "server=%s driver=%s state_dir=%s node=%s "
             "current_version=%s",
             p.server, p.a.driver->ops->name, p.ds.state_dir,
             p.a.node_id ? p.a.node_id : "unchecked",
             p.a.state.current_version ? p.a.state.current_version : "-");
    if (!p.a.node_id)
        log_warn("node check off", "reason=\"no --node-id: commands are "
                                   "not checked against this node's id\"");
    agent_recover(&p.a);
    serve(&p);
    log_info("stopped", "%s", "");
out:
    report_client_release(&p.a.report);
    curl_slist_free_all(p.a.report.headers);
    if (p.a.driver)
        p.a.driver->ops->free(p.a.driver);
    state_release(&p.a.state);
    if (p.lock_fd >= 0)
        close(p.lock_fd);
    free(p.server);
    return rc;
}

int main(int argc, char **argv)
{
    struct config c = {.opts = options,
                       .file_env = "MC_AGENT_CONFIG",
                       .file_default = "/etc/mission-control/agent.conf"};
    int rc = config_start(&c, "mc-agent", argc, argv, usage);

    if (rc < 0) {
        if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT)) {
            fprintf(stderr, "mc-agent: cannot initialise libsodium or "
                            "libcurl\n");
            rc = 1;
        } else {
            rc = run(&c);
            curl_global_cleanup();
        }
    }
    config_release(&c);
    return rc;
}
