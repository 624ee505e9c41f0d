/* What a simulated agent does with a command: check it, then report
 * ACKNOWLEDGED, IN_PROGRESS and, after --success-delay, SUCCEEDED or
 * FAILED, like a real agent; or nothing at all when the agent is silent. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lib/log.h"
#include "lib/sign.h"
#include "lib/timeutil.h"
#include "lib/xalloc.h"
#include "sim/pool.h"
#include "sim/sim.h"

/* Signature failures logged at warn; the rest at debug, so that 15,000
 * agents refusing a command do not flood the terminal. */
#define SIG_WARNINGS 5

enum phase { PHASE_ACK, PHASE_START, PHASE_FINAL, PHASE_DONE };

struct sim_cmd {
    struct sim_cmd *prev, *next;
    struct sim_agent *agent;
    char id[ID_LEN + 1];
    char *version;
    enum phase phase;
    bool fail;
    int attempt;
    struct event *timer;
};

static void send_report(struct sim_cmd *c);

static void cmd_free(struct sim_cmd *c)
{
    struct sim *s = c->agent->sim;

    if (c->prev)
        c->prev->next = c->next;
    else
        s->cmds = c->next;
    if (c->next)
        c->next->prev = c->prev;
    event_free(c->timer);
    free(c->version);
    free(c);
}

void command_free_all(struct sim *s)
{
    verifier_free(s->verifier);
    s->verifier = NULL;
    while (s->cmds)
        cmd_free(s->cmds);
}

static const char *phase_status(const struct sim_cmd *c)
{
    switch (c->phase) {
    case PHASE_ACK:
        return "ACKNOWLEDGED";
    case PHASE_START:
        return "IN_PROGRESS";
    default:
        return c->fail ? "FAILED" : "SUCCEEDED";
    }
}

static void later(struct sim_cmd *c, int64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};

    evtimer_add(c->timer, &tv);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    send_report(arg);
}

static void finished(struct sim_cmd *c)
{
    struct sim_agent *a = c->agent;
    struct stats *st = &a->sim->stats;

    stats_add_time(&st->finished, time_now_ms());
    if (c->fail) {
        st->failed++;
        return;
    }
    st->succeeded++;
    /* Reported on the next connect, as a real agent would. */
    free(a->current_version);
    a->current_version = c->version;
    c->version = NULL;
}

static void advanced(struct sim_cmd *c)
{
    struct stats *st = &c->agent->sim->stats;

    st->reports_ok++;
    c->attempt = 0;
    if (c->phase == PHASE_ACK)
        st->acked++;
    else if (c->phase == PHASE_START)
        st->in_progress++;
    else
        finished(c);
    c->phase++;
    if (c->phase == PHASE_START)
        send_report(c);
    else if (c->phase == PHASE_FINAL)
        later(c, c->agent->sim->set.success_delay_ms);
    else
        cmd_free(c);
}

static void on_report(int status, json_t *answer, void *arg)
{
    struct sim_cmd *c = arg;
    struct sim *s = c->agent->sim;
    json_t *err = json_object_get(answer, "error");
    const char *code = json_string_value(json_object_get(err, "code"));

    s->stats.dirty = true;
    if (status == 200) {
        advanced(c);
        return;
    }
    if (status == 0 || status == 429 || status >= 500) {
        /* The server is away (restarting?): the report must still land,
         * or the command stays open on the server. */
        s->stats.report_retries++;
        log_debug("report retry", "command=%s status=%s http=%d", c->id,
                  phase_status(c), status);
        later(c, stream_backoff_ms(&s->set, c->attempt++));
        return;
    }
    s->stats.reports_rejected++;
    log_warn("report refused", "agent=%ld command=%s status=%s http=%d code=%s",
             c->agent->index, c->id, phase_status(c), status,
             code ? code : "-");
    cmd_free(c);
}

static void send_report(struct sim_cmd *c)
{
    struct sim *s = c->agent->sim;
    char *path = xasprintf("/api/fleet/commands/%s/status", c->id);
    json_t *body = json_pack("{s:s}", "status", phase_status(c));

    if (c->phase == PHASE_FINAL && c->fail)
        json_object_set_new(body, "message",
                            json_string("mc-fleetsim: simulated failure"));
    pool_request(s->pool, EVHTTP_REQ_POST, path, c->agent->token, body,
                 on_report, c);
    json_decref(body);
    free(path);
}

static bool seen(struct sim_agent *a, const char *id)
{
    for (int i = 0; i < SIM_SEEN_MAX; i++)
        if (strcmp(a->seen[i], id) == 0)
            return true;
    return false;
}

static void remember(struct sim_agent *a, const char *id)
{
    snprintf(a->seen[a->seen_next], sizeof(a->seen[0]), "%s", id);
    a->seen_next = (a->seen_next + 1) % SIM_SEEN_MAX;
}

static void start(struct sim_agent *a, const char *id, json_t *cmd)
{
    struct sim *s = a->sim;
    struct sim_cmd *c = xcalloc(1, sizeof(*c));
    json_t *release = json_object_get(cmd, "release");
    const char *version =
        json_string_value(json_object_get(release, "version"));

    c->agent = a;
    snprintf(c->id, sizeof(c->id), "%s", id);
    c->version = version ? xstrdup(version) : NULL;
    c->fail = sim_share(s->set.fail_rate, (long)s->fail_acc++);
    c->timer = evtimer_new(s->base, on_timer, c);
    c->next = s->cmds;
    if (s->cmds)
        s->cmds->prev = c;
    s->cmds = c;
    send_report(c);
}

static void refuse(struct sim_agent *a, const char *id)
{
    struct stats *st = &a->sim->stats;

    st->signature_failures++;
    if (st->signature_failures <= SIG_WARNINGS)
        log_warn("signature refused", "agent=%ld command=%s", a->index, id);
    else
        log_debug("signature refused", "agent=%ld command=%s", a->index, id);
}

/* On the loop, once the verifier has checked the command's signature. */
static void on_command(struct sim_agent *a, json_t *cmd, bool signed_ok,
                       int64_t at)
{
    struct stats *st = &a->sim->stats;
    const char *id = json_string_value(json_object_get(cmd, "id"));

    st->dirty = true;
    if (!json_is_object(cmd) || !id || !id_valid(id)) {
        st->bad_events++;
        log_warn("bad command event", "agent=%ld", a->index);
        return;
    }
    if (seen(a, id)) {
        st->duplicates++;
        return;
    }
    /* Not remembered: a command refused now is refused again when it
     * comes back, and counted again. */
    if (!signed_ok) {
        refuse(a, id);
        return;
    }
    remember(a, id);
    st->commands++;
    stats_add_time(&st->arrivals, at);
    log_debug("command", "agent=%ld command=%s", a->index, id);
    if (a->silent) {
        st->silent++;
        return;
    }
    start(a, id, cmd);
}

void command_init(struct sim *s)
{
    s->verifier = verifier_new(s, on_command);
}

void command_on_event(struct sim_agent *a, const struct sse_event *ev)
{
    if (ev->comment) {
        a->sim->stats.keepalives++;
        return;
    }
    /* The arrival is now, when the bytes came, not when the check is done. */
    if (strcmp(ev->event, "command") == 0)
        verifier_submit(a->sim->verifier, a, ev->data, time_now_ms());
    else
        log_debug("event ignored", "agent=%ld event=%s", a->index, ev->event);
}
