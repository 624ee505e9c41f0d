#include "core/deploy.h"

#include <pthread.h>
#include <stdbool.h>
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

/* One location of the deploy: its target, and the command made for it. */
struct planned {
    const char *loc_id;
    json_t *target; /* borrowed from the targets lookup, or NULL */
    json_t *result; /* a failure decided before any write, or NULL */
    char *payload;  /* canonical command JSON, when one is made */
    bool stored;    /* its savepoint was released */
    char id[ID_LEN + 1];
    char sig[SIGN_SIG_B64_LEN];
};

struct deploy_ctx {
    struct store *s;
    const struct fleet_config *cfg;
    const struct actor *a;
    json_t *release;
    char now[TIME_RFC3339_LEN];
    char expires[TIME_RFC3339_LEN];
    json_t *targets;
    struct planned *plan;
    size_t n;
    json_t *results;
    json_t *fresh;
    int ok;
};

/* Steps 1-2: which node, and may it take this release. */
static json_t *gate(struct deploy_ctx *d, const char *loc_id, json_t *t)
{
    json_t *min = json_object_get(d->release, "minSchemaVersion");
    json_t *have = json_object_get(t, "schemaVersion");
    char msg[160];

    if (!t)
        return failure(loc_id, "LOCATION_NOT_FOUND",
                       "no such location, or not yours");
    if (!json_is_string(json_object_get(t, "nodeId")))
        return failure(loc_id, "NO_ACTIVE_SERVER",
                       "the location has no active server node");
    if (!json_is_integer(min) ||
        (json_is_integer(have) &&
         json_integer_value(have) >= json_integer_value(min)))
        return NULL;
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

/* Looks every location up at once and decides, before any write, which get
 * a command; makes those commands' payloads. */
static int plan(struct deploy_ctx *d, json_t *ids, struct err *e)
{
    char *text = json_dumps(ids, JSON_COMPACT);
    json_t *rows = store_deploy_targets(d->s, text, actor_scope(d->a), e);
    json_t *by_id = json_object();
    json_t *row, *v;
    size_t i;

    free(text);
    if (!rows) {
        json_decref(by_id);
        return e->status;
    }
    json_array_foreach(rows, i, row)
        json_object_set(by_id, str(row, "locationId"), row);
    d->n = json_array_size(ids);
    d->plan = xcalloc(d->n ? d->n : 1, sizeof(*d->plan));
    json_array_foreach(ids, i, v)
    {
        struct planned *p = &d->plan[i];
        json_t *payload;

        p->loc_id = json_string_value(v);
        p->target = json_object_get(by_id, p->loc_id);
        p->result = gate(d, p->loc_id, p->target);
        if (p->result)
            continue;
        id_new(p->id);
        payload = command_payload(d->release, p->id, str(p->target, "nodeId"),
                                  d->now, d->expires);
        p->payload = sign_canonical(payload);
        json_decref(payload);
    }
    /* The plan borrows the rows; they live as long as the context. */
    json_decref(by_id);
    d->targets = rows;
    d->results = json_array();
    return 0;
}

/* Signing is the costliest step that needs no database: a second thread
 * signs the commands in order while this one writes them, and waits only
 * when it catches up with the signer. */
struct signer {
    struct deploy_ctx *d;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t done; /* plan[0..done) are signed; guarded by mu */
    bool threaded;
};

static void *sign_in_order(void *arg)
{
    struct signer *sg = arg;

    for (size_t i = 0; i < sg->d->n; i++) {
        if (sg->d->plan[i].payload)
            sign_text(sg->d->cfg->key, sg->d->plan[i].payload,
                      sg->d->plan[i].sig);
        pthread_mutex_lock(&sg->mu);
        sg->done = i + 1;
        pthread_cond_signal(&sg->cv);
        pthread_mutex_unlock(&sg->mu);
    }
    return NULL;
}

static void signer_start(struct signer *sg, struct deploy_ctx *d)
{
    memset(sg, 0, sizeof(*sg));
    sg->d = d;
    pthread_mutex_init(&sg->mu, NULL);
    pthread_cond_init(&sg->cv, NULL);
    sg->threaded =
        d->n >= 64 && pthread_create(&sg->thread, NULL, sign_in_order, sg) == 0;
    if (!sg->threaded)
        sign_in_order(sg);
}

/* Waits until plan[i] is signed. */
static void signer_wait(struct signer *sg, size_t i)
{
    pthread_mutex_lock(&sg->mu);
    while (sg->done <= i)
        pthread_cond_wait(&sg->cv, &sg->mu);
    pthread_mutex_unlock(&sg->mu);
}

static void signer_finish(struct signer *sg)
{
    if (sg->threaded)
        pthread_join(sg->thread, NULL);
    pthread_cond_destroy(&sg->cv);
    pthread_mutex_destroy(&sg->mu);
}

/* The event's data: the signed payload with its signature added. */
static char *event_data(const struct planned *p)
{
    size_t len = strlen(p->payload);

    return xasprintf("%.*s,\"signature\":\"%s\"}", (int)(len - 1), p->payload,
                     p->sig);
}

/* Steps 3-5 for one node: supersede, command, target version, audit. The
 * values in the audit details are SemVer and ids: nothing to escape. */
static int write_one(struct deploy_ctx *d, struct planned *p, int64_t *seq,
                     struct err *e)
{
    const char *node_id = str(p->target, "nodeId");
    const char *version = str(d->release, "version");
    struct store_command c = {.id = p->id,
                              .node_id = node_id,
                              .type = "FORCE_UPDATE",
                              .release_id = str(d->release, "id"),
                              .payload = p->payload,
                              .signature = p->sig,
                              .created_by = d->a->id,
                              .created_at = d->now,
                              .expires_at = d->expires};
    char audit_id[ID_LEN + 1], details[256];

    id_new(audit_id);
    snprintf(details, sizeof(details),
             "{\"version\":\"%s\",\"locationId\":\"%s\","
             "\"serverNodeId\":\"%s\",\"commandId\":\"%s\"}",
             version, p->loc_id, node_id, p->id);
    if (store_command_supersede(d->s, node_id, p->id, d->now, e) ||
        (*seq = store_command_insert(d->s, &c, e)) < 0 ||
        store_node_set_target(d->s, node_id, version, e) ||
        store_audit_insert_text(d->s, audit_id,
                                str(p->target, "organizationId"), d->a->id,
                                "release.deploy", "release",
                                str(d->release, "id"), details, d->now, e))
        return e->status ? (int)e->status : ERR_INTERNAL;
    return 0;
}

static json_t *one_location(struct deploy_ctx *d, struct planned *p)
{
    struct err e;
    int64_t seq = -1;
    char *data;

    if (p->result)
        return json_incref(p->result);
    err_clear(&e);
    if (store_begin(d->s, &e) || write_one(d, p, &seq, &e) ||
        store_commit(d->s, &e)) {
        if (d->s && e.status != ERR_OK)
            store_rollback(d->s);
        log_error("deploy to location failed", "location=%s error=\"%s\"",
                  p->loc_id, e.message);
        return failure(p->loc_id, "INTERNAL", "the command was not stored");
    }
    p->stored = true;
    data = event_data(p);
    json_array_append_new(d->fresh,
                          json_pack("{s:s, s:s, s:I, s:s}", "serverNodeId",
                                    str(p->target, "nodeId"), "id", p->id,
                                    "seq", (json_int_t)seq, "data", data));
    free(data);
    d->ok++;
    return json_pack("{s:s, s:b, s:s, s:s, s:n}", "locationId", p->loc_id,
                     "success", 1, "commandId", p->id, "serverNodeId",
                     str(p->target, "nodeId"), "error");
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

/* deployCount is kept per release and organization, not counted. */
static int count(struct deploy_ctx *d, struct err *e)
{
    json_t *per_org = json_object();
    const char *org;
    json_t *n;
    int rc = 0;

    for (size_t i = 0; i < d->n; i++) {
        if (d->plan[i].result || !d->plan[i].stored)
            continue;
        org = str(d->plan[i].target, "organizationId");
        n = json_object_get(per_org, org);
        json_object_set_new(per_org, org,
                            json_integer(json_integer_value(n) + 1));
    }
    json_object_foreach(per_org, org, n)
    {
        if (!rc)
            rc = store_release_count_add(d->s, str(d->release, "id"), org,
                                         json_integer_value(n), e);
    }
    json_decref(per_org);
    return rc;
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
    struct signer sg;

    if (plan(d, ids, e))
        return e->status;
    signer_start(&sg, d);
    for (size_t i = 0; i < d->n; i++) {
        signer_wait(&sg, i);
        json_array_append_new(d->results, one_location(d, &d->plan[i]));
    }
    signer_finish(&sg);
    if (count(d, e))
        return e->status;
    announce(d);
    finish(d, out);
    if (key && store_idem_put(d->s, d->a->id, key, "deploy", hash, out->status,
                              out->body, d->now, e))
        return e->status;
    return 0;
}

static void plan_free(struct deploy_ctx *d)
{
    for (size_t i = 0; i < d->n; i++) {
        json_decref(d->plan[i].result);
        free(d->plan[i].payload);
    }
    free(d->plan);
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

/* NEEDSWORK: a deploy to 10,000 locations holds the worker for about
 * 0.4 s (four writes per location, docs/performance.md), so the answer
 * misses the 0.5 s target end to end; fewer writes per location is the
 * remaining lever, and it changes what DESIGN.md asks for. */
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
        log_info("deploy", "release=%s locations=%zu ok=%d ms=%lld",
                 str(d.release, "version"), json_array_size(ids), d.ok,
                 (long long)(time_now_ms() - t));
    } else {
        store_rollback(s);
        deploy_result_release(out);
        rc = -1;
    }
out:
    plan_free(&d);
    json_decref(d.targets);
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
