/*
 * A fleet command as the stream delivers it, and the checks that decide
 * whether the agent may act on it: the server's ed25519 signature over the
 * canonical payload (docs/api.md "Signature"), the expiry, and the node it
 * names.
 */
#ifndef MC_AGENT_COMMAND_H
#define MC_AGENT_COMMAND_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define COMMAND_KEY_LEN 32 /* an ed25519 public key */

struct command {
    json_t *root; /* owned; the strings below point into it */
    const char *id;
    const char *type;
    const char *server_node_id;
    const char *version;
    const char *image_tag;
    const char *image_digest; /* NULL when the release has none */
    const char *expires_at;
    int64_t expires_ms;
};

enum command_verdict {
    COMMAND_OK,
    COMMAND_MALFORMED,     /* not JSON, or fields missing or of wrong type */
    COMMAND_BAD_SIGNATURE, /* missing, not base64, or does not verify */
    COMMAND_EXPIRED,
    COMMAND_OTHER_NODE,
};

/* Decodes a server public key (standard base64 of 32 bytes); -1 if it is
 * not one. */
int command_key_decode(const char *b64, unsigned char key[COMMAND_KEY_LEN]);

/* Parses RFC 3339 ("2026-12-03T18:41:02.123Z", or with an offset) into
 * milliseconds since the epoch; -1 if s is not such a time. */
int command_parse_time(const char *s, int64_t *ms);

/* Parses and checks data; c is filled whenever the JSON parsed (so its id
 * can be logged), and must be released in every case. node_id may be NULL
 * (no node check). msg says why on anything but COMMAND_OK. */
enum command_verdict command_check(const char *data,
                                   const unsigned char key[COMMAND_KEY_LEN],
                                   const char *node_id, int64_t now_ms,
                                   struct command *c, char *msg, size_t msglen);

void command_release(struct command *c);

#endif
