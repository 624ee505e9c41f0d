/* mcctl locations list|create, nodes register|decommission,
 * commands show|cancel. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lib/timeutil.h"
#include "lib/xalloc.h"

/* Calls method on the path made of prefix, the escaped id and suffix. */
static int call_on(struct cli *cli, const char *method, const char *prefix,
                   const char *id, const char *suffix, json_t *body,
                   struct cli_resp *r)
{
    char *esc = cli_escape(id);
    char *path = xasprintf("%s%s%s", prefix, esc, suffix);
    int rc = cli_call(cli, method, path, body, r);

    free(path);
    free(esc);
    return rc;
}

static const char *node_state(const json_t *node)
{
    if (!json_is_object(node))
        return "no node";
    if (json_is_true(json_object_get(node, "online")))
        return "online";
    return "offline";
}

static void location_row(struct cli_table *t, const json_t *loc, int64_t now)
{
    const json_t *node = json_object_get(loc, "serverNode");
    char seen[32];

    cli_time_relative(json_string_value(json_object_get(node, "lastSeenAt")),
                      now, seen, sizeof(seen));
    cli_table_add(t,
                  (const char *[]){cli_str(loc, "id"), cli_str(loc, "name"),
                                   cli_str(loc, "timezone"), node_state(node),
                                   cli_str(node, "currentVersion"),
                                   cli_str(node, "targetVersion"), seen});
}

int cli_locations_list(struct cli *cli, const struct cli_args *a)
{
    static const char *const head[] = {"ID",      "NAME",   "TIMEZONE",  "NODE",
                                       "CURRENT", "TARGET", "LAST SEEN", NULL};
    char *path = cli_paged_path("/api/admin/locations", a);
    struct cli_resp r;
    struct cli_table *t;
    json_t *loc;
    size_t i;
    int rc;

    if (!path)
        return CLI_USAGE;
    rc = cli_call(cli, "GET", path, NULL, &r);
    free(path);
    if (rc)
        return rc;
    if (cli->json) {
        cli_print_raw(&r);
        goto out;
    }
    t = cli_table_new(head);
    json_array_foreach(json_object_get(r.json, "locations"), i, loc)
        location_row(t, loc, time_now_ms());
    cli_table_print(t, stdout);
    cli_table_free(t);
out:
    cli_resp_release(&r);
    return CLI_OK;
}

int cli_locations_create(struct cli *cli, const struct cli_args *a)
{
    const char *tz = cli_opt(a, "timezone");
    struct cli_resp r;
    json_t *body, *loc;
    int rc;

    if (!tz)
        return cli_usage_error("locations create needs --timezone TZ");
    body = json_pack("{s:s, s:s}", "name", a->pos[0], "timezone", tz);
    if (!body)
        return cli_usage_error("name and --timezone must be UTF-8");
    rc = cli_call(cli, "POST", "/api/admin/locations", body, &r);
    json_decref(body);
    if (rc)
        return rc;
    loc = json_object_get(r.json, "location");
    if (cli->json)
        cli_print_raw(&r);
    else {
        printf("created location ");
        cli_put_safe(stdout, cli_str(loc, "name"), false);
        printf(" (%s, id %s)\n", cli_str(loc, "timezone"), cli_str(loc, "id"));
    }
    cli_resp_release(&r);
    return CLI_OK;
}

int cli_nodes_register(struct cli *cli, const struct cli_args *a)
{
    const char *name = cli_opt(a, "name");
    struct cli_resp r;
    json_t *body, *node;
    int rc;

    if (!name)
        return cli_usage_error("nodes register needs --name NAME");
    body = json_pack("{s:s}", "name", name);
    if (!body)
        return cli_usage_error("--name must be UTF-8");
    rc = call_on(cli, "POST", "/api/admin/locations/", a->pos[0], "/nodes",
                 body, &r);
    json_decref(body);
    if (rc)
        return rc;
    node = json_object_get(r.json, "serverNode");
    if (cli->json)
        cli_print_raw(&r);
    else {
        printf("registered node %s at location %s\n", cli_str(node, "id"),
               cli_str(node, "locationId"));
        printf("agent token:       %s\n", cli_str(r.json, "token"));
        printf("server public key: %s\n", cli_str(r.json, "serverPublicKey"));
        printf("This is the only time the token is shown: give both to the "
               "node's mc-agent\n(--token, --server-key) now.\n");
    }
    cli_resp_release(&r);
    return CLI_OK;
}

int cli_nodes_decommission(struct cli *cli, const struct cli_args *a)
{
    struct cli_resp r;
    int rc;

    rc = call_on(cli, "POST", "/api/admin/nodes/", a->pos[0], "/decommission",
                 NULL, &r);
    if (rc)
        return rc;
    if (cli->json)
        cli_print_raw(&r);
    else
        printf("decommissioned node %s\n",
               cli_str(json_object_get(r.json, "serverNode"), "id"));
    cli_resp_release(&r);
    return CLI_OK;
}

static void show_command(const json_t *c)
{
    static const char *const fields[] = {"id",           "type",
                                         "status",       "message",
                                         "version",      "locationId",
                                         "serverNodeId", "createdAt",
                                         "deliveredAt",  "acknowledgedAt",
                                         "startedAt",    "finishedAt",
                                         "expiresAt",    NULL};

    for (int i = 0; fields[i]; i++) {
        char num[32];

        printf("%-15s ", fields[i]);
        cli_put_safe(stdout, cli_text(c, fields[i], num, sizeof(num)), false);
        fputc('\n', stdout);
    }
}

int cli_commands_show(struct cli *cli, const struct cli_args *a)
{
    struct cli_resp r;
    int rc;

    rc = call_on(cli, "GET", "/api/admin/commands/", a->pos[0], "", NULL, &r);
    if (rc)
        return rc;
    if (cli->json)
        cli_print_raw(&r);
    else
        show_command(json_object_get(r.json, "command"));
    cli_resp_release(&r);
    return CLI_OK;
}

int cli_commands_cancel(struct cli *cli, const struct cli_args *a)
{
    struct cli_resp r;
    int rc;

    rc = call_on(cli, "POST", "/api/admin/commands/", a->pos[0], "/cancel",
                 NULL, &r);
    if (rc)
        return rc;
    if (cli->json)
        cli_print_raw(&r);
    else
        printf("cancelled command %s\n",
               cli_str(json_object_get(r.json, "command"), "id"));
    cli_resp_release(&r);
    return CLI_OK;
}
