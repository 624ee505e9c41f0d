/* mcctl's human output: aligned tables, relative times, safe strings. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "lib/xalloc.h"

#define CLI_TABLE_MAX_COLS 12

struct cli_table {
    size_t ncols;
    size_t nrows; /* the header row included */
    char **cells; /* nrows * ncols, row by row */
    size_t width[CLI_TABLE_MAX_COLS];
};

void cli_print_raw(const struct cli_resp *r)
{
    fwrite(r->body, 1, r->len, stdout);
    if (r->len == 0 || r->body[r->len - 1] != '\n')
        fputc('\n', stdout);
}

const char *cli_str(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));

    return s ? s : "-";
}

const char *cli_text(const json_t *obj, const char *key, char *buf, size_t len)
{
    json_t *v = json_object_get(obj, key);

    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v))
        snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_boolean(v))
        snprintf(buf, len, "%s", json_is_true(v) ? "yes" : "no");
    else
        snprintf(buf, len, "-");
    return buf;
}

int64_t cli_time_parse(const char *s)
{
    struct tm tm = {0};
    int ms = 0, n = 0;

    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon,
                     &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6)
        return -1;
    if (s[n] == '.' && sscanf(s + n + 1, "%3d", &ms) != 1)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000 + ms;
}

void cli_time_relative(const char *s, int64_t now_ms, char *out, size_t len)
{
    int64_t t = cli_time_parse(s);
    int64_t secs = (now_ms - t) / 1000;

    if (t < 0)
        snprintf(out, len, "-");
    else if (secs < 0)
        snprintf(out, len, "just now");
    else if (secs < 60)
        snprintf(out, len, "%llds ago", (long long)secs);
    else if (secs < 3600)
        snprintf(out, len, "%lldm ago", (long long)(secs / 60));
    else if (secs < 86400)
        snprintf(out, len, "%lldh ago", (long long)(secs / 3600));
    else if (secs < 30 * 86400)
        snprintf(out, len, "%lldd ago", (long long)(secs / 86400));
    else
        snprintf(out, len, "%.10s", s);
}

/* Display width of UTF-8 text: code points, since continuation bytes take
 * no column. Wide (CJK) characters count one; close enough for names. */
static size_t display_width(const char *s)
{
    size_t w = 0;

    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            w++;
    return w;
}

static char *safe_copy(const char *s)
{
    char *out = xstrdup(s ? s : "-");

    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    return out;
}

struct cli_table *cli_table_new(const char *const *headers)
{
    struct cli_table *t = xcalloc(1, sizeof(*t));

    while (headers[t->ncols])
        t->ncols++;
    if (t->ncols > CLI_TABLE_MAX_COLS)
        abort(); /* a programmer error: the tables are ours */
    cli_table_add(t, headers);
    return t;
}

void cli_table_add(struct cli_table *t, const char *const *cells)
{
    char **row;

    t->cells = xrealloc(t->cells, (t->nrows + 1) * t->ncols * sizeof(char *));
    row = t->cells + t->nrows * t->ncols;
    for (size_t i = 0; i < t->ncols; i++) {
        size_t w;

        row[i] = safe_copy(cells[i]);
        w = display_width(row[i]);
        if (w > t->width[i])
            t->width[i] = w;
    }
    t->nrows++;
}

void cli_table_print(struct cli_table *t, FILE *out)
{
    for (size_t r = 0; r < t->nrows; r++) {
        char **row = t->cells + r * t->ncols;

        for (size_t i = 0; i < t->ncols; i++) {
            bool last = i + 1 == t->ncols;

            fputs(row[i], out);
            if (!last)
                fprintf(out, "%*s",
                        (int)(t->width[i] + 2 - display_width(row[i])), "");
        }
        fputc('\n', out);
    }
}

void cli_table_free(struct cli_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
}

void cli_put_safe(FILE *out, const char *s, bool keep_nl)
{
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;

        if (ch == '\n' && keep_nl)
            fputc('\n', out);
        else if (ch < 0x20 || ch == 0x7f)
            fputc('?', out);
        else
            fputc(ch, out);
    }
}
