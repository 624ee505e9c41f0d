#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "lib/semver.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void assert_all_valid(const char *const *v, size_t n, bool expected)
{
    for (size_t i = 0; i < n; i++) {
        if (semver_valid(v[i]) != expected)
            fail_msg("semver_valid(\"%s\") != %d", v[i], expected);
    }
}

static void test_spec_examples_valid(void **state)
{
    static const char *const v[] = {
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-0.3.7",
        "1.0.0-x.7.z.92",
        "1.0.0-x-y-z.--",
        "1.0.0-alpha+001",
        "1.0.0+20130313144700",
        "1.0.0-beta+exp.sha.5114f85",
        "1.0.0+21AF26D3----117B344092BD",
    };

    (void)state;
    assert_all_valid(v, COUNT(v), true);
}

/* From the regex test set linked in the semver.org FAQ. */
static void test_faq_valid(void **state)
{
    static const char *const v[] = {
        "0.0.4",
        "1.2.3",
        "10.20.30",
        "1.1.2-prerelease+meta",
        "1.1.2+meta",
        "1.1.2+meta-valid",
        "1.0.0-alpha",
        "1.0.0-beta",
        "1.0.0-alpha.beta",
        "1.0.0-alpha.beta.1",
        "1.0.0-alpha.1",
        "1.0.0-alpha0.valid",
        "1.0.0-alpha.0valid",
        "1.0.0-alpha-a.b-c-somethinglong+build.1-aef.1-its-okay",
        "1.0.0-rc.1+build.1",
        "2.0.0-rc.1+build.123",
        "1.2.3-beta",
        "10.2.3-DEV-SNAPSHOT",
        "1.2.3-SNAPSHOT-123",
        "1.0.0",
        "2.0.0",
        "1.1.7",
        "2.0.0+build.1848",
        "2.0.1-alpha.1227",
        "1.0.0-alpha+beta",
        "1.2.3----RC-SNAPSHOT.12.9.1--.12+788",
        "1.2.3----R-S.12.9.1--.12+meta",
        "1.2.3----RC-SNAPSHOT.12.9.1--.12",
        "1.0.0+0.build.1-rc.10000aaa-kk-0.1",
        "1.0.0-0A.is.legal",
        "1.0.0-0",
        "0.0.0",
        "1.0.0+0123.007",
    };

    (void)state;
    assert_all_valid(v, COUNT(v), true);
}

static void test_faq_invalid(void **state)
{
    static const char *const v[] = {
        "1",
        "1.2",
        "1.2.3-0123",
        "1.2.3-0123.0123",
        "1.1.2+.123",
        "+invalid",
        "-invalid",
        "-invalid+invalid",
        "-invalid.01",
        "alpha",
        "alpha.beta",
        "alpha.beta.1",
        "alpha.1",
        "alpha+beta",
        "alpha_beta",
        "alpha.",
        "alpha..",
        "beta",
        "1.0.0-alpha_beta",
        "-alpha.",
        "1.0.0-alpha..",
        "1.0.0-alpha..1",
        "1.0.0-alpha...1",
        "1.0.0-alpha.......1",
        "01.1.1",
        "1.01.1",
        "1.1.01",
        "1.2.3.DEV",
        "1.2-SNAPSHOT",
        "1.2.31.2.3----RC-SNAPSHOT.12.09.1--..12+788",
        "1.2-RC-SNAPSHOT",
        "-1.0.3-gamma+b7718",
        "+justmeta",
        "9.8.7+meta+meta",
        "9.8.7-whatever+meta+meta",
        "1.2.3-",
        "1.2.3+",
        "1.2.3-+build",
        "1.2.3-alpha.",
        "1.2.3+build.",
        "v1.2.3",
        " 1.2.3",
        "1.2.3 ",
        "1.2.3\n",
        "1. 2.3",
        "",
        "...",
        "1..3",
        "1.2.3-a\xc3\xa9",
    };

    (void)state;
    assert_all_valid(v, COUNT(v), false);
    assert_false(semver_valid(NULL));
}

static void test_uint64_bounds(void **state)
{
    (void)state;
    assert_true(semver_valid("18446744073709551615.0.0"));
    assert_true(semver_valid("0.18446744073709551615.0"));
    assert_true(semver_valid("0.0.18446744073709551615"));
    assert_false(semver_valid("18446744073709551616.0.0"));
    assert_false(semver_valid("0.18446744073709551616.0"));
    assert_false(semver_valid("0.0.18446744073709551616"));
    assert_false(semver_valid("99999999999999999999.0.0"));
    assert_false(semver_valid("100000000000000000000.0.0"));
    assert_false(
        semver_valid("99999999999999999999999.999999999999999999.99999"));
    /* Prerelease numerics are never converted, so they are unbounded. */
    assert_true(semver_valid("1.0.0-99999999999999999999999"));
}

static void test_max_len(void **state)
{
    char buf[SEMVER_MAX_LEN + 2];

    (void)state;
    memset(buf, 'a', sizeof(buf));
    memcpy(buf, "1.0.0+", 6);
    buf[SEMVER_MAX_LEN] = '\0';
    assert_int_equal(strlen(buf), 128);
    assert_true(semver_valid(buf));
    buf[SEMVER_MAX_LEN] = 'a';
    buf[SEMVER_MAX_LEN + 1] = '\0';
    assert_false(semver_valid(buf));
}

static void assert_ordered(const char *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            int r = semver_compare(v[i], v[j]);
            bool ok = i < j ? r < 0 : (i > j ? r > 0 : r == 0);

            if (!ok)
                fail_msg("compare(\"%s\", \"%s\") = %d", v[i], v[j], r);
        }
    }
}

static void test_precedence_spec_chain(void **state)
{
    static const char *const v[] = {
        "1.0.0-alpha",  "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
        "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1",       "1.0.0",
    };

    (void)state;
    assert_ordered(v, COUNT(v));
}

static void test_precedence_core(void **state)
{
    static const char *const v[] = {
        "0.0.0",
        "0.0.9",
        "0.0.10",
        "0.9.0",
        "0.10.0",
        "1.0.0",
        "2.0.0",
        "2.1.0",
        "2.1.1",
        "9.0.0",
        "10.0.0",
        "18446744073709551614.0.0",
        "18446744073709551615.0.0",
    };

    (void)state;
    assert_ordered(v, COUNT(v));
}

static void test_precedence_identifiers(void **state)
{
    static const char *const v[] = {
        "1.0.0-0",
        "1.0.0-9",
        "1.0.0-10",
        "1.0.0-99999999999999999999998",
        "1.0.0-99999999999999999999999",
        "1.0.0-100000000000000000000000",
        "1.0.0--",
        "1.0.0-0a",
        "1.0.0-A",
        "1.0.0-Z",
        "1.0.0-a",
        "1.0.0-a.0",
        "1.0.0-a.a",
        "1.0.0-a.a.0",
        "1.0.0-a0",
        "1.0.0-ab",
        "1.0.0",
        "1.0.1-0",
    };

    (void)state;
    assert_ordered(v, COUNT(v));
}

static void test_build_ignored(void **state)
{
    (void)state;
    assert_int_equal(semver_compare("1.2.3+build.7", "1.2.3"), 0);
    assert_int_equal(semver_compare("1.2.3", "1.2.3+build.7"), 0);
    assert_int_equal(semver_compare("1.2.3+a", "1.2.3+b"), 0);
    assert_int_equal(semver_compare("1.0.0-rc.1+x", "1.0.0-rc.1+y.z"), 0);
    assert_true(semver_compare("1.0.0-rc.1+zzz", "1.0.0-rc.2+aaa") < 0);
    assert_true(semver_compare("1.0.0+zzz", "1.0.0-rc.1") > 0);
}

static void test_key_len(void **state)
{
    static const char *const same[] = {
        "1.0.0-rc.1",
        "1.0.0-rc.1+x",
        "1.0.0-rc.1+build.7-a",
    };

    (void)state;
    assert_int_equal(semver_key_len("1.2.3"), 5);
    assert_int_equal(semver_key_len("1.2.3+build.7"), 5);
    assert_int_equal(semver_key_len("1.0.0-x-y+b-c"), 9);
    assert_int_equal(semver_key_len(""), 0);
    for (size_t i = 0; i < COUNT(same); i++) {
        assert_int_equal(semver_key_len(same[i]), 10);
        assert_memory_equal(same[i], same[0], 10);
        assert_int_equal(semver_compare(same[i], same[0]), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_examples_valid),
        cmocka_unit_test(test_faq_valid),
        cmocka_unit_test(test_faq_invalid),
        cmocka_unit_test(test_uint64_bounds),
        cmocka_unit_test(test_max_len),
        cmocka_unit_test(test_precedence_spec_chain),
        cmocka_unit_test(test_precedence_core),
        cmocka_unit_test(test_precedence_identifiers),
        cmocka_unit_test(test_build_ignored),
        cmocka_unit_test(test_key_len),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
