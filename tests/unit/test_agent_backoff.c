/* Reconnection back-off: full jitter under a ceiling that doubles up to the
 * maximum, and starts over after a reset. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../../src/agent/backoff.c"

/* The largest of many draws at the current attempt, without advancing. */
static int64_t largest(struct backoff *b, int draws)
{
    int64_t top = 0;
    int attempt = b->attempt;

    for (int i = 0; i < draws; i++) {
        int64_t d;

        b->attempt = attempt;
        d = backoff_next(b);
        assert_true(d >= 0);
        if (d > top)
            top = d;
    }
    b->attempt = attempt;
    return top;
}

static void test_ceiling_doubles_to_max(void **state)
{
    static const int64_t ceilings[] = {1000,  2000,  4000,  8000, 16000,
                                       32000, 60000, 60000, 60000};
    struct backoff b;

    (void)state;
    backoff_init(&b, 1000, 60000);
    for (size_t i = 0; i < sizeof(ceilings) / sizeof(ceilings[0]); i++) {
        int64_t top = largest(&b, 400);

        /* Full jitter: never above the ceiling, and it gets near it. */
        assert_true(top <= ceilings[i]);
        assert_true(top >= ceilings[i] * 9 / 10);
        backoff_next(&b);
    }
}

static void test_reset(void **state)
{
    struct backoff b;

    (void)state;
    backoff_init(&b, 1000, 60000);
    for (int i = 0; i < 20; i++)
        backoff_next(&b);
    backoff_reset(&b);
    for (int i = 0; i < 200; i++) {
        b.attempt = 0;
        assert_true(backoff_next(&b) <= 1000);
    }
}

static void test_jitter_spreads(void **state)
{
    struct backoff b;
    int low = 0;

    (void)state;
    backoff_init(&b, 1000, 60000);
    for (int i = 0; i < 400; i++) {
        b.attempt = 6;
        low += backoff_next(&b) < 30000;
    }
    /* About half below the middle: a fleet does not come back at once. */
    assert_true(low > 120 && low < 280);
}

static void test_odd_settings(void **state)
{
    struct backoff b;

    (void)state;
    backoff_init(&b, 0, 0);
    assert_true(backoff_next(&b) <= 1);
    backoff_init(&b, 5000, 2000); /* a server retry above the maximum */
    for (int i = 0; i < 50; i++)
        assert_true(backoff_next(&b) <= 5000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ceiling_doubles_to_max),
        cmocka_unit_test(test_reset),
        cmocka_unit_test(test_jitter_spreads),
        cmocka_unit_test(test_odd_settings),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
