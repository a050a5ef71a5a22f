/* Status codes, strerror/errname, is_fatal, version, the last-error record. */
#include "testutil.h"

#include <stdio.h>

#include "core/internal.h"

static const int all_codes[] = {
    MAILPROTO_OK, MAILPROTO_EVENT, MAILPROTO_AGAIN, MAILPROTO_E_INVALID, MAILPROTO_E_STATE,
    MAILPROTO_E_UNSUPPORTED, MAILPROTO_E_LIMIT, MAILPROTO_E_NOMEM, MAILPROTO_E_RESOLVE,
    MAILPROTO_E_CONNECT, MAILPROTO_E_IO, MAILPROTO_E_CLOSED, MAILPROTO_E_TIMEOUT, MAILPROTO_E_TLS,
    MAILPROTO_E_CERT_UNTRUSTED, MAILPROTO_E_CERT_EXPIRED, MAILPROTO_E_CERT_NAME,
    MAILPROTO_E_CERT_PIN, MAILPROTO_E_TLS_REQUIRED, MAILPROTO_E_STARTTLS_INJECTION,
    MAILPROTO_E_PROTOCOL, MAILPROTO_E_AUTH, MAILPROTO_E_REJECTED, MAILPROTO_E_NOT_SENT,
    MAILPROTO_E_OUTCOME_UNKNOWN, MAILPROTO_E_CALLBACK, MAILPROTO_E_CANCELLED,
};

static void strings_are_distinct(void **state)
{
    (void)state;
    size_t n = sizeof all_codes / sizeof all_codes[0];
    for (size_t i = 0; i < n; i++) {
        const char *s = mailproto_strerror(all_codes[i]);
        const char *name = mailproto_errname(all_codes[i]);
        assert_non_null(s);
        assert_true(strncmp(name, "MAILPROTO_", 10) == 0);
        assert_string_not_equal(s, "unknown error");
        for (size_t j = 0; j < i; j++) {
            assert_string_not_equal(s, mailproto_strerror(all_codes[j]));
            assert_string_not_equal(name, mailproto_errname(all_codes[j]));
        }
    }
    assert_string_equal(mailproto_errname(MAILPROTO_E_STARTTLS_INJECTION),
                        "MAILPROTO_E_STARTTLS_INJECTION");
    assert_string_equal(mailproto_strerror(-999), "unknown error");
    assert_string_equal(mailproto_errname(12345), "MAILPROTO_UNKNOWN");
}

static void fatal_classification(void **state)
{
    (void)state;
    assert_false(mailproto_is_fatal(MAILPROTO_OK));
    assert_false(mailproto_is_fatal(MAILPROTO_AGAIN));
    assert_false(mailproto_is_fatal(MAILPROTO_EVENT));
    assert_false(mailproto_is_fatal(MAILPROTO_E_INVALID));
    assert_false(mailproto_is_fatal(MAILPROTO_E_AUTH));
    assert_false(mailproto_is_fatal(MAILPROTO_E_REJECTED));
    assert_false(mailproto_is_fatal(MAILPROTO_E_LIMIT));
    assert_true(mailproto_is_fatal(MAILPROTO_E_PROTOCOL));
    assert_true(mailproto_is_fatal(MAILPROTO_E_STARTTLS_INJECTION));
    assert_true(mailproto_is_fatal(MAILPROTO_E_CERT_NAME));
    assert_true(mailproto_is_fatal(MAILPROTO_E_OUTCOME_UNKNOWN));
    assert_true(mailproto_is_fatal(MAILPROTO_E_TIMEOUT));
}

static void version_matches_header(void **state)
{
    (void)state;
    assert_string_equal(mailproto_version(), MAILPROTO_VERSION_STRING);
    assert_int_equal(mailproto_version_number(), MAILPROTO_VERSION_NUMBER);
}

static void err_record_sanitizes_text(void **state)
{
    (void)state;
    mailproto__err e;
    mailproto__err_clear(&e);
    assert_string_equal(e.pub.text, "");
    assert_string_equal(e.pub.message, "");
    assert_int_equal(mailproto__err_set(&e, MAILPROTO_E_REJECTED, "RCPT %s refused (%d)", "x@y", 550),
                     MAILPROTO_E_REJECTED);
    assert_string_equal(e.pub.message, "RCPT x@y refused (550)");
    mailproto__err_text(&e, "bad\r\n\x1b[31mthing\x07\tend", 21);
    assert_string_equal(e.pub.text, "bad[31mthing end");
    assert_int_equal(e.pub.text_len, strlen("bad[31mthing end"));
    mailproto__err_code(&e, 550, "5.1.1 user unknown", 18);
    assert_int_equal(e.pub.code, 550);
    assert_string_equal(e.pub.enhanced, "5.1.1");
    assert_int_equal(e.pub.enh_class, 5);
    assert_int_equal(e.pub.enh_subject, 1);
    assert_int_equal(e.pub.enh_detail, 1);
    assert_int_equal(e.pub.temporary, 0);
    mailproto__err_code(&e, 451, "4.7.1", 5);
    assert_int_equal(e.pub.temporary, 1);
    assert_string_equal(e.pub.enhanced, "4.7.1");
    /* long text is bounded */
    char big[2000];
    memset(big, 'x', sizeof big);
    mailproto__err_text(&e, big, sizeof big);
    assert_int_equal(e.pub.text_len, MAILPROTO__ERR_TEXT_MAX - 1);
    assert_string_equal(mailproto__reply_empty()->text, "");
}

static void enhanced_code_parser(void **state)
{
    (void)state;
    int c, s, d;
    assert_int_equal(mailproto__parse_enhanced("2.0.0 ok", 8, &c, &s, &d), 5);
    assert_int_equal(mailproto__parse_enhanced("5.7.139", 7, &c, &s, &d), 7);
    assert_int_equal(d, 139);
    assert_int_equal(mailproto__parse_enhanced("3.0.0", 5, &c, &s, &d), 0);
    assert_int_equal(mailproto__parse_enhanced("5.1", 3, &c, &s, &d), 0);
    assert_int_equal(mailproto__parse_enhanced("5.1.1x", 6, &c, &s, &d), 0);
    assert_int_equal(mailproto__parse_enhanced("55.1.1", 6, &c, &s, &d), 0);
    assert_int_equal(mailproto__parse_enhanced("5.1234.1", 8, &c, &s, &d), 0);
    assert_int_equal(mailproto__parse_enhanced("", 0, &c, &s, &d), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(strings_are_distinct),
        cmocka_unit_test(fatal_classification),
        cmocka_unit_test(version_matches_header),
        cmocka_unit_test(err_record_sanitizes_text),
        cmocka_unit_test(enhanced_code_parser),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
