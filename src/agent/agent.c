#include "agent/agent.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/util.h"
#include "lib/imageref.h"
#include "lib/log.h"
#include "lib/timeutil.h"
#include "lib/xalloc.h"

#define AGENT_MSG_MAX 1024

static int save(struct agent *a)
{
    char msg[512];

    if (state_save(&a->state, msg, sizeof(msg)) == 0)
        return 0;
    util_scrub(msg);
    log_error("state not saved", "error=\"%s\"", msg);
    return -1;
}

/* An id from the network, fit for a log line. */
static void safe_id(const char *id, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s", id ? id : "-");
    util_scrub(out);
    for (char *p = out; *p; p++)
        if (*p == ' ')
            *p = '_';
}

static bool unreachable(enum report_result r)
{
    return r == REPORT_UNREACHABLE || r == REPORT_STOPPED;
}

/* The command will not be acted on; it is remembered so that a redelivery
 * is not acted on either. */
static void drop_flight(struct agent *a, const char *why)
{
    log_warn("command dropped", "command=%s reason=\"%s\"", a->state.flight.id,
             why);
    state_add_handled(&a->state, a->state.flight.id, "", NULL);
    state_flight_clear(&a->state);
    save(a);
}

/* ACKNOWLEDGED, then IN_PROGRESS. A 409 on the first is not the last word:
 * after a crash between the two reports the command is IN_PROGRESS
 * already, and reporting the status it has answers 200. */
static enum report_result start_reports(struct agent *a, const char *id)
{
    enum report_result r = report_send(&a->report, id, "ACKNOWLEDGED", NULL);

    if (unreachable(r) || r == REPORT_REFUSED)
        return r;
    return report_send(&a->report, id, "IN_PROGRESS", NULL);
}

static void apply(struct agent *a, const struct command *c)
{
    char msg[AGENT_MSG_MAX] = "";
    char *ref = a->image_repo ? imageref_join(a->image_repo, c->image_tag)
                              : xstrdup(c->image_tag);
    struct agent_update u = {.command_id = c->id,
                             .version = c->version,
                             .image_tag = c->image_tag,
                             .image_ref = ref ? ref : c->image_tag,
                             .image_digest = c->image_digest};
    int64_t start = time_mono_ms();

    log_info("update start", "command=%s version=%s image=%s driver=%s", c->id,
             c->version, u.image_ref, a->driver->ops->name);
    if (a->driver->ops->apply(a->driver, &u, msg, sizeof(msg)) == 0) {
        log_info("update succeeded", "command=%s version=%s ms=%lld", c->id,
                 c->version, (long long)(time_mono_ms() - start));
        state_set(&a->state.current_version, c->version);
        state_flight_finish(&a->state, "SUCCEEDED", NULL);
    } else {
        if (!*msg)
            snprintf(msg, sizeof(msg), "the %s driver failed",
                     a->driver->ops->name);
        util_scrub(msg);
        log_error("update failed", "command=%s version=%s reason=\"%s\"", c->id,
                  c->version, msg);
        state_flight_finish(&a->state, "FAILED", msg);
    }
    /* A failed save is logged; the outcome is still reported, and after a
     * crash recovery reports the update as interrupted. */
    save(a);
    free(ref);
}

static int run_received(struct agent *a)
{
    struct state_flight *f = &a->state.flight;
    char msg[AGENT_MSG_MAX];
    struct command c;
    enum report_result r;
    int rc = 0;

    /* Checked again in case the state file was tampered with, but not for
     * expiry: once acknowledged, expiry is the server's business. */
    if (command_check(f->command, a->key, a->node_id, 0, &c, msg,
                      sizeof(msg)) != COMMAND_OK) {
        drop_flight(a, msg);
        goto out;
    }
    r = start_reports(a, f->id);
    if (unreachable(r)) {
        rc = -1;
        goto out;
    }
    if (r != REPORT_OK) {
        drop_flight(a, "the server no longer expects it");
        goto out;
    }
    f->stage = STAGE_APPLYING;
    if (save(a)) {
        /* Not applied; the next try reports again and goes on. */
        f->stage = STAGE_RECEIVED;
        rc = -1;
        goto out;
    }
    apply(a, &c);
out:
    command_release(&c);
    return rc;
}

static int run_finished(struct agent *a)
{
    struct state_flight *f = &a->state.flight;
    enum report_result r =
        report_send(&a->report, f->id, f->status, f->message);

    if (unreachable(r))
        return -1;
    state_add_handled(&a->state, f->id, f->status, f->message);
    state_flight_clear(&a->state);
    save(a);
    return 0;
}

static int resume(struct agent *a)
{
    struct state_flight *f = &a->state.flight;

    if (f->stage == STAGE_RECEIVED && run_received(a))
        return -1;
    if (f->stage == STAGE_APPLYING) {
        /* Only a crash leaves this stage, and agent_recover settles it at
         * start; reaching it here means recovery was skipped. */
        state_flight_finish(&a->state, "FAILED",
                            "the update was interrupted; outcome unknown");
        save(a);
    }
    if (f->stage == STAGE_FINISHED)
        return run_finished(a);
    return 0;
}

/* Back to waiting on the stream, perhaps for weeks: the report client's
 * connection (over https, with its TLS state) is closed rather than kept
 * for the next update, and the heap pages that frees go back to the
 * system (free() alone keeps those that lie below live allocations). */
static void go_idle(struct agent *a)
{
    report_client_release(&a->report);
    malloc_trim(0);
}

int agent_resume(struct agent *a)
{
    int rc = resume(a);

    go_idle(a);
    return rc;
}

/* Settles the command that was being applied when the agent stopped.
 * NEEDSWORK: a crash after the driver finished but before the outcome was
 * saved reports FAILED although the update may have applied (the exec
 * driver removes its marker first); the node then shows the old version
 * until the next deploy, which costs a redundant update, never a wrong
 * SUCCEEDED. */
static void settle_interrupted(struct agent *a, const char *driver_id, int ok,
                               const char *driver_msg)
{
    struct state_flight *f = &a->state.flight;
    char msg[AGENT_MSG_MAX];
    struct command c = {0};

    snprintf(msg, sizeof(msg), "%s",
             *driver_msg ? driver_msg
                         : "the agent stopped during the update; its "
                           "outcome is unknown");
    if (strcmp(driver_id, f->id) != 0)
        ok = 0;
    if (ok && command_check(f->command, a->key, a->node_id, 0, &c, msg,
                            sizeof(msg)) == COMMAND_OK) {
        state_set(&a->state.current_version, c.version);
        state_flight_finish(&a->state, "SUCCEEDED", NULL);
    } else {
        util_scrub(msg);
        state_flight_finish(&a->state, "FAILED", msg);
    }
    command_release(&c);
    log_warn("interrupted update settled", "command=%s status=%s", f->id,
             f->status);
    save(a);
}

void agent_recover(struct agent *a)
{
    char id[STATE_ID_MAX] = "", msg[AGENT_MSG_MAX] = "";
    int ok = 0;

    if (a->driver->ops->recover(a->driver, id, sizeof(id), &ok, msg,
                                sizeof(msg))) {
        util_scrub(msg);
        log_error("driver recovery failed", "driver=%s reason=\"%s\"",
                  a->driver->ops->name, msg);
    }
    if (a->state.flight.stage == STAGE_APPLYING) {
        settle_interrupted(a, id, ok, msg);
        return;
    }
    if (*id) {
        util_scrub(id);
        log_warn("driver recovered an update the state file does not "
                 "name",
                 "command=%s", id);
    }
}

/* A command handled before comes again when a report got lost: the
 * reports are made again (each answers 200, or 409 when the command moved
 * on), the update is not. */
static void replay(struct agent *a, const struct state_handled *h)
{
    static const char *const steps[] = {"ACKNOWLEDGED", "IN_PROGRESS"};
    char *id = xstrdup(h->id), *status = xstrdup(h->status);
    char *message = h->message ? xstrdup(h->message) : NULL;

    log_info("command already handled", "command=%s status=%s", id,
             *status ? status : "none");
    if (!*status)
        goto out;
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
        if (unreachable(report_send(&a->report, id, steps[i], NULL)))
            goto out;
    report_send(&a->report, id, status, message);
out:
    free(id);
    free(status);
    free(message);
}

static int begin(struct agent *a, const struct command *c, const char *data)
{
    /* One at a time: what is still in flight goes first. */
    if (a->state.flight.stage != STAGE_NONE &&
        strcmp(a->state.flight.id, c->id) != 0 && resume(a))
        return -1;
    if (a->state.flight.stage == STAGE_NONE) {
        log_info("command received", "command=%s type=%s version=%s", c->id,
                 c->type, c->version);
        state_flight_begin(&a->state, c->id, data);
        if (save(a)) {
            state_flight_clear(&a->state);
            return -1;
        }
    }
    return resume(a);
}

static int on_command(struct agent *a, const char *data)
{
    char msg[AGENT_MSG_MAX], id[STATE_ID_MAX];
    struct command c;
    const struct state_handled *h;
    enum command_verdict v;
    int rc = 0;

    v = command_check(data, a->key, a->node_id, time_now_ms(), &c, msg,
                      sizeof(msg));
    safe_id(c.id, id, sizeof(id));
    if (v == COMMAND_OK && strlen(c.id) >= STATE_ID_MAX) {
        v = COMMAND_MALFORMED;
        snprintf(msg, sizeof(msg), "command id too long");
    }
    if (v != COMMAND_OK) {
        util_scrub(msg);
        log_error("command refused", "command=%s reason=\"%s\"", id, msg);
    } else if (strcmp(c.type, "FORCE_UPDATE") != 0) {
        log_warn("command type not supported", "command=%s", id);
    } else if ((h = state_find(&a->state, c.id))) {
        replay(a, h);
    } else {
        rc = begin(a, &c, data);
    }
    command_release(&c);
    go_idle(a);
    return rc;
}

int agent_on_event(const struct sse_event *ev, void *arg)
{
    struct agent *a = arg;
    int rc = 0;

    if (strcmp(ev->type, "command") == 0) {
        rc = on_command(a, ev->data);
    } else {
        char type[64];

        safe_id(ev->type, type, sizeof(type));
        log_debug("event ignored", "type=%s", type);
    }
    if (*ev->id && (!a->state.last_event_id ||
                    strcmp(a->state.last_event_id, ev->id) != 0)) {
        state_set(&a->state.last_event_id, ev->id);
        save(a);
    }
    return rc;
}
