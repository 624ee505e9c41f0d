#include "semver.h"

#include <assert.h>
#include <stdint.h>
#include <string.h>

/* Own classifiers: <ctype.h> is locale-dependent and UB on negative chars. */
static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_ident_char(char c)
{
    return is_digit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           c == '-';
}

static size_t digit_run(const char *p)
{
    size_t n = 0;

    while (is_digit(p[n]))
        n++;
    return n;
}

static size_t ident_run(const char *p)
{
    size_t n = 0;

    while (is_ident_char(p[n]))
        n++;
    return n;
}

static bool all_digits(const char *p, size_t n)
{
    return digit_run(p) >= n;
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

static int sign(int r)
{
    return (r > 0) - (r < 0);
}

/* Digits without leading zeros: a longer string is a larger number. */
static bool fits_u64(const char *p, size_t n)
{
    static const char max[] = "18446744073709551615";

    if (n != sizeof(max) - 1)
        return n < sizeof(max) - 1;
    return memcmp(p, max, n) <= 0;
}

/* Returns the end of a MAJOR/MINOR/PATCH number, or NULL if invalid. */
static const char *parse_core_num(const char *p)
{
    size_t n = digit_run(p);

    if (n == 0 || (n > 1 && p[0] == '0') || !fits_u64(p, n))
        return NULL;
    return p + n;
}

static const char *parse_core(const char *p)
{
    for (int i = 0; i < 3; i++) {
        if (i > 0) {
            if (*p != '.')
                return NULL;
            p++;
        }
        p = parse_core_num(p);
        if (!p)
            return NULL;
    }
    return p;
}

/*
 * Returns the end of a dot-separated identifier list, or NULL if invalid.
 * Only prerelease numerics forbid leading zeros; build ones may have them.
 */
static const char *parse_idents(const char *p, bool prerelease)
{
    for (;;) {
        size_t n = ident_run(p);

        if (n == 0)
            return NULL;
        if (prerelease && n > 1 && p[0] == '0' && all_digits(p, n))
            return NULL;
        p += n;
        if (*p != '.')
            return p;
        p++;
    }
}

bool semver_valid(const char *s)
{
    const char *p;

    if (!s || longer_than(s, SEMVER_MAX_LEN))
        return false;
    p = parse_core(s);
    if (p && *p == '-')
        p = parse_idents(p + 1, true);
    if (p && *p == '+')
        p = parse_idents(p + 1, false);
    return p && *p == '\0';
}

/* Valid numbers have no leading zeros, so length decides first. */
static int cmp_num(const char *a, size_t na, const char *b, size_t nb)
{
    if (na != nb)
        return na < nb ? -1 : 1;
    return sign(memcmp(a, b, na));
}

static int cmp_ident(const char *a, size_t na, const char *b, size_t nb)
{
    bool numa = all_digits(a, na);
    bool numb = all_digits(b, nb);
    int r;

    if (numa && numb)
        return cmp_num(a, na, b, nb);
    if (numa != numb)
        return numa ? -1 : 1;
    r = memcmp(a, b, na < nb ? na : nb);
    if (r != 0)
        return sign(r);
    /* ASCII order: on a common prefix, the shorter one sorts first. */
    return na == nb ? 0 : (na < nb ? -1 : 1);
}

/* Compares MAJOR.MINOR.PATCH and advances *a and *b past it. */
static int cmp_core(const char **a, const char **b)
{
    for (int i = 0; i < 3; i++) {
        size_t na = digit_run(*a);
        size_t nb = digit_run(*b);
        int r = cmp_num(*a, na, *b, nb);

        if (r != 0)
            return r;
        *a += na;
        *b += nb;
        if (i < 2) {
            (*a)++;
            (*b)++;
        }
    }
    return 0;
}

/* a and b point just past the '-' of their prerelease parts. */
static int cmp_prerelease(const char *a, const char *b)
{
    for (;;) {
        size_t na = ident_run(a);
        size_t nb = ident_run(b);
        int r = cmp_ident(a, na, b, nb);
        bool morea;
        bool moreb;

        if (r != 0)
            return r;
        a += na;
        b += nb;
        morea = *a == '.';
        moreb = *b == '.';
        if (!morea || !moreb)
            return morea - moreb;
        a++;
        b++;
    }
}

int semver_compare(const char *a, const char *b)
{
    int r;

    assert(semver_valid(a) && semver_valid(b));
    r = cmp_core(&a, &b);
    if (r != 0)
        return r;
    /* A release outranks any of its prereleases. */
    if (*a != '-' || *b != '-')
        return (*a != '-') - (*b != '-');
    return cmp_prerelease(a + 1, b + 1);
}

size_t semver_key_len(const char *s)
{
    assert(s != NULL);
    return strcspn(s, "+");
}
