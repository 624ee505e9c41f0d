/*
 * The sync agent's policy: what to do with each command the stream
 * delivers, so that a command is acted on only when the server signed it,
 * at most once even when delivered again, and always reported in the end,
 * across crashes and restarts.
 */
#ifndef MC_AGENT_AGENT_H
#define MC_AGENT_AGENT_H

#include <stdbool.h>

#include "agent/command.h"
#include "agent/driver.h"
#include "agent/report.h"
#include "agent/sse.h"
#include "agent/state.h"

struct agent {
    const char *node_id;    /* or NULL: the node check is skipped */
    const char *image_repo; /* joined to bare tags, or NULL */
    unsigned char key[COMMAND_KEY_LEN];
    struct agent_state state;
    struct driver *driver;
    struct report_client report;
    int stop_fd;
};

/* At start: lets the driver finish or roll back what a crash interrupted,
 * and records the outcome of the command that was being applied. */
void agent_recover(struct agent *a);

/* Carries the command in flight, if any, as far as it goes; -1 when the
 * server could not be reached (try again later), 0 otherwise. Like
 * agent_on_event, it closes the reports' connection before it returns. */
int agent_resume(struct agent *a);

/* The stream's event callback (an sse_event_fn); non-zero asks the stream
 * to reconnect, because a report or the state file failed. */
int agent_on_event(const struct sse_event *ev, void *arg);

#endif
