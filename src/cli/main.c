/* mcctl: the admin command line. The table of commands below drives the
 * parsing, the dispatch and every --help, so they never disagree. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lib/config.h"
#include "lib/xalloc.h"

static const struct cli_opt no_opts[] = {
    {NULL, NULL, NULL, false},
};

static const struct cli_opt paged_opts[] = {
    {"limit", "N", "show at most N entries (1-1000, default 100)", false},
    {"before", "ID", "show the entries older than ID (paging)", false},
    {NULL, NULL, NULL, false},
};

static const struct cli_opt releases_list_opts[] = {
    {"channel", "C", "only the channel C (STABLE or BETA)", false},
    {"all", NULL, "archived releases too", false},
    {"limit", "N", "show at most N releases (1-1000, default 100)", false},
    {"before", "ID", "show the releases older than ID (paging)", false},
    {NULL, NULL, NULL, false},
};

static const struct cli_opt releases_create_opts[] = {
    {"image-tag", "TAG", "image tag or reference to run (required)", false},
    {"image-digest", "DIGEST", "pin the image to sha256:...", false},
    {"channel", "C", "STABLE (default) or BETA", false},
    {"notes", "TEXT", "release notes", false},
    {"notes-file", "PATH", "read the release notes from PATH (- for stdin)",
     false},
    {"min-schema", "N", "refuse nodes whose schema version is below N", false},
    {"rollback", "VERSION", "suggested version to roll back to", false},
    {NULL, NULL, NULL, false},
};

static const struct cli_opt releases_deploy_opts[] = {
    {"location", "ID", "deploy to location ID (repeatable, or ID,ID,...)",
     true},
    {"all-locations", NULL, "deploy to every location you can see", false},
    {"wait", NULL, "follow the commands until they finish", false},
    {"timeout", "DURATION",
     "give up waiting after DURATION (90, 90s, 15m, 2h; default 30m)", false},
    {NULL, NULL, NULL, false},
};

static const struct cli_opt locations_create_opts[] = {
    {"timezone", "TZ", "IANA time zone, e.g. Europe/Berlin (required)", false},
    {NULL, NULL, NULL, false},
};

static const struct cli_opt nodes_register_opts[] = {
    {"name", "NAME", "the node's name (required)", false},
    {NULL, NULL, NULL, false},
};

static const struct cli_cmd commands[] = {
    {"releases list", "[--channel C] [--all] [--limit N] [--before ID]",
     "list releases, newest first", 0, 0, releases_list_opts,
     cli_releases_list},
    {"releases create",
     "VERSION --image-tag TAG [--channel C] [--notes TEXT] [--min-schema N] "
     "[--rollback VERSION]",
     "publish a release", 1, 1, releases_create_opts, cli_releases_create},
    {"releases show", "VERSION", "a release and its latest deployments", 1, 1,
     no_opts, cli_releases_show},
    {"releases deploy",
     "VERSION (--location ID... | --all-locations) [--wait [--timeout D]]",
     "deploy a release to locations", 1, 1, releases_deploy_opts,
     cli_releases_deploy},
    {"releases archive", "VERSION", "archive a release (no new deploys)", 1, 1,
     no_opts, cli_releases_archive},
    {"locations list", "[--limit N] [--before ID]",
     "locations with their node and versions", 0, 0, paged_opts,
     cli_locations_list},
    {"locations create", "NAME --timezone TZ", "add a location", 1, 1,
     locations_create_opts, cli_locations_create},
    {"nodes register", "LOCATION_ID --name NAME",
     "register a location's server node; shows its agent token once", 1, 1,
     nodes_register_opts, cli_nodes_register},
    {"nodes decommission", "NODE_ID", "retire a node: its token stops working",
     1, 1, no_opts, cli_nodes_decommission},
    {"commands show", "COMMAND_ID", "a fleet command and its state", 1, 1,
     no_opts, cli_commands_show},
    {"commands cancel", "COMMAND_ID",
     "cancel a command the agent has not acknowledged", 1, 1, no_opts,
     cli_commands_cancel},
    {"audit", "[--limit N] [--before ID]", "the audit log, newest first", 0, 0,
     paged_opts, cli_audit},
    {"tokens create", "NAME", "make an API token for yourself; shown once", 1,
     1, no_opts, cli_tokens_create},
    {NULL, NULL, NULL, 0, 0, NULL, NULL},
};

/* Settings every command takes, through lib/config.h's precedence: flag,
 * then environment, then the config file. */
static struct config_opt settings[] = {
    {"url", "MC_URL", NULL, "URL", "the Mission Control server", NULL},
    {"token", "MC_TOKEN", NULL, "TOKEN",
     "API token (other users can see flags: prefer the variable or file)",
     NULL},
    {"json", NULL, NULL, NULL, "print the API's JSON answers untouched", NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

/* What main collects before it runs a command. */
struct cli_main {
    const struct cli_cmd *cmd;
    const char *group; /* "releases" for "mcctl releases --help" */
    bool help;
    char **gargv; /* the settings given as flags, for config_parse */
    int gargc;
    struct cli_args args;
};

int cli_usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs("mcctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLI_USAGE;
}

static int opt_index(const struct cli_opt *opts, const char *name)
{
    for (int i = 0; opts && opts[i].name; i++)
        if (strcmp(opts[i].name, name) == 0)
            return i;
    return -1;
}

const char *cli_opt(const struct cli_args *a, const char *name)
{
    int i = opt_index(a->opts, name);

    if (i < 0 || a->nvals[i] == 0)
        return NULL;
    return a->vals[i][a->nvals[i] - 1];
}

const char *const *cli_opt_all(const struct cli_args *a, const char *name,
                               size_t *n)
{
    int i = opt_index(a->opts, name);

    *n = i < 0 ? 0 : a->nvals[i];
    return i < 0 ? NULL : a->vals[i];
}

int cli_parse_int(const char *what, const char *s, long long min, long long max,
                  long long *out)
{
    char *end;
    long long v;

    v = strtoll(s, &end, 10);
    if (!*s || *end || v < min || v > max)
        return cli_usage_error("invalid %s \"%s\": expected an integer "
                               "from %lld to %lld",
                               what, s, min, max);
    *out = v;
    return 0;
}

char *cli_paged_path(const char *path, const struct cli_args *a)
{
    const char *limit = cli_opt(a, "limit");
    const char *before = cli_opt(a, "before");
    const char *sep = strchr(path, '?') ? "&" : "?";
    char *esc, *out;
    long long n = 0;

    if (limit && cli_parse_int("--limit", limit, 1, 1000, &n))
        return NULL;
    if (!before)
        return limit ? xasprintf("%s%slimit=%lld", path, sep, n)
                     : xstrdup(path);
    esc = cli_escape(before);
    out = limit ? xasprintf("%s%slimit=%lld&before=%s", path, sep, n, esc)
                : xasprintf("%s%sbefore=%s", path, sep, esc);
    free(esc);
    return out;
}

/* --- help ------------------------------------------------------------- */

static void print_commands(FILE *out, const char *group)
{
    for (const struct cli_cmd *c = commands; c->name; c++) {
        size_t glen = group ? strlen(group) : 0;

        if (group && (strncmp(c->name, group, glen) || c->name[glen] != ' '))
            continue;
        fprintf(out, "  %-20s %s\n", c->name, c->summary);
    }
}

static void usage_all(FILE *out)
{
    struct config c = {.opts = settings, .file_env = "MCCTL_CONFIG"};

    fprintf(out, "Usage: mcctl [OPTION]... COMMAND [ARG]... [OPTION]...\n"
                 "The admin command line of Mission Control.\n\nCommands:\n");
    print_commands(out, NULL);
    fprintf(out, "\nOptions of every command (flag, then environment, then "
                 "config file):\n");
    config_usage(&c, out);
    fprintf(out, "  %-28s this help; after a command, its help\n", "--help");
    fprintf(out, "\nConfig file: --config, MCCTL_CONFIG, or "
                 "~/.config/mcctl/config, with lines\n\"url = ...\" and "
                 "\"token = ...\".\n"
                 "Exit codes: 0 all succeeded, 1 failed, 2 usage error, "
                 "3 partly succeeded.\n"
                 "More: mcctl COMMAND --help, and docs/mcctl.md.\n");
}

static void usage_cmd(FILE *out, const struct cli_cmd *cmd)
{
    fprintf(out, "Usage: mcctl %s %s\n%s.\n", cmd->name, cmd->usage,
            cmd->summary);
    if (cmd->opts[0].name)
        fprintf(out, "\nOptions:\n");
    for (const struct cli_opt *o = cmd->opts; o->name; o++) {
        char flag[64];

        snprintf(flag, sizeof(flag), "--%s%s%s", o->name, o->arg ? " " : "",
                 o->arg ? o->arg : "");
        fprintf(out, "  %-28s %s\n", flag, o->help);
    }
    fprintf(out, "\nAnd --url URL, --token TOKEN, --json, --config PATH "
                 "(see mcctl --help).\n");
}

/* --- parsing ------------------------------------------------------------ */

static const struct cli_cmd *find_cmd(const char *name)
{
    for (const struct cli_cmd *c = commands; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

static bool is_group(const char *word)
{
    size_t len = strlen(word);

    for (const struct cli_cmd *c = commands; c->name; c++)
        if (strncmp(c->name, word, len) == 0 && c->name[len] == ' ')
            return true;
    return false;
}

/* Hides a secret given as an argument from ps(1) and /proc/PID/cmdline,
 * once it has been copied: other users of the machine can read those. */
static void scrub(char *s)
{
    memset(s, 'x', strlen(s));
}

/* Takes a setting (--url, --token, --json, --config) at argv[*i], if it is
 * one: 1 when taken, 0 when not a setting, CLI_USAGE on a missing value. */
static int take_setting(struct cli_main *m, int argc, char **argv, int *i)
{
    char *arg = argv[*i] + 2;
    char *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    bool is_switch = len == 4 && strncmp(arg, "json", 4) == 0;
    bool known = is_switch || (len == 3 && !strncmp(arg, "url", 3)) ||
                 (len == 5 && !strncmp(arg, "token", 5)) ||
                 (len == 6 && !strncmp(arg, "config", 6));
    char *val;

    if (!known)
        return 0;
    if (is_switch)
        val = eq ? eq + 1 : "1";
    else if (eq)
        val = eq + 1;
    else if (*i + 1 < argc)
        val = argv[++*i];
    else
        return cli_usage_error("option \"--%.*s\" needs a value", (int)len,
                               arg);
    m->gargv = xrealloc(m->gargv, (size_t)(m->gargc + 1) * sizeof(char *));
    m->gargv[m->gargc++] = xasprintf("--%.*s=%s", (int)len, arg, val);
    if (len == 5 && strncmp(arg, "token", 5) == 0)
        scrub(val);
    return 1;
}

static int add_value(struct cli_main *m, const char *name, size_t len,
                     const char *val)
{
    struct cli_args *a = &m->args;
    char key[64];
    int i;

    snprintf(key, sizeof(key), "%.*s", (int)len, name);
    i = opt_index(a->opts, key);
    if (i < 0)
        return cli_usage_error("unknown option \"--%s\" for \"%s\" (see "
                               "mcctl %s --help)",
                               key, m->cmd->name, m->cmd->name);
    if (a->nvals[i] && !a->opts[i].repeat)
        return cli_usage_error("option \"--%s\" given twice", key);
    a->vals[i] = xrealloc(a->vals[i], (a->nvals[i] + 1) * sizeof(char *));
    a->vals[i][a->nvals[i]++] = val;
    return 0;
}

static int take_option(struct cli_main *m, int argc, char **argv, int *i)
{
    const char *arg = argv[*i] + 2;
    const char *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    char key[64];
    int k;

    snprintf(key, sizeof(key), "%.*s", (int)len, arg);
    k = opt_index(m->args.opts, key);
    if (k >= 0 && !m->args.opts[k].arg)
        return add_value(m, arg, len, eq ? eq + 1 : "1");
    if (k >= 0 && !eq && *i + 1 >= argc)
        return cli_usage_error("option \"--%s\" needs a value", key);
    if (k >= 0 && !eq)
        return add_value(m, arg, len, argv[++*i]);
    return add_value(m, arg, len, eq ? eq + 1 : "");
}

static int take_positional(struct cli_main *m, char *word)
{
    struct cli_args *a = &m->args;

    if (a->npos >= CLI_MAX_ARGS || a->npos >= m->cmd->max_args)
        return cli_usage_error("unexpected argument \"%s\" (usage: mcctl %s "
                               "%s)",
                               word, m->cmd->name, m->cmd->usage);
    a->pos[a->npos++] = word;
    return 0;
}

/* Parses what follows the command's name: its options and arguments, with
 * the settings allowed anywhere. "--" ends the options. */
static int parse_rest(struct cli_main *m, int argc, char **argv, int i)
{
    bool opts_done = false;
    int rc;

    m->args.opts = m->cmd->opts;
    for (; i < argc; i++) {
        char *arg = argv[i];

        if (opts_done || arg[0] != '-' || arg[1] == '\0')
            rc = take_positional(m, arg);
        else if (strcmp(arg, "--") == 0)
            rc = 0, opts_done = true;
        else if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
            rc = 0, m->help = true;
        else if (arg[1] != '-')
            rc = cli_usage_error("unknown option \"%s\" (see mcctl %s "
                                 "--help)",
                                 arg, m->cmd->name);
        else if ((rc = take_setting(m, argc, argv, &i)) == 1)
            rc = 0;
        else if (rc == 0)
            rc = take_option(m, argc, argv, &i);
        if (rc)
            return rc;
    }
    return 0;
}

/* Finds the command named by the words after the leading settings. */
static int parse_command(struct cli_main *m, int argc, char **argv, int *i)
{
    char name[64];
    const char *word = argv[*i];

    if (!is_group(word)) {
        m->cmd = find_cmd(word);
        if (!m->cmd && strcmp(word, "help") == 0)
            return m->help = true, 0;
        if (!m->cmd)
            return cli_usage_error("unknown command \"%s\" (see mcctl "
                                   "--help)",
                                   word);
        (*i)++;
        return 0;
    }
    m->group = word;
    if (++*i >= argc || argv[*i][0] == '-') {
        if (*i < argc &&
            (!strcmp(argv[*i], "--help") || !strcmp(argv[*i], "-h")))
            return m->help = true, 0;
        fprintf(stderr, "mcctl: \"%s\" needs a command:\n", word);
        print_commands(stderr, word);
        return CLI_USAGE;
    }
    snprintf(name, sizeof(name), "%s %s", word, argv[*i]);
    m->cmd = find_cmd(name);
    if (!m->cmd)
        return cli_usage_error("unknown command \"%s\" (see mcctl %s "
                               "--help)",
                               name, word);
    (*i)++;
    return 0;
}

static int parse(struct cli_main *m, int argc, char **argv)
{
    int i, rc;

    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            m->help = true;
            continue;
        }
        rc = argv[i][1] == '-' ? take_setting(m, argc, argv, &i) : 0;
        if (rc == 0)
            return cli_usage_error("unknown option \"%s\" (see mcctl "
                                   "--help)",
                                   argv[i]);
        if (rc != 1)
            return rc;
    }
    if (i >= argc) {
        if (m->help)
            return 0;
        usage_all(stderr);
        return CLI_USAGE;
    }
    rc = parse_command(m, argc, argv, &i);
    if (rc || !m->cmd)
        return rc;
    return parse_rest(m, argc, argv, i);
}

/* --- settings and running ------------------------------------------------ */

static char *config_path(void)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");

    if (xdg && *xdg)
        return xasprintf("%s/mcctl/config", xdg);
    if (home && *home)
        return xasprintf("%s/.config/mcctl/config", home);
    return NULL;
}

static int check_settings(const char *url, const char *token)
{
    const char *where = "MCCTL_CONFIG or ~/.config/mcctl/config";

    if (!url || !*url)
        return cli_usage_error("no server: use --url, MC_URL or \"url = "
                               "...\" in %s",
                               where);
    if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))
        return cli_usage_error("invalid --url \"%s\": expected http://... or "
                               "https://...",
                               url);
    if (!token || !*token)
        return cli_usage_error("no API token: use MC_TOKEN, --token or "
                               "\"token = ...\" in %s",
                               where);
    return 0;
}

static int load_settings(struct cli_main *m, struct config *c)
{
    char **argv = xcalloc((size_t)m->gargc + 2, sizeof(char *));
    struct err e;
    int rc = 0;

    err_clear(&e);
    argv[0] = "mcctl";
    for (int i = 0; i < m->gargc; i++)
        argv[i + 1] = m->gargv[i];
    if (config_parse(c, m->gargc + 1, argv, &e))
        rc = cli_usage_error("%s", e.message);
    free(argv);
    return rc;
}

static int run(struct cli_main *m, struct config *c)
{
    struct cli cli = {0};
    char *url = NULL;
    const char *token = config_get(c, "token");
    int rc;

    rc = check_settings(config_get(c, "url"), token);
    if (rc)
        return rc;
    url = xstrdup(config_get(c, "url"));
    while (strlen(url) > 8 && url[strlen(url) - 1] == '/')
        url[strlen(url) - 1] = '\0';
    cli.url = url;
    cli.json = config_true(c, "json");
    cli.tty = isatty(STDOUT_FILENO);
    cli.http = cli_http_new(token);
    if (!cli.http) {
        fprintf(stderr, "mcctl: cannot start libcurl\n");
        free(url);
        return CLI_FAILED;
    }
    rc = m->cmd->run(&cli, &m->args);
    cli_http_free(cli.http);
    free(url);
    return rc;
}

static int help(const struct cli_main *m)
{
    if (m->cmd)
        usage_cmd(stdout, m->cmd);
    else if (m->group) {
        fprintf(stdout, "Usage: mcctl %s COMMAND ...\n\nCommands:\n", m->group);
        print_commands(stdout, m->group);
    } else
        usage_all(stdout);
    return CLI_OK;
}

static void cli_main_release(struct cli_main *m)
{
    for (int i = 0; i < m->gargc; i++) {
        scrub(m->gargv[i]);
        free(m->gargv[i]);
    }
    free(m->gargv);
    for (int i = 0; i < CLI_MAX_OPTS; i++)
        free(m->args.vals[i]);
}

int main(int argc, char **argv)
{
    struct cli_main m = {0};
    char *path = config_path();
    struct config c = {
        .opts = settings, .file_env = "MCCTL_CONFIG", .file_default = path};
    int rc;

    rc = parse(&m, argc, argv);
    if (rc)
        goto out;
    if (m.help) {
        rc = help(&m);
        goto out;
    }
    if (m.args.npos < m.cmd->min_args) {
        rc = cli_usage_error("missing argument (usage: mcctl %s %s)",
                             m.cmd->name, m.cmd->usage);
        goto out;
    }
    rc = load_settings(&m, &c);
    if (!rc)
        rc = run(&m, &c);
out:
    config_release(&c);
    cli_main_release(&m);
    free(path);
    return rc;
}
