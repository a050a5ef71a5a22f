/* Number parsing, case folding, the formatter, the trace hook. */
#include "testutil.h"

#include <stdio.h>

#include "core/internal.h"

static void parse_numbers(void **state)
{
    (void)state;
    uint64_t v;
    assert_int_equal(mailproto__parse_u64("0", 1, UINT32_MAX, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(mailproto__parse_u64("4294967295", 10, UINT32_MAX, &v), 0);
    assert_int_equal(v, 4294967295u);
    assert_int_equal(mailproto__parse_u64("4294967296", 10, UINT32_MAX, &v), -1);
    assert_int_equal(mailproto__parse_u64("18446744073709551615", 20, UINT64_MAX, &v), 0);
    assert_int_equal(mailproto__parse_u64("18446744073709551616", 20, UINT64_MAX, &v), -1);
    assert_int_equal(mailproto__parse_u64("-1", 2, UINT64_MAX, &v), -1);
    assert_int_equal(mailproto__parse_u64("+5", 2, UINT64_MAX, &v), -1);
    assert_int_equal(mailproto__parse_u64("", 0, UINT64_MAX, &v), -1);
    assert_int_equal(mailproto__parse_u64("12a", 3, UINT64_MAX, &v), -1);
}

static void case_folding(void **state)
{
    (void)state;
    assert_int_equal(mailproto__strncasecmp("PIPELINING", "pipelining", 10), 0);
    assert_true(mailproto__strncasecmp("AUTH", "AUTO", 4) != 0);
    assert_true(mailproto__span_ieq("StartTLS", 8, "STARTTLS"));
    assert_false(mailproto__span_ieq("STARTTLSX", 9, "STARTTLS"));
    assert_false(mailproto__span_ieq("\xc4\xb0", 2, "i"));
}

static void formatter_matches_printf(void **state)
{
    (void)state;
    char a[128], b[128];
    mailproto__fmt(a, sizeof a, "%s=%d %u %zu %llu %lld %x %c %.*s %%", "k", -42, 7u,
                   (size_t)123456, 18446744073709551615ull, -9223372036854775807ll - 1, 0xbeefu,
                   'z', 3, "abcdef");
    snprintf(b, sizeof b, "%s=%d %u %zu %llu %lld %x %c %.*s %%", "k", -42, 7u, (size_t)123456,
             18446744073709551615ull, -9223372036854775807ll - 1, 0xbeefu, 'z', 3, "abcdef");
    assert_string_equal(a, b);
    /* truncation always terminates */
    char small[5];
    size_t n = mailproto__fmt(small, sizeof small, "%s", "abcdefgh");
    assert_string_equal(small, "abcd");
    assert_int_equal(n, 4);
    mailproto__fmt(small, 1, "%d", 12345);
    assert_string_equal(small, "");
}

static void trace_redacts_and_counts(void **state)
{
    (void)state;
    test_trace rec;
    memset(&rec, 0, sizeof rec);
    mailproto__trace t = {test_trace_fn, &rec, 0};
    mailproto__trace_emit(&t, MAILPROTO_TRACE_SENT, MAILPROTO_TRACE_COMMAND, "AUTH PLAIN ", 11);
    mailproto__trace_emit(&t, MAILPROTO_TRACE_SENT, MAILPROTO_TRACE_SECRET, "AGJvYgBzZWNyZXQ=", 16);
    mailproto__trace_data(&t, MAILPROTO_TRACE_SENT, "body bytes", 10);
    mailproto__trace_emit(&t, MAILPROTO_TRACE_SENT, MAILPROTO_TRACE_DATA, "more", 4);
#if MAILPROTO_HAS_TRACE
    assert_string_equal(rec.buf, "AUTH PLAIN " MAILPROTO_TRACE_REDACTED);
    assert_int_equal(rec.secrets, 1);
    assert_int_equal(rec.data_bytes, 14);
    /* asking for data bytes shows them; secrets stay redacted */
    t.data_bytes = 1;
    mailproto__trace_data(&t, MAILPROTO_TRACE_SENT, "xyz", 3);
    mailproto__trace_secret(&t, MAILPROTO_TRACE_SENT);
    assert_string_equal(rec.buf, "AUTH PLAIN " MAILPROTO_TRACE_REDACTED "xyz" MAILPROTO_TRACE_REDACTED);
    assert_null(strstr(rec.buf, "c2VjcmV0"));
    mailproto__trace_note(&t, "connected to %s:%u", "::1", 587u);
    assert_non_null(strstr(rec.buf, "connected to ::1:587"));
#else
    assert_int_equal(rec.len, 0);
#endif
    mailproto__trace_emit(NULL, 1, 1, "x", 1); /* NULL trace is fine */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_numbers),
        cmocka_unit_test(case_folding),
        cmocka_unit_test(formatter_matches_printf),
        cmocka_unit_test(trace_redacts_and_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
