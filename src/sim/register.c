/* Registration through the admin API: a location per agent (and per
 * --no-hardware location), then a node per agent, a window of requests
 * at a time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lib/log.h"
#include "lib/timeutil.h"
#include "lib/xalloc.h"
#include "sim/pool.h"
#include "sim/sim.h"

/* Requests under way at once: enough to keep the pool busy. */
#define REG_WINDOW 64

struct reg_unit {
    struct reg *reg;
    long index;
};

struct reg {
    struct sim *s;
    struct reg_unit *units;
    long total; /* locations to make */
    long next;  /* the next unit to start */
    long busy;  /* units under way */
    long done;
    bool failed;
    int64_t started_ms;
    void (*finish)(struct sim *s, bool ok);
};

static void pump(struct reg *r);

void register_free(struct reg *r)
{
    if (!r)
        return;
    free(r->units);
    free(r);
}

static void fail(struct reg_unit *u, const char *what, int status,
                 json_t *answer)
{
    json_t *err = json_object_get(answer, "error");
    const char *msg = json_string_value(json_object_get(err, "message"));
    const char *code = json_string_value(json_object_get(err, "code"));

    if (u->reg->failed)
        return;
    u->reg->failed = true;
    if (!status)
        fprintf(stderr,
                "mc-fleetsim: cannot register %s %ld: no answer from "
                "\"%s\"\n",
                what, u->index + 1, u->reg->s->set.server);
    else
        fprintf(stderr, "mc-fleetsim: cannot register %s %ld: HTTP %d %s%s%s\n",
                what, u->index + 1, status, code ? code : "", msg ? ": " : "",
                msg ? msg : "");
}

static void unit_done(struct reg_unit *u)
{
    struct reg *r = u->reg;

    r->busy--;
    r->done++;
    r->s->stats.registered = r->done;
    r->s->stats.dirty = true;
    pump(r);
}

static void on_node(int status, json_t *answer, void *arg)
{
    struct reg_unit *u = arg;
    struct sim_agent *a = &u->reg->s->agents[u->index];
    const char *token = json_string_value(json_object_get(answer, "token"));
    const char *key =
        json_string_value(json_object_get(answer, "serverPublicKey"));
    json_t *node = json_object_get(answer, "serverNode");
    const char *id = json_string_value(json_object_get(node, "id"));

    if (status != 201 || !token || !key || !id) {
        fail(u, "node", status, answer);
    } else {
        a->token = xstrdup(token);
        a->node_id = xstrdup(id);
        a->server_key = sim_intern_key(u->reg->s, key);
    }
    unit_done(u);
}

static void add_node(struct reg_unit *u, const char *location_id)
{
    struct sim *s = u->reg->s;
    char *path = xasprintf("/api/admin/locations/%s/nodes", location_id);
    char *name = xasprintf("%s-%05ld-server", s->set.name_prefix, u->index + 1);
    json_t *body = json_pack("{s:s}", "name", name);

    pool_request(s->pool, EVHTTP_REQ_POST, path, s->set.admin_token, body,
                 on_node, u);
    json_decref(body);
    free(name);
    free(path);
}

static void on_location(int status, json_t *answer, void *arg)
{
    struct reg_unit *u = arg;
    struct sim *s = u->reg->s;
    json_t *loc = json_object_get(answer, "location");
    const char *id = json_string_value(json_object_get(loc, "id"));

    if (status != 201 || !id) {
        fail(u, "location", status, answer);
        unit_done(u);
        return;
    }
    if (u->index >= s->n_agents || u->reg->failed) {
        /* --no-hardware: a location without a node. */
        unit_done(u);
        return;
    }
    s->agents[u->index].location_id = xstrdup(id);
    add_node(u, id);
}

static void add_location(struct reg_unit *u)
{
    struct sim *s = u->reg->s;
    char *name = xasprintf("%s-%05ld%s", s->set.name_prefix, u->index + 1,
                           u->index >= s->n_agents ? "-no-hardware" : "");
    json_t *body = json_pack("{s:s,s:s}", "name", name, "timezone", "UTC");

    if (s->set.organization)
        json_object_set_new(body, "organizationId",
                            json_string(s->set.organization));
    pool_request(s->pool, EVHTTP_REQ_POST, "/api/admin/locations",
                 s->set.admin_token, body, on_location, u);
    json_decref(body);
    free(name);
}

static void pump(struct reg *r)
{
    while (!r->failed && r->busy < REG_WINDOW && r->next < r->total) {
        struct reg_unit *u = &r->units[r->next];

        u->reg = r;
        u->index = r->next++;
        r->busy++;
        add_location(u);
    }
    if (r->busy > 0 || (!r->failed && r->next < r->total))
        return;
    log_info(r->failed ? "registration stopped" : "registered",
             "locations=%ld agents=%ld ms=%lld", r->done, r->s->n_agents,
             (long long)(time_mono_ms() - r->started_ms));
    r->finish(r->s, !r->failed);
}

void register_start(struct sim *s, void (*done)(struct sim *s, bool ok))
{
    struct reg *r = xcalloc(1, sizeof(*r));

    r->s = s;
    r->total = s->n_agents + s->set.no_hardware;
    r->units = xcalloc((size_t)(r->total ? r->total : 1), sizeof(*r->units));
    r->finish = done;
    r->started_ms = time_mono_ms();
    s->reg = r;
    log_info("registering", "agents=%ld no_hardware=%ld", s->n_agents,
             s->set.no_hardware);
    pump(r);
}
