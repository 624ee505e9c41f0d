#include "agent/state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "lib/xalloc.h"

#define STATE_FORMAT 1

static const char *const stage_names[] = {"none", "received", "applying",
                                          "finished"};

void state_set(char **field, const char *value)
{
    free(*field);
    *field = value ? xstrdup(value) : NULL;
}

static void copy_bounded(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src ? src : "");
}

/* A message kept for a report: at most STATE_MESSAGE_MAX bytes, cut at a
 * UTF-8 character boundary so the server accepts it. */
static char *message_dup(const char *m)
{
    size_t n;

    if (!m)
        return NULL;
    n = strlen(m);
    if (n > STATE_MESSAGE_MAX) {
        n = STATE_MESSAGE_MAX;
        while (n > 0 && ((unsigned char)m[n] & 0xC0) == 0x80)
            n--;
    }
    return xstrndup(m, n);
}

const struct state_handled *state_find(const struct agent_state *s,
                                       const char *id)
{
    for (size_t i = 0; i < s->handled_count; i++)
        if (strcmp(s->handled[i].id, id) == 0)
            return &s->handled[i];
    return NULL;
}

void state_add_handled(struct agent_state *s, const char *id,
                       const char *status, const char *message)
{
    struct state_handled *h;

    if (s->handled_count == STATE_HANDLED_MAX) {
        free(s->handled[0].message);
        memmove(&s->handled[0], &s->handled[1],
                sizeof(s->handled[0]) * (STATE_HANDLED_MAX - 1));
        s->handled_count--;
    }
    h = &s->handled[s->handled_count++];
    copy_bounded(h->id, sizeof(h->id), id);
    copy_bounded(h->status, sizeof(h->status), status);
    h->message = message_dup(message);
}

void state_flight_begin(struct agent_state *s, const char *id,
                        const char *command)
{
    state_flight_clear(s);
    s->flight.stage = STAGE_RECEIVED;
    copy_bounded(s->flight.id, sizeof(s->flight.id), id);
    s->flight.command = xstrdup(command);
}

void state_flight_finish(struct agent_state *s, const char *status,
                         const char *message)
{
    s->flight.stage = STAGE_FINISHED;
    copy_bounded(s->flight.status, sizeof(s->flight.status), status);
    free(s->flight.message);
    s->flight.message = message_dup(message);
}

void state_flight_clear(struct agent_state *s)
{
    free(s->flight.command);
    free(s->flight.message);
    memset(&s->flight, 0, sizeof(s->flight));
}

void state_release(struct agent_state *s)
{
    for (size_t i = 0; i < s->handled_count; i++)
        free(s->handled[i].message);
    state_flight_clear(s);
    free(s->current_version);
    free(s->last_event_id);
    free(s->path);
    memset(s, 0, sizeof(*s));
}

/* --- reading ------------------------------------------------------------ */

static int read_handled(struct agent_state *s, json_t *list)
{
    size_t i;
    json_t *h;

    if (!json_is_array(list))
        return -1;
    json_array_foreach(list, i, h)
    {
        const char *id = NULL, *status = "", *message = NULL;

        if (json_unpack(h, "{s:s, s?s, s?s}", "id", &id, "status", &status,
                        "message", &message))
            return -1;
        state_add_handled(s, id, status, message);
    }
    return 0;
}

static int read_flight(struct agent_state *s, json_t *f)
{
    const char *stage, *id, *command, *status = "", *message = NULL;
    int i;

    if (!f || json_is_null(f))
        return 0;
    if (json_unpack(f, "{s:s, s:s, s:s, s?s, s?s}", "stage", &stage, "id", &id,
                    "command", &command, "status", &status, "message",
                    &message))
        return -1;
    for (i = STAGE_RECEIVED; i <= STAGE_FINISHED; i++)
        if (strcmp(stage, stage_names[i]) == 0)
            break;
    if (i > STAGE_FINISHED)
        return -1;
    state_flight_begin(s, id, command);
    s->flight.stage = (enum state_stage)i;
    if (i == STAGE_FINISHED)
        state_flight_finish(s, status, message);
    return 0;
}

static int read_root(struct agent_state *s, json_t *root)
{
    json_int_t format;
    const char *version = NULL, *last_id = NULL;
    json_t *handled = NULL, *flight = NULL;

    if (json_unpack(root, "{s:I, s?s, s?s, s?o, s?o}", "format", &format,
                    "currentVersion", &version, "lastEventId", &last_id,
                    "handled", &handled, "inFlight", &flight) ||
        format != STATE_FORMAT)
        return -1;
    state_set(&s->current_version, version);
    state_set(&s->last_event_id, last_id);
    if ((handled && read_handled(s, handled)) || read_flight(s, flight))
        return -1;
    return 0;
}

int state_load(struct agent_state *s, const char *dir, char *msg, size_t msglen)
{
    json_error_t jerr;
    json_t *root;
    int rc = -1;

    memset(s, 0, sizeof(*s));
    s->path = xasprintf("%s/%s", dir, STATE_FILE);
    if (access(s->path, F_OK) != 0 && errno == ENOENT)
        return 0;
    root = json_load_file(s->path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(msg, msglen, "cannot read state file \"%s\": %s", s->path,
                 jerr.text);
        return -1;
    }
    if (read_root(s, root)) {
        snprintf(msg, msglen,
                 "cannot read state file \"%s\": not an mc-agent state "
                 "file of format %d",
                 s->path, STATE_FORMAT);
        goto out;
    }
    rc = 0;
out:
    json_decref(root);
    return rc;
}

/* --- writing ------------------------------------------------------------ */

static json_t *dump_flight(const struct state_flight *f)
{
    json_t *o;

    if (f->stage == STAGE_NONE)
        return json_null();
    o = json_pack("{s:s, s:s, s:s}", "stage", stage_names[f->stage], "id",
                  f->id, "command", f->command);
    if (f->stage == STAGE_FINISHED) {
        json_object_set_new(o, "status", json_string(f->status));
        if (f->message)
            json_object_set_new(o, "message", json_string(f->message));
    }
    return o;
}

static json_t *dump(const struct agent_state *s)
{
    json_t *handled = json_array(), *root;

    for (size_t i = 0; i < s->handled_count; i++) {
        const struct state_handled *h = &s->handled[i];
        json_t *o = json_pack("{s:s, s:s}", "id", h->id, "status", h->status);

        if (h->message)
            json_object_set_new(o, "message", json_string(h->message));
        json_array_append_new(handled, o);
    }
    root = json_pack("{s:i, s:o, s:o}", "format", STATE_FORMAT, "handled",
                     handled, "inFlight", dump_flight(&s->flight));
    /* Absent rather than null: what is unknown is left out. */
    if (s->current_version)
        json_object_set_new(root, "currentVersion",
                            json_string(s->current_version));
    if (s->last_event_id)
        json_object_set_new(root, "lastEventId", json_string(s->last_event_id));
    return root;
}

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static int fsync_dir(const char *path)
{
    char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    int fd, rc;

    if (slash)
        *slash = '\0';
    fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (fd < 0)
        return -1;
    rc = fsync(fd);
    close(fd);
    return rc;
}

int state_save(const struct agent_state *s, char *msg, size_t msglen)
{
    json_t *root = dump(s);
    char *text = json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS);
    char *tmp = xasprintf("%s.tmp", s->path);
    const char *step = "create";
    int fd, rc = -1, saved = 0;

    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        goto fail;
    step = "write";
    if (write_all(fd, text, strlen(text)) || write_all(fd, "\n", 1) ||
        fsync(fd)) {
        saved = errno;
        close(fd);
        goto fail;
    }
    step = "replace";
    if (close(fd) || rename(tmp, s->path))
        goto fail;
    step = "sync the directory of";
    if (fsync_dir(s->path))
        goto fail;
    rc = 0;
    goto out;
fail:
    if (!saved)
        saved = errno;
    unlink(tmp);
    snprintf(msg, msglen, "cannot %s state file \"%s\": %s", step, s->path,
             strerror(saved));
out:
    free(tmp);
    free(text);
    json_decref(root);
    return rc;
}
