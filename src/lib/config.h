/*
 * Program settings from, in order of precedence, command-line flags
 * (--name VALUE or --name=VALUE), environment variables, a config file of
 * "name = value" lines (# starts a comment), and defaults. One table of
 * options per program drives parsing and --help alike.
 */
#ifndef MC_CONFIG_H
#define MC_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

#include "lib/err.h"

struct config_opt {
    const char *name; /* flag and config-file key, without "--" */
    const char *env;  /* environment variable, or NULL */
    const char *def;  /* default, or NULL */
    const char *arg;  /* placeholder in --help; NULL for a switch */
    const char *help;
    const char *value; /* the result; points into argv, environ or a copy */
};

struct config {
    struct config_opt *opts; /* ended by an entry with a NULL name */
    const char *file_env;    /* variable naming the config file */
    const char *file_default;
    int argc; /* positional arguments left after the options */
    char **argv;
    bool help;
    char *file_text; /* owned copies of the file's values */
};

/* Parses argv (from argv[1]) up to the first positional argument or "--";
 * --config PATH names the file. 400 with a one-line message on a bad flag or
 * an unreadable file given explicitly. */
int config_parse(struct config *c, int argc, char **argv, struct err *e);

/* The value of option name, or NULL when unset. */
const char *config_get(const struct config *c, const char *name);

/* A switch is true when set to anything but "0", "false" or "no". */
bool config_true(const struct config *c, const char *name);

/* Prints the options table for --help. */
void config_usage(const struct config *c, FILE *out);

/* The start of a program without positional arguments: parses argv,
 * prints usage() on --help, refuses stray arguments, and applies the
 * "log-level" option. Answers -1 to go on, or the exit status (0 after
 * --help, 2 with a one-line message on stderr naming prog). */
int config_start(struct config *c, const char *prog, int argc, char **argv,
                 void (*usage)(struct config *c, FILE *out));

void config_release(struct config *c);

#endif
