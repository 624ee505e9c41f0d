/* The tokens file: agents registered before, one a line, either a bare
 * agent token or a JSON object as --register-out writes it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lib/xalloc.h"
#include "sim/sim.h"

/* 15,000 JSON lines are about 4 MB. */
#define TOKENS_FILE_MAX (256L * 1024 * 1024)

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t len = 0, cap = 0, n;

    if (!f) {
        fprintf(stderr, "mc-fleetsim: cannot read tokens file \"%s\": %s\n",
                path, strerror(errno));
        return NULL;
    }
    do {
        if (cap - len < 65536) {
            cap = cap ? cap * 2 : 65536;
            buf = xrealloc(buf, cap + 1);
        }
        n = fread(buf + len, 1, cap - len, f);
        len += n;
    } while (n > 0 && len <= (size_t)TOKENS_FILE_MAX);
    fclose(f);
    if (len > (size_t)TOKENS_FILE_MAX) {
        fprintf(stderr, "mc-fleetsim: tokens file \"%s\" is over %ld bytes\n",
                path, TOKENS_FILE_MAX);
        free(buf);
        return NULL;
    }
    buf[len] = '\0';
    return buf;
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

static char *opt_dup(json_t *obj, const char *key)
{
    const char *v = json_string_value(json_object_get(obj, key));

    return v ? xstrdup(v) : NULL;
}

static int from_json(struct sim *s, struct sim_agent *a, const char *line,
                     const char *path, long lineno)
{
    json_error_t je;
    json_t *obj = json_loads(line, 0, &je);
    const char *token = json_string_value(json_object_get(obj, "token"));
    const char *key =
        json_string_value(json_object_get(obj, "serverPublicKey"));
    int rc = -1;

    if (!json_is_object(obj) || !token || !*token) {
        fprintf(stderr,
                "mc-fleetsim: %s:%ld: expected a JSON object with a "
                "\"token\"%s%s\n",
                path, lineno, obj ? "" : ": ", obj ? "" : je.text);
        goto out;
    }
    a->token = xstrdup(token);
    a->node_id = opt_dup(obj, "serverNodeId");
    a->location_id = opt_dup(obj, "locationId");
    if (key)
        a->server_key = sim_intern_key(s, key);
    rc = 0;
out:
    json_decref(obj);
    return rc;
}

static int take_line(struct sim *s, char *line, const char *path, long lineno,
                     long *count)
{
    struct sim_agent *a;

    line = trim(line);
    if (!*line || *line == '#')
        return 0;
    if (*count == s->n_agents) {
        s->n_agents = s->n_agents ? s->n_agents * 2 : 1024;
        s->agents =
            xrealloc(s->agents, (size_t)s->n_agents * sizeof(*s->agents));
    }
    a = &s->agents[*count];
    memset(a, 0, sizeof(*a));
    if (*line == '{') {
        if (from_json(s, a, line, path, lineno))
            return -1;
    } else {
        a->token = xstrdup(line);
    }
    if (!a->server_key && s->set.server_key)
        a->server_key = sim_intern_key(s, s->set.server_key);
    if (!a->server_key) {
        fprintf(stderr,
                "mc-fleetsim: %s:%ld: no serverPublicKey, and no "
                "--server-key to check signatures with\n",
                path, lineno);
        free(a->token);
        free(a->node_id);
        free(a->location_id);
        return -1;
    }
    ++*count;
    return 0;
}

static int check_count(struct sim *s, long count, const char *path)
{
    if (count == 0) {
        fprintf(stderr, "mc-fleetsim: tokens file \"%s\" has no tokens\n",
                path);
        return -1;
    }
    if (s->set.agents > count) {
        fprintf(stderr,
                "mc-fleetsim: --agents %ld, but tokens file \"%s\" has only "
                "%ld tokens\n",
                s->set.agents, path, count);
        return -1;
    }
    if (s->set.agents >= 0) {
        /* Only the first --agents of the file play. */
        for (long i = s->set.agents; i < count; i++) {
            free(s->agents[i].token);
            free(s->agents[i].node_id);
            free(s->agents[i].location_id);
        }
        count = s->set.agents;
    }
    s->n_agents = count;
    return 0;
}

int tokens_load(struct sim *s)
{
    const char *path = s->set.tokens_file;
    char *text = read_all(path);
    char *line, *next;
    long lineno = 1, count = 0;
    int rc = -1;

    if (!text)
        return -1;
    s->n_agents = 0;
    for (line = text; line && *line; line = next, lineno++) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (take_line(s, line, path, lineno, &count))
            goto out;
    }
    rc = check_count(s, count, path);
out:
    if (rc) {
        for (long i = 0; i < count; i++) {
            free(s->agents[i].token);
            free(s->agents[i].node_id);
            free(s->agents[i].location_id);
        }
        s->n_agents = 0;
    }
    free(text);
    return rc;
}

static json_t *agent_json(const struct sim_agent *a)
{
    json_t *o = json_pack("{s:s}", "token", a->token);

    if (a->server_key)
        json_object_set_new(o, "serverPublicKey", json_string(a->server_key));
    if (a->node_id)
        json_object_set_new(o, "serverNodeId", json_string(a->node_id));
    if (a->location_id)
        json_object_set_new(o, "locationId", json_string(a->location_id));
    return o;
}

int tokens_save(const struct sim *s, const char *path)
{
    size_t len = 0, cap = 4096;
    char *text = xmalloc(cap);
    int rc;

    for (long i = 0; i < s->n_agents; i++) {
        json_t *o = agent_json(&s->agents[i]);
        char *line = json_dumps(o, JSON_COMPACT);
        size_t n = strlen(line);

        if (len + n + 2 > cap) {
            cap = (len + n + 2) * 2;
            text = xrealloc(text, cap);
        }
        memcpy(text + len, line, n);
        len += n;
        text[len++] = '\n';
        free(line);
        json_decref(o);
    }
    /* The file holds agent tokens: 0600, written whole or not at all. */
    rc = sim_write_atomic(path, text, len, true);
    if (rc)
        fprintf(stderr, "mc-fleetsim: cannot write \"%s\": %s\n", path,
                strerror(errno));
    free(text);
    return rc;
}
