/*
 * Docker Engine API over its unix socket. One curl handle per client, so
 * calls reuse the connection; the agent makes one call at a time.
 */
#include "agent/docker_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "lib/log.h"
#include "lib/xalloc.h"

struct docker_api {
    char *socket_path;
    CURL *curl;
    char version[16]; /* "1.41" once negotiated, else "" */
};

/* An answer being read: bounded, so a confused peer cannot fill memory. */
struct answer {
    char *buf;
    size_t len;
    size_t cap;
    int overflow;
};

/* A pull's progress being read line by line. */
struct pull_reader {
    struct answer line;
    char error[512];
    char last_status[256];
};

struct docker_api *docker_api_new(const char *socket_path)
{
    struct docker_api *api = xcalloc(1, sizeof(*api));

    api->socket_path = xstrdup(socket_path);
    return api;
}

void docker_api_disconnect(struct docker_api *api)
{
    if (api->curl)
        curl_easy_cleanup(api->curl);
    api->curl = NULL;
}

void docker_api_free(struct docker_api *api)
{
    if (!api)
        return;
    docker_api_disconnect(api);
    free(api->socket_path);
    free(api);
}

static int answer_append(struct answer *a, const char *p, size_t n, size_t max)
{
    if (a->len + n > max) {
        a->overflow = 1;
        return -1;
    }
    if (a->len + n + 1 > a->cap) {
        size_t cap = a->cap ? a->cap : 4096;

        while (cap < a->len + n + 1)
            cap *= 2;
        a->buf = xrealloc(a->buf, cap);
        a->cap = cap;
    }
    memcpy(a->buf + a->len, p, n);
    a->len += n;
    a->buf[a->len] = '\0';
    return 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    if (answer_append(arg, p, size * n, DOCKER_API_MAX_BODY) < 0)
        return 0; /* makes curl fail the transfer */
    return size * n;
}

/* Copies the first line of s (at most len bytes) into out. */
static void first_line(char *out, size_t outlen, const char *s)
{
    size_t n = strcspn(s, "\r\n");

    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

static CURL *handle(struct docker_api *api)
{
    if (!api->curl)
        api->curl = curl_easy_init();
    else
        curl_easy_reset(api->curl);
    if (!api->curl)
        return NULL;
    curl_easy_setopt(api->curl, CURLOPT_UNIX_SOCKET_PATH, api->socket_path);
    curl_easy_setopt(api->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(api->curl, CURLOPT_CONNECTTIMEOUT, 10L);
    return api->curl;
}

/* One request on the raw socket; *status gets the HTTP status. */
static int perform(struct docker_api *api, const char *method, const char *url,
                   const char *body, int timeout_s, struct answer *a,
                   int *status, char *msg, size_t msglen)
{
    CURL *c = handle(api);
    struct curl_slist *hdrs = NULL;
    CURLcode rc;
    long code = 0;

    if (!c) {
        snprintf(msg, msglen, "cannot start a Docker request: curl failed");
        return -1;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)timeout_s);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
    if (body) {
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    } else if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    }
    rc = curl_easy_perform(c);
    curl_slist_free_all(hdrs);
    if (rc != CURLE_OK) {
        snprintf(msg, msglen, "Docker %s %s failed: %s%s", method,
                 strstr(url, "/v") ? strstr(url, "/v") : url,
                 curl_easy_strerror(rc),
                 a->overflow ? " (answer too large)" : "");
        return -1;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    *status = (int)code;
    return 0;
}

/* "1.41" as 1041, for comparing; -1 when s is not MAJOR.MINOR. */
static long version_number(const char *s)
{
    char *end;
    long major = strtol(s, &end, 10);
    long minor;

    if (end == s || *end != '.')
        return -1;
    s = end + 1;
    minor = strtol(s, &end, 10);
    if (end == s || *end != '\0' || minor < 0 || minor > 999)
        return -1;
    return major * 1000 + minor;
}

static int negotiate(struct docker_api *api, char *msg, size_t msglen)
{
    struct answer a = {0};
    json_t *v = NULL;
    const char *ver;
    int status = 0;
    int rc = -1;

    if (api->version[0])
        return 0;
    if (perform(api, "GET", "http://localhost/version", NULL, 15, &a, &status,
                msg, msglen) < 0)
        goto out;
    v = a.buf ? json_loads(a.buf, 0, NULL) : NULL;
    ver = json_string_value(json_object_get(v, "ApiVersion"));
    if (status != 200 || !ver || version_number(ver) < 0) {
        snprintf(msg, msglen,
                 "Docker at \"%s\" answered GET /version with %d and no "
                 "ApiVersion",
                 api->socket_path, status);
        goto out;
    }
    if (version_number(ver) < version_number(DOCKER_API_MIN_VERSION)) {
        snprintf(msg, msglen, "Docker Engine API %s is too old (need %s)", ver,
                 DOCKER_API_MIN_VERSION);
        goto out;
    }
    if (version_number(ver) > version_number(DOCKER_API_MAX_VERSION))
        ver = DOCKER_API_MAX_VERSION;
    snprintf(api->version, sizeof(api->version), "%s", ver);
    log_info("docker engine", "socket=\"%s\" api=%s", api->socket_path,
             api->version);
    rc = 0;
out:
    json_decref(v);
    free(a.buf);
    return rc;
}

int docker_api_call(struct docker_api *api, const char *method,
                    const char *path, json_t *body, int timeout_s, json_t **out,
                    char *msg, size_t msglen)
{
    struct answer a = {0};
    char *url = NULL;
    char *text = NULL;
    json_t *j = NULL;
    json_error_t jerr;
    int status = -1;

    if (out)
        *out = NULL;
    if (negotiate(api, msg, msglen) < 0)
        return -1;
    url = xasprintf("http://localhost/v%s%s", api->version, path);
    if (body)
        text = json_dumps(body, JSON_COMPACT);
    if (perform(api, method, url, text, timeout_s, &a, &status, msg, msglen) <
        0) {
        status = -1;
        goto out;
    }
    if (a.len > 0) {
        j = json_loadb(a.buf, a.len, JSON_DECODE_ANY, &jerr);
        if (!j) {
            char line[160];

            first_line(line, sizeof(line), a.buf);
            snprintf(msg, msglen,
                     "Docker %s %s answered %d with a body that is not "
                     "JSON: %s",
                     method, path, status, line);
            status = -1;
            goto out;
        }
    }
    if (out) {
        *out = j;
        j = NULL;
    }
out:
    json_decref(j);
    free(text);
    free(url);
    free(a.buf);
    return status;
}

int docker_api_fail(const char *what, int status, json_t *answer, char *msg,
                    size_t msglen)
{
    const char *m = json_string_value(json_object_get(answer, "message"));
    char line[300];

    first_line(line, sizeof(line), m ? m : "no message");
    snprintf(msg, msglen, "%s: Docker answered %d: %s", what, status, line);
    return -1;
}

/* One line of a pull's progress: {"status": ...} or {"error": ...}. */
static void pull_line(struct pull_reader *r, const char *line, size_t n)
{
    json_t *j = json_loadb(line, n, 0, NULL);
    const char *err;
    const char *status;
    json_t *detail;

    if (!j) {
        if (!r->error[0] && strspn(line, " \t\r") < n)
            snprintf(r->error, sizeof(r->error),
                     "unreadable progress line from Docker");
        return;
    }
    detail = json_object_get(j, "errorDetail");
    err = json_string_value(json_object_get(j, "error"));
    if (!err)
        err = json_string_value(json_object_get(detail, "message"));
    if (!err && detail)
        err = "error without a message";
    if (!err) /* a refused request: {"message": ...} */
        err = json_string_value(json_object_get(j, "message"));
    if (err && !r->error[0])
        first_line(r->error, sizeof(r->error), err);
    status = json_string_value(json_object_get(j, "status"));
    if (status)
        first_line(r->last_status, sizeof(r->last_status), status);
    json_decref(j);
}

static size_t on_pull(char *p, size_t size, size_t n, void *arg)
{
    struct pull_reader *r = arg;
    size_t total = size * n;
    size_t i;

    for (i = 0; i < total; i++) {
        if (p[i] == '\n') {
            if (r->line.len > 0)
                pull_line(r, r->line.buf, r->line.len);
            r->line.len = 0;
            continue;
        }
        if (answer_append(&r->line, p + i, 1, DOCKER_API_MAX_LINE) < 0)
            return 0;
    }
    return total;
}

/* Splits ref into the name and the tag or digest the pull names. */
static int split_ref(const char *ref, char **name, char **tag)
{
    const char *at = strchr(ref, '@');
    const char *slash;
    const char *colon;
    size_t end = at ? (size_t)(at - ref) : strlen(ref);

    slash = memrchr(ref, '/', end);
    colon = memchr(slash ? slash : ref, ':', end - (slash ? slash - ref : 0));
    if (at) {
        *tag = xstrdup(at + 1);
    } else if (colon) {
        *tag = xstrdup(colon + 1);
    } else {
        return -1;
    }
    *name = xstrndup(ref, colon ? (size_t)(colon - ref) : end);
    return 0;
}

static char *pull_path(struct docker_api *api, const char *name,
                       const char *tag)
{
    char *en = curl_easy_escape(NULL, name, 0);
    char *et = curl_easy_escape(NULL, tag, 0);
    char *path = xasprintf("http://localhost/v%s/images/create?fromImage=%s"
                           "&tag=%s",
                           api->version, en, et);

    curl_free(en);
    curl_free(et);
    return path;
}

/* The pull stays open while it makes progress; a stalled one ends. */
static int pull_perform(struct docker_api *api, const char *url,
                        struct pull_reader *r, int *status, char *msg,
                        size_t msglen)
{
    CURL *c = handle(api);
    CURLcode rc;
    long code = 0;

    if (!c) {
        snprintf(msg, msglen, "cannot start a Docker request: curl failed");
        return -1;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_pull);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 300L);
    rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
        snprintf(msg, msglen, "pulling failed: %s", curl_easy_strerror(rc));
        return -1;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    *status = (int)code;
    return 0;
}

int docker_api_pull(struct docker_api *api, const char *ref, char *msg,
                    size_t msglen)
{
    struct pull_reader r = {0};
    char *name = NULL;
    char *tag = NULL;
    char *url = NULL;
    int status = 0;
    int rc = -1;

    if (split_ref(ref, &name, &tag) < 0) {
        snprintf(msg, msglen, "cannot pull \"%s\": it names no tag or digest",
                 ref);
        return -1;
    }
    if (negotiate(api, msg, msglen) < 0)
        goto out;
    url = pull_path(api, name, tag);
    if (pull_perform(api, url, &r, &status, msg, msglen) < 0)
        goto out;
    if (r.line.len > 0)
        pull_line(&r, r.line.buf, r.line.len);
    if (status != 200) {
        snprintf(msg, msglen, "cannot pull \"%s\": Docker answered %d: %s", ref,
                 status, r.error[0] ? r.error : "no message");
        goto out;
    }
    if (r.error[0]) {
        snprintf(msg, msglen, "cannot pull \"%s\": %s", ref, r.error);
        goto out;
    }
    log_info("docker pull", "image=\"%s\" status=\"%s\"", ref, r.last_status);
    rc = 0;
out:
    free(r.line.buf);
    free(url);
    free(name);
    free(tag);
    return rc;
}

static size_t on_discard(char *p, size_t size, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    return size * n;
}

int docker_api_probe(const char *url, int timeout_ms)
{
    CURL *c = curl_easy_init();
    long code = 0;
    CURLcode rc;

    if (!c)
        return -1;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_discard);
    rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    return rc == CURLE_OK ? (int)code : -1;
}
