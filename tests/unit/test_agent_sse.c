/* The agent's SSE parser: framing, field rules, bounds, and that the
 * outcome does not depend on how the bytes are split into reads. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../src/agent/sse.c"

#define MAX_EVENTS 16

struct seen {
    char events[MAX_EVENTS][512];
    int count;
    int stop_after; /* return 1 from the callback after this many, or 0 */
};

static int collect(const struct sse_event *ev, void *arg)
{
    struct seen *s = arg;

    assert_true(s->count < MAX_EVENTS);
    assert_int_equal(strlen(ev->data), ev->data_len);
    snprintf(s->events[s->count++], sizeof(s->events[0]), "%s|%s|%s", ev->type,
             ev->id, ev->data);
    return s->stop_after && s->count >= s->stop_after;
}

/* Parses text fed in pieces: cut at split (when > 0), or byte by byte
 * (when split is -1). */
static int parse(const char *text, size_t len, int split, size_t max,
                 struct seen *s, long *retry)
{
    struct sse_parser p;
    int rc = 0;

    memset(s, 0, sizeof(*s));
    sse_parser_init(&p, max, collect, s);
    if (split < 0) {
        for (size_t i = 0; i < len && !rc; i++)
            rc = sse_parser_feed(&p, text + i, 1);
    } else {
        rc = sse_parser_feed(&p, text, (size_t)split);
        if (!rc)
            rc = sse_parser_feed(&p, text + split, len - (size_t)split);
    }
    if (retry)
        *retry = p.retry_ms;
    sse_parser_release(&p);
    return rc;
}

static const char stream[] = "\xEF\xBB\xBF"
                             "retry: 5000\n"
                             "\n"
                             ": keep-alive\n"
                             "id: 17\n"
                             "event: command\n"
                             "data: {\"id\":\"a\"}\n"
                             "\n"
                             ":comment with: colon\r\n"
                             "data:first\r\n"
                             "data: second\r\n"
                             "data\r\n"
                             "\r\n"
                             "id: 18\r"
                             "event: command\r"
                             "data:  two spaces\r"
                             "\r"
                             "event: ignored-no-data\n"
                             "\n"
                             "unknown: field\n"
                             "id\n"
                             "data: after empty id\n"
                             "\n";

static const char *const expected[] = {
    "command|17|{\"id\":\"a\"}",
    "message|17|first\nsecond\n",
    "command|18| two spaces",
    "message||after empty id",
};

static void check_stream(const struct seen *s, long retry)
{
    assert_int_equal(s->count, 4);
    for (int i = 0; i < 4; i++)
        assert_string_equal(s->events[i], expected[i]);
    assert_int_equal(retry, 5000);
}

static void test_whole(void **state)
{
    struct seen s;
    long retry;

    (void)state;
    assert_int_equal(parse(stream, sizeof(stream) - 1, 0, 0, &s, &retry), 0);
    check_stream(&s, retry);
}

static void test_split_at_every_byte(void **state)
{
    struct seen s;
    long retry;

    (void)state;
    for (int cut = 0; cut <= (int)sizeof(stream) - 1; cut++) {
        assert_int_equal(parse(stream, sizeof(stream) - 1, cut, 0, &s, &retry),
                         0);
        check_stream(&s, retry);
    }
    assert_int_equal(parse(stream, sizeof(stream) - 1, -1, 0, &s, &retry), 0);
    check_stream(&s, retry);
}

static void test_crlf_split_between_cr_and_lf(void **state)
{
    static const char t[] = "data: a\r\n\r\ndata: b\r\n\r\n";
    struct seen s;

    (void)state;
    /* Cut right after each CR: the LF that follows must not count as an
     * empty line of its own (that would dispatch early or twice). */
    for (int cut = 0; cut <= (int)sizeof(t) - 1; cut++) {
        assert_int_equal(parse(t, sizeof(t) - 1, cut, 0, &s, NULL), 0);
        assert_int_equal(s.count, 2);
        assert_string_equal(s.events[0], "message||a");
        assert_string_equal(s.events[1], "message||b");
    }
}

static void test_incomplete_event_not_dispatched(void **state)
{
    static const char t[] = "data: a\n";
    struct seen s;

    (void)state;
    assert_int_equal(parse(t, sizeof(t) - 1, 0, 0, &s, NULL), 0);
    assert_int_equal(s.count, 0);
}

static void test_bad_retry_ignored(void **state)
{
    static const char t[] = "retry: 12x\nretry: -5\nretry:\n\n";
    struct seen s;
    long retry;

    (void)state;
    assert_int_equal(parse(t, sizeof(t) - 1, 0, 0, &s, &retry), 0);
    assert_int_equal(retry, -1);
}

static void test_oversize_line_rejected(void **state)
{
    char big[200];
    struct sse_parser p;
    struct seen s = {0};

    (void)state;
    memset(big, 'x', sizeof(big));
    memcpy(big, "data: ", 6);
    sse_parser_init(&p, 64, collect, &s);
    assert_int_equal(sse_parser_feed(&p, big, 60), 0);
    assert_int_equal(sse_parser_feed(&p, big + 60, 10), SSE_TOO_LONG);
    /* Once failed, it stays failed: the stream must be dropped. */
    assert_int_equal(sse_parser_feed(&p, "\n\n", 2), SSE_TOO_LONG);
    assert_int_equal(s.count, 0);
    sse_parser_release(&p);
}

static void test_line_at_limit_accepted(void **state)
{
    char t[64 + 3];
    struct seen s;

    (void)state;
    memcpy(t, "data:", 5);
    memset(t + 5, 'y', 59); /* a 64-byte line */
    memcpy(t + 64, "\n\n", 2);
    assert_int_equal(parse(t, 66, 0, 64, &s, NULL), 0);
    assert_int_equal(s.count, 1);
}

static void test_oversize_event_rejected(void **state)
{
    static const char t[] = "data: 0123456789\ndata: 0123456789\n"
                            "data: 0123456789\n\n";
    struct seen s;

    (void)state;
    /* Each line fits in 24 bytes; the joined data (33 bytes) does not. */
    assert_int_equal(parse(t, sizeof(t) - 1, 0, 24, &s, NULL), SSE_TOO_LONG);
    assert_int_equal(s.count, 0);
}

static void test_callback_stops_feed(void **state)
{
    static const char t[] = "data: 1\n\ndata: 2\n\ndata: 3\n\n";
    struct sse_parser p;
    struct seen s = {.stop_after = 2};

    (void)state;
    sse_parser_init(&p, 0, collect, &s);
    assert_int_equal(sse_parser_feed(&p, t, sizeof(t) - 1), 1);
    assert_int_equal(s.count, 2);
    sse_parser_release(&p);
}

static void test_partial_bom_is_data(void **state)
{
    static const char t[] = "\xEF"
                            "data: x\n\n";
    struct seen s;

    (void)state;
    /* Not a BOM after all: the byte belongs to the first line, whose field
     * name is then unknown, so nothing is dispatched. */
    assert_int_equal(parse(t, sizeof(t) - 1, 1, 0, &s, NULL), 0);
    assert_int_equal(s.count, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole),
        cmocka_unit_test(test_split_at_every_byte),
        cmocka_unit_test(test_crlf_split_between_cr_and_lf),
        cmocka_unit_test(test_incomplete_event_not_dispatched),
        cmocka_unit_test(test_bad_retry_ignored),
        cmocka_unit_test(test_oversize_line_rejected),
        cmocka_unit_test(test_line_at_limit_accepted),
        cmocka_unit_test(test_oversize_event_rejected),
        cmocka_unit_test(test_callback_stops_feed),
        cmocka_unit_test(test_partial_bom_is_data),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
