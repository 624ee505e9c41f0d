#include "agent/report.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "agent/backoff.h"
#include "agent/trust.h"
#include "agent/util.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#define REPORT_ANSWER_MAX 2048

struct answer {
    char text[REPORT_ANSWER_MAX];
    size_t len;
};

static size_t on_body(char *buf, size_t size, size_t n, void *arg)
{
    struct answer *a = arg;
    size_t room = sizeof(a->text) - 1 - a->len;
    size_t take = size * n < room ? size * n : room;

    memcpy(a->text + a->len, buf, take);
    a->len += take;
    a->text[a->len] = '\0';
    return size * n;
}

/* The error code of a JSON error answer, for the log. */
static void error_code(const char *text, char *out, size_t outlen)
{
    json_t *root = json_loads(text, 0, NULL);
    const char *code = NULL;

    json_unpack(root, "{s:{s:s}}", "error", "code", &code);
    snprintf(out, outlen, "%s", code ? code : "-");
    json_decref(root);
}

static CURL *handle(struct report_client *r)
{
    if (!r->curl) {
        r->curl = curl_easy_init();
        if (!r->curl)
            return NULL;
    }
    curl_easy_reset(r->curl);
    curl_easy_setopt(r->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(r->curl, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(r->curl, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(r->curl, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(r->curl, CURLOPT_WRITEFUNCTION, on_body);
    trust_apply(r->curl, r->ca_file);
    return r->curl;
}

/* One POST; the HTTP status, or 0 when there was no answer. */
static long post_once(struct report_client *r, const char *url,
                      const char *body, struct answer *a, char *why,
                      size_t whylen)
{
    CURL *c = handle(r);
    CURLcode rc;
    long status = 0;

    a->len = 0;
    a->text[0] = '\0';
    if (!c) {
        snprintf(why, whylen, "cannot make a curl handle");
        return 0;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
    rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
        snprintf(why, whylen, "%s", curl_easy_strerror(rc));
        return 0;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    snprintf(why, whylen, "HTTP %ld", status);
    return status;
}

static char *make_body(const char *status, const char *message)
{
    json_t *o = json_pack("{s:s}", "status", status);
    char *text;

    if (message)
        json_object_set_new(o, "message", json_string(message));
    text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

static enum report_result classify(long status, const struct answer *a,
                                   const char *command_id, const char *what)
{
    char code[64];

    if (status == 200) {
        log_info("reported", "command=%s status=%s", command_id, what);
        return REPORT_OK;
    }
    error_code(a->text, code, sizeof(code));
    log_warn("report refused", "command=%s status=%s http=%ld code=%s",
             command_id, what, status, code);
    return status == 409 ? REPORT_CONFLICT : REPORT_REFUSED;
}

enum report_result report_send(struct report_client *r, const char *command_id,
                               const char *status, const char *message)
{
    char *escaped = curl_easy_escape(NULL, command_id, 0);
    char *url = xasprintf("%s/api/fleet/commands/%s/status", r->server,
                          escaped ? escaped : "");
    char *body = make_body(status, message);
    struct answer *a = xmalloc(sizeof(*a));
    enum report_result res = REPORT_UNREACHABLE;
    struct backoff b;

    backoff_init(&b, 1000, 8000);
    for (int i = 0; i < r->attempts; i++) {
        char why[CURL_ERROR_SIZE + 32];
        long http = post_once(r, url, body, a, why, sizeof(why));

        if (http >= 200 && http < 500) {
            res = classify(http, a, command_id, status);
            break;
        }
        log_warn("report failed",
                 "command=%s status=%s attempt=%d error=\"%s\"", command_id,
                 status, i + 1, why);
        if (i + 1 < r->attempts &&
            util_wait_stop(r->stop_fd, 500 + backoff_next(&b))) {
            res = REPORT_STOPPED;
            break;
        }
    }
    free(a);
    free(body);
    free(url);
    curl_free(escaped);
    return res;
}

void report_client_release(struct report_client *r)
{
    if (r->curl)
        curl_easy_cleanup(r->curl);
    r->curl = NULL;
}
