/* lib/strmap: puts, gets, deletes across growth and tombstones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>
#include <sodium.h>

#include "lib/strmap.h"

static void key_of(int i, char out[32])
{
    snprintf(out, 32, "node-%d", i);
}

static void many_entries_survive_growth_and_deletes(void **state)
{
    struct strmap *m = strmap_new();
    static int values[5000];
    char key[32];

    (void)state;
    for (int i = 0; i < 5000; i++) {
        key_of(i, key);
        assert_null(strmap_put(m, key, &values[i]));
    }
    assert_int_equal(strmap_size(m), 5000);
    for (int i = 0; i < 5000; i += 2) {
        key_of(i, key);
        assert_ptr_equal(strmap_del(m, key), &values[i]);
    }
    assert_int_equal(strmap_size(m), 2500);
    for (int i = 0; i < 5000; i++) {
        key_of(i, key);
        assert_ptr_equal(strmap_get(m, key), i % 2 ? &values[i] : NULL);
    }
    /* Reinsert over tombstones; replacing answers the old value. */
    for (int i = 0; i < 5000; i += 2) {
        key_of(i, key);
        assert_null(strmap_put(m, key, &values[i]));
    }
    key_of(7, key);
    assert_ptr_equal(strmap_put(m, key, &values[8]), &values[7]);
    assert_int_equal(strmap_size(m), 5000);
    strmap_free(m);
}

static void values_lists_every_entry(void **state)
{
    struct strmap *m = strmap_new();
    int a = 1, b = 2;
    void **all;
    int sum = 0;

    (void)state;
    strmap_put(m, "a", &a);
    strmap_put(m, "b", &b);
    all = strmap_values(m);
    for (void **p = all; *p; p++)
        sum += *(int *)*p;
    assert_int_equal(sum, 3);
    free(all);
    assert_null(strmap_del(m, "missing"));
    strmap_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(many_entries_survive_growth_and_deletes),
        cmocka_unit_test(values_lists_every_entry),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
