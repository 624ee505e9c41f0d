#include "imageref.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define TAG_MAX_LEN    128
#define DIGEST_PREFIX  "sha256:"
#define DIGEST_HEX_LEN 64

/* Own classifiers: <ctype.h> is locale-dependent and UB on negative chars. */
static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_lower_alnum(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z');
}

static bool is_alnum(char c)
{
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static bool is_word(char c)
{
    return is_alnum(c) || c == '_';
}

/* Bounded scan: strnlen is POSIX, not C17, and s may be long. */
static bool longer_than(const char *s, size_t max)
{
    for (size_t i = 0; i <= max; i++) {
        if (s[i] == '\0')
            return false;
    }
    return true;
}

static const char *find_last(const char *p, size_t n, char c)
{
    while (n > 0) {
        n--;
        if (p[n] == c)
            return p + n;
    }
    return NULL;
}

static bool all_digits(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(p[i]))
            return false;
    }
    return true;
}

static bool tag_span(const char *p, size_t n)
{
    if (n == 0 || n > TAG_MAX_LEN || !is_word(p[0]))
        return false;
    for (size_t i = 1; i < n; i++) {
        if (!is_word(p[i]) && p[i] != '.' && p[i] != '-')
            return false;
    }
    return true;
}

static bool digest_span(const char *p, size_t n)
{
    size_t plen = sizeof(DIGEST_PREFIX) - 1;

    if (n != plen + DIGEST_HEX_LEN || memcmp(p, DIGEST_PREFIX, plen) != 0)
        return false;
    for (size_t i = plen; i < n; i++) {
        if (!is_digit(p[i]) && !(p[i] >= 'a' && p[i] <= 'f'))
            return false;
    }
    return true;
}

/* The separators allowed between alnum runs: ".", "_", "__" or "-"*. */
static bool path_separator(const char *p, size_t n)
{
    if (n == 1 && (p[0] == '.' || p[0] == '_'))
        return true;
    if (n == 2 && p[0] == '_' && p[1] == '_')
        return true;
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '-')
            return false;
    }
    return true;
}

/* [a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)* */
static bool path_component(const char *p, size_t n)
{
    size_t i = 0;

    for (;;) {
        size_t j = i;

        while (j < n && is_lower_alnum(p[j]))
            j++;
        if (j == i)
            return false;
        if (j == n)
            return true;
        i = j;
        while (i < n && !is_lower_alnum(p[i]))
            i++;
        if (!path_separator(p + j, i - j))
            return false;
    }
}

/* [a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9] */
static bool domain_component(const char *p, size_t n)
{
    if (n == 0 || !is_alnum(p[0]) || !is_alnum(p[n - 1]))
        return false;
    for (size_t i = 1; i + 1 < n; i++) {
        if (!is_alnum(p[i]) && p[i] != '-')
            return false;
    }
    return true;
}

/* Applies check to each sep-delimited part; empty parts fail the check. */
static bool split_all(const char *p, size_t n, char sep,
                      bool (*check)(const char *, size_t))
{
    for (;;) {
        const char *end = memchr(p, sep, n);
        size_t len = end ? (size_t)(end - p) : n;

        if (!check(p, len))
            return false;
        if (!end)
            return true;
        p += len + 1;
        n -= len + 1;
    }
}

static bool domain_span(const char *p, size_t n)
{
    const char *colon = memchr(p, ':', n);

    if (colon) {
        size_t host = (size_t)(colon - p);
        size_t port = n - host - 1;

        if (port == 0 || !all_digits(colon + 1, port))
            return false;
        n = host;
    }
    return split_all(p, n, '.', domain_component);
}

/*
 * The grammar makes the domain optional, so a first component that is not
 * a valid domain (e.g. "my_org") may still be valid as a path component.
 */
static bool name_span(const char *p, size_t n)
{
    const char *slash = memchr(p, '/', n);

    if (slash) {
        size_t dlen = (size_t)(slash - p);

        if (domain_span(p, dlen) &&
            split_all(slash + 1, n - dlen - 1, '/', path_component))
            return true;
    }
    return split_all(p, n, '/', path_component);
}

static bool full_ref(const char *s, size_t n)
{
    const char *at = memchr(s, '@', n);
    size_t name = at ? (size_t)(at - s) : n;
    const char *colon;
    const char *slash;
    bool pinned = at != NULL;

    if (at && !digest_span(at + 1, n - name - 1))
        return false;
    /* A ':' before the last '/' belongs to a port, not to a tag. */
    colon = find_last(s, name, ':');
    slash = find_last(s, name, '/');
    if (colon && (!slash || colon > slash)) {
        size_t tlen = name - (size_t)(colon - s) - 1;

        if (!tag_span(colon + 1, tlen))
            return false;
        name = (size_t)(colon - s);
        pinned = true;
    }
    return pinned && name_span(s, name);
}

bool imageref_valid_tag(const char *s)
{
    return s && !longer_than(s, TAG_MAX_LEN) && tag_span(s, strlen(s));
}

bool imageref_valid_digest(const char *s)
{
    size_t max = sizeof(DIGEST_PREFIX) - 1 + DIGEST_HEX_LEN;

    return s && !longer_than(s, max) && digest_span(s, strlen(s));
}

bool imageref_valid(const char *s)
{
    if (!s || longer_than(s, IMAGEREF_MAX_LEN))
        return false;
    return imageref_valid_tag(s) || full_ref(s, strlen(s));
}

static char *dup_span(const char *p, size_t n)
{
    char *out = malloc(n + 1);

    if (!out)
        return NULL;
    memcpy(out, p, n);
    out[n] = '\0';
    return out;
}

char *imageref_join(const char *repo, const char *tag_or_ref)
{
    size_t rlen;
    size_t tlen;
    char *out;

    assert(repo && tag_or_ref);
    tlen = strlen(tag_or_ref);
    if (!imageref_valid_tag(tag_or_ref))
        return dup_span(tag_or_ref, tlen);
    /* No overflow: repo is an object (< PTRDIFF_MAX), the tag <= 128. */
    rlen = strlen(repo);
    out = malloc(rlen + 1 + tlen + 1);
    if (!out)
        return NULL;
    memcpy(out, repo, rlen);
    out[rlen] = ':';
    memcpy(out + rlen + 1, tag_or_ref, tlen + 1);
    return out;
}
