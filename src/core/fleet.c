#include "core/fleet.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/audit.h"
#include "lib/jsonv.h"
#include "lib/log.h"
#include "lib/secret.h"
#include "lib/semver.h"
#include "lib/timeutil.h"
#include "lib/xalloc.h"

#define NAME_MAX_LEN    200
#define MESSAGE_MAX_LEN 1000
#define ZONEINFO        "/usr/share/zoneinfo/"

static const char *str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static void now_str(char out[TIME_RFC3339_LEN])
{
    time_format_rfc3339(time_now_ms(), out);
}

/* An IANA name: letters, digits, "_+-" in "/"-separated parts, and a file
 * of the tz database when the machine has one. */
static bool timezone_valid(const char *tz)
{
    char path[PATH_MAX];
    struct stat st;

    if (!*tz || strlen(tz) > 64 || tz[0] == '/' || strstr(tz, "..") ||
        strspn(tz, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                   "0123456789_+-/") != strlen(tz))
        return false;
    if (stat(ZONEINFO, &st) != 0)
        return true;
    snprintf(path, sizeof(path), ZONEINFO "%s", tz);
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int target_org(struct store *s, const struct actor *a, const char *name,
                      char out[ID_LEN + 1], struct err *e)
{
    json_t *org;
    bool ok;

    if (!name) {
        snprintf(out, ID_LEN + 1, "%s", a->org_id);
        return 0;
    }
    org = store_org_find(s, name, e);
    ok = org &&
         (a->role == ROLE_SUPER || strcmp(str(org, "id"), a->org_id) == 0);
    if (ok)
        snprintf(out, ID_LEN + 1, "%s", str(org, "id"));
    json_decref(org);
    if (ok)
        return 0;
    if (!org && e->status != ERR_NOT_FOUND)
        return e->status;
    return err_set(e, ERR_NOT_FOUND, "ORGANIZATION_NOT_FOUND",
                   "organization \"%.64s\" not found", name);
}

json_t *location_create(struct store *s, const struct actor *a, json_t *body,
                        struct err *e)
{
    static const char *const fields[] = {"name", "timezone", "organizationId",
                                         NULL};
    const char *name, *tz, *org_name;
    char id[ID_LEN + 1], org[ID_LEN + 1], now[TIME_RFC3339_LEN];
    json_t *loc;

    if (jsonv_object(body, fields, e) ||
        jsonv_string(body, "name", true, 1, NAME_MAX_LEN, &name, e) ||
        jsonv_string(body, "timezone", true, 1, 64, &tz, e) ||
        jsonv_string(body, "organizationId", false, 1, NAME_MAX_LEN, &org_name,
                     e))
        return NULL;
    if (!timezone_valid(tz)) {
        err_field(e, "timezone", "timezone \"%.64s\" is not an IANA time zone",
                  tz);
        return NULL;
    }
    if (target_org(s, a, org_name, org, e))
        return NULL;
    id_new(id);
    now_str(now);
    if (store_begin(s, e))
        return NULL;
    if (store_location_insert(s, id, org, name, tz, now, e) ||
        audit_write(s, a, org, "location.create", "location", id,
                    json_pack("{s:s, s:s}", "name", name, "timezone", tz), e) ||
        store_commit(s, e)) {
        store_rollback(s);
        return NULL;
    }
    loc = store_location_get(s, id, NULL, e);
    return loc ? json_pack("{s:o}", "location", loc) : NULL;
}

json_t *location_list(struct store *s, const struct actor *a,
                      const char *before, int limit, struct err *e)
{
    json_t *rows = store_location_list(s, actor_scope(a), before, limit, e);

    return rows ? json_pack("{s:o}", "locations", rows) : NULL;
}

static json_t *visible_location(struct store *s, const struct actor *a,
                                const char *id, struct err *e)
{
    json_t *loc = store_location_get(s, id, actor_scope(a), e);

    if (!loc && e->status == ERR_NOT_FOUND)
        err_set(e, ERR_NOT_FOUND, "LOCATION_NOT_FOUND",
                "location \"%.64s\" not found", id);
    return loc;
}

static int insert_node(struct store *s, const struct actor *a, json_t *loc,
                       const char *name, const char *token, char id[ID_LEN + 1],
                       struct err *e)
{
    char hash[SECRET_HASH_LEN], now[TIME_RFC3339_LEN];

    id_new(id);
    now_str(now);
    secret_hash(token, hash);
    if (store_node_insert(s, id, str(loc, "id"), name, hash, now, e)) {
        if (e->status == ERR_CONFLICT)
            err_set(e, ERR_CONFLICT, "NODE_EXISTS",
                    "location \"%.64s\" already has an active node",
                    str(loc, "id"));
        return e->status;
    }
    return audit_write(s, a, str(loc, "organizationId"), "node.create",
                       "server_node", id,
                       json_pack("{s:s, s:O}", "name", name, "locationId",
                                 json_object_get(loc, "id")),
                       e);
}

json_t *node_register(struct store *s, const struct fleet_config *cfg,
                      const struct actor *a, const char *location_id,
                      json_t *body, struct err *e)
{
    static const char *const fields[] = {"name", NULL};
    char token[SECRET_TOKEN_LEN + 8], id[ID_LEN + 1];
    const char *name;
    json_t *loc, *node = NULL;

    if (jsonv_object(body, fields, e) ||
        jsonv_string(body, "name", true, 1, NAME_MAX_LEN, &name, e))
        return NULL;
    loc = visible_location(s, a, location_id, e);
    if (!loc)
        return NULL;
    secret_token_new("mca_", token, sizeof(token));
    if (store_begin(s, e))
        goto out;
    if (insert_node(s, a, loc, name, token, id, e) || store_commit(s, e)) {
        store_rollback(s);
        goto out;
    }
    node = store_node_get(s, id, NULL, e);
    if (node) {
        json_object_del(node, "organizationId");
        node = json_pack("{s:o, s:s, s:s}", "serverNode", node, "token", token,
                         "serverPublicKey", sign_key_public(cfg->key));
    }
out:
    json_decref(loc);
    return node;
}

static json_t *visible_node(struct store *s, const struct actor *a,
                            const char *id, struct err *e)
{
    json_t *node = store_node_get(s, id, actor_scope(a), e);

    if (!node && e->status == ERR_NOT_FOUND)
        err_set(e, ERR_NOT_FOUND, "NODE_NOT_FOUND", "node \"%.64s\" not found",
                id);
    return node;
}

json_t *node_decommission(struct store *s, const struct fleet_config *cfg,
                          const struct actor *a, const char *node_id,
                          struct err *e)
{
    json_t *node = visible_node(s, a, node_id, e);
    char now[TIME_RFC3339_LEN];
    json_t *out = NULL;

    if (!node)
        return NULL;
    if (strcmp(str(node, "status"), "ACTIVE") != 0) {
        err_set(e, ERR_CONFLICT, "NODE_DECOMMISSIONED",
                "node \"%.64s\" is already decommissioned", node_id);
        goto out;
    }
    now_str(now);
    if (store_begin(s, e))
        goto out;
    if (store_command_cancel_node(s, node_id, now, e) ||
        store_node_decommission(s, node_id, now, e) ||
        audit_write(s, a, str(node, "organizationId"), "node.decommission",
                    "server_node", node_id,
                    json_pack("{s:O}", "name", json_object_get(node, "name")),
                    e)) {
        store_rollback(s);
        goto out;
    }
    /* The instance holding its stream, if another, closes it. */
    fleet_announce(s, cfg,
                   json_pack("{s:s, s:s}", "type", "close", "node", node_id));
    if (store_commit(s, e)) {
        store_rollback(s);
        goto out;
    }
    out = store_node_get(s, node_id, NULL, e);
    if (out) {
        json_object_del(out, "organizationId");
        out = json_pack("{s:o}", "serverNode", out);
    }
out:
    json_decref(node);
    return out;
}

static json_t *visible_command(struct store *s, const struct actor *a,
                               const char *id, struct err *e)
{
    json_t *c = store_command_get(s, id, actor_scope(a), e);

    if (!c && e->status == ERR_NOT_FOUND)
        err_set(e, ERR_NOT_FOUND, "COMMAND_NOT_FOUND",
                "command \"%.64s\" not found", id);
    return c;
}

json_t *command_show(struct store *s, const struct actor *a, const char *id,
                     struct err *e)
{
    json_t *c = visible_command(s, a, id, e);

    return c ? json_pack("{s:o}", "command", c) : NULL;
}

static int cancel(struct store *s, const struct actor *a, json_t *c,
                  struct err *e)
{
    const char *status = str(c, "status");
    char now[TIME_RFC3339_LEN];
    json_t *node;
    int rc;

    if (strcmp(status, "PENDING") && strcmp(status, "DELIVERED"))
        return err_set(e, ERR_CONFLICT, "INVALID_TRANSITION",
                       "command is %s: only a command the agent has not "
                       "acknowledged can be cancelled",
                       status);
    node = store_node_get(s, str(c, "serverNodeId"), NULL, e);
    if (!node)
        return e->status;
    now_str(now);
    rc = store_command_move(s, str(c, "id"), status, "CANCELLED",
                            "cancelled by an admin", now, e) ||
         audit_write(s, a, str(node, "organizationId"), "command.cancel",
                     "fleet_command", str(c, "id"),
                     json_pack("{s:O, s:O}", "serverNodeId",
                               json_object_get(c, "serverNodeId"), "version",
                               json_object_get(c, "version")),
                     e);
    json_decref(node);
    return rc ? (int)e->status : 0;
}

json_t *command_cancel(struct store *s, const struct actor *a, const char *id,
                       struct err *e)
{
    json_t *c = visible_command(s, a, id, e);

    if (!c)
        return NULL;
    if (store_begin(s, e))
        goto fail;
    if (cancel(s, a, c, e) || store_commit(s, e)) {
        store_rollback(s);
        goto fail;
    }
    json_decref(c);
    return command_show(s, a, id, e);
fail:
    json_decref(c);
    return NULL;
}

int fleet_auth(struct store *s, const char *token, struct fleet_node *out,
               struct err *e)
{
    char hash[SECRET_HASH_LEN];
    json_t *node;

    if (!token || !*token || strlen(token) > SECRET_MAX_LEN)
        return err_set(e, ERR_UNAUTHORIZED, "UNAUTHORIZED",
                       "missing or invalid agent token");
    secret_hash(token, hash);
    node = store_node_by_token(s, hash, e);
    if (!node)
        return e->status == ERR_NOT_FOUND
                   ? err_set(e, ERR_UNAUTHORIZED, "UNAUTHORIZED",
                             "missing or invalid agent token")
                   : (int)e->status;
    snprintf(out->id, sizeof(out->id), "%s", str(node, "id"));
    json_decref(node);
    return 0;
}

char *fleet_event_data(json_t *payload, const char *signature)
{
    json_t *o = json_copy(payload);
    char *text;

    json_object_set_new(o, "signature", json_string(signature));
    text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

static json_t *backlog_events(json_t *rows)
{
    json_t *events = json_array();
    json_t *row;
    size_t i;

    json_array_foreach(rows, i, row)
    {
        char *data = fleet_event_data(json_object_get(row, "payload"),
                                      str(row, "signature"));

        json_array_append_new(events, json_pack("{s:O, s:s}", "seq",
                                                json_object_get(row, "seq"),
                                                "data", data));
        free(data);
    }
    return events;
}

json_t *fleet_stream_open(struct store *s, const struct fleet_node *n,
                          const char *version, int64_t schema, struct err *e)
{
    char now[TIME_RFC3339_LEN];
    json_t *rows = NULL, *events;

    now_str(now);
    if (store_begin(s, e))
        return NULL;
    if (store_node_seen(s, n->id, version, schema, now, e) ||
        !(rows = store_command_backlog(s, n->id, e)) ||
        store_command_deliver_backlog(s, n->id, now, e) || store_commit(s, e)) {
        json_decref(rows);
        store_rollback(s);
        return NULL;
    }
    events = backlog_events(rows);
    json_decref(rows);
    return events;
}

void fleet_presence(struct store *s, const struct fleet_config *cfg,
                    json_t *changes)
{
    json_t *c;
    size_t i;
    struct err e;

    if (store_begin(s, &e))
        goto fail;
    json_array_foreach(changes, i, c)
    {
        if (store_node_online(s, json_string_value(json_array_get(c, 0)),
                              json_is_true(json_array_get(c, 1)),
                              cfg->instance_id,
                              json_string_value(json_array_get(c, 2)), &e)) {
            store_rollback(s);
            goto fail;
        }
    }
    if (store_commit(s, &e) == 0)
        return;
    store_rollback(s);
fail:
    log_warn("cannot record nodes online/offline", "count=%zu error=\"%s\"",
             json_array_size(changes), e.message);
}

void fleet_delivered(struct store *s, json_t *command_ids)
{
    char now[TIME_RFC3339_LEN];
    struct err e;
    json_t *id;
    size_t i;

    if (json_array_size(command_ids) == 0)
        return;
    now_str(now);
    if (store_begin(s, &e))
        goto fail;
    json_array_foreach(command_ids, i, id)
    {
        if (store_command_delivered(s, json_string_value(id), now, &e)) {
            store_rollback(s);
            goto fail;
        }
    }
    if (store_commit(s, &e) == 0)
        return;
    store_rollback(s);
fail:
    /* They stay PENDING and go out again on the node's next connect. */
    log_warn("cannot mark commands delivered", "count=%zu error=\"%s\"",
             json_array_size(command_ids), e.message);
}

void fleet_heartbeat(struct store *s, const struct fleet_config *cfg)
{
    char now[TIME_RFC3339_LEN], alive[TIME_RFC3339_LEN];
    char forget[TIME_RFC3339_LEN];
    int64_t t = time_now_ms();
    struct err e;

    time_format_rfc3339(t, now);
    time_format_rfc3339(t - FLEET_INSTANCE_TTL_MS, alive);
    time_format_rfc3339(t - 24 * 3600 * 1000LL, forget);
    if (store_begin(s, &e))
        goto fail;
    if (store_instance_beat(s, cfg->instance_id, now, &e) ||
        store_instance_reap(s, alive, forget, &e) || store_commit(s, &e)) {
        store_rollback(s);
        goto fail;
    }
    return;
fail:
    log_warn("heartbeat failed", "error=\"%s\"", e.message);
}

void fleet_announce(struct store *s, const struct fleet_config *cfg,
                    json_t *payload)
{
    struct err e;
    char *text;

    if (!store_is_shared(s)) {
        json_decref(payload);
        return;
    }
    json_object_set_new(payload, "instance", json_string(cfg->instance_id));
    text = json_dumps(payload, JSON_COMPACT);
    if (store_notify(s, text, &e))
        log_warn("cannot notify other instances", "error=\"%s\"", e.message);
    free(text);
    json_decref(payload);
}

struct fleet_pushes *fleet_pushes_new(size_t n)
{
    struct fleet_pushes *p = xcalloc(1, sizeof(*p));

    p->v = xcalloc(n ? n : 1, sizeof(*p->v));
    return p;
}

void fleet_pushes_add(struct fleet_pushes *p, const char *node_id,
                      const char *id, int64_t seq, char *data)
{
    struct fleet_push *c = &p->v[p->n++];

    snprintf(c->node_id, sizeof(c->node_id), "%s", node_id ? node_id : "");
    snprintf(c->id, sizeof(c->id), "%s", id ? id : "");
    c->seq = seq;
    c->data = data;
}

void fleet_pushes_free(struct fleet_pushes *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        free(p->v[i].data);
    free(p->v);
    free(p);
}

struct fleet_pushes *fleet_pending(struct store *s, int64_t from, int64_t to)
{
    struct err e;
    json_t *rows = store_command_range(s, from, to, &e);
    struct fleet_pushes *out = fleet_pushes_new(json_array_size(rows));
    json_t *row;
    size_t i;

    json_array_foreach(rows, i, row)
    {
        fleet_pushes_add(out, str(row, "serverNodeId"), str(row, "id"),
                         json_integer_value(json_object_get(row, "seq")),
                         fleet_event_data(json_object_get(row, "payload"),
                                          str(row, "signature")));
    }
    json_decref(rows);
    return out;
}

int64_t fleet_last_seq(struct store *s)
{
    struct err e;
    int64_t seq = store_command_max_seq(s, &e);

    if (seq < 0)
        log_warn("cannot read the last command seq", "error=\"%s\"", e.message);
    return seq < 0 ? 0 : seq;
}

/* The lifecycle moves an agent may make. */
static bool agent_move_ok(const char *from, const char *to)
{
    static const char *const moves[][2] = {
        {"DELIVERED", "ACKNOWLEDGED"},
        {"ACKNOWLEDGED", "IN_PROGRESS"},
        {"IN_PROGRESS", "SUCCEEDED"},
        {"IN_PROGRESS", "FAILED"},
    };

    for (size_t i = 0; i < sizeof(moves) / sizeof(moves[0]); i++)
        if (!strcmp(moves[i][0], from) && !strcmp(moves[i][1], to))
            return true;
    return false;
}

static int apply_report(struct store *s, const struct fleet_node *n, json_t *c,
                        const char *to, const char *msg, struct err *e)
{
    const char *from = str(c, "status");
    char now[TIME_RFC3339_LEN];

    if (!agent_move_ok(from, to))
        return err_set(e, ERR_CONFLICT, "INVALID_TRANSITION",
                       "command is %s: it cannot become %s", from, to);
    now_str(now);
    if (store_command_move(s, str(c, "id"), from, to, msg, now, e))
        return e->status;
    if (strcmp(to, "SUCCEEDED") == 0 && str(c, "version") &&
        store_node_set_current(s, n->id, str(c, "version"), e))
        return e->status;
    log_info("command status", "command=%s node=%s from=%s to=%s", str(c, "id"),
             n->id, from, to);
    return 0;
}

json_t *fleet_report(struct store *s, const struct fleet_node *n,
                     const char *command_id, json_t *body, struct err *e)
{
    static const char *const fields[] = {"status", "message", NULL};
    static const char *const statuses[] = {"ACKNOWLEDGED", "IN_PROGRESS",
                                           "SUCCEEDED", "FAILED", NULL};
    const char *to, *msg;
    json_t *c, *out;

    if (jsonv_object(body, fields, e) ||
        jsonv_enum(body, "status", true, statuses, &to, e) ||
        jsonv_string(body, "message", false, 0, MESSAGE_MAX_LEN, &msg, e))
        return NULL;
    c = store_command_for_node(s, command_id, n->id, e);
    if (!c) {
        if (e->status == ERR_NOT_FOUND)
            err_set(e, ERR_NOT_FOUND, "COMMAND_NOT_FOUND",
                    "command \"%.64s\" not found", command_id);
        return NULL;
    }
    if (strcmp(str(c, "status"), to) != 0) {
        if (store_begin(s, e))
            goto fail;
        if (apply_report(s, n, c, to, msg, e) || store_commit(s, e)) {
            store_rollback(s);
            goto fail;
        }
    }
    json_decref(c);
    out = store_command_get(s, command_id, NULL, e);
    return out ? json_pack("{s:o}", "command", out) : NULL;
fail:
    json_decref(c);
    return NULL;
}

int fleet_sweep(struct store *s, const struct fleet_config *cfg)
{
    char now[TIME_RFC3339_LEN], ack_before[TIME_RFC3339_LEN];
    int64_t t = time_now_ms();
    struct err e;
    int n;

    time_format_rfc3339(t, now);
    time_format_rfc3339(t - cfg->command_timeout_ms, ack_before);
    if (store_begin(s, &e))
        return -1;
    n = store_command_sweep(s, now, ack_before, &e);
    if (n < 0 || store_commit(s, &e)) {
        store_rollback(s);
        log_warn("command sweep failed", "error=\"%s\"", e.message);
        return -1;
    }
    if (n > 0)
        log_info("commands expired or timed out", "count=%d", n);
    return n;
}
