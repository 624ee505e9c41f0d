#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "lib/imageref.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

#define HEX32  "0123456789abcdef0123456789abcdef"
#define HEX64  HEX32 HEX32
#define DIGEST "sha256:" HEX64

typedef bool (*check_fn)(const char *);

static void assert_all(check_fn f, const char *const *v, size_t n,
                       bool expected)
{
    for (size_t i = 0; i < n; i++) {
        if (f(v[i]) != expected)
            fail_msg("check(\"%s\") != %d", v[i], expected);
    }
}

static void test_tag(void **state)
{
    static const char *const good[] = {
        "1.4.0", "latest", "v1.2.3-rc.1", "_x", "A", "a_b.c-d", "9",
    };
    static const char *const bad[] = {
        "",    ".x", "-x",  "a:b", "a/b", "a@b",
        "a b", " a", "a+b", "é",   "a\n", DIGEST,
    };
    char buf[131];

    (void)state;
    assert_all(imageref_valid_tag, good, COUNT(good), true);
    assert_all(imageref_valid_tag, bad, COUNT(bad), false);
    assert_false(imageref_valid_tag(NULL));
    memset(buf, 'a', sizeof(buf));
    buf[128] = '\0';
    assert_true(imageref_valid_tag(buf));
    buf[128] = 'a';
    buf[129] = '\0';
    assert_false(imageref_valid_tag(buf));
}

static void test_digest(void **state)
{
    static const char *const bad[] = {
        "sha256:",
        HEX64,
        "sha256:" HEX64 "0",
        "sha256:"
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde",
        "sha256:"
        "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
        "sha256:"
        "0123456789abcdeg0123456789abcdef0123456789abcdef0123456789abcdef",
        "sha512:" HEX64,
        "SHA256:" HEX64,
        " " DIGEST,
        "",
    };

    (void)state;
    assert_true(imageref_valid_digest(DIGEST));
    assert_all(imageref_valid_digest, bad, COUNT(bad), false);
    assert_false(imageref_valid_digest(NULL));
}

static void test_valid_refs(void **state)
{
    static const char *const v[] = {
        "1.4.0",
        "latest",
        "registry.local:5000/pos/app:1.4.0",
        "pos/app@" DIGEST,
        "pos/app:1.4.0@" DIGEST,
        "registry.local:5000/pos/app@" DIGEST,
        "app:1",
        "app@" DIGEST,
        "localhost/app:dev",
        "localhost:5000/app:dev",
        "docker.io/library/nginx:1.25",
        "ghcr.io/my-org/app:v2",
        /* As in the grammar: any first component may be a domain. */
        "Registry/app:1",
        "my_org/app:1",
        "a.b/c__d/e---f/g.h:x",
        "registry-1.example.com/a/b/c:_tag",
        "10.0.0.1:5000/app:1",
    };

    (void)state;
    assert_all(imageref_valid, v, COUNT(v), true);
}

static void test_invalid_refs(void **state)
{
    static const char *const v[] = {
        "",
        "pos/app",
        "registry.local:5000/pos/app",
        "app:",
        "app@",
        "app@sha256:abc",
        ":1.0",
        "@" DIGEST,
        "/app:1",
        "app/:1",
        "pos//app:1",
        "Pos/App:1",
        "pos/App:1",
        "ghcr.io/My-Org/app:v2",
        "pos/app:1:2",
        "pos/app:.1",
        "pos/app@" DIGEST "@" DIGEST,
        "pos/app@" DIGEST ":1",
        "pos/a___b:1",
        "pos/a..b:1",
        "pos/a._b:1",
        "pos/-a:1",
        "pos/a-:1",
        "pos/a.:1",
        "-reg.io/app:1",
        "reg-.io/app:1",
        "reg..io/app:1",
        "reg.io:/app:1",
        "reg.io:50x/app:1",
        "reg_io:5000/app:1",
        "pos/app:1 ",
        " pos/app:1",
        "pos app:1",
        "https://reg.io/app:1",
    };

    (void)state;
    assert_all(imageref_valid, v, COUNT(v), false);
    assert_false(imageref_valid(NULL));
}

static void test_max_len(void **state)
{
    char buf[IMAGEREF_MAX_LEN + 2];

    (void)state;
    memset(buf, 'a', sizeof(buf));
    memcpy(buf, "reg.io/", 7);
    memcpy(buf + IMAGEREF_MAX_LEN - 2, ":1", 3);
    assert_int_equal(strlen(buf), IMAGEREF_MAX_LEN);
    assert_true(imageref_valid(buf));
    memcpy(buf + IMAGEREF_MAX_LEN - 1, ":1", 3);
    assert_false(imageref_valid(buf));
}

static void assert_join(const char *repo, const char *arg, const char *want)
{
    char *got = imageref_join(repo, arg);

    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_join(void **state)
{
    (void)state;
    assert_join("reg.io/pos/app", "1.4.0", "reg.io/pos/app:1.4.0");
    assert_join("pos/app", "latest", "pos/app:latest");
    assert_join("pos/app", "registry.local:5000/pos/app:1.4.0",
                "registry.local:5000/pos/app:1.4.0");
    assert_join("pos/app", "pos/app@" DIGEST, "pos/app@" DIGEST);
    assert_join("pos/app", "other:2", "other:2");
    assert_join("", "", "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tag),        cmocka_unit_test(test_digest),
        cmocka_unit_test(test_valid_refs), cmocka_unit_test(test_invalid_refs),
        cmocka_unit_test(test_max_len),    cmocka_unit_test(test_join),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
