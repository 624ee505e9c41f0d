/*
 * mcctl, the admin command line: shared types of its modules. main.c holds
 * the one table of commands (name, usage, options, handler) that drives both
 * dispatch and --help; each cmd_*.c holds the handlers of one resource.
 */
#ifndef MC_CLI_H
#define MC_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/* Exit codes, as docs/mcctl.md lists them. */
enum cli_exit {
    CLI_OK = 0,
    CLI_FAILED = 1,
    CLI_USAGE = 2,
    CLI_PARTIAL = 3,
};

#define CLI_MAX_OPTS 12
#define CLI_MAX_ARGS 4

struct cli_opt {
    const char *name; /* without "--" */
    const char *arg;  /* placeholder in --help; NULL for a switch */
    const char *help;
    bool repeat; /* may be given more than once */
};

/* What one command line asked for, after parsing. */
struct cli_args {
    const char *pos[CLI_MAX_ARGS];
    int npos;
    const struct cli_opt *opts;
    const char **vals[CLI_MAX_OPTS]; /* every value given, in order */
    size_t nvals[CLI_MAX_OPTS];
};

struct cli_http;

/* The session: where to talk to, and how to print. */
struct cli {
    const char *url; /* without a trailing slash */
    bool json;       /* --json: print the API's answers untouched */
    bool tty;        /* standard output is a terminal */
    struct cli_http *http;
};

struct cli_cmd {
    const char *name;  /* "releases create" */
    const char *usage; /* what follows the name in the synopsis */
    const char *summary;
    int min_args, max_args; /* positional arguments */
    const struct cli_opt *opts;
    int (*run)(struct cli *cli, const struct cli_args *a);
};

/* --- options (main.c) --------------------------------------------------- */

/* The last value of option name, or NULL when not given. */
const char *cli_opt(const struct cli_args *a, const char *name);

/* Every value of a repeatable option; *n their number. */
const char *const *cli_opt_all(const struct cli_args *a, const char *name,
                               size_t *n);

/* Prints "mcctl: <message>" on stderr and returns CLI_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parses a decimal integer in min..max for option what into *out; prints a
 * usage error and returns CLI_USAGE when s is anything else. */
int cli_parse_int(const char *what, const char *s, long long min, long long max,
                  long long *out);

/* --- HTTP (http.c) ------------------------------------------------------ */

struct cli_resp {
    long status;
    char *body; /* NUL-terminated; owned */
    size_t len;
    json_t *json; /* the parsed body, or NULL when it is not JSON */
};

/* A client that sends token as its bearer credential. The token is copied;
 * it is sent in a header only, never printed. NULL when libcurl fails. */
struct cli_http *cli_http_new(const char *token);
void cli_http_free(struct cli_http *h);

/* Sends method on path (already escaped) with body as JSON (NULL for none).
 * Returns 0 when the server answered, whatever the status; otherwise prints
 * "mcctl: cannot reach URL: reason" and returns CLI_FAILED. */
int cli_http_send(struct cli *cli, const char *method, const char *path,
                  json_t *body, struct cli_resp *r);

/* cli_http_send, then: a 2xx answer returns 0; any other prints the API's
 * error as "mcctl: CODE: message" and returns CLI_FAILED. */
int cli_call(struct cli *cli, const char *method, const char *path,
             json_t *body, struct cli_resp *r);

/* Prints the error an answer carries, as cli_call does. */
void cli_print_api_error(const struct cli_resp *r);

void cli_resp_release(struct cli_resp *r);

/* A path segment with every reserved character escaped; caller frees. */
char *cli_escape(const char *segment);

/* --- output (output.c) -------------------------------------------------- */

/* Prints the body of an answer as it came, with a final newline. */
void cli_print_raw(const struct cli_resp *r);

/* A string member of obj, or "-" when absent or null. */
const char *cli_str(const json_t *obj, const char *key);

/* A member of obj rendered as text (numbers, booleans, strings, "-" for
 * null); the result is valid until the next call with the same buf. */
const char *cli_text(const json_t *obj, const char *key, char *buf, size_t len);

/* "5s ago", "3h ago", "12d ago"; the date for what is older than 30 days;
 * "-" for NULL or what is not an RFC 3339 time. */
void cli_time_relative(const char *rfc3339, int64_t now_ms, char *out,
                       size_t len);

/* Parses an RFC 3339 UTC time ("...Z"); -1 when it is not one. */
int64_t cli_time_parse(const char *rfc3339);

/* A table printed with aligned columns once every row is in. Cells are
 * copied; control characters in them print as '?', so what the server
 * stores cannot move the cursor of the terminal it is shown on. */
struct cli_table;
struct cli_table *cli_table_new(const char *const *headers);
void cli_table_add(struct cli_table *t, const char *const *cells);
void cli_table_print(struct cli_table *t, FILE *out);
void cli_table_free(struct cli_table *t);

/* Writes s with control characters (but newlines when keep_nl) as '?'. */
void cli_put_safe(FILE *out, const char *s, bool keep_nl);

/* --- command handlers (cmd_*.c) ----------------------------------------- */

int cli_releases_list(struct cli *cli, const struct cli_args *a);
int cli_releases_create(struct cli *cli, const struct cli_args *a);
int cli_releases_show(struct cli *cli, const struct cli_args *a);
int cli_releases_archive(struct cli *cli, const struct cli_args *a);
int cli_releases_deploy(struct cli *cli, const struct cli_args *a);
int cli_locations_list(struct cli *cli, const struct cli_args *a);
int cli_locations_create(struct cli *cli, const struct cli_args *a);
int cli_nodes_register(struct cli *cli, const struct cli_args *a);
int cli_nodes_decommission(struct cli *cli, const struct cli_args *a);
int cli_commands_show(struct cli *cli, const struct cli_args *a);
int cli_commands_cancel(struct cli *cli, const struct cli_args *a);
int cli_audit(struct cli *cli, const struct cli_args *a);
int cli_tokens_create(struct cli *cli, const struct cli_args *a);

/* Adds ?limit=N&before=ID from the command's --limit/--before to path;
 * returns a new string, or NULL after printing a usage error. */
char *cli_paged_path(const char *path, const struct cli_args *a);

#endif
