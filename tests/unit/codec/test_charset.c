/* charsets: UTF-8 validation, built-in Latin-1/ASCII, iconv behind the
 * allow-list, unrepresentable characters are errors, streaming carries
 * split sequences. */
#include "testutil.h"

#include <mailproto/codec.h>

#include "codec/codec_internal.h"

static void utf8_validation(void **state)
{
    (void)state;
    assert_int_equal(mailproto_utf8_check("abc\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 12), MAILPROTO_OK);
    static const char *bad[] = {"\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                                "\xc3", "\x80", "\xff", "\xf0\x9f\x98"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(mailproto_utf8_check(bad[i], strlen(bad[i])), MAILPROTO_E_INVALID);
}

static void builtin(void **state)
{
    (void)state;
    char out[64];
    size_t n;
    assert_int_equal(mailproto_charset_to_utf8("latin1", "caf\xe9", 4, out, sizeof out, &n, 0), MAILPROTO_OK);
    assert_string_equal(out, "caf\xc3\xa9");
    assert_int_equal(mailproto_charset_from_utf8("ISO_8859-1", "caf\xc3\xa9", 5, out, sizeof out, &n), MAILPROTO_OK);
    assert_int_equal(n, 4);
    assert_memory_equal(out, "caf\xe9", 4);
    /* unrepresentable: an error, never '?' */
    assert_int_equal(mailproto_charset_from_utf8("iso-8859-1", "\xe2\x82\xac", 3, out, sizeof out, &n),
                     MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_charset_from_utf8("us-ascii", "\xc3\xa9", 2, out, sizeof out, &n), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_charset_to_utf8("us-ascii", "a\xe9", 2, out, sizeof out, &n, 0), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_charset_to_utf8("us-ascii", "a\xe9", 2, out, sizeof out, &n, MAILPROTO_CHARSET_REPLACE),
                     MAILPROTO_OK);
    assert_string_equal(out, "a\xef\xbf\xbd");
    assert_int_equal(mailproto_charset_to_utf8("utf-8", "a\xff", 2, out, sizeof out, &n, 0), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_charset_to_utf8("no-such-charset", "a", 1, out, sizeof out, &n, 0),
                     MAILPROTO_E_UNSUPPORTED);
    assert_int_equal(mailproto_charset_to_utf8("latin1", "\xe9\xe9\xe9", 3, out, 4, &n, 0), MAILPROTO_E_LIMIT);
    assert_int_equal(n, 6);
    assert_true(mailproto_charset_supported("UTF8"));
    assert_true(mailproto_charset_supported("Latin1"));
    assert_false(mailproto_charset_supported("x-klingon"));
}

static void allow_list(void **state)
{
    (void)state;
    /* iconv knows these, the allow-list does not take them */
    assert_false(mailproto_charset_supported("ISO-2022-CN-EXT"));
    assert_false(mailproto_charset_supported("iso-2022-cn"));
    char out[64];
    size_t n;
    assert_int_equal(mailproto_charset_from_utf8("ISO-2022-CN-EXT", "\xe4\xb8\xad", 3, out, sizeof out, &n),
                     MAILPROTO_E_UNSUPPORTED);
}

static void via_iconv(void **state)
{
    (void)state;
#if MAILPROTO_HAS_ICONV
    char out[64];
    size_t n;
    assert_true(mailproto_charset_supported("windows-1252"));
    assert_int_equal(mailproto_charset_to_utf8("cp1252", "\x80", 1, out, sizeof out, &n, 0), MAILPROTO_OK);
    assert_string_equal(out, "\xe2\x82\xac");
    assert_int_equal(mailproto_charset_from_utf8("Shift_JIS", "\xe6\x97\xa5", 3, out, sizeof out, &n), MAILPROTO_OK);
    assert_int_equal(n, 2);
    assert_int_equal(mailproto_charset_from_utf8("koi8-r", "\xe6\x97\xa5", 3, out, sizeof out, &n), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_charset_from_utf8("ISO-2022-JP", "a\xe6\x97\xa5", 4, out, sizeof out, &n), MAILPROTO_OK);
    /* back to ASCII at the end */
    assert_memory_equal(out + n - 3, "\x1b(B", 3);
    assert_int_equal(mailproto_charset_to_utf8("shift_jis", "\x82", 1, out, sizeof out, &n, 0), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_charset_to_utf8("shift_jis", "a\x82", 2, out, sizeof out, &n, MAILPROTO_CHARSET_REPLACE),
                     MAILPROTO_OK);
    assert_string_equal(out, "a\xef\xbf\xbd");
#else
    assert_false(mailproto_charset_supported("windows-1252"));
#endif
}

static void streaming_split(void **state)
{
    (void)state;
    const char *cs[] = {"utf-8", "latin1",
#if MAILPROTO_HAS_ICONV
                        "utf-16le", "gb18030",
#endif
    };
    const char *text = "z\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xe4\xb8\xad!";
    size_t tl = strlen(text);
    for (size_t c = 0; c < sizeof cs / sizeof cs[0]; c++) {
        char enc[128];
        size_t el;
        int rc = mailproto_charset_from_utf8(cs[c], text, tl, enc, sizeof enc, &el);
        const char *src = text;
        size_t sl = tl;
        if (rc == MAILPROTO_E_INVALID && c == 1) { /* latin1: only the first 3 characters */
            src = "z\xc3\xa9";
            sl = 3;
            rc = mailproto_charset_from_utf8(cs[c], src, sl, enc, sizeof enc, &el);
        }
        assert_int_equal(rc, MAILPROTO_OK);
        for (size_t split = 0; split <= el; split++) {
            mailproto__conv cv;
            assert_int_equal(mailproto__conv_open(&cv, cs[c], strlen(cs[c]), MAILPROTO__CONV_TO_UTF8, 0), MAILPROTO_OK);
            char out[MAILPROTO__CONV_BOUND(128) * 2];
            size_t a, b;
            assert_int_equal(mailproto__conv_feed(&cv, enc, split, out, &a, 0), MAILPROTO_OK);
            assert_int_equal(mailproto__conv_feed(&cv, enc + split, el - split, out + a, &b, 1), MAILPROTO_OK);
            mailproto__conv_close(&cv);
            assert_int_equal(a + b, sl);
            assert_memory_equal(out, src, sl);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(utf8_validation), cmocka_unit_test(builtin), cmocka_unit_test(allow_list),
        cmocka_unit_test(via_iconv),       cmocka_unit_test(streaming_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
