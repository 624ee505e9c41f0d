/* mcctl's HTTP client: one reused libcurl handle, JSON in and out. */
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "cli/cli.h"
#include "lib/xalloc.h"

/* An answer larger than this is cut off: no list the API pages through
 * comes near it, and a broken proxy must not fill the memory. */
#define CLI_HTTP_MAX_BODY        (64 * 1024 * 1024)
#define CLI_HTTP_CONNECT_TIMEOUT 10L
#define CLI_HTTP_TIMEOUT         120L

struct cli_http {
    CURL *curl;
    char *auth; /* "Authorization: Bearer ..." */
    char errbuf[CURL_ERROR_SIZE];
};

struct cli_http *cli_http_new(const char *token)
{
    struct cli_http *h = xcalloc(1, sizeof(*h));

    curl_global_init(CURL_GLOBAL_DEFAULT);
    h->curl = curl_easy_init();
    if (!h->curl) {
        free(h);
        return NULL;
    }
    h->auth = xasprintf("Authorization: Bearer %s", token);
    return h;
}

void cli_http_free(struct cli_http *h)
{
    if (!h)
        return;
    curl_easy_cleanup(h->curl);
    if (h->auth) {
        /* The token leaves no copy behind in freed memory. */
        memset(h->auth, 0, strlen(h->auth));
        free(h->auth);
    }
    free(h);
    curl_global_cleanup();
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct cli_resp *r = arg;
    size_t len = size * n;

    if (r->len + len > CLI_HTTP_MAX_BODY)
        return 0;
    r->body = xrealloc(r->body, r->len + len + 1);
    memcpy(r->body + r->len, data, len);
    r->len += len;
    r->body[r->len] = '\0';
    return len;
}

static struct curl_slist *headers_for(struct cli_http *h, const char *body)
{
    struct curl_slist *list = NULL;

    list = curl_slist_append(list, h->auth);
    list = curl_slist_append(list, "Accept: application/json");
    if (body)
        list = curl_slist_append(list, "Content-Type: application/json");
    /* libcurl would otherwise wait for "100 Continue" on larger bodies. */
    list = curl_slist_append(list, "Expect:");
    return list;
}

static void setup(struct cli_http *h, const char *method, const char *url,
                  const char *body, struct curl_slist *hdrs, struct cli_resp *r)
{
    CURL *c = h->curl;

    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, CLI_HTTP_CONNECT_TIMEOUT);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, CLI_HTTP_TIMEOUT);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    } else if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
    }
}

int cli_http_send(struct cli *cli, const char *method, const char *path,
                  json_t *body, struct cli_resp *r)
{
    struct cli_http *h = cli->http;
    char *url = xasprintf("%s%s", cli->url, path);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    struct curl_slist *hdrs = headers_for(h, text);
    CURLcode rc;
    int ret = 0;

    memset(r, 0, sizeof(*r));
    h->errbuf[0] = '\0';
    setup(h, method, url, text, hdrs, r);
    rc = curl_easy_perform(h->curl);
    if (rc != CURLE_OK) {
        fprintf(stderr, "mcctl: cannot reach %s: %s\n", cli->url,
                h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc));
        cli_resp_release(r);
        ret = CLI_FAILED;
        goto out;
    }
    curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &r->status);
    if (!r->body)
        r->body = xstrdup("");
    r->json = json_loadb(r->body, r->len, 0, NULL);
out:
    curl_slist_free_all(hdrs);
    free(text);
    free(url);
    return ret;
}

void cli_print_api_error(const struct cli_resp *r)
{
    json_t *err = r->json ? json_object_get(r->json, "error") : NULL;
    const char *code = json_string_value(json_object_get(err, "code"));
    const char *msg = json_string_value(json_object_get(err, "message"));

    if (code && msg) {
        fprintf(stderr, "mcctl: %s: ", code);
        cli_put_safe(stderr, msg, false);
        fputc('\n', stderr);
        return;
    }
    /* Not the API's error shape: a proxy, or not mcd at all. */
    fprintf(stderr, "mcctl: HTTP_%ld: unexpected answer from the server\n",
            r->status);
}

int cli_call(struct cli *cli, const char *method, const char *path,
             json_t *body, struct cli_resp *r)
{
    int rc = cli_http_send(cli, method, path, body, r);

    if (rc)
        return rc;
    if (r->status >= 200 && r->status < 300 && r->json)
        return 0;
    if (r->status >= 200 && r->status < 300)
        fprintf(stderr,
                "mcctl: BAD_ANSWER: the server's answer to %s %s "
                "is not JSON\n",
                method, path);
    else
        cli_print_api_error(r);
    cli_resp_release(r);
    return CLI_FAILED;
}

void cli_resp_release(struct cli_resp *r)
{
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof(*r));
}

char *cli_escape(const char *segment)
{
    char *esc = curl_easy_escape(NULL, segment, 0);
    char *out = xstrdup(esc ? esc : "");

    curl_free(esc);
    return out;
}
