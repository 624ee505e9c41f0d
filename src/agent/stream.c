#include "agent/stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/trust.h"
#include "agent/util.h"
#include "lib/log.h"
#include "lib/timeutil.h"
#include "lib/xalloc.h"

/* Events wait here between curl's write callback, where no blocking work
 * may happen, and the loop that hands them on. Bounded like the parser. */
#define STREAM_QUEUE_MAX (1024 * 1024)
#define STREAM_BODY_MAX  512 /* of an error answer, for the message */

struct queued {
    struct queued *next;
    char *type, *id, *data;
};

struct conn {
    const struct stream_opts *o;
    struct stream_result *res;
    CURL *curl;
    struct sse_parser parser;
    struct queued *head, **tail;
    size_t queued_bytes;
    int64_t last_byte_ms;
    int64_t opened_at;
    bool checked; /* the answer's status was looked at */
    bool refused; /* not a 200 event stream: collect the body */
    char body[STREAM_BODY_MAX];
    size_t body_len;
    bool overflow;
};

static int enqueue(const struct sse_event *ev, void *arg)
{
    struct conn *c = arg;
    struct queued *q;

    c->queued_bytes += ev->data_len + strlen(ev->id) + strlen(ev->type);
    if (c->queued_bytes > STREAM_QUEUE_MAX) {
        c->overflow = true;
        return -1;
    }
    q = xcalloc(1, sizeof(*q));
    q->type = xstrdup(ev->type);
    q->id = xstrdup(ev->id);
    q->data = xstrndup(ev->data, ev->data_len);
    *c->tail = q;
    c->tail = &q->next;
    return 0;
}

static void free_queue(struct conn *c)
{
    while (c->head) {
        struct queued *q = c->head;

        c->head = q->next;
        free(q->type);
        free(q->id);
        free(q->data);
        free(q);
    }
    c->tail = &c->head;
    c->queued_bytes = 0;
}

/* Looks at the answer once, at its first body byte. */
static void check_answer(struct conn *c)
{
    char *type = NULL;

    c->checked = true;
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &c->res->http_status);
    curl_easy_getinfo(c->curl, CURLINFO_CONTENT_TYPE, &type);
    if (c->res->http_status != 200 || !type ||
        strncasecmp(type, "text/event-stream", 17) != 0) {
        c->refused = true;
        return;
    }
    c->res->opened = true;
    c->opened_at = time_mono_ms();
    log_info("stream open", "http=%ld", c->res->http_status);
}

static size_t on_data(char *buf, size_t size, size_t n, void *arg)
{
    struct conn *c = arg;
    size_t len = size * n;

    c->last_byte_ms = time_mono_ms();
    if (!c->checked)
        check_answer(c);
    if (c->refused) {
        size_t room = sizeof(c->body) - 1 - c->body_len;
        size_t take = len < room ? len : room;

        memcpy(c->body + c->body_len, buf, take);
        c->body_len += take;
        c->body[c->body_len] = '\0';
        return len;
    }
    if (sse_parser_feed(&c->parser, buf, len))
        return 0; /* makes curl end the transfer with a write error */
    return len;
}

static CURL *make_handle(struct conn *c)
{
    CURL *h = curl_easy_init();

    if (!h)
        return NULL;
    curl_easy_setopt(h, CURLOPT_URL, c->o->url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->o->headers);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 15L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
    trust_apply(h, c->o->ca_file);
    return h;
}

/* Hands queued events on; false when the callback asked to stop. */
static bool deliver(struct conn *c)
{
    bool go_on = true;

    if (!c->head)
        return true;
    while (c->head && go_on) {
        struct queued *q = c->head;
        struct sse_event ev = {.type = q->type,
                               .id = q->id,
                               .data = q->data,
                               .data_len = strlen(q->data)};

        c->head = q->next;
        if (!c->head)
            c->tail = &c->head;
        c->queued_bytes -= strlen(q->data) + strlen(q->id) + strlen(q->type);
        c->res->events++;
        go_on = c->o->on_event(&ev, c->o->arg) == 0;
        free(q->type);
        free(q->id);
        free(q->data);
        free(q);
    }
    /* Handling may take minutes (an update); silence is counted anew. */
    c->last_byte_ms = time_mono_ms();
    return go_on;
}

static void finished(struct conn *c, CURLM *m)
{
    int left;
    CURLMsg *msg = curl_multi_info_read(m, &left);
    CURLcode rc = msg && msg->msg == CURLMSG_DONE ? msg->data.result : CURLE_OK;

    if (c->overflow) {
        snprintf(c->res->error, STREAM_ERROR_MAX, "too many events queued");
    } else if (c->parser.failed) {
        snprintf(c->res->error, STREAM_ERROR_MAX,
                 "a line or event over %zu bytes", c->parser.max);
    } else if (c->refused || (!c->checked && rc == CURLE_OK)) {
        if (!c->checked)
            curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE,
                              &c->res->http_status);
        util_scrub(c->body);
        snprintf(c->res->error, STREAM_ERROR_MAX,
                 "the server answered %ld, not an event stream: %.200s",
                 c->res->http_status, c->body);
    } else if (rc != CURLE_OK) {
        snprintf(c->res->error, STREAM_ERROR_MAX, "%s", curl_easy_strerror(rc));
    } else {
        c->res->end = STREAM_CLOSED;
        snprintf(c->res->error, STREAM_ERROR_MAX, "closed by the server");
    }
}

/* Waits for bytes, the stop pipe, or the end of the silence allowance;
 * returns false when the wait should end the stream. */
static bool wait_more(struct conn *c, CURLM *m)
{
    struct curl_waitfd stop = {.fd = c->o->stop_fd, .events = CURL_WAIT_POLLIN};
    int64_t left = c->last_byte_ms + c->o->silence_ms - time_mono_ms();

    if (left <= 0) {
        snprintf(c->res->error, STREAM_ERROR_MAX,
                 "no byte for %lld s, not even a keep-alive",
                 (long long)(c->o->silence_ms / 1000));
        return false;
    }
    curl_multi_poll(m, &stop, 1, (int)left, NULL);
    if (stop.revents) {
        c->res->end = STREAM_STOPPED;
        snprintf(c->res->error, STREAM_ERROR_MAX, "stopping");
        return false;
    }
    return true;
}

static void loop(struct conn *c, CURLM *m)
{
    int running = 1;

    while (running) {
        if (curl_multi_perform(m, &running) != CURLM_OK) {
            snprintf(c->res->error, STREAM_ERROR_MAX, "curl multi failed");
            return;
        }
        if (!deliver(c)) {
            c->res->end = STREAM_ABORTED;
            snprintf(c->res->error, STREAM_ERROR_MAX, "ended by the agent");
            return;
        }
        if (!running) {
            finished(c, m);
            return;
        }
        if (!wait_more(c, m))
            return;
    }
}

void stream_run(const struct stream_opts *o, struct stream_result *res)
{
    struct conn c = {.o = o, .res = res};
    CURLM *m = curl_multi_init();

    memset(res, 0, sizeof(*res));
    res->end = STREAM_FAILED;
    res->retry_ms = -1;
    c.tail = &c.head;
    c.last_byte_ms = time_mono_ms();
    sse_parser_init(&c.parser, SSE_DEFAULT_MAX, enqueue, &c);
    c.curl = make_handle(&c);
    if (!m || !c.curl) {
        snprintf(res->error, STREAM_ERROR_MAX, "cannot set up curl");
        goto out;
    }
    curl_multi_add_handle(m, c.curl);
    loop(&c, m);
    curl_multi_remove_handle(m, c.curl);
out:
    if (c.opened_at)
        res->open_ms = time_mono_ms() - c.opened_at;
    res->retry_ms = c.parser.retry_ms;
    free_queue(&c);
    sse_parser_release(&c.parser);
    if (c.curl)
        curl_easy_cleanup(c.curl);
    if (m)
        curl_multi_cleanup(m);
}
