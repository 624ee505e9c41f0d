#include "sim/stats.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "lib/log.h"
#include "lib/timeutil.h"
#include "lib/xalloc.h"
#include "sim/sim.h"

void stats_init(struct stats *st)
{
    memset(st, 0, sizeof(*st));
    st->started_ms = time_now_ms();
    st->dirty = true;
}

void stats_release(struct stats *st)
{
    free(st->arrivals.ms);
    free(st->finished.ms);
    memset(st, 0, sizeof(*st));
}

void stats_add_time(struct stats_times *t, int64_t ms)
{
    if (t->len >= STATS_TIMES_MAX)
        return;
    if (t->len == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 1024;
        t->ms = xrealloc(t->ms, (size_t)t->cap * sizeof(*t->ms));
    }
    t->ms[t->len++] = ms;
}

/* --- latency figures ------------------------------------------------------ */

struct figures {
    long count;
    int64_t from, first, median, p99, last; /* ms after from */
};

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

/* The nearest-rank percentile q (0 < q <= 1) of n sorted values. */
static int64_t rank(const int64_t *v, long n, double q)
{
    long i = (long)(q * (double)n + 0.999999) - 1;

    if (i < 0)
        i = 0;
    if (i >= n)
        i = n - 1;
    return v[i];
}

static struct figures figures_of(const struct stats_times *t, int64_t from)
{
    struct figures f = {.count = t->len};
    int64_t *v;

    if (t->len == 0)
        return f;
    v = xmalloc((size_t)t->len * sizeof(*v));
    memcpy(v, t->ms, (size_t)t->len * sizeof(*v));
    qsort(v, (size_t)t->len, sizeof(*v), cmp_i64);
    f.from = from ? from : v[0];
    f.first = v[0] - f.from;
    f.median = rank(v, t->len, 0.5) - f.from;
    f.p99 = rank(v, t->len, 0.99) - f.from;
    f.last = v[t->len - 1] - f.from;
    free(v);
    return f;
}

/* --- the stats file ------------------------------------------------------- */

static json_t *figures_json(const struct figures *f)
{
    if (f->count == 0)
        return json_pack("{s:i}", "count", 0);
    return json_pack("{s:i,s:I,s:I,s:I,s:I,s:I}", "count", (int)f->count,
                     "fromMs", (json_int_t)f->from, "first",
                     (json_int_t)f->first, "median", (json_int_t)f->median,
                     "p99", (json_int_t)f->p99, "last", (json_int_t)f->last);
}

static json_t *times_json(const struct stats_times *t)
{
    json_t *a = json_array();

    for (long i = 0; i < t->len; i++)
        json_array_append_new(a, json_integer(t->ms[i]));
    return a;
}

static json_t *ms_or_null(int64_t ms)
{
    return ms ? json_integer(ms) : json_null();
}

static json_t *counts_json(const struct stats *st)
{
    return json_pack(
        "{s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,"
        "s:i,s:i,s:i,s:i,s:i,s:i,s:f}",
        "agents", (int)st->agents, "target", (int)st->target, "registered",
        (int)st->registered, "online", (int)st->online, "connecting",
        (int)st->connecting, "connects", (int)st->connects, "reconnects",
        (int)st->reconnects, "connectFailures", (int)st->connect_failures,
        "httpErrors", (int)st->http_errors, "streamEnds", (int)st->stream_ends,
        "keepalives", (int)st->keepalives, "commands", (int)st->commands,
        "duplicates", (int)st->duplicates, "badEvents", (int)st->bad_events,
        "signatureFailures", (int)st->signature_failures, "silent",
        (int)st->silent, "acked", (int)st->acked, "inProgress",
        (int)st->in_progress, "succeeded", (int)st->succeeded, "failed",
        (int)st->failed, "reportsOk", (int)st->reports_ok, "reportRetries",
        (int)st->report_retries, "reportsPerSecond", st->reports_per_s);
}

int stats_write(struct stats *st, const char *path, bool final)
{
    json_t *root = counts_json(st);
    struct figures arr = figures_of(&st->arrivals, st->mark_ms);
    struct figures fin;
    char *text;
    int rc;

    /* Both from the same instant, so that they compare. */
    fin = figures_of(&st->finished, st->mark_ms ? st->mark_ms : arr.from);
    json_object_set_new(root, "reportsRejected",
                        json_integer(st->reports_rejected));
    json_object_set_new(root, "pid", json_integer(getpid()));
    json_object_set_new(root, "final", json_boolean(final));
    json_object_set_new(root, "startedAt", json_integer(st->started_ms));
    json_object_set_new(root, "updatedAt", json_integer(time_now_ms()));
    json_object_set_new(root, "firstAllOnlineAt",
                        ms_or_null(st->first_online_ms));
    json_object_set_new(root, "allOnlineAt", ms_or_null(st->all_online_ms));
    json_object_set_new(root, "mark", ms_or_null(st->mark_ms));
    json_object_set_new(root, "arrival", figures_json(&arr));
    json_object_set_new(root, "finish", figures_json(&fin));
    json_object_set_new(root, "arrivalsMs", times_json(&st->arrivals));
    json_object_set_new(root, "finishedMs", times_json(&st->finished));
    text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    rc = sim_write_atomic(path, text, strlen(text), false);
    if (rc)
        log_error("cannot write stats file", "path=\"%s\" error=\"%s\"", path,
                  strerror(errno));
    free(text);
    st->dirty = false;
    return rc;
}

/* --- the terminal --------------------------------------------------------- */

static void progress(const struct stats *st)
{
    fprintf(stderr,
            "\r\033[Konline %ld/%ld (connecting %ld, reconnects %ld) | "
            "commands %ld: acked %ld, ok %ld, failed %ld, silent %ld, "
            "bad sig %ld | %.0f reports/s",
            st->online, st->target, st->connecting, st->reconnects,
            st->commands, st->acked, st->succeeded, st->failed, st->silent,
            st->signature_failures, st->reports_per_s);
    fflush(stderr);
}

static void update_rate(struct stats *st, long interval_ms)
{
    int oldest = (st->rate_slot + 1) % STATS_RATE_SLOTS;
    long done = st->reports_ok + st->reports_rejected;

    st->rate_hist[st->rate_slot] = done;
    /* Reports over the last STATS_RATE_SLOTS - 1 intervals. */
    st->reports_per_s = (double)(done - st->rate_hist[oldest]) * 1000.0 /
                        (double)((STATS_RATE_SLOTS - 1) * interval_ms);
    if (st->reports_per_s < 0)
        st->reports_per_s = 0;
    st->rate_slot = oldest;
}

void stats_tick(struct stats *st, const char *path, long interval_ms, bool tty)
{
    update_rate(st, interval_ms);
    if (path && (st->dirty || st->reports_per_s > 0))
        stats_write(st, path, false);
    if (tty)
        progress(st);
}

static void print_figures(FILE *out, const char *what,
                          const struct stats_times *t, int64_t mark,
                          const char *from)
{
    struct figures f = figures_of(t, mark);

    if (f.count == 0)
        return;
    fprintf(out,
            "  %-11s first %lld ms, median %lld ms, p99 %lld ms, last %lld "
            "ms (of %ld, from %s)\n",
            what, (long long)f.first, (long long)f.median, (long long)f.p99,
            (long long)f.last, f.count, from);
}

void stats_summary(const struct stats *st, FILE *out)
{
    int64_t mark = st->mark_ms;
    const char *from = mark ? "--mark" : "the first arrival";

    if (!mark && st->arrivals.len > 0)
        mark = figures_of(&st->arrivals, 0).from;
    fprintf(out, "mc-fleetsim: %ld agents, %ld meant online, %ld online\n",
            st->agents, st->target, st->online);
    if (st->first_online_ms)
        fprintf(out, "  connected   all %ld in %.2f s\n", st->target,
                (double)(st->first_online_ms - st->started_ms) / 1000.0);
    fprintf(out,
            "  streams     %ld opened, %ld reconnects, %ld failed connects "
            "(%ld refused by HTTP status), %ld ended\n",
            st->connects, st->reconnects, st->connect_failures, st->http_errors,
            st->stream_ends);
    fprintf(out,
            "  commands    %ld received, %ld duplicates, %ld bad, "
            "%ld signature failures\n",
            st->commands, st->duplicates, st->bad_events,
            st->signature_failures);
    fprintf(out,
            "  reports     %ld acked, %ld in progress, %ld succeeded, "
            "%ld failed, %ld silent, %ld refused, %ld retries\n",
            st->acked, st->in_progress, st->succeeded, st->failed, st->silent,
            st->reports_rejected, st->report_retries);
    print_figures(out, "arrival", &st->arrivals, mark, from);
    print_figures(out, "finished", &st->finished, mark, from);
}
