/* mcd: the Mission Control server. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <event2/event.h>
#include <event2/http.h>
#include <sodium.h>

#include "core/auth.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/timeutil.h"
#include "server/http.h"
#include "server/cluster.h"
#include "server/hub.h"
#include "server/worker.h"
#include "server/server.h"

static struct config_opt options[] = {
    {"listen", "MC_LISTEN", "127.0.0.1:8080", "HOST:PORT",
     "address to serve on (port 0 picks a free one)", NULL},
    {"db", "MC_DB", "var/mission-control.db", "PATH|URL",
     "SQLite file, or a postgres:// URL", NULL},
    {"key", "MC_KEY", "var/server.key", "PATH",
     "command signing key, made at first start", NULL},
    {"log-level", "MC_LOG_LEVEL", "info", "LEVEL", "error, warn, info or debug",
     NULL},
    {"secure-cookies", "MC_SECURE_COOKIES", NULL, NULL,
     "mark session cookies Secure (behind TLS)", NULL},
    {"keepalive", "MC_KEEPALIVE", "15", "SECONDS",
     "keep-alive interval of agent streams", NULL},
    {"command-ttl", "MC_COMMAND_TTL", "86400", "SECONDS",
     "a command not acknowledged by then is EXPIRED", NULL},
    {"command-timeout", "MC_COMMAND_TIMEOUT", "1800", "SECONDS",
     "an acknowledged command not finished by then is TIMED_OUT", NULL},
    {"sweep-interval", "MC_SWEEP_INTERVAL", "5", "SECONDS",
     "how often overdue commands are looked for", NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

static void usage(struct config *c, FILE *out)
{
    fprintf(out, "Usage: mcd [OPTION]...\n"
                 "The Mission Control server: admin API, agent streams, "
                 "dashboard.\n\n"
                 "Options (flags, then environment, then config file):\n");
    config_usage(c, out);
    fprintf(out, "\nFirst start on an empty database reads "
                 "MC_BOOTSTRAP_TOKEN, MC_BOOTSTRAP_EMAIL and\n"
                 "MC_BOOTSTRAP_PASSWORD; what is unset is generated and "
                 "printed once.\n");
}

/* Once every job has run and its answer is out, the loop may end; a short
 * grace lets the last answers leave the buffers. */
static void on_stopper(evutil_socket_t fd, short what, void *arg)
{
    struct server *srv = arg;
    struct timeval grace = {0, 200 * 1000};

    (void)fd;
    (void)what;
    hub_flush(srv->hub);
    if (worker_pending(srv->worker) == 0 && srv->deferred == 0)
        event_base_loopexit(srv->base, &grace);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct server *srv = arg;
    struct timeval tick = {0, 20 * 1000};

    (void)what;
    if (srv->stopping)
        return;
    log_info("stopping", "signal=%d", (int)sig);
    srv->stopping = true;
    /* Stop accepting and finish what is in flight. Agents see their
     * stream end and come back to another instance or to this one
     * restarted. */
    if (srv->listener) {
        evhttp_del_accept_socket(srv->http, srv->listener);
        srv->listener = NULL;
    }
    hub_close_all(srv->hub);
    srv->stopper = event_new(srv->base, -1, EV_PERSIST, on_stopper, srv);
    event_add(srv->stopper, &tick);
}

static int split_listen(const char *listen, char *host, size_t hostlen,
                        int *port)
{
    const char *colon = strrchr(listen, ':');
    char *end;
    long p;

    if (!colon || (size_t)(colon - listen) >= hostlen)
        return -1;
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    p = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || p < 0 || p > 65535)
        return -1;
    *port = (int)p;
    return 0;
}

static int bound_port(struct evhttp_bound_socket *sock)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    evutil_socket_t fd = evhttp_bound_socket_get_fd(sock);

    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static int start_http(struct server *srv, const char *listen)
{
    char host[256];
    int port;

    if (split_listen(listen, host, sizeof(host), &port)) {
        fprintf(stderr, "mcd: invalid --listen \"%s\": expected HOST:PORT\n",
                listen);
        return -1;
    }
    srv->http = evhttp_new(srv->base);
    http_setup(srv->http, srv);
    srv->listener =
        evhttp_bind_socket_with_handle(srv->http, host, (ev_uint16_t)port);
    if (!srv->listener) {
        fprintf(stderr, "mcd: cannot listen on \"%s\": %s\n", listen,
                strerror(errno));
        return -1;
    }
    log_info("listening", "addr=%s:%d", host, bound_port(srv->listener));
    return 0;
}

static int open_store(struct server *srv, const char *db)
{
    struct err e;

    err_clear(&e);
    if (store_open(db, &srv->store, &e)) {
        fprintf(stderr, "mcd: %s\n", e.message);
        return -1;
    }
    log_info("database open", "backend=%s schema=%d", store_backend(srv->store),
             store_schema_version(srv->store));
    if (auth_bootstrap(srv->store, getenv("MC_BOOTSTRAP_TOKEN"),
                       getenv("MC_BOOTSTRAP_EMAIL"),
                       getenv("MC_BOOTSTRAP_PASSWORD"), &e)) {
        fprintf(stderr, "mcd: first start failed: %s\n", e.message);
        return -1;
    }
    return 0;
}

/* A positive number of seconds, or -1. */
static int seconds(const struct config *c, const char *name)
{
    const char *v = config_get(c, name);
    char *end;
    long n = strtol(v, &end, 10);

    if (*end || end == v || n < 1 || n > 365L * 24 * 3600) {
        fprintf(stderr, "mcd: invalid --%s \"%s\": expected seconds\n", name,
                v);
        return -1;
    }
    return (int)n;
}

static void sweep_run(struct store *s, void *arg)
{
    struct server *srv = arg;
    struct err e;

    fleet_sweep(s, &srv->fleet);
    if (store_maintain(s, &e))
        log_warn("database housekeeping failed", "error=\"%s\"", e.message);
}

static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
    struct server *srv = arg;

    (void)fd;
    (void)what;
    /* A sweep still queued (a slow database) needs no second one. */
    if (worker_pending(srv->worker) < 1000)
        worker_submit(srv->worker, sweep_run, NULL, srv);
}

/* The loop. With the changelist, switching write interest on and off in
 * one turn costs no epoll_ctl: the hub writes its pushes at once, so most
 * of them never need the loop to wait for writability. */
static struct event_base *new_base(void)
{
    struct event_config *cfg = event_config_new();
    struct event_base *base;

    event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    return base;
}

static int start_fleet(struct server *srv, const struct config *c)
{
    int keepalive = seconds(c, "keepalive");
    int ttl = seconds(c, "command-ttl");
    int timeout = seconds(c, "command-timeout");
    int sweep = seconds(c, "sweep-interval");
    struct timeval tv = {sweep, 0};
    struct err e;

    err_clear(&e);
    if (keepalive < 0 || ttl < 0 || timeout < 0 || sweep < 0)
        return -1;
    srv->key = sign_key_load(config_get(c, "key"), &e);
    if (!srv->key) {
        fprintf(stderr, "mcd: %s\n", e.message);
        return -1;
    }
    srv->fleet.key = srv->key;
    id_new(srv->instance_id);
    srv->fleet.instance_id = srv->instance_id;
    srv->fleet.command_ttl_ms = ttl * 1000LL;
    srv->fleet.command_timeout_ms = timeout * 1000LL;
    /* One mcd per SQLite file: the streams of the last run are gone. A
     * shared database learns which instances died from their heartbeat. */
    if (!store_is_shared(srv->store) && store_nodes_all_offline(srv->store, &e))
        log_warn("cannot reset online flags", "error=\"%s\"", e.message);
    srv->worker = worker_new(srv->base, srv->store);
    srv->hub = hub_new(srv, keepalive);
    srv->cluster = cluster_new(srv, config_get(c, "db"));
    log_info("instance", "id=%s", srv->instance_id);
    srv->sweeper = event_new(srv->base, -1, EV_PERSIST, on_sweep, srv);
    event_add(srv->sweeper, &tv);
    return 0;
}

static int run(struct server *srv, struct config *c)
{
    srv->base = new_base();
    srv->started_ms = time_mono_ms();
    srv->secure_cookies = config_true(c, "secure-cookies");
    if (open_store(srv, config_get(c, "db")) || start_fleet(srv, c) ||
        start_http(srv, config_get(c, "listen")))
        return 1;
    srv->sigint = evsignal_new(srv->base, SIGINT, on_signal, srv);
    srv->sigterm = evsignal_new(srv->base, SIGTERM, on_signal, srv);
    event_add(srv->sigint, NULL);
    event_add(srv->sigterm, NULL);
    event_base_dispatch(srv->base);
    return 0;
}

static void server_release(struct server *srv)
{
    if (srv->sigint)
        event_free(srv->sigint);
    if (srv->sigterm)
        event_free(srv->sigterm);
    if (srv->sweeper)
        event_free(srv->sweeper);
    if (srv->stopper)
        event_free(srv->stopper);
    /* Runs what is still queued before the store closes, and hands the
     * answers to connections that are still there. */
    worker_free(srv->worker);
    cluster_free(srv->cluster);
    if (srv->http)
        evhttp_free(srv->http);
    hub_free(srv->hub);
    sign_key_free(srv->key);
    store_free(srv->store);
    if (srv->base)
        event_base_free(srv->base);
}

int main(int argc, char **argv)
{
    struct config c = {.opts = options,
                       .file_env = "MC_CONFIG",
                       .file_default = "/etc/mission-control/mcd.conf"};
    struct server srv = {0};
    int rc;

    signal(SIGPIPE, SIG_IGN);
    rc = config_start(&c, "mcd", argc, argv, usage);
    if (rc >= 0) {
        config_release(&c);
        return rc;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "mcd: cannot initialise libsodium\n");
        return 1;
    }
    rc = run(&srv, &c);
    server_release(&srv);
    if (rc == 0)
        log_info("stopped", "%s", "");
    config_release(&c);
    return rc;
}
