/*
 * mc-fleetsim: N simulated agents in one process, on one libevent loop.
 * Each agent holds its own stream (one evhttp connection per agent, bound
 * to one of several loopback source addresses), verifies the commands it
 * gets and reports their status through a small shared connection pool.
 */
#ifndef MC_SIM_H
#define MC_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>

#include "lib/id.h"
#include "sim/sse.h"
#include "sim/stats.h"

/* Commands an agent remembers having handled (delivery is at least once). */
#define SIM_SEEN_MAX 8

struct sim_settings {
    const char *server; /* http://HOST:PORT, no trailing slash */
    char host[256];
    int port;
    bool loopback;
    const char *admin_token;
    const char *tokens_file;
    const char *register_out;
    bool register_only;
    const char *organization;
    const char *name_prefix;
    const char *server_key;
    const char *current_version;
    long schema_version; /* -1: not reported */
    long old_schema_version;
    double old_schema_share;
    long success_delay_ms;
    double fail_rate;
    double silent_rate;
    long agents; /* -1: all of the tokens file */
    long offline;
    long no_hardware;
    long source_addrs; /* 0: chosen from the number of agents */
    long connect_rate; /* per second, 0: no limit */
    long max_connecting;
    long backoff_base_ms;
    long backoff_max_ms;
    long stream_timeout_s;
    long report_conns;
    const char *stats_file;
    long stats_interval_ms;
    long duration_s; /* 0: until a signal */
    int64_t mark_ms; /* latency figures are relative to this, 0: none */
};

enum sim_agent_state {
    AGENT_IDLE,       /* never connects (--offline) or stopped */
    AGENT_QUEUED,     /* waits for a connect slot */
    AGENT_CONNECTING, /* request sent, no answer yet */
    AGENT_ONLINE,     /* the stream answered 200 */
    AGENT_BACKOFF,    /* waits before the next attempt */
};

struct sim;

struct sim_agent {
    struct sim *sim;
    long index;
    char *token;
    char *node_id;     /* NULL when only a token was given */
    char *location_id; /* NULL when only a token was given */
    const char *server_key;
    char *current_version; /* NULL: not reported */
    long schema_version;
    bool silent;
    bool offline;
    bool ever_online;
    enum sim_agent_state state;
    int attempt; /* failed connects in a row, for the back-off */
    struct evhttp_connection *evcon;
    struct evhttp_request *req; /* the stream's request while it is open */
    struct event *timer;        /* back-off */
    struct sse_parser sse;
    char seen[SIM_SEEN_MAX][ID_LEN + 1];
    int seen_next;
};

struct sim_cmd;
struct pool;
struct reg;
struct strmap;

/* Event priorities: network first, then the work that received data
 * asks for (event_base_priority_init with SIM_PRIORITIES). */
#define SIM_PRIORITIES    3
#define SIM_PRIORITY_WORK 2

struct verifier;

struct sim {
    struct event_base *base;
    struct sim_settings set;
    struct sim_agent *agents;
    long n_agents;
    struct pool *pool;
    struct stats stats;
    struct sim_cmd *cmds; /* commands whose reports are under way */
    struct strmap *keys;  /* server public keys, interned */
    char (*addrs)[16];    /* source addresses, set.source_addrs of them */
    struct reg *reg;      /* the registration under way */
    long *queue;          /* ring of agents waiting to connect */
    long queue_head, queue_len;
    double connect_budget; /* for --connect-rate */
    int64_t pump_last_ms;
    struct event *pump;
    struct event *tick;
    struct event *sigint, *sigterm;
    struct event *stop_timer;
    unsigned fail_acc;         /* spreads --fail-rate evenly over commands */
    struct verifier *verifier; /* checks received commands (verify.c) */
    bool stopping;
    int exit_code;
};

/* --- stream.c: one agent's stream ---------------------------------------- */

/* Makes the agent's connection; binds it to its source address. */
void stream_agent_init(struct sim_agent *a);
void stream_agent_release(struct sim_agent *a);

/* Queues the agent for a connect slot. */
void stream_enqueue(struct sim_agent *a);

/* Starts queued connects within --max-connecting and --connect-rate. */
void stream_pump(struct sim *s);

/* Full-jitter back-off delay for the given attempt, in milliseconds. */
int64_t stream_backoff_ms(const struct sim_settings *set, int attempt);

/* --- command.c: what an agent does with a command ------------------------ */

/* Handles one SSE event of the agent's stream. */
void command_on_event(struct sim_agent *a, const struct sse_event *ev);
/* Sets up the deferred handling of received commands. */
void command_init(struct sim *s);

/* Drops every report under way (at shutdown). */
void command_free_all(struct sim *s);

/* --- verify.c: signature checks off the loop ---------------------------- */

/* What is done with a checked command, on the loop: cmd is the parsed
 * event (borrowed; NULL when it was not JSON), signed_ok whether its
 * signature verified with the agent's server key, at when it arrived. */
typedef void (*verify_cb)(struct sim_agent *a, json_t *cmd, bool signed_ok,
                          int64_t at);

/* Starts the checking thread; cb runs for each command in arrival order. */
struct verifier *verifier_new(struct sim *s, verify_cb cb);

/* Queues a received command's data (copied) for checking. */
void verifier_submit(struct verifier *v, struct sim_agent *a, const char *data,
                     int64_t at);

/* Stops the thread and drops what it had not handed on. */
void verifier_free(struct verifier *v);

/* --- register.c: agents through the admin API ---------------------------- */

/* Registers the locations and nodes; calls done(s, ok) when finished. */
void register_start(struct sim *s, void (*done)(struct sim *s, bool ok));
void register_free(struct reg *r);

/* The interned copy of a server public key (owned by s->keys). */
const char *sim_intern_key(struct sim *s, const char *key);

/* --- tokens.c: the tokens file ------------------------------------------- */

/* Loads agents from the tokens file; 0, or -1 after printing why. */
int tokens_load(struct sim *s);

/* Writes the registered agents, one JSON object a line, atomically. */
int tokens_save(const struct sim *s, const char *path);

/* --- util.c --------------------------------------------------------------- */

/* True with the given share for the i-th of many, spread evenly. */
bool sim_share(double rate, long i);

/* Writes text to path (mode 0600) through a temporary file and rename(),
 * with an fsync() first when durable. 0, or -1 with errno set. */
int sim_write_atomic(const char *path, const char *text, size_t len,
                     bool durable);

#endif
