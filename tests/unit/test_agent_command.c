/* Command checks: the ed25519 signature over the canonical payload,
 * expiry, the node check, malformed input, and the time parser. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../src/agent/command.c"

#define NOW 1790000000000LL /* 2026-09-21 */

static unsigned char pk[crypto_sign_PUBLICKEYBYTES];
static unsigned char sk[crypto_sign_SECRETKEYBYTES];

static int keys(void **state)
{
    (void)state;
    if (sodium_init() < 0)
        return -1;
    crypto_sign_keypair(pk, sk);
    return 0;
}

static json_t *command_object(const char *expires_at, const char *node)
{
    return json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:s, s:n, s:s}, s:s, "
                     "s:s, s:s}",
                     "id", "c0000000000000000000000001", "type", "FORCE_UPDATE",
                     "serverNodeId", node, "release", "version", "1.4.0",
                     "channel", "STABLE", "imageTag", "1.4.0", "imageDigest",
                     "rollbackVersion", "1.3.2", "createdAt",
                     "2026-09-21T10:00:00.000Z", "expiresAt", expires_at,
                     "note", "caf\xC3\xA9 / \"q\" \\ \x01 \t");
}

/* Signs o the way the server does and returns it as the stream would
 * carry it: any key order, any spacing. */
static char *signed_text(json_t *o, const unsigned char *secret)
{
    unsigned char sig[crypto_sign_BYTES];
    char b64[sodium_base64_ENCODED_LEN(crypto_sign_BYTES,
                                       sodium_base64_VARIANT_ORIGINAL)];
    char *canon = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    char *text;

    crypto_sign_detached(sig, NULL, (unsigned char *)canon, strlen(canon),
                         secret);
    sodium_bin2base64(b64, sizeof(b64), sig, sizeof(sig),
                      sodium_base64_VARIANT_ORIGINAL);
    json_object_set_new(o, "signature", json_string(b64));
    text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    free(canon);
    return text;
}

static enum command_verdict check(const char *text, const unsigned char *key,
                                  const char *node, char *msg, size_t msglen)
{
    struct command c;
    enum command_verdict v =
        command_check(text, key, node, NOW, &c, msg, msglen);

    if (v == COMMAND_OK) {
        assert_string_equal(c.id, "c0000000000000000000000001");
        assert_string_equal(c.type, "FORCE_UPDATE");
        assert_string_equal(c.version, "1.4.0");
        assert_string_equal(c.image_tag, "1.4.0");
        assert_null(c.image_digest);
    }
    command_release(&c);
    return v;
}

static void test_good_signature(void **state)
{
    json_t *o = command_object("2026-09-22T10:00:00.000Z", "node1");
    char *text = signed_text(o, sk);
    char msg[256];

    (void)state;
    assert_int_equal(check(text, pk, "node1", msg, sizeof(msg)), COMMAND_OK);
    /* Without a node id the node is not checked. */
    assert_int_equal(check(text, pk, NULL, msg, sizeof(msg)), COMMAND_OK);
    free(text);
    json_decref(o);
}

static void test_tampered_payload(void **state)
{
    json_t *o = command_object("2026-09-22T10:00:00.000Z", "node1");
    char *text = signed_text(o, sk), *bad;
    char msg[256];

    (void)state;
    json_object_set_new(json_object_get(o, "release"), "imageTag",
                        json_string("evil"));
    bad = json_dumps(o, JSON_COMPACT);
    assert_int_equal(check(bad, pk, NULL, msg, sizeof(msg)),
                     COMMAND_BAD_SIGNATURE);
    assert_non_null(strstr(msg, "does not verify"));
    free(bad);

    /* A field added after signing counts as tampering too. */
    json_object_set_new(json_object_get(o, "release"), "imageTag",
                        json_string("1.4.0"));
    json_object_set_new(o, "extra", json_true());
    bad = json_dumps(o, JSON_COMPACT);
    assert_int_equal(check(bad, pk, NULL, msg, sizeof(msg)),
                     COMMAND_BAD_SIGNATURE);
    free(bad);
    free(text);
    json_decref(o);
}

static void test_wrong_key(void **state)
{
    unsigned char pk2[crypto_sign_PUBLICKEYBYTES];
    unsigned char sk2[crypto_sign_SECRETKEYBYTES];
    json_t *o = command_object("2026-09-22T10:00:00.000Z", "node1");
    char *text;
    char msg[256];

    (void)state;
    crypto_sign_keypair(pk2, sk2);
    text = signed_text(o, sk2);
    assert_int_equal(check(text, pk, NULL, msg, sizeof(msg)),
                     COMMAND_BAD_SIGNATURE);
    assert_int_equal(check(text, pk2, NULL, msg, sizeof(msg)), COMMAND_OK);
    free(text);
    json_decref(o);
}

static void test_missing_or_garbled_signature(void **state)
{
    static const char *const sigs[] = {"", "not base64!", "AAAA"};
    json_t *o = command_object("2026-09-22T10:00:00.000Z", "node1");
    char *text;
    char msg[256];

    (void)state;
    text = json_dumps(o, JSON_COMPACT);
    assert_int_equal(check(text, pk, NULL, msg, sizeof(msg)),
                     COMMAND_BAD_SIGNATURE);
    free(text);
    for (size_t i = 0; i < 3; i++) {
        json_object_set_new(o, "signature", json_string(sigs[i]));
        text = json_dumps(o, JSON_COMPACT);
        assert_int_equal(check(text, pk, NULL, msg, sizeof(msg)),
                         COMMAND_BAD_SIGNATURE);
        free(text);
    }
    json_object_set_new(o, "signature", json_integer(5));
    text = json_dumps(o, JSON_COMPACT);
    assert_int_equal(check(text, pk, NULL, msg, sizeof(msg)),
                     COMMAND_BAD_SIGNATURE);
    free(text);
    json_decref(o);
}

static void test_expired(void **state)
{
    json_t *o = command_object("2026-09-21T14:13:19.999Z", "node1");
    char *text = signed_text(o, sk);
    char msg[256];

    (void)state;
    /* NOW is 2026-09-21T14:13:20.000Z: one millisecond too late. */
    assert_int_equal(check(text, pk, NULL, msg, sizeof(msg)), COMMAND_EXPIRED);
    assert_non_null(strstr(msg, "expired at 2026-09-21T14:13:19.999Z"));
    free(text);
    json_decref(o);
}

static void test_other_node(void **state)
{
    json_t *o = command_object("2026-09-22T10:00:00.000Z", "node2");
    char *text = signed_text(o, sk);
    char msg[256];

    (void)state;
    assert_int_equal(check(text, pk, "node1", msg, sizeof(msg)),
                     COMMAND_OTHER_NODE);
    assert_non_null(strstr(msg, "node2"));
    free(text);
    json_decref(o);
}

static void test_malformed(void **state)
{
    static const char *const bad[] = {
        "",
        "not json",
        "[]",
        "{\"id\": \"x\"}",
        "{\"id\": \"x\", \"type\": \"FORCE_UPDATE\", \"serverNodeId\": \"n\","
        " \"release\": {\"version\": \"1.0.0\"}, \"expiresAt\": "
        "\"2030-01-01T00:00:00Z\"}",
        "{\"id\": \"x\", \"type\": \"FORCE_UPDATE\", \"serverNodeId\": \"n\","
        " \"release\": {\"version\": \"1.0.0\", \"imageTag\": \"t\"}, "
        "\"expiresAt\": \"tomorrow\"}",
        "{\"id\": \"x\", \"id\": \"y\", \"type\": \"FORCE_UPDATE\", "
        "\"serverNodeId\": \"n\", \"release\": {\"version\": \"1.0.0\", "
        "\"imageTag\": \"t\"}, \"expiresAt\": \"2030-01-01T00:00:00Z\"}",
    };
    char msg[256];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(check(bad[i], pk, NULL, msg, sizeof(msg)),
                         COMMAND_MALFORMED);
}

static void test_parse_time(void **state)
{
    int64_t ms;

    (void)state;
    assert_int_equal(command_parse_time("1970-01-01T00:00:00Z", &ms), 0);
    assert_int_equal(ms, 0);
    assert_int_equal(command_parse_time("2026-09-21T14:13:20.000Z", &ms), 0);
    assert_int_equal(ms, NOW);
    assert_int_equal(command_parse_time("2026-09-21T16:13:20.5+02:00", &ms), 0);
    assert_int_equal(ms, NOW + 500);
    assert_int_equal(
        command_parse_time("2026-09-21T13:13:20.123456-01:00", &ms), 0);
    assert_int_equal(ms, NOW + 123);
    assert_int_equal(command_parse_time("2000-02-29T00:00:00Z", &ms), 0);
    assert_int_equal(ms, 951782400000LL);
    assert_int_equal(command_parse_time("2026-09-21 14:13:20Z", &ms), -1);
    assert_int_equal(command_parse_time("2026-09-21T14:13:20", &ms), -1);
    assert_int_equal(command_parse_time("2026-13-01T00:00:00Z", &ms), -1);
    assert_int_equal(command_parse_time("2026-09-21T14:13:20.Z", &ms), -1);
    assert_int_equal(command_parse_time("2026-09-21T14:13:20Zjunk", &ms), -1);
    assert_int_equal(command_parse_time("", &ms), -1);
    assert_int_equal(command_parse_time(NULL, &ms), -1);
}

static void test_key_decode(void **state)
{
    unsigned char key[COMMAND_KEY_LEN];
    char b64[64];

    (void)state;
    sodium_bin2base64(b64, sizeof(b64), pk, sizeof(pk),
                      sodium_base64_VARIANT_ORIGINAL);
    assert_int_equal(command_key_decode(b64, key), 0);
    assert_memory_equal(key, pk, sizeof(pk));
    assert_int_equal(command_key_decode("AAAA", key), -1);
    assert_int_equal(command_key_decode("", key), -1);
    assert_int_equal(command_key_decode(NULL, key), -1);
    b64[5] = '*';
    assert_int_equal(command_key_decode(b64, key), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_signature),
        cmocka_unit_test(test_tampered_payload),
        cmocka_unit_test(test_wrong_key),
        cmocka_unit_test(test_missing_or_garbled_signature),
        cmocka_unit_test(test_expired),
        cmocka_unit_test(test_other_node),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_parse_time),
        cmocka_unit_test(test_key_decode),
    };

    return cmocka_run_group_tests(tests, keys, NULL);
}
