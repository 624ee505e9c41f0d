#include "agent/command.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

int command_key_decode(const char *b64, unsigned char key[COMMAND_KEY_LEN])
{
    size_t len = 0;

    if (!b64 ||
        sodium_base642bin(key, COMMAND_KEY_LEN, b64, strlen(b64), NULL, &len,
                          NULL, sodium_base64_VARIANT_ORIGINAL) ||
        len != COMMAND_KEY_LEN)
        return -1;
    return 0;
}

/* Reads exactly n digits; -1 unless they are all digits. */
static int digits(const char **s, int n)
{
    int v = 0;

    for (int i = 0; i < n; i++, (*s)++) {
        if (**s < '0' || **s > '9')
            return -1;
        v = v * 10 + (**s - '0');
    }
    return v;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int parse_offset(const char **s, int *offset_min)
{
    int sign, h, m;

    if (**s == 'Z' || **s == 'z') {
        (*s)++;
        *offset_min = 0;
        return 0;
    }
    if (**s != '+' && **s != '-')
        return -1;
    sign = **s == '-' ? -1 : 1;
    (*s)++;
    h = digits(s, 2);
    if (h < 0 || h > 23 || *(*s)++ != ':')
        return -1;
    m = digits(s, 2);
    if (m < 0 || m > 59)
        return -1;
    *offset_min = sign * (h * 60 + m);
    return 0;
}

int command_parse_time(const char *s, int64_t *ms)
{
    int y, mo, d, h, mi, sec, frac = 0, scale = 1000, offset;

    if (!s)
        return -1;
    y = digits(&s, 4);
    if (y < 0 || *s++ != '-' || (mo = digits(&s, 2)) < 1 || mo > 12 ||
        *s++ != '-' || (d = digits(&s, 2)) < 1 || d > 31 ||
        (*s != 'T' && *s != 't'))
        return -1;
    s++;
    if ((h = digits(&s, 2)) < 0 || h > 23 || *s++ != ':' ||
        (mi = digits(&s, 2)) < 0 || mi > 59 || *s++ != ':' ||
        (sec = digits(&s, 2)) < 0 || sec > 60)
        return -1;
    if (*s == '.') {
        s++;
        if (*s < '0' || *s > '9')
            return -1;
        for (; *s >= '0' && *s <= '9'; s++)
            if (scale > 1)
                frac += (*s - '0') * (scale /= 10);
    }
    if (parse_offset(&s, &offset) || *s)
        return -1;
    *ms = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) -
           (int64_t)offset * 60) *
              1000 +
          frac;
    return 0;
}

static enum command_verdict parse(const char *data, struct command *c,
                                  char *msg, size_t msglen)
{
    json_error_t jerr;
    json_t *release, *digest = NULL;

    c->root = json_loads(data, JSON_REJECT_DUPLICATES, &jerr);
    if (!c->root) {
        snprintf(msg, msglen, "command is not JSON: %s", jerr.text);
        return COMMAND_MALFORMED;
    }
    if (json_unpack_ex(c->root, &jerr, 0, "{s:s, s:s, s:s, s:o, s:s}", "id",
                       &c->id, "type", &c->type, "serverNodeId",
                       &c->server_node_id, "release", &release, "expiresAt",
                       &c->expires_at) ||
        json_unpack_ex(release, &jerr, 0, "{s:s, s:s, s?o}", "version",
                       &c->version, "imageTag", &c->image_tag, "imageDigest",
                       &digest)) {
        snprintf(msg, msglen, "command is malformed: %s", jerr.text);
        return COMMAND_MALFORMED;
    }
    if (digest && !json_is_null(digest) && !json_is_string(digest)) {
        snprintf(msg, msglen, "command is malformed: imageDigest");
        return COMMAND_MALFORMED;
    }
    c->image_digest = json_string_value(digest);
    if (command_parse_time(c->expires_at, &c->expires_ms)) {
        snprintf(msg, msglen, "command is malformed: expiresAt \"%s\"",
                 c->expires_at);
        return COMMAND_MALFORMED;
    }
    return COMMAND_OK;
}

/* The canonical payload is the object without "signature", keys sorted,
 * compact; the server makes it with the same jansson call. */
static enum command_verdict verify(const struct command *c,
                                   const unsigned char key[COMMAND_KEY_LEN],
                                   char *msg, size_t msglen)
{
    unsigned char sig[crypto_sign_BYTES];
    const char *b64 = json_string_value(json_object_get(c->root, "signature"));
    json_t *payload;
    char *canon;
    size_t len = 0;
    int rc;

    if (!b64 ||
        sodium_base642bin(sig, sizeof(sig), b64, strlen(b64), NULL, &len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) ||
        len != sizeof(sig)) {
        snprintf(msg, msglen, "command has no valid signature field");
        return COMMAND_BAD_SIGNATURE;
    }
    payload = json_copy(c->root);
    json_object_del(payload, "signature");
    canon = json_dumps(payload, JSON_COMPACT | JSON_SORT_KEYS);
    rc = crypto_sign_verify_detached(sig, (const unsigned char *)canon,
                                     strlen(canon), key);
    free(canon);
    json_decref(payload);
    if (rc) {
        snprintf(msg, msglen, "signature does not verify with the server key");
        return COMMAND_BAD_SIGNATURE;
    }
    return COMMAND_OK;
}

enum command_verdict command_check(const char *data,
                                   const unsigned char key[COMMAND_KEY_LEN],
                                   const char *node_id, int64_t now_ms,
                                   struct command *c, char *msg, size_t msglen)
{
    enum command_verdict v;

    memset(c, 0, sizeof(*c));
    if ((v = parse(data, c, msg, msglen)) != COMMAND_OK ||
        (v = verify(c, key, msg, msglen)) != COMMAND_OK)
        return v;
    if (c->expires_ms <= now_ms) {
        snprintf(msg, msglen, "command expired at %s", c->expires_at);
        return COMMAND_EXPIRED;
    }
    if (node_id && strcmp(node_id, c->server_node_id) != 0) {
        snprintf(msg, msglen, "command is for node %s, not this node",
                 c->server_node_id);
        return COMMAND_OTHER_NODE;
    }
    return COMMAND_OK;
}

void command_release(struct command *c)
{
    json_decref(c->root);
    memset(c, 0, sizeof(*c));
}
