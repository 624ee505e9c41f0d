/* mcctl releases list|create|show|archive. A release is named by its
 * version everywhere; the API takes it in place of the id. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lib/timeutil.h"
#include "lib/xalloc.h"

/* The API refuses longer notes; reading one byte more tells us so. */
#define CLI_NOTES_MAX (64 * 1024)

static const char *release_state(const json_t *rel)
{
    if (json_is_true(json_object_get(rel, "isArchived")))
        return "archived";
    if (json_is_true(json_object_get(rel, "isLatest")))
        return "latest";
    return "-";
}

static void release_row(struct cli_table *t, const json_t *rel, int64_t now)
{
    char deploys[32], created[32];
    const json_t *by = json_object_get(rel, "createdBy");

    cli_time_relative(json_string_value(json_object_get(rel, "createdAt")), now,
                      created, sizeof(created));
    cli_table_add(t, (const char *[]){
                         cli_str(rel, "version"), cli_str(rel, "channel"),
                         release_state(rel), cli_str(rel, "imageTag"),
                         cli_text(rel, "deployCount", deploys, sizeof(deploys)),
                         created, cli_str(by, "email")});
}

int cli_releases_list(struct cli *cli, const struct cli_args *a)
{
    static const char *const head[] = {"VERSION", "CHANNEL", "STATE", "IMAGE",
                                       "DEPLOYS", "CREATED", "BY",    NULL};
    const char *channel = cli_opt(a, "channel");
    char *base, *path;
    struct cli_resp r;
    struct cli_table *t;
    size_t i;
    json_t *rel;
    int rc;

    if (channel && strcasecmp(channel, "STABLE") && strcasecmp(channel, "BETA"))
        return cli_usage_error("invalid --channel \"%s\": expected STABLE "
                               "or BETA",
                               channel);
    base = xasprintf(
        "/api/admin/releases?includeArchived=%s%s%s",
        cli_opt(a, "all") ? "true" : "false", channel ? "&channel=" : "",
        channel
            ? (toupper((unsigned char)channel[0]) == 'S' ? "STABLE" : "BETA")
            : "");
    path = cli_paged_path(base, a);
    free(base);
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
    json_array_foreach(json_object_get(r.json, "releases"), i, rel)
        release_row(t, rel, time_now_ms());
    cli_table_print(t, stdout);
    cli_table_free(t);
out:
    cli_resp_release(&r);
    return CLI_OK;
}

/* Reads the notes from path ("-": standard input) into a new string. */
static char *read_notes(const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    char *buf;
    size_t n;

    if (!f) {
        fprintf(stderr, "mcctl: cannot read notes file \"%s\": %s\n", path,
                strerror(errno));
        return NULL;
    }
    buf = xmalloc(CLI_NOTES_MAX + 2);
    n = fread(buf, 1, CLI_NOTES_MAX + 1, f);
    if (f != stdin)
        fclose(f);
    buf[n] = '\0';
    if (n > CLI_NOTES_MAX) {
        fprintf(stderr, "mcctl: notes file \"%s\" is over %d bytes\n", path,
                CLI_NOTES_MAX);
        free(buf);
        return NULL;
    }
    return buf;
}

static char *upper(const char *s)
{
    char *out = xstrdup(s);

    for (char *p = out; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    return out;
}

/* Adds the optional fields of releases create to body; CLI_USAGE or
 * CLI_FAILED when one is wrong. */
static int create_optional(json_t *body, const struct cli_args *a)
{
    const char *notes = cli_opt(a, "notes");
    const char *file = cli_opt(a, "notes-file");
    const char *schema = cli_opt(a, "min-schema");
    long long n;

    if (notes && file)
        return cli_usage_error("give --notes or --notes-file, not both");
    if (cli_opt(a, "channel")) {
        char *channel = upper(cli_opt(a, "channel"));

        json_object_set_new(body, "channel", json_string(channel));
        free(channel);
    }
    if (cli_opt(a, "image-digest"))
        json_object_set_new(body, "imageDigest",
                            json_string(cli_opt(a, "image-digest")));
    if (cli_opt(a, "rollback"))
        json_object_set_new(body, "rollbackVersion",
                            json_string(cli_opt(a, "rollback")));
    if (schema && cli_parse_int("--min-schema", schema, 0, 2147483647, &n))
        return CLI_USAGE;
    if (schema)
        json_object_set_new(body, "minSchemaVersion", json_integer(n));
    if (notes)
        json_object_set_new(body, "releaseNotes", json_string(notes));
    if (file) {
        char *text = read_notes(file);

        if (!text)
            return CLI_FAILED;
        json_object_set_new(body, "releaseNotes", json_string(text));
        free(text);
    }
    return 0;
}

int cli_releases_create(struct cli *cli, const struct cli_args *a)
{
    const char *tag = cli_opt(a, "image-tag");
    json_t *body, *rel;
    struct cli_resp r;
    int rc;

    if (!tag)
        return cli_usage_error("releases create needs --image-tag TAG");
    body = json_pack("{s:s?, s:s?}", "version", a->pos[0], "imageTag", tag);
    if (!body)
        return cli_usage_error("version and --image-tag must be UTF-8");
    rc = create_optional(body, a);
    if (!rc)
        rc = cli_call(cli, "POST", "/api/admin/releases", body, &r);
    json_decref(body);
    if (rc)
        return rc;
    rel = json_object_get(r.json, "release");
    if (cli->json)
        cli_print_raw(&r);
    else {
        printf("created release %s (%s, image %s%s)\n", cli_str(rel, "version"),
               cli_str(rel, "channel"), cli_str(rel, "imageTag"),
               json_is_true(json_object_get(rel, "isLatest")) ? ", latest"
                                                              : "");
    }
    cli_resp_release(&r);
    return CLI_OK;
}

static void show_field(const char *name, const char *value)
{
    printf("%-13s ", name);
    cli_put_safe(stdout, value, false);
    fputc('\n', stdout);
}

static void show_release(const json_t *rel, int64_t now)
{
    char buf[256], ago[32], num[32];
    const json_t *by = json_object_get(rel, "createdBy");
    const char *digest = cli_str(rel, "imageDigest");
    const char *notes;

    show_field("Version:", cli_str(rel, "version"));
    show_field("Channel:", cli_str(rel, "channel"));
    show_field("State:", release_state(rel));
    snprintf(buf, sizeof(buf), "%s%s%s", cli_str(rel, "imageTag"),
             strcmp(digest, "-") ? " @" : "",
             strcmp(digest, "-") ? digest : "");
    show_field("Image:", buf);
    show_field("Min schema:",
               cli_text(rel, "minSchemaVersion", num, sizeof(num)));
    show_field("Rollback to:", cli_str(rel, "rollbackVersion"));
    show_field("Deploys:", cli_text(rel, "deployCount", num, sizeof(num)));
    cli_time_relative(cli_str(rel, "createdAt"), now, ago, sizeof(ago));
    snprintf(buf, sizeof(buf), "%s (%s) by %s <%s>", cli_str(rel, "createdAt"),
             ago, cli_str(by, "name"), cli_str(by, "email"));
    show_field("Created:", buf);
    if (json_is_true(json_object_get(rel, "isArchived")))
        show_field("Archived:", cli_str(rel, "archivedAt"));
    show_field("Id:", cli_str(rel, "id"));
    notes = json_string_value(json_object_get(rel, "releaseNotes"));
    if (!notes || !*notes) {
        show_field("Notes:", "-");
        return;
    }
    printf("Notes:\n");
    cli_put_safe(stdout, notes, true);
    printf("\n");
}

/* The prefix's "Name" member when the answer has it, else its "Id". */
static const char *name_or_id(const json_t *obj, const char *prefix)
{
    char key[64];
    const char *name;

    snprintf(key, sizeof(key), "%sName", prefix);
    name = json_string_value(json_object_get(obj, key));
    if (name)
        return name;
    snprintf(key, sizeof(key), "%sId", prefix);
    return cli_str(obj, key);
}

static void show_deployments(const json_t *list, int64_t now)
{
    static const char *const head[] = {"COMMAND", "LOCATION", "NODE", "STATUS",
                                       "UPDATED", "MESSAGE",  NULL};
    struct cli_table *t;
    size_t i;
    json_t *c;

    if (json_array_size(list) == 0) {
        printf("\nNo deployments.\n");
        return;
    }
    printf("\nDeployments (newest first):\n");
    t = cli_table_new(head);
    json_array_foreach(list, i, c)
    {
        char ago[32];

        cli_time_relative(cli_str(c, "updatedAt"), now, ago, sizeof(ago));
        cli_table_add(t, (const char *[]){
                             cli_str(c, "id"), name_or_id(c, "location"),
                             name_or_id(c, "serverNode"), cli_str(c, "status"),
                             ago, cli_str(c, "message")});
    }
    cli_table_print(t, stdout);
    cli_table_free(t);
}

int cli_releases_show(struct cli *cli, const struct cli_args *a)
{
    char *ref = cli_escape(a->pos[0]);
    char *path = xasprintf("/api/admin/releases/%s", ref);
    struct cli_resp r;
    int rc;

    rc = cli_call(cli, "GET", path, NULL, &r);
    free(path);
    free(ref);
    if (rc)
        return rc;
    if (cli->json)
        cli_print_raw(&r);
    else {
        show_release(json_object_get(r.json, "release"), time_now_ms());
        show_deployments(json_object_get(r.json, "deployments"), time_now_ms());
    }
    cli_resp_release(&r);
    return CLI_OK;
}

int cli_releases_archive(struct cli *cli, const struct cli_args *a)
{
    char *ref = cli_escape(a->pos[0]);
    char *path = xasprintf("/api/admin/releases/%s", ref);
    struct cli_resp r;
    int rc;

    rc = cli_call(cli, "DELETE", path, NULL, &r);
    free(path);
    free(ref);
    if (rc)
        return rc;
    if (cli->json)
        cli_print_raw(&r);
    else
        printf("archived release %s\n",
               cli_str(json_object_get(r.json, "release"), "version"));
    cli_resp_release(&r);
    return CLI_OK;
}
