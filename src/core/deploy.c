#include "core/deploy.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "core/audit.h"
#include "core/releases.h"
#include "lib/id.h"
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

json_t *deploy_command_release(const json_t *release)
{
    return json_pack("{s:O, s:O, s:O, s:O, s:O}", "version",
                     json_object_get(release, "version"), "channel",
                     json_object_get(release, "channel"), "imageTag",
                     json_object_get(release, "imageTag"), "imageDigest",
                     json_object_get(release, "imageDigest"), "rollbackVersion",
                     json_object_get(release, "rollbackVersion"));
}

/* A string as JSON text, quotes included (caller frees). */
static char *quoted(const char *s)
{
    json_t *v = json_string(s);
    char *text = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL;

    json_decref(v);
    return text ? text : xstrdup("\"\"");
}

/* Ten thousand commands of one deploy differ only in their id and node id:
 * the text is put together around the release's canonical part, made once,
 * with the keys in sorted order. Ids of ours need no escaping. */
char *deploy_command_payload(const char *release_canonical, const char *id,
                             const char *node_id, const char *created,
                             const char *expires)
{
    char *qid = NULL, *qnode = NULL, *text;

    if (id_valid(id) && id_valid(node_id))
        return xasprintf(
            "{\"createdAt\":\"%s\",\"expiresAt\":\"%s\",\"id\":\"%s\","
            "\"release\":%s,\"serverNodeId\":\"%s\",\"type\":\"FORCE_UPDATE\"}",
            created, expires, id, release_canonical, node_id);
    qid = quoted(id);
    qnode = quoted(node_id);
    text = xasprintf("{\"createdAt\":\"%s\",\"expiresAt\":\"%s\",\"id\":%s,"
                     "\"release\":%s,\"serverNodeId\":%s,"
                     "\"type\":\"FORCE_UPDATE\"}",
                     created, expires, qid, release_canonical, qnode);
    free(qid);
    free(qnode);
    return text;
}

/* One location of the deploy: its target, and the command made for it. */
struct planned {
    const char *loc_id;
    json_t *target; /* borrowed from the targets lookup, or NULL */
    json_t *result; /* its failure, or NULL */
    char *payload;  /* canonical command JSON, when one is made */
    char *event;    /* the event's data: payload and signature */
    int64_t seq;    /* the stored command's */
    bool stored;    /* its writes are in the deploy's transaction */
    char id[ID_LEN + 1];
    char sig[SIGN_SIG_B64_LEN];
};

struct deploy_ctx {
    struct store *s;
    const struct fleet_config *cfg;
    const struct actor *a;
    json_t *release;
    char *release_canonical; /* the release part of every payload */
    char now[TIME_RFC3339_LEN];
    char expires[TIME_RFC3339_LEN];
    json_t *targets;
    struct planned *plan;
    size_t n;
    struct fleet_pushes *fresh;
    int ok;
    int64_t plan_ms, write_ms, commit_ms; /* for the log */
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
 * a command, and gives those their ids. */
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

        p->loc_id = json_string_value(v);
        p->target = json_object_get(by_id, p->loc_id);
        p->result = gate(d, p->loc_id, p->target);
        if (p->result)
            continue;
        id_new(p->id);
    }
    /* The plan borrows the rows; they live as long as the context. */
    json_decref(by_id);
    d->targets = rows;
    return 0;
}

/* The event's data: the signed payload with its signature added. */
static char *event_data(const struct planned *p)
{
    size_t len = strlen(p->payload);

    return xasprintf("%.*s,\"signature\":\"%s\"}", (int)(len - 1), p->payload,
                     p->sig);
}

/* A planned command's payload, signature and event text. Runs on the
 * signing threads: it reads the plan's target, which nothing changes
 * meanwhile. */
static void make_command(const struct deploy_ctx *d, struct planned *p)
{
    p->payload =
        deploy_command_payload(d->release_canonical, p->id,
                               str(p->target, "nodeId"), d->now, d->expires);
    sign_text(d->cfg->key, p->payload, p->sig);
    p->event = event_data(p);
}

/* Making the commands is the costliest step that needs no database:
 * threads make them, each taking every n-th one in order, while this one
 * writes them; it waits only when it catches up with them. */
#define SIGNERS_MAX 4

struct signer;

struct sign_lane {
    struct signer *sg;
    pthread_t thread;
    size_t first;
    size_t upto; /* its commands before upto are made; guarded by mu */
    bool threaded;
};

struct signer {
    struct deploy_ctx *d;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t n_lanes;
    struct sign_lane lane[SIGNERS_MAX];
};

static void *sign_lane(void *arg)
{
    struct sign_lane *l = arg;
    struct signer *sg = l->sg;
    struct deploy_ctx *d = sg->d;

    for (size_t i = l->first; i < d->n; i += sg->n_lanes) {
        if (!d->plan[i].result)
            make_command(d, &d->plan[i]);
        pthread_mutex_lock(&sg->mu);
        l->upto = i + 1;
        pthread_cond_signal(&sg->cv);
        pthread_mutex_unlock(&sg->mu);
    }
    pthread_mutex_lock(&sg->mu);
    l->upto = d->n;
    pthread_cond_signal(&sg->cv);
    pthread_mutex_unlock(&sg->mu);
    return NULL;
}

/* One lane per core, for a deploy large enough to gain from it; a lane
 * whose thread cannot start is made here and now. */
static void signer_start(struct signer *sg, struct deploy_ctx *d)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);

    memset(sg, 0, sizeof(*sg));
    sg->d = d;
    pthread_mutex_init(&sg->mu, NULL);
    pthread_cond_init(&sg->cv, NULL);
    sg->n_lanes = d->n < 64 || cores < 1 ? 1
                  : cores > SIGNERS_MAX  ? SIGNERS_MAX
                                         : (size_t)cores;
    for (size_t k = 0; k < sg->n_lanes; k++) {
        struct sign_lane *l = &sg->lane[k];

        l->sg = sg;
        l->first = k;
        l->threaded =
            d->n >= 64 && pthread_create(&l->thread, NULL, sign_lane, l) == 0;
        if (!l->threaded)
            sign_lane(l);
    }
}

/* Waits until plan[i] is made. */
static void signer_wait(struct signer *sg, size_t i)
{
    struct sign_lane *l = &sg->lane[i % sg->n_lanes];

    pthread_mutex_lock(&sg->mu);
    while (l->upto <= i)
        pthread_cond_wait(&sg->cv, &sg->mu);
    pthread_mutex_unlock(&sg->mu);
}

static void signer_finish(struct signer *sg)
{
    for (size_t k = 0; k < sg->n_lanes; k++)
        if (sg->lane[k].threaded)
            pthread_join(sg->lane[k].thread, NULL);
    pthread_cond_destroy(&sg->cv);
    pthread_mutex_destroy(&sg->mu);
}

/* Whether the lookup saw an open FORCE_UPDATE of the target's node. */
static bool has_open(json_t *target)
{
    json_t *v = json_object_get(target, "openCommands");

    return json_is_true(v) || (json_is_integer(v) && json_integer_value(v));
}

/* Steps 3-5 for one node: supersede (when there is something to), the
 * command, the target version, the audit entry. The values in the audit
 * details are SemVer and ids: nothing to escape. */
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
    if ((has_open(p->target) &&
         store_command_supersede(d->s, node_id, p->id, d->now, e)) ||
        (*seq = store_command_insert(d->s, &c, e)) < 0 ||
        store_node_set_target(d->s, node_id, version, e) ||
        store_audit_insert_text(d->s, audit_id,
                                str(p->target, "organizationId"), d->a->id,
                                "release.deploy", "release",
                                str(d->release, "id"), details, d->now, e))
        return e->status ? (int)e->status : ERR_INTERNAL;
    return 0;
}

/* A location's writes in a savepoint of its own; on failure it gets an
 * INTERNAL result and the others go on. */
static void write_alone(struct deploy_ctx *d, struct planned *p)
{
    struct err e;

    err_clear(&e);
    if (store_begin(d->s, &e) == 0) {
        if (write_one(d, p, &p->seq, &e) == 0 && store_commit(d->s, &e) == 0) {
            p->stored = true;
            return;
        }
        store_rollback(d->s);
    }
    log_error("deploy to location failed", "location=%s error=\"%s\"",
              p->loc_id, e.message);
    p->result = failure(p->loc_id, "INTERNAL", "the command was not stored");
}

/*
 * Writes every planned location. Alone, each one's writes go in a
 * savepoint of its own, and a location that fails gets an INTERNAL
 * result. Otherwise they go straight into the deploy's transaction, and
 * the first failure answers false: the caller undoes the transaction and
 * runs the deploy again alone. (A savepoint per location costs SQLite a
 * copy of every page the location touches, a third of the deploy's
 * database time; savepoints nested in a large one cost it time that grows
 * with the deploy.)
 */
static bool write_all(struct deploy_ctx *d, struct signer *sg, bool alone)
{
    struct err e;

    err_clear(&e);
    for (size_t i = 0; i < d->n; i++) {
        struct planned *p = &d->plan[i];

        signer_wait(sg, i);
        if (p->result)
            continue;
        if (alone) {
            write_alone(d, p);
            continue;
        }
        if (write_one(d, p, &p->seq, &e)) {
            log_warn("deploy writes failed; again location by location",
                     "location=%s error=\"%s\"", p->loc_id, e.message);
            return false;
        }
        p->stored = true;
    }
    return true;
}

/* A stored command goes into the commands to push. */
static void add_fresh(struct deploy_ctx *d, struct planned *p)
{
    fleet_pushes_add(d->fresh, str(p->target, "nodeId"), p->id, p->seq,
                     p->event);
    p->event = NULL;
    d->ok++;
}

/* One location's entry of the answer. */
static void write_result(FILE *f, const struct planned *p)
{
    const char *node_id = str(p->target, "nodeId");
    json_t *ok;
    char *text;

    if (p->stored && id_valid(p->loc_id) && id_valid(node_id)) {
        fprintf(f,
                "{\"locationId\":\"%s\",\"success\":true,\"commandId\":\"%s\","
                "\"serverNodeId\":\"%s\",\"error\":null}",
                p->loc_id, p->id, node_id);
        return;
    }
    ok = p->stored ? json_pack("{s:s, s:b, s:s, s:s, s:n}", "locationId",
                               p->loc_id, "success", 1, "commandId", p->id,
                               "serverNodeId", node_id, "error")
                   : NULL;
    text = json_dumps(ok ? ok : p->result, JSON_COMPACT);
    fputs(text, f);
    free(text);
    json_decref(ok);
}

/* The answer, {"results", "summary"}, as JSON text: written out directly,
 * since for 10,000 locations making 10,000 objects and then serialising
 * them took a quarter of the deploy. */
static char *answer_text(const struct deploy_ctx *d)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    if (!f)
        abort();
    fputs("{\"results\":[", f);
    for (size_t i = 0; i < d->n; i++) {
        if (i > 0)
            fputc(',', f);
        write_result(f, &d->plan[i]);
    }
    fprintf(f, "],\"summary\":{\"succeeded\":%d,\"failed\":%d}}", d->ok,
            (int)d->n - d->ok);
    if (fclose(f) != 0)
        abort();
    return text;
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
    out->body = json_dumps(json_object_get(rec, "response"), JSON_COMPACT);
    if (!out->body)
        abort();
    out->fresh = fleet_pushes_new(0);
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
        if (!d->plan[i].stored)
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
    int64_t lo = 0, hi = 0;

    for (size_t i = 0; i < d->fresh->n; i++) {
        int64_t seq = d->fresh->v[i].seq;

        lo = i == 0 || seq < lo ? seq : lo;
        hi = seq > hi ? seq : hi;
    }
    if (d->fresh->n > 0)
        fleet_announce(d->s, d->cfg,
                       json_pack("{s:s, s:I, s:I}", "type", "commands", "from",
                                 (json_int_t)lo, "to", (json_int_t)hi));
}

static void finish(struct deploy_ctx *d, struct deploy_result *out)
{
    out->status = d->ok == (int)d->n ? 200 : d->ok == 0 ? 422 : 207;
    out->body = answer_text(d);
    out->fresh = d->fresh;
    d->fresh = NULL;
}

#define DEPLOY_AGAIN (-2)

static int run_all(struct deploy_ctx *d, json_t *ids, const char *key,
                   const char *hash, bool alone, struct deploy_result *out,
                   struct err *e)
{
    struct signer sg;
    bool written;

    int64_t t = time_mono_ms();

    if (plan(d, ids, e))
        return e->status;
    d->plan_ms = time_mono_ms() - t;
    d->fresh = fleet_pushes_new(d->n);
    signer_start(&sg, d);
    written = write_all(d, &sg, alone);
    d->write_ms = time_mono_ms() - t - d->plan_ms;
    signer_finish(&sg);
    if (!written)
        return DEPLOY_AGAIN;
    for (size_t i = 0; i < d->n; i++)
        if (d->plan[i].stored)
            add_fresh(d, &d->plan[i]);
    if (count(d, e))
        return e->status;
    announce(d);
    finish(d, out);
    if (key && store_idem_put(d->s, d->a->id, key, "deploy", hash, out->status,
                              out->body, d->now, e))
        return e->status;
    return 0;
}

/* Forgets what a try planned and answered. */
static void plan_free(struct deploy_ctx *d)
{
    for (size_t i = 0; i < d->n; i++) {
        json_decref(d->plan[i].result);
        free(d->plan[i].payload);
        free(d->plan[i].event);
    }
    free(d->plan);
    json_decref(d->targets);
    fleet_pushes_free(d->fresh);
    d->plan = NULL;
    d->n = 0;
    d->targets = NULL;
    d->fresh = NULL;
    d->ok = 0;
}

/* One try at the whole deploy, in one transaction: 0, DEPLOY_AGAIN when
 * the writes should be tried again alone, or -1 with e set. */
static int attempt(struct deploy_ctx *d, json_t *ids, const char *key,
                   const char *hash, bool alone, struct deploy_result *out,
                   struct err *e)
{
    int64_t t;
    int rc;

    if (store_begin(d->s, e))
        return -1;
    rc = key ? idem_replay(d, key, hash, out, e) : 0;
    if (rc == 0)
        rc = run_all(d, ids, key, hash, alone, out, e);
    else if (rc == 1)
        rc = 0;
    t = time_mono_ms();
    if (rc == 0 && store_commit(d->s, e) == 0) {
        d->commit_ms = time_mono_ms() - t;
        return 0;
    }
    store_rollback(d->s);
    deploy_result_release(out);
    return rc == DEPLOY_AGAIN ? DEPLOY_AGAIN : -1;
}

static int prepare(struct deploy_ctx *d, const char *ref, struct err *e)
{
    json_t *part;

    d->release = release_find(d->s, d->a, ref, e);
    if (!d->release)
        return e->status;
    if (json_is_true(json_object_get(d->release, "isArchived")))
        return err_set(e, ERR_CONFLICT, "RELEASE_ARCHIVED",
                       "release %.64s is archived", str(d->release, "version"));
    part = deploy_command_release(d->release);
    d->release_canonical = sign_canonical(part);
    json_decref(part);
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
    request_hash(str(d.release, "id"), ids, hash);
    rc = attempt(&d, ids, idem_key, hash, false, out, e);
    if (rc == DEPLOY_AGAIN) {
        plan_free(&d);
        rc = attempt(&d, ids, idem_key, hash, true, out, e);
    }
    if (rc == 0)
        log_info("deploy",
                 "release=%s locations=%zu ok=%d ms=%lld plan_ms=%lld "
                 "write_ms=%lld commit_ms=%lld",
                 str(d.release, "version"), json_array_size(ids), d.ok,
                 (long long)(time_now_ms() - t), (long long)d.plan_ms,
                 (long long)d.write_ms, (long long)d.commit_ms);
out:
    plan_free(&d);
    json_decref(ids);
    json_decref(d.release);
    free(d.release_canonical);
    return rc ? (int)(e->status ? e->status : ERR_INTERNAL) : 0;
}

void deploy_result_release(struct deploy_result *r)
{
    free(r->body);
    fleet_pushes_free(r->fresh);
    r->body = NULL;
    r->fresh = NULL;
}
