#include "lib/config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/xalloc.h"

#define CONFIG_FILE_MAX (64 * 1024)

static struct config_opt *find(struct config *c, const char *name, size_t len)
{
    for (struct config_opt *o = c->opts; o->name; o++)
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
            return o;
    return NULL;
}

static char *trim(char *s)
{
    char *end;

    s += strspn(s, " \t");
    end = s + strlen(s);
    while (end > s && strchr(" \t\r", end[-1]))
        *--end = '\0';
    return s;
}

static int file_line(struct config *c, char *line, int lineno, const char *path,
                     struct err *e)
{
    char *eq, *key, *val;
    struct config_opt *o;

    line = trim(line);
    if (!*line || *line == '#')
        return 0;
    eq = strchr(line, '=');
    if (!eq)
        return err_set(e, ERR_INVALID, "CONFIG", "%s:%d: expected name = value",
                       path, lineno);
    *eq = '\0';
    key = trim(line);
    val = trim(eq + 1);
    o = find(c, key, strlen(key));
    if (!o || !strcmp(key, "config"))
        return err_set(e, ERR_INVALID, "CONFIG",
                       "%s:%d: unknown setting \"%s\"", path, lineno, key);
    if (!o->value)
        o->value = val;
    return 0;
}

static int read_file(struct config *c, const char *path, bool must,
                     struct err *e)
{
    FILE *f = fopen(path, "r");
    size_t n;
    char *line, *next;
    int lineno = 1;

    if (!f)
        return must ? err_set(e, ERR_INVALID, "CONFIG",
                              "cannot read config file \"%s\": %s", path,
                              strerror(errno))
                    : 0;
    c->file_text = xmalloc(CONFIG_FILE_MAX + 1);
    n = fread(c->file_text, 1, CONFIG_FILE_MAX, f);
    fclose(f);
    c->file_text[n] = '\0';
    for (line = c->file_text; line && *line; line = next, lineno++) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (file_line(c, line, lineno, path, e))
            return e->status;
    }
    return 0;
}

static int take_flag(struct config *c, int argc, char **argv, int *i,
                     const char **file, struct err *e)
{
    const char *name = argv[*i] + 2;
    const char *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    struct config_opt *o = find(c, name, len);
    const char *val;

    if (len == 4 && strncmp(name, "help", 4) == 0) {
        c->help = true;
        return 0;
    }
    if (!o && !(len == 6 && strncmp(name, "config", 6) == 0))
        return err_set(e, ERR_INVALID, "USAGE", "unknown option \"--%.*s\"",
                       (int)len, name);
    if (o && !o->arg)
        val = eq ? eq + 1 : "1";
    else if (eq)
        val = eq + 1;
    else if (*i + 1 < argc)
        val = argv[++*i];
    else
        return err_set(e, ERR_INVALID, "USAGE",
                       "option \"--%.*s\" needs a "
                       "value",
                       (int)len, name);
    if (o)
        o->value = val;
    else
        *file = val;
    return 0;
}

int config_parse(struct config *c, int argc, char **argv, struct err *e)
{
    const char *file = NULL;
    int i;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        if (strcmp(argv[i], "-h") == 0) {
            c->help = true;
            continue;
        }
        if (strncmp(argv[i], "--", 2) != 0)
            break;
        if (take_flag(c, argc, argv, &i, &file, e))
            return e->status;
    }
    c->argc = argc - i;
    c->argv = argv + i;
    for (struct config_opt *o = c->opts; o->name; o++)
        if (!o->value && o->env && getenv(o->env) && *getenv(o->env))
            o->value = getenv(o->env);
    if (!file && c->file_env && getenv(c->file_env))
        file = getenv(c->file_env);
    if (file ? read_file(c, file, true, e)
             : (c->file_default && read_file(c, c->file_default, false, e)))
        return e->status;
    for (struct config_opt *o = c->opts; o->name; o++)
        if (!o->value)
            o->value = o->def;
    return 0;
}

const char *config_get(const struct config *c, const char *name)
{
    for (struct config_opt *o = c->opts; o->name; o++)
        if (strcmp(o->name, name) == 0)
            return o->value;
    return NULL;
}

bool config_true(const struct config *c, const char *name)
{
    const char *v = config_get(c, name);

    return v && strcmp(v, "0") && strcmp(v, "false") && strcmp(v, "no");
}

void config_usage(const struct config *c, FILE *out)
{
    for (const struct config_opt *o = c->opts; o->name; o++) {
        char flag[64];

        snprintf(flag, sizeof(flag), "--%s%s%s", o->name, o->arg ? " " : "",
                 o->arg ? o->arg : "");
        fprintf(out, "  %-28s %s", flag, o->help);
        if (o->env)
            fprintf(out, " [%s]", o->env);
        if (o->def)
            fprintf(out, " (default %s)", o->def);
        fputc('\n', out);
    }
    fprintf(out, "  %-28s %s", "--config PATH", "read settings from a file");
    if (c->file_env)
        fprintf(out, " [%s]", c->file_env);
    if (c->file_default)
        fprintf(out, " (default %s, if present)", c->file_default);
    fputc('\n', out);
}

int config_start(struct config *c, const char *prog, int argc, char **argv,
                 void (*usage)(struct config *c, FILE *out))
{
    struct err e;
    int level;

    err_clear(&e);
    if (config_parse(c, argc, argv, &e)) {
        fprintf(stderr, "%s: %s\n", prog, e.message);
        return 2;
    }
    if (c->help) {
        usage(c, stdout);
        return 0;
    }
    if (c->argc > 0) {
        fprintf(stderr, "%s: unexpected argument \"%s\"\n", prog, c->argv[0]);
        return 2;
    }
    level = log_level_parse(config_get(c, "log-level"));
    if (level < 0) {
        fprintf(stderr, "%s: invalid --log-level \"%s\"\n", prog,
                config_get(c, "log-level"));
        return 2;
    }
    log_set_level((enum log_level)level);
    return -1;
}

void config_release(struct config *c)
{
    free(c->file_text);
    c->file_text = NULL;
}
