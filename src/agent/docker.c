/*
 * The docker driver: replaces the POS container by one on the new image
 * with the same configuration, and puts the previous one back when the new
 * one does not become healthy.
 *
 * The old container is stopped and renamed "<name>-previous" (kept, so a
 * rollback is a rename and a start, with no pull), the new one is created
 * under the real name and started, and the old one is removed only once the
 * new one is healthy. A marker file in the state directory names the
 * command, both containers and the phase; recover() reads it after a crash
 * and finishes (phase "committing": the new one was healthy) or rolls back
 * (any earlier phase), so the node always ends with a running POS container.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "agent/docker_api.h"
#include "agent/driver.h"
#include "lib/log.h"
#include "lib/timeutil.h"
#include "lib/xalloc.h"

#define MARKER_FILE          "docker-update.json"
#define PREVIOUS_SUFFIX      "-previous"
#define DEFAULT_SOCKET       "/var/run/docker.sock"
#define DEFAULT_HEALTH_S     120
#define DEFAULT_SETTLE_S     10
#define POLL_MS              500
#define CALL_TIMEOUT_S       60
#define STOP_TIMEOUT_S       300 /* the container's own stop timeout rules */
#define NAME_MAX_LEN         128
#define CONTAINER_ID_MAX_LEN 64

struct docker_driver {
    struct driver base;
    struct docker_api *api;
    char *marker_path;
};

/* What the marker holds: enough to finish or undo an update. */
struct update_state {
    char command_id[128];
    char name[NAME_MAX_LEN + 1];
    char old_id[CONTAINER_ID_MAX_LEN + 1];
    char new_id[CONTAINER_ID_MAX_LEN + 1];
    char image[300];
    char phase[16]; /* "replacing" or "committing" */
};

static const char *const INHERITED_KEYS[] = {
    "Cmd",     "Entrypoint",   "Healthcheck", "WorkingDir",
    "User",    "Volumes",      "StopSignal",  "Shell",
    "OnBuild", "ExposedPorts", NULL,
};

static struct docker_driver *dd_of(struct driver *d)
{
    return (struct docker_driver *)d;
}

static int health_timeout_s(const struct driver_settings *s)
{
    return s->health_timeout_s > 0 ? s->health_timeout_s : DEFAULT_HEALTH_S;
}

static int settle_s(const struct driver_settings *s)
{
    return s->settle_s > 0 ? s->settle_s : DEFAULT_SETTLE_S;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* ---- the marker ------------------------------------------------------- */

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Makes a rename in dir durable. */
static void fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);

    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Writes text to path atomically: a temporary file, fsync, rename. */
static int write_atomic(const char *dir, const char *path, const char *text,
                        char *msg, size_t msglen)
{
    char *tmp = xasprintf("%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int rc = -1;

    if (fd < 0)
        goto fail;
    if (write_all(fd, text, strlen(text)) < 0 || fsync(fd) < 0) {
        close(fd);
        goto fail;
    }
    if (close(fd) < 0 || rename(tmp, path) < 0)
        goto fail;
    fsync_dir(dir);
    rc = 0;
    goto out;
fail:
    snprintf(msg, msglen, "cannot write \"%s\": %s", path, strerror(errno));
    unlink(tmp);
out:
    free(tmp);
    return rc;
}

static int marker_write(struct docker_driver *dd, struct update_state *st,
                        const char *phase, char *msg, size_t msglen)
{
    json_t *j;
    char *text;
    int rc;

    j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "commandId", st->command_id,
                  "container", st->name, "oldId", st->old_id, "newId",
                  st->new_id, "image", st->image, "phase", phase);
    text = json_dumps(j, JSON_COMPACT);
    rc = write_atomic(dd->base.settings->state_dir, dd->marker_path, text, msg,
                      msglen);
    /* The phase in memory is the one on disk, so a failed write of
     * "committing" still rolls back. */
    if (rc == 0)
        snprintf(st->phase, sizeof(st->phase), "%s", phase);
    free(text);
    json_decref(j);
    return rc;
}

static void marker_remove(struct docker_driver *dd)
{
    if (unlink(dd->marker_path) < 0 && errno != ENOENT)
        log_warn("docker marker", "path=\"%s\" error=\"%s\"", dd->marker_path,
                 strerror(errno));
    fsync_dir(dd->base.settings->state_dir);
}

static void copy_field(json_t *j, const char *key, char *out, size_t outlen)
{
    const char *s = json_string_value(json_object_get(j, key));

    snprintf(out, outlen, "%s", s ? s : "");
}

/* 1 and *st filled when a marker exists, 0 when none, -1 when unreadable. */
static int marker_read(struct docker_driver *dd, struct update_state *st,
                       char *msg, size_t msglen)
{
    json_error_t jerr;
    json_t *j;

    if (access(dd->marker_path, F_OK) < 0 && errno == ENOENT)
        return 0;
    j = json_load_file(dd->marker_path, 0, &jerr);
    if (!j || !json_is_object(j)) {
        snprintf(msg, msglen, "cannot read \"%s\": %s", dd->marker_path,
                 j ? "not an object" : jerr.text);
        json_decref(j);
        return -1;
    }
    copy_field(j, "commandId", st->command_id, sizeof(st->command_id));
    copy_field(j, "container", st->name, sizeof(st->name));
    copy_field(j, "oldId", st->old_id, sizeof(st->old_id));
    copy_field(j, "newId", st->new_id, sizeof(st->new_id));
    copy_field(j, "image", st->image, sizeof(st->image));
    copy_field(j, "phase", st->phase, sizeof(st->phase));
    json_decref(j);
    if (!st->name[0] || !st->old_id[0]) {
        snprintf(msg, msglen, "\"%s\" names no container", dd->marker_path);
        return -1;
    }
    return 1;
}

/* ---- containers --------------------------------------------------------- */

/* Inspects a container by id or name: 1 and *out, 0 when there is none. */
static int inspect(struct docker_driver *dd, const char *ref, json_t **out,
                   char *msg, size_t msglen)
{
    char *path = xasprintf("/containers/%s/json", ref);
    json_t *j = NULL;
    int status;
    int rc = -1;

    *out = NULL;
    status = docker_api_call(dd->api, "GET", path, NULL, CALL_TIMEOUT_S, &j,
                             msg, msglen);
    if (status == 200 && json_is_object(json_object_get(j, "State"))) {
        *out = j;
        j = NULL;
        rc = 1;
    } else if (status == 404) {
        rc = 0;
    } else if (status >= 0) {
        char what[200];

        snprintf(what, sizeof(what), "cannot inspect container \"%s\"", ref);
        docker_api_fail(what, status, j, msg, msglen);
    }
    json_decref(j);
    free(path);
    return rc;
}

/* POSTs path expecting one of ok1, ok2 (0 for none); what names it. */
static int post(struct docker_driver *dd, const char *path, int timeout_s,
                int ok1, int ok2, const char *what, char *msg, size_t msglen)
{
    json_t *j = NULL;
    int status;
    int rc = 0;

    status = docker_api_call(dd->api, "POST", path, NULL, timeout_s, &j, msg,
                             msglen);
    if (status < 0)
        rc = -1;
    else if (status != ok1 && status != ok2)
        rc = docker_api_fail(what, status, j, msg, msglen);
    json_decref(j);
    return rc;
}

static int container_action(struct docker_driver *dd, const char *id,
                            const char *action, char *msg, size_t msglen)
{
    char *path = xasprintf("/containers/%s/%s", id, action);
    char what[160];
    int timeout = strcmp(action, "stop") == 0 ? STOP_TIMEOUT_S : CALL_TIMEOUT_S;
    int rc;

    snprintf(what, sizeof(what), "cannot %s container %.12s", action, id);
    /* 304: already in the wanted state. */
    rc = post(dd, path, timeout, 204, 304, what, msg, msglen);
    free(path);
    return rc;
}

static int container_rename(struct docker_driver *dd, const char *id,
                            const char *name, char *msg, size_t msglen)
{
    char *path = xasprintf("/containers/%s/rename?name=%s", id, name);
    char what[240];
    int rc;

    snprintf(what, sizeof(what), "cannot rename container %.12s to \"%s\"", id,
             name);
    rc = post(dd, path, CALL_TIMEOUT_S, 204, 0, what, msg, msglen);
    free(path);
    return rc;
}

/* Removes a container but not its volumes: the replacement mounts them.
 * A container that is gone counts as removed. */
static int container_remove(struct docker_driver *dd, const char *id, char *msg,
                            size_t msglen)
{
    char *path = xasprintf("/containers/%s?force=true", id);
    json_t *j = NULL;
    int status;
    int rc = 0;

    status = docker_api_call(dd->api, "DELETE", path, NULL, CALL_TIMEOUT_S, &j,
                             msg, msglen);
    if (status < 0) {
        rc = -1;
    } else if (status != 204 && status != 404) {
        char what[160];

        snprintf(what, sizeof(what), "cannot remove container %.12s", id);
        rc = docker_api_fail(what, status, j, msg, msglen);
    }
    json_decref(j);
    free(path);
    return rc;
}

/* The container's name without the leading '/'. */
static const char *container_name(json_t *c)
{
    const char *n = json_string_value(json_object_get(c, "Name"));

    if (!n)
        return "";
    return n[0] == '/' ? n + 1 : n;
}

/* ---- the replacement's configuration ----------------------------------- */

/* Drops what the container only inherited from its image, so the new
 * image's defaults (command, health check, env...) apply to the new one. */
static void drop_inherited(json_t *cfg, json_t *img_cfg)
{
    json_t *env = json_object_get(cfg, "Env");
    json_t *img_env = json_object_get(img_cfg, "Env");
    json_t *labels = json_object_get(cfg, "Labels");
    json_t *img_labels = json_object_get(img_cfg, "Labels");
    const char *key;
    json_t *v;
    void *tmp;
    size_t i;

    for (i = 0; INHERITED_KEYS[i]; i++) {
        json_t *a = json_object_get(cfg, INHERITED_KEYS[i]);
        json_t *b = json_object_get(img_cfg, INHERITED_KEYS[i]);

        if (a && (json_equal(a, b) || (json_is_null(a) && !b)))
            json_object_del(cfg, INHERITED_KEYS[i]);
    }
    for (i = 0; json_is_array(env) && i < json_array_size(env);) {
        size_t k;
        int found = 0;

        json_array_foreach(img_env, k, v)
        {
            if (json_equal(v, json_array_get(env, i)))
                found = 1;
        }
        if (found)
            json_array_remove(env, i);
        else
            i++;
    }
    json_object_foreach_safe(labels, tmp, key, v)
    {
        if (json_equal(v, json_object_get(img_labels, key)))
            json_object_del(labels, key);
    }
}

/* The mount point of a "src:dst[:opts]" bind, compared with dst. */
static int bind_targets(const char *bind, const char *dst)
{
    const char *p = strchr(bind, ':');
    size_t n;

    if (!p)
        return strcmp(bind, dst) == 0;
    p++;
    n = strcspn(p, ":");
    return strlen(dst) == n && strncmp(p, dst, n) == 0;
}

static int mount_covered(json_t *host, const char *dst)
{
    json_t *v;
    size_t i;

    json_array_foreach(json_object_get(host, "Binds"), i, v)
    {
        if (json_is_string(v) && bind_targets(json_string_value(v), dst))
            return 1;
    }
    json_array_foreach(json_object_get(host, "Mounts"), i, v)
    {
        const char *t = json_string_value(json_object_get(v, "Target"));

        if (t && strcmp(t, dst) == 0)
            return 1;
    }
    return 0;
}

/* Anonymous volumes (an image's VOLUME) appear only in "Mounts": bind them
 * by name so the replacement keeps their data. */
static void keep_volumes(json_t *host, json_t *mounts)
{
    json_t *m;
    size_t i;

    json_array_foreach(mounts, i, m)
    {
        const char *type = json_string_value(json_object_get(m, "Type"));
        const char *name = json_string_value(json_object_get(m, "Name"));
        const char *dst = json_string_value(json_object_get(m, "Destination"));
        json_t *binds;

        if (!type || strcmp(type, "volume") != 0 || !name || !dst ||
            mount_covered(host, dst))
            continue;
        binds = json_object_get(host, "Binds");
        if (!json_is_array(binds)) {
            binds = json_array();
            json_object_set_new(host, "Binds", binds);
        }
        json_array_append_new(
            binds,
            json_sprintf("%s:%s%s", name, dst,
                         json_is_false(json_object_get(m, "RW")) ? ":ro" : ""));
    }
}

/* The endpoint settings a new container can take from an old one. */
static json_t *endpoint_copy(json_t *ep, const char *old_id)
{
    json_t *out = json_object();
    json_t *aliases = json_array();
    json_t *v;
    size_t i;

    if (json_is_object(json_object_get(ep, "IPAMConfig")))
        json_object_set(out, "IPAMConfig", json_object_get(ep, "IPAMConfig"));
    if (json_is_array(json_object_get(ep, "Links")))
        json_object_set(out, "Links", json_object_get(ep, "Links"));
    /* Docker adds the short id as an alias; the new one gets its own. */
    json_array_foreach(json_object_get(ep, "Aliases"), i, v)
    {
        if (json_is_string(v) && strncmp(json_string_value(v), old_id, 12) != 0)
            json_array_append(aliases, v);
    }
    json_object_set_new(out, "Aliases", aliases);
    return out;
}

/* NEEDSWORK: only the network named by NetworkMode is joined at create; a
 * container on several user networks loses the others on update. */
static json_t *networking(json_t *old, const char *old_id)
{
    json_t *host = json_object_get(old, "HostConfig");
    const char *mode = json_string_value(json_object_get(host, "NetworkMode"));
    json_t *nets =
        json_object_get(json_object_get(old, "NetworkSettings"), "Networks");
    json_t *ep = mode ? json_object_get(nets, mode) : NULL;
    json_t *eps;

    if (!ep)
        return NULL;
    eps = json_object();
    json_object_set_new(eps, mode, endpoint_copy(ep, old_id));
    return json_pack("{s:o}", "EndpointsConfig", eps);
}

/* The create body: the old Config with the image swapped and inherited
 * defaults dropped, its HostConfig, its network endpoint. */
static json_t *create_body(json_t *old, json_t *old_image, const char *image)
{
    const char *old_id = json_string_value(json_object_get(old, "Id"));
    json_t *body = json_deep_copy(json_object_get(old, "Config"));
    json_t *host = json_deep_copy(json_object_get(old, "HostConfig"));
    const char *hostname;
    json_t *net;

    if (old_image)
        drop_inherited(body, json_object_get(old_image, "Config"));
    hostname = json_string_value(json_object_get(body, "Hostname"));
    /* Docker names a container's host after its short id unless told. */
    if (hostname && old_id && strncmp(hostname, old_id, 12) == 0)
        json_object_del(body, "Hostname");
    json_object_set_new(body, "Image", json_string(image));
    keep_volumes(host, json_object_get(old, "Mounts"));
    json_object_set_new(body, "HostConfig", host);
    net = networking(old, old_id ? old_id : "");
    if (net)
        json_object_set_new(body, "NetworkingConfig", net);
    return body;
}

/* The image the old container runs, or NULL when it is gone. */
static json_t *old_image_config(struct docker_driver *dd, json_t *old)
{
    const char *img = json_string_value(json_object_get(old, "Image"));
    char *path;
    json_t *j = NULL;
    char msg[256];
    int status;

    if (!img)
        return NULL;
    path = xasprintf("/images/%s/json", img);
    status = docker_api_call(dd->api, "GET", path, NULL, CALL_TIMEOUT_S, &j,
                             msg, sizeof(msg));
    free(path);
    if (status != 200) {
        log_warn("docker image",
                 "image=%.19s status=%d note=\"cannot tell "
                 "inherited settings; copying all\"",
                 img, status);
        json_decref(j);
        return NULL;
    }
    return j;
}

static int container_create(struct docker_driver *dd, const char *name,
                            json_t *body, char *id, size_t idlen, char *msg,
                            size_t msglen)
{
    char *path = xasprintf("/containers/create?name=%s", name);
    json_t *j = NULL;
    const char *new_id;
    int status;
    int rc = -1;

    status = docker_api_call(dd->api, "POST", path, body, CALL_TIMEOUT_S, &j,
                             msg, msglen);
    new_id = json_string_value(json_object_get(j, "Id"));
    if (status == 201 && new_id && strlen(new_id) < idlen) {
        snprintf(id, idlen, "%s", new_id);
        rc = 0;
    } else if (status >= 0) {
        char what[200];

        snprintf(what, sizeof(what), "cannot create container \"%s\"", name);
        docker_api_fail(what, status, j, msg, msglen);
    }
    json_decref(j);
    free(path);
    return rc;
}

/* ---- the image ---------------------------------------------------------- */

static int check_digest(struct docker_driver *dd, const char *ref,
                        const char *digest, char *msg, size_t msglen)
{
    char *path = xasprintf("/images/%s/json", ref);
    json_t *j = NULL;
    json_t *v;
    size_t i;
    int status;
    int rc = -1;

    status = docker_api_call(dd->api, "GET", path, NULL, CALL_TIMEOUT_S, &j,
                             msg, msglen);
    if (status != 200) {
        if (status >= 0)
            docker_api_fail("cannot inspect the pulled image", status, j, msg,
                            msglen);
        goto out;
    }
    json_array_foreach(json_object_get(j, "RepoDigests"), i, v)
    {
        const char *at =
            strchr(json_string_value(v) ? json_string_value(v) : "", '@');

        if (at && strcmp(at + 1, digest) == 0) {
            rc = 0;
            goto out;
        }
    }
    v = json_array_get(json_object_get(j, "RepoDigests"), 0);
    snprintf(msg, msglen, "image \"%s\" has digest %s, the release wants %s",
             ref,
             json_string_value(v) && strchr(json_string_value(v), '@')
                 ? strchr(json_string_value(v), '@') + 1
                 : "(none)",
             digest);
out:
    json_decref(j);
    free(path);
    return rc;
}

/* ---- health ------------------------------------------------------------- */

/* 1 healthy, 0 not yet, -1 never will be (msg says why). */
static int health_step(struct docker_driver *dd, const char *id,
                       int64_t settle_end, char *msg, size_t msglen)
{
    const struct driver_settings *s = dd->base.settings;
    json_t *c = NULL;
    json_t *state;
    json_t *health;
    const char *hs;
    int rc = -1;

    if (inspect(dd, id, &c, msg, msglen) <= 0) {
        if (!c && msg[0] == '\0')
            snprintf(msg, msglen, "the new container is gone");
        goto out;
    }
    state = json_object_get(c, "State");
    if (!json_is_true(json_object_get(state, "Running")) ||
        json_is_true(json_object_get(state, "Restarting"))) {
        snprintf(msg, msglen, "the new container exited (code %lld)",
                 json_integer_value(json_object_get(state, "ExitCode")));
        goto out;
    }
    if (json_integer_value(json_object_get(c, "RestartCount")) > 0) {
        snprintf(msg, msglen, "the new container restarted (it crashed)");
        goto out;
    }
    health = json_object_get(state, "Health");
    hs = json_string_value(json_object_get(health, "Status"));
    if (hs) {
        if (strcmp(hs, "unhealthy") == 0) {
            snprintf(msg, msglen, "the new container is unhealthy");
            goto out;
        }
        rc = strcmp(hs, "healthy") == 0;
    } else if (s->health_url && s->health_url[0]) {
        int st = docker_api_probe(s->health_url, 2000);

        rc = st >= 200 && st < 300;
    } else {
        rc = time_mono_ms() >= settle_end;
    }
out:
    json_decref(c);
    return rc;
}

static int wait_healthy(struct docker_driver *dd, const char *id, char *msg,
                        size_t msglen)
{
    const struct driver_settings *s = dd->base.settings;
    int64_t start = time_mono_ms();
    int64_t deadline = start + (int64_t)health_timeout_s(s) * 1000;
    int64_t settle_end = start + (int64_t)settle_s(s) * 1000;

    for (;;) {
        int rc;

        msg[0] = '\0';
        rc = health_step(dd, id, settle_end, msg, msglen);
        if (rc != 0)
            return rc > 0 ? 0 : -1;
        if (time_mono_ms() >= deadline) {
            snprintf(msg, msglen,
                     "the new container was not healthy "
                     "within %d s",
                     health_timeout_s(s));
            return -1;
        }
        sleep_ms(POLL_MS);
    }
}

/* ---- replace, commit, roll back ------------------------------------------ */

/* Removes a stale "<name>-previous" that is not the container we keep. */
static int clear_previous_name(struct docker_driver *dd,
                               const struct update_state *st, char *msg,
                               size_t msglen)
{
    char *prev = xasprintf("%s%s", st->name, PREVIOUS_SUFFIX);
    json_t *c = NULL;
    int rc = inspect(dd, prev, &c, msg, msglen);
    const char *id = json_string_value(json_object_get(c, "Id"));

    if (rc > 0 && id && strcmp(id, st->old_id) != 0) {
        log_warn("docker stale previous", "container=\"%s\" id=%.12s", prev,
                 id);
        rc = container_remove(dd, id, msg, msglen);
    }
    json_decref(c);
    free(prev);
    return rc < 0 ? -1 : 0;
}

static int replace(struct docker_driver *dd, struct update_state *st,
                   json_t *body, char *msg, size_t msglen)
{
    char *prev = xasprintf("%s%s", st->name, PREVIOUS_SUFFIX);
    int rc = -1;

    if (clear_previous_name(dd, st, msg, msglen) < 0 ||
        container_action(dd, st->old_id, "stop", msg, msglen) < 0 ||
        container_rename(dd, st->old_id, prev, msg, msglen) < 0 ||
        container_create(dd, st->name, body, st->new_id, sizeof(st->new_id),
                         msg, msglen) < 0)
        goto out;
    if (marker_write(dd, st, "replacing", msg, msglen) < 0 ||
        container_action(dd, st->new_id, "start", msg, msglen) < 0)
        goto out;
    log_info("docker started",
             "command=%s container=\"%s\" id=%.12s "
             "image=\"%s\"",
             st->command_id, st->name, st->new_id, st->image);
    rc = 0;
out:
    free(prev);
    return rc;
}

/* The new container is healthy: the old one goes. */
static int commit(struct docker_driver *dd, struct update_state *st, char *msg,
                  size_t msglen)
{
    if (marker_write(dd, st, "committing", msg, msglen) < 0)
        return -1;
    if (container_remove(dd, st->old_id, msg, msglen) < 0)
        return -1;
    marker_remove(dd);
    log_info("docker updated",
             "command=%s container=\"%s\" id=%.12s "
             "image=\"%s\"",
             st->command_id, st->name, st->new_id, st->image);
    return 0;
}

/* Removes whatever holds the real name but is not the old container. */
static int clear_name(struct docker_driver *dd, const struct update_state *st,
                      char *msg, size_t msglen)
{
    json_t *c = NULL;
    int rc = inspect(dd, st->name, &c, msg, msglen);
    const char *id = json_string_value(json_object_get(c, "Id"));

    if (rc > 0 && id && strcmp(id, st->old_id) != 0)
        rc = container_remove(dd, id, msg, msglen);
    json_decref(c);
    return rc < 0 ? -1 : 0;
}

/* Puts the old container back under its name, running. The marker stays
 * when this fails, so the next start tries again. */
static int rollback(struct docker_driver *dd, struct update_state *st,
                    char *msg, size_t msglen)
{
    json_t *old = NULL;
    int rc = -1;

    if (st->new_id[0] && container_remove(dd, st->new_id, msg, msglen) < 0)
        goto out;
    if (clear_name(dd, st, msg, msglen) < 0)
        goto out;
    if (inspect(dd, st->old_id, &old, msg, msglen) <= 0) {
        if (!old)
            snprintf(msg, msglen, "the previous container %.12s is gone",
                     st->old_id);
        goto out;
    }
    if (strcmp(container_name(old), st->name) != 0 &&
        container_rename(dd, st->old_id, st->name, msg, msglen) < 0)
        goto out;
    if (container_action(dd, st->old_id, "start", msg, msglen) < 0)
        goto out;
    marker_remove(dd);
    log_info("docker rolled back", "command=%s container=\"%s\" id=%.12s",
             st->command_id, st->name, st->old_id);
    rc = 0;
out:
    json_decref(old);
    return rc;
}

/* Rolls back after why; msg ends up as why plus how the rollback went. */
static void rollback_after(struct docker_driver *dd, struct update_state *st,
                           const char *why, char *msg, size_t msglen)
{
    char reason[512];
    char err[512] = "";

    snprintf(reason, sizeof(reason), "%s", why);
    log_warn("docker update failed", "command=%s reason=\"%s\"", st->command_id,
             reason);
    if (rollback(dd, st, err, sizeof(err)) == 0)
        snprintf(msg, msglen, "%s; rolled back to the previous container",
                 reason);
    else
        snprintf(msg, msglen, "%s; rollback failed: %s", reason, err);
}

/* ---- the driver's operations --------------------------------------------- */

/* Pulls, checks the digest and inspects the container: nothing changed yet,
 * so a failure here needs no rollback. */
static int prepare(struct docker_driver *dd, const struct agent_update *u,
                   struct update_state *st, json_t **body, char *msg,
                   size_t msglen)
{
    const char *name = dd->base.settings->container;
    json_t *old = NULL;
    json_t *img = NULL;
    int rc = -1;

    if (docker_api_pull(dd->api, u->image_ref, msg, msglen) < 0)
        goto out;
    if (u->image_digest && u->image_digest[0] &&
        check_digest(dd, u->image_ref, u->image_digest, msg, msglen) < 0)
        goto out;
    rc = inspect(dd, name, &old, msg, msglen);
    if (rc <= 0) {
        if (rc == 0)
            snprintf(msg, msglen, "no container named \"%s\" to update", name);
        rc = -1;
        goto out;
    }
    copy_field(old, "Id", st->old_id, sizeof(st->old_id));
    img = old_image_config(dd, old);
    *body = create_body(old, img, u->image_ref);
    rc = 0;
out:
    json_decref(img);
    json_decref(old);
    return rc;
}

static int docker_apply(struct driver *d, const struct agent_update *u,
                        char *msg, size_t msglen)
{
    struct docker_driver *dd = dd_of(d);
    struct update_state st = {0};
    json_t *body = NULL;
    char why[512];
    int rc = -1;

    snprintf(st.command_id, sizeof(st.command_id), "%s", u->command_id);
    snprintf(st.name, sizeof(st.name), "%s", d->settings->container);
    snprintf(st.image, sizeof(st.image), "%s", u->image_ref);
    msg[0] = '\0';
    log_info("docker update", "command=%s container=\"%s\" image=\"%s\"",
             st.command_id, st.name, st.image);
    if (prepare(dd, u, &st, &body, msg, msglen) < 0)
        goto out;
    if (marker_write(dd, &st, "replacing", msg, msglen) < 0)
        goto out;
    if (replace(dd, &st, body, why, sizeof(why)) < 0 ||
        wait_healthy(dd, st.new_id, why, sizeof(why)) < 0 ||
        commit(dd, &st, why, sizeof(why)) < 0) {
        if (strcmp(st.phase, "committing") == 0) {
            /* Healthy and only the old one's removal failed: it stays
             * renamed; recover() removes it at the next start. */
            log_warn("docker commit", "command=%s error=\"%s\"", st.command_id,
                     why);
            rc = 0;
            goto out;
        }
        rollback_after(dd, &st, why, msg, msglen);
        goto out;
    }
    rc = 0;
out:
    if (rc < 0)
        log_warn("docker update", "command=%s result=failed reason=\"%s\"",
                 st.command_id, msg);
    json_decref(body);
    docker_api_disconnect(dd->api); /* idle until the next update */
    return rc;
}

/* Finishes an update that was healthy: the old container goes, the new
 * one runs. */
static int finish(struct docker_driver *dd, struct update_state *st, char *msg,
                  size_t msglen)
{
    if (container_remove(dd, st->old_id, msg, msglen) < 0 ||
        container_action(dd, st->name, "start", msg, msglen) < 0)
        return -1;
    marker_remove(dd);
    return 0;
}

static int recover(struct docker_driver *dd, char *command_id, size_t idlen,
                   int *succeeded, char *msg, size_t msglen)
{
    struct update_state st = {0};
    char err[512] = "";
    int rc;

    *succeeded = 0;
    if (idlen)
        command_id[0] = '\0';
    msg[0] = '\0';
    rc = marker_read(dd, &st, msg, msglen);
    if (rc <= 0)
        return rc;
    snprintf(command_id, idlen, "%s", st.command_id);
    log_warn("docker recover", "command=%s phase=%s container=\"%s\"",
             st.command_id, st.phase, st.name);
    if (strcmp(st.phase, "committing") == 0) {
        if (finish(dd, &st, err, sizeof(err)) < 0)
            goto fail;
        *succeeded = 1;
        snprintf(msg, msglen, "update finished after an agent restart");
        return 0;
    }
    if (rollback(dd, &st, err, sizeof(err)) < 0)
        goto fail;
    snprintf(msg, msglen,
             "the agent stopped during the update (phase %s); "
             "rolled back to the previous container",
             st.phase);
    return 0;
fail:
    snprintf(msg, msglen, "cannot recover the interrupted update: %s", err);
    return -1;
}

static int docker_recover(struct driver *d, char *command_id, size_t idlen,
                          int *succeeded, char *msg, size_t msglen)
{
    struct docker_driver *dd = dd_of(d);
    int rc = recover(dd, command_id, idlen, succeeded, msg, msglen);

    docker_api_disconnect(dd->api); /* idle until the next update */
    return rc;
}

static void docker_free(struct driver *d)
{
    struct docker_driver *dd = dd_of(d);

    if (!dd)
        return;
    docker_api_free(dd->api);
    free(dd->marker_path);
    free(dd);
}

static const struct driver_ops docker_ops = {
    .name = "docker",
    .apply = docker_apply,
    .recover = docker_recover,
    .free = docker_free,
};

/* Docker's own rule for names; they go into URLs unescaped. */
static int valid_name(const char *s)
{
    size_t n = s ? strlen(s) : 0;

    if (n == 0 || n > NAME_MAX_LEN - (sizeof(PREVIOUS_SUFFIX) - 1))
        return 0;
    if (!isalnum((unsigned char)s[0]))
        return 0;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789_.-") == n;
}

struct driver *driver_docker_new(const struct driver_settings *s, char *msg,
                                 size_t msglen)
{
    struct docker_driver *dd;

    if (!valid_name(s->container)) {
        snprintf(msg, msglen,
                 "the docker driver needs --container NAME: a container "
                 "name of at most %zu of [A-Za-z0-9_.-], got \"%s\"",
                 NAME_MAX_LEN - (sizeof(PREVIOUS_SUFFIX) - 1),
                 s->container ? s->container : "");
        return NULL;
    }
    if (!s->state_dir || !s->state_dir[0]) {
        snprintf(msg, msglen, "the docker driver needs a state directory");
        return NULL;
    }
    dd = xcalloc(1, sizeof(*dd));
    dd->base.ops = &docker_ops;
    dd->base.settings = s;
    dd->api = docker_api_new(s->docker_socket && s->docker_socket[0]
                                 ? s->docker_socket
                                 : DEFAULT_SOCKET);
    dd->marker_path = xasprintf("%s/%s", s->state_dir, MARKER_FILE);
    return &dd->base;
}
