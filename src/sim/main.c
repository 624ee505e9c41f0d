/* mc-fleetsim: many simulated agents against one Mission Control server,
 * for demos and benchmarks. See docs/fleetsim.md. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <sodium.h>

#include "lib/config.h"
#include "lib/log.h"
#include "lib/semver.h"
#include "lib/strmap.h"
#include "lib/timeutil.h"
#include "lib/xalloc.h"
#include "sim/pool.h"
#include "sim/sim.h"

/* Descriptors besides the streams: the report pool, stdio, the stats
 * file, libevent's own. */
#define SPARE_FDS 64
/* Streams per source address: well under the ~28,000 ephemeral ports of
 * one, so that reconnect storms and TIME_WAIT leave room. */
#define STREAMS_PER_ADDR 10000
#define PUMP_INTERVAL_MS 10

static struct config_opt options[] = {
    {"server", "MC_FLEETSIM_SERVER", "http://127.0.0.1:8080", "URL",
     "the Mission Control server (http://HOST:PORT)", NULL},
    {"admin-token", "MC_FLEETSIM_ADMIN_TOKEN", NULL, "TOKEN",
     "an org_admin API token: register --agents new locations and nodes", NULL},
    {"tokens-file", "MC_FLEETSIM_TOKENS_FILE", NULL, "PATH",
     "agents registered before: agent tokens or JSON objects, one a line",
     NULL},
    {"register-out", "MC_FLEETSIM_REGISTER_OUT", NULL, "PATH",
     "write the registered agents there (a tokens file, mode 0600)", NULL},
    {"register-only", NULL, NULL, NULL,
     "register, write --register-out, and exit", NULL},
    {"organization", "MC_FLEETSIM_ORGANIZATION", NULL, "ID",
     "register in this organization (id or externalId)", NULL},
    {"name-prefix", "MC_FLEETSIM_NAME_PREFIX", "sim", "TEXT",
     "locations are named PREFIX-00001, ...", NULL},
    {"server-key", "MC_FLEETSIM_SERVER_KEY", NULL, "PUBLIC_KEY",
     "the server's signing key (base64), for tokens without one", NULL},
    {"agents", "MC_FLEETSIM_AGENTS", NULL, "N",
     "agents to simulate (default: all of --tokens-file)", NULL},
    {"offline", "MC_FLEETSIM_OFFLINE", "0", "N",
     "of these, the last N never connect", NULL},
    {"no-hardware", "MC_FLEETSIM_NO_HARDWARE", "0", "N",
     "also register N locations without a node", NULL},
    {"current-version", "MC_FLEETSIM_CURRENT_VERSION", NULL, "VERSION",
     "the version agents report until an update succeeds", NULL},
    {"schema-version", "MC_FLEETSIM_SCHEMA_VERSION", NULL, "N",
     "the schema version agents report", NULL},
    {"old-schema-share", "MC_FLEETSIM_OLD_SCHEMA_SHARE", "0", "R",
     "share of agents (0 to 1) that report --old-schema-version", NULL},
    {"old-schema-version", "MC_FLEETSIM_OLD_SCHEMA_VERSION", NULL, "N",
     "(default: --schema-version minus 1)", NULL},
    {"success-delay", "MC_FLEETSIM_SUCCESS_DELAY", "0", "MS",
     "time between IN_PROGRESS and the final report", NULL},
    {"fail-rate", "MC_FLEETSIM_FAIL_RATE", "0", "R",
     "share of commands (0 to 1) that end FAILED", NULL},
    {"silent-rate", "MC_FLEETSIM_SILENT_RATE", "0", "R",
     "share of agents (0 to 1) that never answer a command", NULL},
    {"source-addrs", "MC_FLEETSIM_SOURCE_ADDRS", "0", "N",
     "spread streams over 127.0.0.1..N (0: one per 10,000 streams)", NULL},
    {"connect-rate", "MC_FLEETSIM_CONNECT_RATE", "0", "PER_SECOND",
     "connects started per second (0: no limit)", NULL},
    {"max-connecting", "MC_FLEETSIM_MAX_CONNECTING", "256", "N",
     "connects waiting for their answer at once", NULL},
    {"backoff-base", "MC_FLEETSIM_BACKOFF_BASE", "250", "MS",
     "first reconnect delay ceiling (full jitter, doubling)", NULL},
    {"backoff-max", "MC_FLEETSIM_BACKOFF_MAX", "5000", "MS",
     "largest reconnect delay ceiling", NULL},
    {"stream-timeout", "MC_FLEETSIM_STREAM_TIMEOUT", "45", "SECONDS",
     "a stream silent this long is dropped and reconnected", NULL},
    {"report-conns", "MC_FLEETSIM_REPORT_CONNS", "16", "N",
     "keep-alive connections shared by all status reports", NULL},
    {"stats-file", "MC_FLEETSIM_STATS_FILE", NULL, "PATH",
     "JSON counters and arrival times, rewritten atomically", NULL},
    {"stats-interval", "MC_FLEETSIM_STATS_INTERVAL", "200", "MS",
     "how often the stats file and progress line are updated", NULL},
    {"duration", "MC_FLEETSIM_DURATION", "0", "SECONDS",
     "stop after this long (0: at SIGINT or SIGTERM)", NULL},
    {"mark", "MC_FLEETSIM_MARK", NULL, "MS",
     "latencies are from this time (ms since the epoch)", NULL},
    {"log-level", "MC_FLEETSIM_LOG_LEVEL", "info", "LEVEL",
     "error, warn, info or debug", NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

static void usage(struct config *c, FILE *out)
{
    fprintf(out, "Usage: mc-fleetsim [OPTION]...\n"
                 "Simulates many agents against one Mission Control server: "
                 "each holds its own\n"
                 "stream, checks command signatures and reports status "
                 "like mc-agent.\n\n"
                 "Options (flags, then environment, then config file):\n");
    config_usage(c, out);
    fprintf(out, "\nSee docs/fleetsim.md for the stats file and the "
                 "benchmarks.\n");
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
                "mc-fleetsim: invalid --%s \"%s\": expected a number from "
                "%ld to %ld\n",
                name, v, min, max);
        return -1;
    }
    return 0;
}

static int ratio(const struct config *c, const char *name, double *out)
{
    const char *v = config_get(c, name);
    char *end;

    errno = 0;
    *out = strtod(v, &end);
    if (errno || end == v || *end || !(*out >= 0.0 && *out <= 1.0)) {
        fprintf(stderr,
                "mc-fleetsim: invalid --%s \"%s\": expected a share from 0 "
                "to 1\n",
                name, v);
        return -1;
    }
    return 0;
}

static int read_server(struct sim_settings *set, const char *url)
{
    const char *host = url + 7, *colon, *end;
    size_t n;
    long port = 80;
    char *pend;

    if (strncmp(url, "http://", 7) != 0)
        goto bad;
    end = host + strcspn(host, "/");
    colon = memchr(host, ':', (size_t)(end - host));
    n = (size_t)((colon ? colon : end) - host);
    if (n == 0 || n >= sizeof(set->host))
        goto bad;
    if (colon) {
        port = strtol(colon + 1, &pend, 10);
        if (pend != end || port < 1 || port > 65535)
            goto bad;
    }
    if (*end && strspn(end, "/") != strlen(end))
        goto bad;
    memcpy(set->host, host, n);
    set->host[n] = '\0';
    if (strcmp(set->host, "localhost") == 0)
        snprintf(set->host, sizeof(set->host), "127.0.0.1");
    set->port = (int)port;
    set->loopback = strncmp(set->host, "127.", 4) == 0;
    set->server = xstrndup(url, (size_t)(end - url));
    return 0;
bad:
    /* NEEDSWORK: no https: the streams would need bufferevent_openssl;
     * benchmarks run against a plain-HTTP mcd on loopback. */
    fprintf(stderr,
            "mc-fleetsim: invalid --server \"%s\": expected "
            "http://HOST[:PORT]\n",
            url);
    return -1;
}

static int read_numbers(const struct config *c, struct sim_settings *set)
{
    long mark = 0;

    set->agents = -1;
    set->schema_version = -1;
    set->old_schema_version = -1;
    if (number(c, "agents", 1, 1000000, &set->agents) ||
        number(c, "offline", 0, 1000000, &set->offline) ||
        number(c, "no-hardware", 0, 1000000, &set->no_hardware) ||
        number(c, "schema-version", 0, 2147483647L, &set->schema_version) ||
        number(c, "old-schema-version", 0, 2147483647L,
               &set->old_schema_version) ||
        number(c, "success-delay", 0, 3600000, &set->success_delay_ms) ||
        number(c, "source-addrs", 0, 254, &set->source_addrs) ||
        number(c, "connect-rate", 0, 1000000, &set->connect_rate) ||
        number(c, "max-connecting", 1, 1000000, &set->max_connecting) ||
        number(c, "backoff-base", 1, 3600000, &set->backoff_base_ms) ||
        number(c, "backoff-max", 1, 3600000, &set->backoff_max_ms) ||
        number(c, "stream-timeout", 1, 86400, &set->stream_timeout_s) ||
        number(c, "report-conns", 1, 1024, &set->report_conns) ||
        number(c, "stats-interval", 10, 60000, &set->stats_interval_ms) ||
        number(c, "duration", 0, 31536000, &set->duration_s) ||
        number(c, "mark", 0, 0x7fffffffffffL, &mark))
        return -1;
    set->mark_ms = mark;
    if (set->backoff_max_ms < set->backoff_base_ms)
        set->backoff_max_ms = set->backoff_base_ms;
    return ratio(c, "old-schema-share", &set->old_schema_share) ||
                   ratio(c, "fail-rate", &set->fail_rate) ||
                   ratio(c, "silent-rate", &set->silent_rate)
               ? -1
               : 0;
}

static int check_combination(struct sim_settings *set)
{
    const char *why = NULL;

    if (!set->tokens_file && !set->admin_token)
        why = "needs --admin-token (to register) or --tokens-file";
    else if (set->tokens_file && set->register_out)
        why = "--register-out needs --admin-token, not --tokens-file";
    else if (!set->tokens_file && set->agents < 0)
        why = "--agents is required to register";
    else if (set->register_only && !set->register_out)
        why = "--register-only needs --register-out";
    else if (set->current_version && !semver_valid(set->current_version))
        why = "--current-version must be a SemVer version";
    else if (set->old_schema_share > 0 && set->schema_version < 0)
        why = "--old-schema-share needs --schema-version";
    else if (set->source_addrs > 1 && !set->loopback)
        why = "--source-addrs needs a 127.x.x.x server";
    if (why) {
        fprintf(stderr, "mc-fleetsim: %s (see mc-fleetsim --help)\n", why);
        return -1;
    }
    if (set->old_schema_version < 0)
        set->old_schema_version =
            set->schema_version > 0 ? set->schema_version - 1 : 0;
    return 0;
}

static int read_settings(const struct config *c, struct sim_settings *set)
{
    if (read_server(set, config_get(c, "server")) || read_numbers(c, set))
        return -1;
    set->admin_token = config_get(c, "admin-token");
    set->tokens_file = config_get(c, "tokens-file");
    set->register_out = config_get(c, "register-out");
    set->register_only = config_true(c, "register-only");
    set->organization = config_get(c, "organization");
    set->name_prefix = config_get(c, "name-prefix");
    set->server_key = config_get(c, "server-key");
    set->current_version = config_get(c, "current-version");
    set->stats_file = config_get(c, "stats-file");
    return check_combination(set);
}

/* --- start-up ----------------------------------------------------------- */

/* Raises the soft descriptor limit to the hard one; -1 when even that is
 * too small for the streams. */
static int raise_nofile(const struct sim *s)
{
    struct rlimit rl;
    rlim_t need = (rlim_t)(s->stats.target + s->set.report_conns + SPARE_FDS);

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl))
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur >= need)
        return 0;
    fprintf(stderr,
            "mc-fleetsim: %ld streams need about %llu open files, but the "
            "limit is %llu (hard limit %llu): raise it (ulimit -Hn, as "
            "root) or split the agents over several processes\n",
            s->stats.target, (unsigned long long)need,
            (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max);
    return -1;
}

static void setup_addrs(struct sim *s)
{
    struct sim_settings *set = &s->set;

    if (set->source_addrs == 0)
        set->source_addrs =
            set->loopback
                ? (s->stats.target + STREAMS_PER_ADDR - 1) / STREAMS_PER_ADDR
                : 1;
    if (set->source_addrs > 254)
        set->source_addrs = 254;
    if (set->source_addrs <= 1) {
        set->source_addrs = 1;
        return;
    }
    s->addrs = xcalloc((size_t)set->source_addrs, sizeof(*s->addrs));
    for (long i = 0; i < set->source_addrs; i++)
        snprintf(s->addrs[i], sizeof(s->addrs[i]), "127.0.0.%d",
                 (int)(i + 1) & 0xff);
}

static void prepare_agent(struct sim *s, struct sim_agent *a, long i)
{
    const struct sim_settings *set = &s->set;

    a->sim = s;
    a->index = i;
    a->offline = i >= s->n_agents - set->offline;
    a->silent = sim_share(set->silent_rate, i);
    a->schema_version = sim_share(set->old_schema_share, i)
                            ? set->old_schema_version
                            : set->schema_version;
    if (set->current_version && !a->current_version)
        a->current_version = xstrdup(set->current_version);
    if (!a->offline)
        stream_agent_init(a);
}

static void on_pump(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    stream_pump(arg);
}

static void start_agents(struct sim *s)
{
    struct timeval tv = {0, PUMP_INTERVAL_MS * 1000};

    for (long i = 0; i < s->n_agents; i++)
        prepare_agent(s, &s->agents[i], i);
    s->queue = xcalloc((size_t)s->n_agents, sizeof(*s->queue));
    for (long i = 0; i < s->n_agents; i++)
        if (!s->agents[i].offline)
            stream_enqueue(&s->agents[i]);
    log_info("connecting",
             "agents=%ld offline=%ld silent_rate=%g fail_rate=%g "
             "source_addrs=%ld",
             s->n_agents, s->set.offline, s->set.silent_rate, s->set.fail_rate,
             s->set.source_addrs);
    s->pump_last_ms = time_mono_ms();
    s->pump = event_new(s->base, -1, EV_PERSIST, on_pump, s);
    event_add(s->pump, &tv);
    if (s->set.duration_s > 0) {
        struct timeval d = {(time_t)s->set.duration_s, 0};

        event_add(s->stop_timer, &d);
    }
}

static void stop(struct sim *s, const char *why)
{
    if (s->stopping)
        return;
    s->stopping = true;
    log_info("stopping", "reason=%s", why);
    event_base_loopbreak(s->base);
}

static void on_registered(struct sim *s, bool ok)
{
    if (!ok) {
        s->exit_code = 1;
        stop(s, "registration failed");
        return;
    }
    if (s->set.register_out && tokens_save(s, s->set.register_out)) {
        s->exit_code = 1;
        stop(s, "cannot write --register-out");
        return;
    }
    if (s->set.register_only) {
        stop(s, "registered");
        return;
    }
    start_agents(s);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct sim *s = arg;

    (void)fd;
    (void)what;
    stats_tick(&s->stats, s->set.stats_file, s->set.stats_interval_ms,
               isatty(STDERR_FILENO));
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    stop(arg, sig == SIGINT ? "SIGINT" : "SIGTERM");
}

static void on_duration(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    stop(arg, "duration");
}

static void add_events(struct sim *s)
{
    struct timeval tick = {s->set.stats_interval_ms / 1000,
                           (s->set.stats_interval_ms % 1000) * 1000};

    s->tick = event_new(s->base, -1, EV_PERSIST, on_tick, s);
    event_add(s->tick, &tick);
    s->sigint = evsignal_new(s->base, SIGINT, on_signal, s);
    s->sigterm = evsignal_new(s->base, SIGTERM, on_signal, s);
    event_add(s->sigint, NULL);
    event_add(s->sigterm, NULL);
    s->stop_timer = evtimer_new(s->base, on_duration, s);
    signal(SIGPIPE, SIG_IGN);
}

/* The agents: from the tokens file, or blank ones to register. */
static int load_agents(struct sim *s)
{
    if (s->set.tokens_file) {
        if (tokens_load(s))
            return -1;
    } else {
        s->n_agents = s->set.agents;
        s->agents = xcalloc((size_t)s->n_agents, sizeof(*s->agents));
    }
    if (s->set.offline > s->n_agents) {
        fprintf(stderr,
                "mc-fleetsim: --offline %ld is more than the %ld "
                "agents\n",
                s->set.offline, s->n_agents);
        return -1;
    }
    s->stats.agents = s->n_agents;
    s->stats.target = s->n_agents - s->set.offline;
    s->stats.mark_ms = s->set.mark_ms;
    return 0;
}

static void free_agents(struct sim *s)
{
    for (long i = 0; i < s->n_agents; i++) {
        struct sim_agent *a = &s->agents[i];

        if (a->timer || a->evcon)
            stream_agent_release(a);
        if (a->token)
            sodium_memzero(a->token, strlen(a->token));
        free(a->token);
        free(a->node_id);
        free(a->location_id);
        free(a->current_version);
    }
    free(s->agents);
}

static void free_event(struct event *ev)
{
    if (ev)
        event_free(ev);
}

static void cleanup(struct sim *s)
{
    void **keys = strmap_values(s->keys);

    pool_free(s->pool);
    command_free_all(s);
    free_agents(s);
    register_free(s->reg);
    free_event(s->pump);
    free_event(s->tick);
    free_event(s->sigint);
    free_event(s->sigterm);
    free_event(s->stop_timer);
    for (void **k = keys; *k; k++)
        free(*k);
    free(keys);
    strmap_free(s->keys);
    free(s->queue);
    free(s->addrs);
    stats_release(&s->stats);
    event_base_free(s->base);
    free((char *)s->set.server);
}

static void finish(struct sim *s)
{
    if (isatty(STDERR_FILENO))
        fputc('\n', stderr);
    if (s->set.stats_file)
        stats_write(&s->stats, s->set.stats_file, true);
    if (!s->set.register_only && s->exit_code == 0)
        stats_summary(&s->stats, stdout);
}

static int run(const struct config *c)
{
    struct sim s;

    memset(&s, 0, sizeof(s));
    if (read_settings(c, &s.set)) {
        free((char *)s.set.server);
        return 2;
    }
    stats_init(&s.stats);
    s.base = event_base_new();
    event_base_priority_init(s.base, SIM_PRIORITIES);
    command_init(&s);
    s.keys = strmap_new();
    /* Answers to reports wait while streams have data: arrivals first. */
    s.pool = pool_new(s.base, s.set.host, s.set.port, s.set.report_conns,
                      SIM_PRIORITY_WORK);
    if (load_agents(&s) || (!s.set.register_only && raise_nofile(&s))) {
        s.exit_code = 2;
        goto out;
    }
    setup_addrs(&s);
    add_events(&s);
    if (s.set.tokens_file)
        start_agents(&s);
    else
        register_start(&s, on_registered);
    if (!s.stopping)
        event_base_dispatch(s.base);
    finish(&s);
out:
    cleanup(&s);
    return s.exit_code;
}

int main(int argc, char **argv)
{
    struct config c = {.opts = options, .file_env = "MC_FLEETSIM_CONFIG"};
    int rc = config_start(&c, "mc-fleetsim", argc, argv, usage);

    if (rc >= 0) {
        /* --help, or a bad setting: said already */
    } else if (sodium_init() < 0) {
        fprintf(stderr, "mc-fleetsim: cannot initialise libsodium\n");
        rc = 1;
    } else {
        rc = run(&c);
    }
    config_release(&c);
    return rc;
}
