/*
 * The agent's memory across restarts, one small JSON file in the state
 * directory, replaced atomically (temp file, fsync, rename, fsync of the
 * directory) so a crash leaves either the old or the new file, never half
 * of one:
 * - the version the node runs now and the last stream event id;
 * - the commands already handled, newest last, at most STATE_HANDLED_MAX,
 *   each with the final status reported, so a redelivery is answered
 *   without running the update again;
 * - the command in flight, if any, and how far it got, so a restart after
 *   a crash finishes or reports it.
 */
#ifndef MC_AGENT_STATE_H
#define MC_AGENT_STATE_H

#include <stdbool.h>
#include <stddef.h>

#define STATE_HANDLED_MAX 256
#define STATE_ID_MAX      64
#define STATE_STATUS_MAX  16
#define STATE_MESSAGE_MAX 1000 /* the server's limit on a report */
#define STATE_FILE        "state.json"

struct state_handled {
    char id[STATE_ID_MAX];
    char status[STATE_STATUS_MAX]; /* the final status reported, or "" */
    char *message;                 /* owned, may be NULL */
};

enum state_stage {
    STAGE_NONE,     /* nothing in flight */
    STAGE_RECEIVED, /* verified; being acknowledged, nothing applied yet */
    STAGE_APPLYING, /* the driver was asked to apply it */
    STAGE_FINISHED, /* the outcome is known, its report is pending */
};

struct state_flight {
    enum state_stage stage;
    char *command; /* owned: the command's JSON exactly as received */
    char id[STATE_ID_MAX];
    char status[STATE_STATUS_MAX]; /* FINISHED: SUCCEEDED or FAILED */
    char *message;                 /* FINISHED: owned, may be NULL */
};

struct agent_state {
    char *path; /* owned: "<dir>/state.json" */
    char *current_version;
    char *last_event_id;
    struct state_handled handled[STATE_HANDLED_MAX]; /* oldest first */
    size_t handled_count;
    struct state_flight flight;
};

/* Reads dir/state.json into s; a missing file is an empty state. -1 with a
 * one-line msg when the file cannot be read or is not a state file (the
 * agent must not guess what it already did). */
int state_load(struct agent_state *s, const char *dir, char *msg,
               size_t msglen);

/* Writes s atomically; -1 with msg on failure (the old file stays). */
int state_save(const struct agent_state *s, char *msg, size_t msglen);

void state_release(struct agent_state *s);

/* The record of command id, or NULL. */
const struct state_handled *state_find(const struct agent_state *s,
                                       const char *id);

/* Records id as handled with its final status (may be "") and message,
 * dropping the oldest record when the list is full. */
void state_add_handled(struct agent_state *s, const char *id,
                       const char *status, const char *message);

/* Replaces a string field (NULL clears it). */
void state_set(char **field, const char *value);

/* Starts, advances or clears (STAGE_NONE) the command in flight. */
void state_flight_begin(struct agent_state *s, const char *id,
                        const char *command);
void state_flight_finish(struct agent_state *s, const char *status,
                         const char *message);
void state_flight_clear(struct agent_state *s);

#endif
