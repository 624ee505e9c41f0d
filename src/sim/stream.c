/* One agent's stream: connect (within the limits), read events, and
 * reconnect with full-jitter back-off when it ends. */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <sodium.h>

#include "lib/log.h"
#include "lib/timeutil.h"
#include "lib/xalloc.h"
#include "sim/sim.h"

/* Back-off attempts beyond this add nothing: the cap is reached. */
#define ATTEMPT_MAX 30

static void on_backoff(evutil_socket_t fd, short what, void *arg);

void stream_agent_init(struct sim_agent *a)
{
    struct sim *s = a->sim;
    const struct sim_settings *set = &s->set;

    a->evcon = evhttp_connection_base_new(s->base, NULL, set->host,
                                          (unsigned short)set->port);
    if (s->addrs)
        evhttp_connection_set_local_address(
            a->evcon, s->addrs[a->index % set->source_addrs]);
    /* The read timeout is the keep-alive watchdog: a stream silent this
     * long is dead even if no error says so. */
    evhttp_connection_set_timeout(a->evcon, (int)set->stream_timeout_s);
    a->timer = evtimer_new(s->base, on_backoff, a);
    sse_parser_init(&a->sse);
}

void stream_agent_release(struct sim_agent *a)
{
    /* Frees the stream's request without calling its callbacks. */
    if (a->evcon)
        evhttp_connection_free(a->evcon);
    if (a->timer)
        event_free(a->timer);
    sse_parser_release(&a->sse);
    a->evcon = NULL;
    a->timer = NULL;
    a->req = NULL;
}

int64_t stream_backoff_ms(const struct sim_settings *set, int attempt)
{
    int64_t ceiling = set->backoff_base_ms;

    for (int i = 0; i < attempt && ceiling < set->backoff_max_ms; i++)
        ceiling *= 2;
    if (ceiling > set->backoff_max_ms)
        ceiling = set->backoff_max_ms;
    return (int64_t)randombytes_uniform((uint32_t)ceiling + 1);
}

static void schedule_retry(struct sim_agent *a)
{
    int64_t ms = stream_backoff_ms(&a->sim->set, a->attempt);
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};

    if (a->attempt < ATTEMPT_MAX)
        a->attempt++;
    a->state = AGENT_BACKOFF;
    evtimer_add(a->timer, &tv);
}

static void on_backoff(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    stream_enqueue(arg);
}

static void went_online(struct sim_agent *a)
{
    struct stats *st = &a->sim->stats;

    a->state = AGENT_ONLINE;
    a->attempt = 0;
    st->connecting--;
    st->online++;
    st->connects++;
    if (a->ever_online)
        st->reconnects++;
    a->ever_online = true;
    st->dirty = true;
    if (st->online == st->target) {
        st->all_online_ms = time_now_ms();
        if (!st->first_online_ms)
            st->first_online_ms = st->all_online_ms;
        log_info("all online", "agents=%ld", st->online);
    }
}

static int on_headers(struct evhttp_request *req, void *arg)
{
    struct sim_agent *a = arg;
    int code = evhttp_request_get_response_code(req);

    if (code == 200) {
        went_online(a);
        return 0;
    }
    /* Counted when the request ends; the body says why. */
    log_debug("stream refused", "agent=%ld http=%d", a->index, code);
    return 0;
}

static void on_sse(void *arg, const struct sse_event *ev)
{
    command_on_event(arg, ev);
}

static void on_chunk(struct evhttp_request *req, void *arg)
{
    struct sim_agent *a = arg;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);

    if (a->state != AGENT_ONLINE) {
        evbuffer_drain(in, evbuffer_get_length(in));
        return;
    }
    if (sse_parser_feed(&a->sse, in, on_sse, a)) {
        /* NEEDSWORK: the stream should be closed here, but evhttp does not
         * allow that inside its callback; the line is dropped instead. */
        log_warn("stream line too long", "agent=%ld", a->index);
        sse_parser_reset(&a->sse);
    }
}

static void on_done(struct evhttp_request *req, void *arg)
{
    struct sim_agent *a = arg;
    struct stats *st = &a->sim->stats;
    int code = req ? evhttp_request_get_response_code(req) : 0;

    a->req = NULL;
    if (a->state == AGENT_CONNECTING) {
        st->connecting--;
        st->connect_failures++;
        if (code > 0)
            st->http_errors++;
        log_debug("connect failed", "agent=%ld http=%d", a->index, code);
    } else if (a->state == AGENT_ONLINE) {
        st->online--;
        st->stream_ends++;
        log_debug("stream ended", "agent=%ld", a->index);
    }
    st->dirty = true;
    if (a->sim->stopping) {
        a->state = AGENT_IDLE;
        return;
    }
    schedule_retry(a);
}

static char *stream_path(const struct sim_agent *a)
{
    char *ver = NULL, *path;
    char schema[48] = "";

    if (a->current_version)
        ver = evhttp_encode_uri(a->current_version);
    if (a->schema_version >= 0)
        snprintf(schema, sizeof(schema), "%sschemaVersion=%ld", ver ? "&" : "?",
                 a->schema_version);
    path = xasprintf("/api/fleet/stream%s%s%s", ver ? "?currentVersion=" : "",
                     ver ? ver : "", schema);
    free(ver);
    return path;
}

static void connect_now(struct sim_agent *a)
{
    struct evhttp_request *req = evhttp_request_new(on_done, a);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    char *auth = xasprintf("Bearer %s", a->token);
    char *path = stream_path(a);

    evhttp_request_set_header_cb(req, on_headers);
    evhttp_request_set_chunked_cb(req, on_chunk);
    evhttp_add_header(h, "Host", a->sim->set.host);
    evhttp_add_header(h, "Authorization", auth);
    evhttp_add_header(h, "Accept", "text/event-stream");
    sse_parser_reset(&a->sse);
    a->state = AGENT_CONNECTING;
    a->req = req;
    a->sim->stats.connecting++;
    /* A refused connect may run on_done before this returns. */
    if (evhttp_make_request(a->evcon, req, EVHTTP_REQ_GET, path)) {
        /* bind() failed: out of ports or descriptors. */
        evhttp_request_free(req);
        log_debug("cannot connect", "agent=%ld reason=bind", a->index);
        on_done(NULL, a);
    }
    sodium_memzero(auth, strlen(auth));
    free(auth);
    free(path);
}

void stream_enqueue(struct sim_agent *a)
{
    struct sim *s = a->sim;

    a->state = AGENT_QUEUED;
    s->queue[(s->queue_head + s->queue_len) % s->n_agents] = a->index;
    s->queue_len++;
}

static bool may_connect(struct sim *s)
{
    if (s->queue_len == 0 || s->stats.connecting >= s->set.max_connecting)
        return false;
    return s->set.connect_rate == 0 || s->connect_budget >= 1.0;
}

void stream_pump(struct sim *s)
{
    int64_t now = time_mono_ms();
    double burst;

    if (s->set.connect_rate > 0) {
        /* A token bucket holding at most a tenth of a second's worth. */
        burst = (double)s->set.connect_rate / 10.0;
        if (burst < 1.0)
            burst = 1.0;
        s->connect_budget += (double)(now - s->pump_last_ms) *
                             (double)s->set.connect_rate / 1000.0;
        if (s->connect_budget > burst)
            s->connect_budget = burst;
    }
    s->pump_last_ms = now;
    while (!s->stopping && may_connect(s)) {
        struct sim_agent *a = &s->agents[s->queue[s->queue_head]];

        s->queue_head = (s->queue_head + 1) % s->n_agents;
        s->queue_len--;
        s->connect_budget -= 1.0;
        if (a->state == AGENT_QUEUED)
            connect_now(a);
    }
}
