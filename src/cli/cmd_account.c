/* mcctl audit, mcctl tokens create. */
#include <stdlib.h>

#include "cli/cli.h"
#include "lib/xalloc.h"

/* details as "key=value ..." cut to fit a table column. */
static void details_text(const json_t *details, char *out, size_t len)
{
    const char *key;
    json_t *v;
    size_t used = 0;

    out[0] = '\0';
    json_object_foreach((json_t *)details, key, v)
    {
        char *text = json_is_string(v)
                         ? xstrdup(json_string_value(v))
                         : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        int n = snprintf(out + used, len - used, "%s%s=%s", used ? " " : "",
                         key, text ? text : "?");

        free(text);
        if (n < 0 || (size_t)n >= len - used) {
            snprintf(out + len - 4, 4, "...");
            return;
        }
        used += (size_t)n;
    }
}

static void audit_row(struct cli_table *t, const json_t *e)
{
    const json_t *actor = json_object_get(e, "actor");
    char target[128], details[72];

    snprintf(target, sizeof(target), "%s %s", cli_str(e, "targetType"),
             cli_str(e, "targetId"));
    details_text(json_object_get(e, "details"), details, sizeof(details));
    cli_table_add(t, (const char *[]){cli_str(e, "createdAt"),
                                      cli_str(actor, "email"),
                                      cli_str(e, "action"), target, details});
}

int cli_audit(struct cli *cli, const struct cli_args *a)
{
    static const char *const head[] = {"TIME",   "ACTOR",   "ACTION",
                                       "TARGET", "DETAILS", NULL};
    char *path = cli_paged_path("/api/admin/audit", a);
    struct cli_resp r;
    struct cli_table *t;
    json_t *e;
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
    json_array_foreach(json_object_get(r.json, "entries"), i, e)
        audit_row(t, e);
    cli_table_print(t, stdout);
    cli_table_free(t);
out:
    cli_resp_release(&r);
    return CLI_OK;
}

int cli_tokens_create(struct cli *cli, const struct cli_args *a)
{
    struct cli_resp r;
    json_t *body;
    int rc;

    body = json_pack("{s:s}", "name", a->pos[0]);
    if (!body)
        return cli_usage_error("NAME must be UTF-8");
    rc = cli_call(cli, "POST", "/api/admin/tokens", body, &r);
    json_decref(body);
    if (rc)
        return rc;
    if (cli->json)
        cli_print_raw(&r);
    else {
        printf("created API token %s\n",
               cli_str(json_object_get(r.json, "apiToken"), "id"));
        printf("token: %s\n", cli_str(r.json, "token"));
        printf("This is the only time it is shown; keep it in MC_TOKEN or "
               "~/.config/mcctl/config.\n");
    }
    cli_resp_release(&r);
    return CLI_OK;
}
