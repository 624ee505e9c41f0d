/* mcctl releases deploy: one FORCE_UPDATE command per location, then, with
 * --wait, follow the commands until each reaches a final state. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "lib/timeutil.h"
#include "lib/xalloc.h"

/* The API takes at most this many locations per deploy call. */
#define DEPLOY_MAX_IDS     10000
#define DEPLOY_POLL_MS     1000
#define DEPLOY_TIMEOUT_DEF (30 * 60)
#define DEPLOY_LIST_PAGE   1000

/* One location's deploy, and what became of its command. */
struct target {
    const char *location_id; /* points into the deploy answer */
    const char *name;        /* the location's name, or "-" */
    const char *command_id;  /* NULL when no command was made */
    char status[24];
    json_t *command; /* the last state seen; owned */
    bool done;
};

struct deploy {
    struct cli *cli;
    char *path;     /* POST path of the release's deploy */
    json_t *ids;    /* location ids asked for */
    json_t *names;  /* location id -> name, as far as known */
    json_t *answer; /* the deploy answer (merged over calls) */
    struct target *targets;
    size_t ntargets;
    long long timeout_s;
};

static const char *const terminal_states[] = {
    "SUCCEEDED", "FAILED",  "TIMED_OUT", "SUPERSEDED",
    "CANCELLED", "EXPIRED", NULL,
};

static bool is_terminal(const char *status)
{
    for (int i = 0; terminal_states[i]; i++)
        if (strcmp(status, terminal_states[i]) == 0)
            return true;
    return false;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* "90", "90s", "15m", "2h" in seconds; -1 when it is none of those. */
static long long parse_duration(const char *s)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    long long unit = 1;

    if (end == s || v <= 0)
        return -1;
    if (*end == 'm')
        unit = 60;
    else if (*end == 'h')
        unit = 3600;
    else if (*end && *end != 's')
        return -1;
    if (*end && end[1])
        return -1;
    if (v > 7LL * 86400 / unit)
        return -1;
    return v * unit;
}

/* --- which locations ----------------------------------------------------- */

/* Splits "a,b,c" into ids; empty pieces are skipped. */
static void split_ids(json_t *ids, const char *s)
{
    while (*s) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);

        if (len)
            json_array_append_new(ids, json_stringn(s, len));
        s += len + (comma != NULL);
    }
}

static int add_location_ids(struct deploy *d, const struct cli_args *a)
{
    size_t n;
    const char *const *vals = cli_opt_all(a, "location", &n);

    for (size_t i = 0; i < n; i++)
        split_ids(d->ids, vals[i]);
    if (json_array_size(d->ids) == 0)
        return cli_usage_error("--location needs a location id");
    return 0;
}

/* Notes the names of one page of locations, and their ids when all is set;
 * returns the id of the page's last location when there may be more. */
static char *take_page(struct deploy *d, json_t *list, bool all)
{
    json_t *loc;
    size_t i;

    json_array_foreach(list, i, loc)
    {
        json_object_set(d->names, cli_str(loc, "id"),
                        json_object_get(loc, "name"));
        if (all)
            json_array_append(d->ids, json_object_get(loc, "id"));
    }
    if (json_array_size(list) < DEPLOY_LIST_PAGE)
        return NULL;
    return xstrdup(cli_str(json_array_get(list, i - 1), "id"));
}

/* Pages through the caller's locations. Without all, quiet on failure:
 * the names only decorate the output. */
static int list_locations(struct deploy *d, bool all)
{
    char *last = NULL;
    int rc;

    do {
        char *path =
            xasprintf("/api/admin/locations?limit=%d%s%s", DEPLOY_LIST_PAGE,
                      last ? "&before=" : "", last ? last : "");
        struct cli_resp r;

        free(last);
        last = NULL;
        rc = all ? cli_call(d->cli, "GET", path, NULL, &r)
                 : cli_http_send(d->cli, "GET", path, NULL, &r);
        free(path);
        if (rc)
            return all ? rc : 0;
        if (r.status == 200 && r.json)
            last = take_page(d, json_object_get(r.json, "locations"), all);
        cli_resp_release(&r);
    } while (last);
    return 0;
}

/* --- the deploy call ----------------------------------------------------- */

static void merge_answer(struct deploy *d, json_t *part)
{
    json_t *sum = json_object_get(d->answer, "summary");
    json_t *psum = json_object_get(part, "summary");
    const char *keys[] = {"succeeded", "failed"};

    json_array_extend(json_object_get(d->answer, "results"),
                      json_object_get(part, "results"));
    for (int i = 0; i < 2; i++)
        json_object_set_new(
            sum, keys[i],
            json_integer(json_integer_value(json_object_get(sum, keys[i])) +
                         json_integer_value(json_object_get(psum, keys[i]))));
}

/* Posts one slice of the ids; 200, 207 and 422 all carry results. */
static int post_slice(struct deploy *d, size_t from, size_t n, char **raw)
{
    json_t *body = json_object();
    json_t *ids = json_array();
    struct cli_resp r;
    int rc;

    for (size_t i = from; i < from + n; i++)
        json_array_append(ids, json_array_get(d->ids, i));
    json_object_set_new(body, "locationIds", ids);
    rc = cli_http_send(d->cli, "POST", d->path, body, &r);
    json_decref(body);
    if (rc)
        return rc;
    if ((r.status != 200 && r.status != 207 && r.status != 422) ||
        !json_is_array(json_object_get(r.json, "results"))) {
        cli_print_api_error(&r);
        cli_resp_release(&r);
        return CLI_FAILED;
    }
    if (!d->answer) {
        d->answer = json_incref(r.json);
        *raw = xstrdup(r.body);
    } else
        merge_answer(d, r.json);
    cli_resp_release(&r);
    return 0;
}

/* Posts the deploy, DEPLOY_MAX_IDS locations per call. *raw is the first
 * answer's text, printed as it came when one call sufficed. */
static int post_deploy(struct deploy *d, char **raw)
{
    size_t total = json_array_size(d->ids);
    int rc = 0;

    for (size_t from = 0; from < total && !rc; from += DEPLOY_MAX_IDS) {
        size_t n =
            total - from < DEPLOY_MAX_IDS ? total - from : DEPLOY_MAX_IDS;

        rc = post_slice(d, from, n, raw);
    }
    return rc;
}

static void collect_targets(struct deploy *d)
{
    json_t *results = json_object_get(d->answer, "results");
    json_t *res;
    size_t i;

    d->ntargets = json_array_size(results);
    d->targets = xcalloc(d->ntargets ? d->ntargets : 1, sizeof(*d->targets));
    json_array_foreach(results, i, res)
    {
        struct target *t = &d->targets[i];
        const char *name = json_string_value(
            json_object_get(d->names, cli_str(res, "locationId")));

        t->location_id = cli_str(res, "locationId");
        t->name = name ? name : "-";
        t->command_id = json_string_value(json_object_get(res, "commandId"));
        snprintf(t->status, sizeof(t->status), "%s",
                 t->command_id ? "PENDING" : "NOT_DEPLOYED");
        t->done = !t->command_id;
    }
}

static void print_results(struct deploy *d)
{
    static const char *const head[] = {"LOCATION", "NAME", "RESULT", "DETAIL",
                                       NULL};
    json_t *results = json_object_get(d->answer, "results");
    struct cli_table *t = cli_table_new(head);
    json_t *res;
    size_t i;

    json_array_foreach(results, i, res)
    {
        json_t *err = json_object_get(res, "error");
        bool ok = json_is_true(json_object_get(res, "success"));

        cli_table_add(
            t, (const char *[]){d->targets[i].location_id, d->targets[i].name,
                                ok ? "deployed" : cli_str(err, "code"),
                                ok ? cli_str(res, "commandId")
                                   : cli_str(err, "message")});
    }
    cli_table_print(t, stdout);
    cli_table_free(t);
    /* Whoever follows a --wait through a pipe sees each line when it
     * happens, not when mcctl exits. */
    fflush(stdout);
}

/* 0 when all succeeded, 1 when none, 3 when some. */
static int outcome(size_t succeeded, size_t total)
{
    if (succeeded == total && total > 0)
        return CLI_OK;
    return succeeded ? CLI_PARTIAL : CLI_FAILED;
}

/* --- --wait -------------------------------------------------------------- */

static void print_change(struct deploy *d, const struct target *t)
{
    const char *msg = cli_str(t->command, "message");

    (void)d;
    printf("%s ", t->location_id);
    cli_put_safe(stdout, t->name, false);
    printf(" %s %s", t->command_id, t->status);
    if (strcmp(msg, "-") && *msg) {
        printf(": ");
        cli_put_safe(stdout, msg, false);
    }
    fputc('\n', stdout);
    fflush(stdout);
}

/* Refreshes one command; false when the server could not be asked (it is
 * asked again next round) or refused (the command counts as failed). */
static bool poll_one(struct deploy *d, struct target *t)
{
    char *esc = cli_escape(t->command_id);
    char *path = xasprintf("/api/admin/commands/%s", esc);
    struct cli_resp r;
    json_t *cmd;
    bool ok = false;

    free(esc);
    if (cli_http_send(d->cli, "GET", path, NULL, &r))
        goto out;
    cmd = json_object_get(r.json, "command");
    if (r.status != 200 || !json_is_string(json_object_get(cmd, "status"))) {
        /* The server will not tell us more about it: stop asking, and
         * count it as not succeeded. */
        cli_print_api_error(&r);
        cli_resp_release(&r);
        snprintf(t->status, sizeof(t->status), "UNKNOWN");
        t->done = true;
        goto out;
    }
    json_decref(t->command);
    t->command = json_incref(cmd);
    if (strcmp(t->status, cli_str(cmd, "status"))) {
        snprintf(t->status, sizeof(t->status), "%s", cli_str(cmd, "status"));
        t->done = is_terminal(t->status);
        if (!d->cli->json && (!d->cli->tty || t->done)) {
            if (d->cli->tty)
                fputs("\r\033[K", stdout);
            print_change(d, t);
        }
    }
    cli_resp_release(&r);
    ok = true;
out:
    free(path);
    return ok;
}

static void progress(const struct deploy *d, int64_t started)
{
    size_t done = 0, ok = 0, open = 0;

    for (size_t i = 0; i < d->ntargets; i++) {
        if (!d->targets[i].command_id)
            continue;
        open++;
        done += d->targets[i].done;
        ok += strcmp(d->targets[i].status, "SUCCEEDED") == 0;
    }
    printf("\r\033[Kwaiting: %zu/%zu finished, %zu succeeded (%llds)", done,
           open, ok, (long long)((time_mono_ms() - started) / 1000));
    fflush(stdout);
}

static size_t count_open(const struct deploy *d)
{
    size_t n = 0;

    for (size_t i = 0; i < d->ntargets; i++)
        n += !d->targets[i].done;
    return n;
}

/* Polls every open command once a second until none is open or the
 * timeout passes; returns the number still open. */
static size_t wait_commands(struct deploy *d)
{
    int64_t started = time_mono_ms();
    int64_t deadline = started + d->timeout_s * 1000;
    bool show = d->cli->tty && !d->cli->json;

    if (!d->cli->json && count_open(d))
        printf("waiting for %zu command%s (up to %llds)\n", count_open(d),
               count_open(d) == 1 ? "" : "s", d->timeout_s);
    fflush(stdout);

    /* NEEDSWORK: one GET per open command per second; a deploy to
     * thousands of locations would rather poll the release's deployments
     * or a command list filtered by ids, which the API does not offer. */
    while (count_open(d) && time_mono_ms() < deadline) {
        for (size_t i = 0; i < d->ntargets; i++)
            if (!d->targets[i].done)
                poll_one(d, &d->targets[i]);
        if (show)
            progress(d, started);
        if (count_open(d))
            sleep_ms(DEPLOY_POLL_MS);
    }
    if (show)
        fputs("\r\033[K", stdout);
    fflush(stdout);
    return count_open(d);
}

static void print_json(const json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT);

    printf("%s\n", text ? text : "null");
    free(text);
}

static void print_wait_json(struct deploy *d)
{
    json_t *out = json_object();
    json_t *cmds = json_array();

    for (size_t i = 0; i < d->ntargets; i++)
        if (d->targets[i].command)
            json_array_append(cmds, d->targets[i].command);
    json_object_set(out, "deploy", d->answer);
    json_object_set_new(out, "commands", cmds);
    print_json(out);
    json_decref(out);
}

static int finish_wait(struct deploy *d)
{
    size_t open = wait_commands(d);
    size_t ok = 0;

    for (size_t i = 0; i < d->ntargets; i++)
        ok += strcmp(d->targets[i].status, "SUCCEEDED") == 0;
    if (d->cli->json)
        print_wait_json(d);
    else
        printf("%zu of %zu locations succeeded\n", ok, d->ntargets);
    if (open)
        fprintf(stderr,
                "mcctl: gave up after %llds: %zu command%s not finished\n",
                d->timeout_s, open, open == 1 ? "" : "s");
    return outcome(ok, d->ntargets);
}

/* --- the command --------------------------------------------------------- */

static int deploy_args(struct deploy *d, const struct cli_args *a)
{
    const char *timeout = cli_opt(a, "timeout");
    size_t n;

    cli_opt_all(a, "location", &n);
    if (n && cli_opt(a, "all-locations"))
        return cli_usage_error("give --location or --all-locations, not both");
    if (!n && !cli_opt(a, "all-locations"))
        return cli_usage_error("releases deploy needs --location ID or "
                               "--all-locations");
    if (timeout && !cli_opt(a, "wait"))
        return cli_usage_error("--timeout goes with --wait");
    d->timeout_s = timeout ? parse_duration(timeout) : DEPLOY_TIMEOUT_DEF;
    if (d->timeout_s < 0)
        return cli_usage_error("invalid --timeout \"%s\": expected seconds, "
                               "or a number with s, m or h",
                               timeout);
    return n ? add_location_ids(d, a) : 0;
}

static void deploy_release(struct deploy *d)
{
    for (size_t i = 0; i < d->ntargets; i++)
        json_decref(d->targets[i].command);
    free(d->targets);
    json_decref(d->ids);
    json_decref(d->names);
    json_decref(d->answer);
    free(d->path);
}

static int run_deploy(struct deploy *d, const struct cli_args *a)
{
    char *raw = NULL;
    int rc;

    if (cli_opt(a, "all-locations") || !d->cli->json)
        if ((rc = list_locations(d, cli_opt(a, "all-locations") != NULL)))
            return rc;
    if (json_array_size(d->ids) == 0) {
        fprintf(stderr, "mcctl: no locations to deploy to\n");
        return CLI_FAILED;
    }
    rc = post_deploy(d, &raw);
    if (rc)
        goto out;
    collect_targets(d);
    if (!d->cli->json)
        print_results(d);
    if (cli_opt(a, "wait")) {
        rc = finish_wait(d);
        goto out;
    }
    if (d->cli->json && json_array_size(d->ids) <= DEPLOY_MAX_IDS)
        printf("%s\n", raw);
    else if (d->cli->json)
        print_json(d->answer);
    rc = outcome((size_t)json_integer_value(json_object_get(
                     json_object_get(d->answer, "summary"), "succeeded")),
                 d->ntargets);
out:
    free(raw);
    return rc;
}

int cli_releases_deploy(struct cli *cli, const struct cli_args *a)
{
    struct deploy d = {.cli = cli};
    char *ref = cli_escape(a->pos[0]);
    int rc;

    d.path = xasprintf("/api/admin/releases/%s/deploy", ref);
    free(ref);
    d.ids = json_array();
    d.names = json_object();
    rc = deploy_args(&d, a);
    if (!rc)
        rc = run_deploy(&d, a);
    deploy_release(&d);
    return rc;
}
