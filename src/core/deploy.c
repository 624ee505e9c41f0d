#include "core/deploy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/audit.h"
#include "core/releases.h"
#include "lib/jsonv.h"
#include "lib/log.h"
#include "lib/sign.h"
#include "lib/timeutil.h"
#include "lib/xalloc.h"

#define IDEM_TTL_MS  (24 * 3600 * 1000LL)
#define IDEM_KEY_MAX 200

static const char *str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* The location ids of the body, duplicates collapsed, order kept. */
static json_t *location_ids(json_t *body, struct err *e)
{
    static const char *const fields[] = {"locationIds", NULL};
    json_t *ids = json_object_get(body, "locationIds");
    json_t *seen, *out, *v;
    size_t i;

    if (jsonv_object(body, fields, e))
        return NULL;
    if (!json_is_array(ids) || json_array_size(ids) == 0 ||
        json_array_size(ids) > DEPLOY_MAX_LOCATIONS) {
        err_field(e, "locationIds",
                  "locationIds must be an array of 1 to %d location ids",
                  DEPLOY_MAX_LOCATIONS);
        return NULL;
    }
    seen = json_object();
    out = json_array();
    json_array_foreach(ids, i, v)
    {
        if (!json_is_string(v) || json_string_length(v) == 0 ||
            json_string_length(v) > 64) {
            err_field(e, "locationIds", "locationIds[%zu] is not an id", i);
            json_decref(out);
            out = NULL;
            break;
        }
        if (json_object_get(seen, json_string_value(v)))
            continue;
        json_object_set(seen, json_string_value(v), json_true());
        json_array_append(out, v);
    }
    json_decref(seen);
    return out;
}

static json_t *failure(const char *loc, const char *code, const char *msg)
{
    return json_pack("{s:s, s:b, s:n, s:n, s:{s:s, s:s}}", "locationId", loc,
                     "success", 0, "commandId", "serverNodeId", "error", "code",
                     code, "message", msg);
}

static json_t *command_payload(json_t *release, const char *id,
                               const char *node_id, const char *now,
                               const char *expires)
{
    return json_pack("{s:s, s:s, s:s, s:{s:O, s:O, s:O, s:O, s:O}, s:s, s:s}",
                     "id", id, "type", "FORCE_UPDATE", "serverNodeId", node_id,
                     "release", "version", json_object_get(release, "version"),
                     "channel", json_object_get(release, "channel"), "imageTag",
                     json_object_get(release, "imageTag"), "imageDigest",
                     json_object_get(release, "imageDigest"), "rollbackVersion",
                     json_object_get(release, "rollbackVersion"), "createdAt",
                     now, "expiresAt", expires);
}

struct deploy_ctx {
    struct store *s;
    const struct fleet_config *cfg;
    const struct actor *a;
    json_t *release;
    char now[TIME_RFC3339_LEN];
    char expires[TIME_RFC3339_LEN];
    json_t *results;
    json_t *fresh;
    int ok;
};

/* Steps 3-5 for one node: supersede, command, target version, audit. */
static int command_for(struct deploy_ctx *d, json_t *loc, json_t *node,
                       char id[ID_LEN + 1], struct err *e)
{
    const char *node_id = str(node, "id");
    char sig[SIGN_SIG_B64_LEN];
    json_t *payload, *row;
    int64_t seq;

    id_new(id);
    payload = command_payload(d->release, id, node_id, d->now, d->expires);
    sign_object(d->cfg->key, payload, sig);
    row = json_pack("{s:s, s:s, s:s, s:O, s:O, s:s, s:s, s:s, s:s}", "id", id,
                    "serverNodeId", node_id, "type", "FORCE_UPDATE",
                    "releaseId", json_object_get(d->release, "id"), "payload",
                    payload, "signature", sig, "createdById", d->a->id,
                    "createdAt", d->now, "expiresAt", d->expires);
    seq = -1;
    if (!store_command_supersede(d->s, node_id, id, d->now, e) &&
        (seq = store_command_insert(d->s, row, e)) > 0 &&
        !store_node_set_version(d->s, node_id, "target",
                                str(d->release, "version"), d->now, e) &&
        !audit_write(d->s, d->a, str(loc, "organizationId"), "release.deploy",
                     "release", str(d->release, "id"),
                     json_pack("{s:O, s:O, s:s, s:s}", "version",
                               json_object_get(d->release, "version"),
                               "locationId", json_object_get(loc, "id"),
                               "serverNodeId", node_id, "commandId", id),
                     e)) {
        char *data = fleet_event_data(payload, sig);

        json_array_append_new(d->fresh,
                              json_pack("{s:s, s:s, s:I, s:s}", "serverNodeId",
                                        node_id, "id", id, "seq",
                                        (json_int_t)seq, "data", data));
        free(data);
        seq = 0;
    }
    json_decref(payload);
    json_decref(row);
    return seq == 0 ? 0 : (int)e->status;
}

/* Steps 1-2: which node, and may it take this release. */
static json_t *gate(struct deploy_ctx *d, const char *loc_id, json_t *loc)
{
    json_t *node = json_object_get(loc, "serverNode");
    json_t *min = json_object_get(d->release, "minSchemaVersion");
    json_t *have;

    if (!json_is_object(node))
        return failure(loc_id, "NO_ACTIVE_SERVER",
                       "the location has no active server node");
    have = json_object_get(node, "schemaVersion");
    if (json_is_integer(min) &&
        (!json_is_integer(have) ||
         json_integer_value(have) < json_integer_value(min))) {
        char msg[160];

        if (json_is_integer(have))
            snprintf(msg, sizeof(msg),
                     "the node's schema version %lld is older than the "
                     "release's minimum %lld",
                     (long long)json_integer_value(have),
                     (long long)json_integer_value(min));
        else
            snprintf(msg, sizeof(msg),
                     "the node has not reported its schema version; the "
                     "release needs at least %lld",
                     (long long)json_integer_value(min));
        return failure(loc_id, "SCHEMA_TOO_OLD", msg);
    }
    return NULL;
}

static json_t *one_location(struct deploy_ctx *d, const char *loc_id)
{
    struct err e;
    json_t *loc, *res;
    char id[ID_LEN + 1];

    err_clear(&e);
    loc = store_location_get(d->s, loc_id, actor_scope(d->a), &e);
    if (!loc)
        return failure(loc_id, "LOCATION_NOT_FOUND",
                       "no such location, or not yours");
    res = gate(d, loc_id, loc);
    if (!res && store_begin(d->s, &e) == 0) {
        json_t *node = json_object_get(loc, "serverNode");

        if (command_for(d, loc, node, id, &e) || store_commit(d->s, &e)) {
            store_rollback(d->s);
            log_error("deploy to location failed", "location=%s error=\"%s\"",
                      loc_id, e.message);
            res = failure(loc_id, "INTERNAL", "the command was not stored");
        } else {
            res = json_pack("{s:s, s:b, s:s, s:O, s:n}", "locationId", loc_id,
                            "success", 1, "commandId", id, "serverNodeId",
                            json_object_get(node, "id"), "error");
            d->ok++;
        }
    } else if (!res) {
        res = failure(loc_id, "INTERNAL", "the command was not stored");
    }
    json_decref(loc);
    return res;
}

static void request_hash(const char *ref, json_t *ids, char out[65])
{
    unsigned char digest[32];
    char *text = json_dumps(ids, JSON_COMPACT);
    crypto_generichash_state st;

    crypto_generichash_init(&st, NULL, 0, sizeof(digest));
    crypto_generichash_update(&st, (const unsigned char *)ref, strlen(ref));
    crypto_generichash_update(&st, (const unsigned char *)"\n", 1);
    crypto_generichash_update(&st, (const unsigned char *)text, strlen(text));
    crypto_generichash_final(&st, digest, sizeof(digest));
    sodium_bin2hex(out, 65, digest, sizeof(digest));
    free(text);
}

/* 1: replayed into out; 0: no usable record; -1: error in e. */
static int idem_replay(struct deploy_ctx *d, const char *key, const char *hash,
                       struct deploy_result *out, struct err *e)
{
    char old[TIME_RFC3339_LEN];
    json_t *rec = store_idem_get(d->s, d->a->id, key, e);

    if (!rec)
        return e->status == ERR_NOT_FOUND ? 0 : -1;
    time_format_rfc3339(time_now_ms() - IDEM_TTL_MS, old);
    if (strcmp(str(rec, "createdAt"), old) < 0) {
        json_decref(rec);
        return store_idem_delete(d->s, d->a->id, key, e) ? -1 : 0;
    }
    if (strcmp(str(rec, "requestHash"), hash) != 0) {
        json_decref(rec);
        err_set(e, ERR_CONFLICT, "IDEMPOTENCY_KEY_REUSED",
                "this Idempotency-Key was used for another request");
        return -1;
    }
    out->status = (int)json_integer_value(json_object_get(rec, "status"));
    out->body = json_incref(json_object_get(rec, "response"));
    out->fresh = json_array();
    json_decref(rec);
    return 1;
}

static int check_key(const char *key, struct err *e)
{
    size_t n = strlen(key);

    for (size_t i = 0; i < n; i++)
        if (key[i] < 0x21 || key[i] > 0x7e)
            n = 0;
    if (n == 0 || n > IDEM_KEY_MAX)
        return err_set(e, ERR_INVALID, "VALIDATION_ERROR",
                       "Idempotency-Key must be 1 to %d printable characters",
                       IDEM_KEY_MAX);
    return 0;
}

/* Other instances push the new commands to the streams they hold. */
static void announce(struct deploy_ctx *d)
{
    json_int_t lo = 0, hi = 0;
    json_t *c;
    size_t i;

    json_array_foreach(d->fresh, i, c)
    {
        json_int_t seq = json_integer_value(json_object_get(c, "seq"));

        lo = i == 0 || seq < lo ? seq : lo;
        hi = seq > hi ? seq : hi;
    }
    if (json_array_size(d->fresh) > 0)
        fleet_announce(d->s, d->cfg,
                       json_pack("{s:s, s:I, s:I}", "type", "commands", "from",
                                 lo, "to", hi));
}

static void finish(struct deploy_ctx *d, struct deploy_result *out)
{
    size_t n = json_array_size(d->results);

    out->status = d->ok == (int)n ? 200 : d->ok == 0 ? 422 : 207;
    out->body =
        json_pack("{s:O, s:{s:i, s:i}}", "results", d->results, "summary",
                  "succeeded", d->ok, "failed", (int)n - d->ok);
    out->fresh = json_incref(d->fresh);
}

static int run_all(struct deploy_ctx *d, json_t *ids, const char *key,
                   const char *hash, struct deploy_result *out, struct err *e)
{
    json_t *v;
    size_t i;

    json_array_foreach(ids, i, v)
    {
        json_array_append_new(d->results,
                              one_location(d, json_string_value(v)));
    }
    announce(d);
    finish(d, out);
    if (key && store_idem_put(d->s, d->a->id, key, "deploy", hash, out->status,
                              out->body, d->now, e))
        return e->status;
    return 0;
}

static int prepare(struct deploy_ctx *d, const char *ref, struct err *e)
{
    d->release = release_find(d->s, d->a, ref, e);
    if (!d->release)
        return e->status;
    if (json_is_true(json_object_get(d->release, "isArchived")))
        return err_set(e, ERR_CONFLICT, "RELEASE_ARCHIVED",
                       "release %.64s is archived", str(d->release, "version"));
    return 0;
}

int deploy_run(struct store *s, const struct fleet_config *cfg,
               const struct actor *a, const char *ref, json_t *body,
               const char *idem_key, struct deploy_result *out, struct err *e)
{
    struct deploy_ctx d = {.s = s, .cfg = cfg, .a = a};
    json_t *ids = location_ids(body, e);
    char hash[65];
    int rc = -1;
    int64_t t = time_now_ms();

    memset(out, 0, sizeof(*out));
    if (!ids || (idem_key && check_key(idem_key, e)) || prepare(&d, ref, e))
        goto out;
    time_format_rfc3339(t, d.now);
    time_format_rfc3339(t + cfg->command_ttl_ms, d.expires);
    d.results = json_array();
    d.fresh = json_array();
    request_hash(str(d.release, "id"), ids, hash);
    if (store_begin(s, e))
        goto out;
    rc = idem_key ? idem_replay(&d, idem_key, hash, out, e) : 0;
    if (rc == 0)
        rc = run_all(&d, ids, idem_key, hash, out, e);
    else if (rc == 1)
        rc = 0;
    if (rc == 0 && store_commit(s, e) == 0) {
        log_info("deploy", "release=%s locations=%zu ok=%d",
                 str(d.release, "version"), json_array_size(ids), d.ok);
    } else {
        store_rollback(s);
        deploy_result_release(out);
        rc = -1;
    }
out:
    json_decref(ids);
    json_decref(d.release);
    json_decref(d.results);
    json_decref(d.fresh);
    return rc ? (int)(e->status ? e->status : ERR_INTERNAL) : 0;
}

void deploy_result_release(struct deploy_result *r)
{
    json_decref(r->body);
    json_decref(r->fresh);
    r->body = NULL;
    r->fresh = NULL;
}
