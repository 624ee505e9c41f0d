/* lib/sign: key file, canonical form, signatures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "lib/sign.h"

static char key_path[64];

static int setup(void **state)
{
    (void)state;
    snprintf(key_path, sizeof(key_path), "/tmp/mc-test-key-%d", getpid());
    unlink(key_path);
    return sodium_init() < 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(key_path);
    return 0;
}

static void key_is_made_once_and_kept(void **state)
{
    struct err e;
    struct sign_key *a, *b;
    struct stat st;

    (void)state;
    a = sign_key_load(key_path, &e);
    assert_non_null(a);
    assert_int_equal(stat(key_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    b = sign_key_load(key_path, &e);
    assert_non_null(b);
    assert_string_equal(sign_key_public(a), sign_key_public(b));
    assert_int_equal(strlen(sign_key_public(a)), SIGN_PUBLIC_B64_LEN - 1);
    sign_key_free(a);
    sign_key_free(b);
}

static void canonical_sorts_keys_at_every_level(void **state)
{
    json_t *o = json_pack("{s:s, s:{s:i, s:n}, s:s}", "z", "é\n", "m", "b", 1,
                          "a", "id", "x/y");
    char *c = sign_canonical(o);

    (void)state;
    assert_string_equal(c, "{\"id\":\"x/y\",\"m\":{\"a\":null,\"b\":1},"
                           "\"z\":\"é\\n\"}");
    free(c);
    json_decref(o);
}

static void signature_verifies_and_detects_changes(void **state)
{
    struct err e;
    struct sign_key *k = sign_key_load(key_path, &e);
    json_t *o =
        json_pack("{s:s, s:{s:s}}", "id", "c1", "release", "version", "1.4.0");
    json_t *other;
    char sig[SIGN_SIG_B64_LEN];

    (void)state;
    sign_object(k, o, sig);
    assert_true(sign_verify(sign_key_public(k), o, sig));
    other =
        json_pack("{s:s, s:{s:s}}", "id", "c1", "release", "version", "1.4.1");
    assert_false(sign_verify(sign_key_public(k), other, sig));
    sig[3] = sig[3] == 'A' ? 'B' : 'A';
    assert_false(sign_verify(sign_key_public(k), o, sig));
    assert_false(sign_verify("not base64!", o, sig));
    assert_false(sign_verify(sign_key_public(k), o, NULL));
    json_decref(other);
    json_decref(o);
    sign_key_free(k);
}

static void a_garbled_key_file_is_an_error(void **state)
{
    struct err e;
    FILE *f = fopen(key_path, "w");

    (void)state;
    fputs("short\n", f);
    fclose(f);
    assert_null(sign_key_load(key_path, &e));
    assert_non_null(strstr(e.message, "not a base64 ed25519 seed"));
    unlink(key_path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(key_is_made_once_and_kept, setup,
                                        teardown),
        cmocka_unit_test(canonical_sorts_keys_at_every_level),
        cmocka_unit_test_setup_teardown(signature_verifies_and_detects_changes,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(a_garbled_key_file_is_an_error, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
