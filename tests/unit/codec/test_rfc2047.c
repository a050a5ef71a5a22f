/* RFC 2047 encode (word and line limits, whole characters, no inner
 * padding) and the total decoder; RFC 2231 parameters. */
#include "testutil.h"

#include <stdio.h>

#include <mailproto/codec.h>

/* Check a folded run of encoded-words: lines <= 76 (the first one starting
 * at col), words <= 75, each word decodes alone to whole UTF-8, only the
 * last B word may end in '='; returns the decoded text. */
static size_t check_words(const char *s, size_t n, size_t col, char *dec, size_t cap)
{
    size_t line = col, i = 0, nwords = 0, last_b_pad = 0, total = 0;
    while (i < n) {
        if (s[i] == '\r') {
            assert_true(s[i + 1] == '\n' && s[i + 2] == ' ');
            assert_true(i == 0 || line <= 76);
            line = 1;
            i += 3;
            continue;
        }
        if (s[i] == ' ') {
            line++;
            i++;
            continue;
        }
        const char *end = strstr(s + i, "?=");
        assert_non_null(end);
        /* the word ends at the first "?=" after the encoding letter */
        const char *q = s + i + 10;
        end = strstr(q, "?=");
        size_t wl = (size_t)(end + 2 - (s + i));
        assert_true(wl <= 75);
        assert_true(s[i] == '=' && s[i + 1] == '?');
        if (last_b_pad)
            fail_msg("a padded B word is followed by another word");
        if (s[i + 8] == 'B' && end[-1] == '=')
            last_b_pad = 1;
        char one[200];
        size_t ol;
        assert_int_equal(mailproto_rfc2047_decode(s + i, wl, one, sizeof one, &ol), MAILPROTO_OK);
        assert_int_equal(mailproto_utf8_check(one, ol), MAILPROTO_OK);
        assert_null(memchr(one, 0xEF, ol) == NULL ? NULL : strstr(one, "\xEF\xBF\xBD"));
        assert_true(total + ol <= cap);
        memcpy(dec + total, one, ol);
        total += ol;
        line += wl;
        i += wl;
        nwords++;
    }
    assert_true(line <= 76);
    return total;
}

static const char *samples[] = {
    "Caf\xc3\xa9 cr\xc3\xa8me br\xc3\xbbl\xc3\xa9""e",
    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe4\xbb\xb6\xe5\x90\x8d",
    "A\xe4\xb8\xad\xe6\x96\x87\xe4\xb8\xad\xe6\x96\x87\xe4\xb8\xad\xe6\x96\x87\xe4\xb8\xad\xe6\x96\x87"
    "\xe4\xb8\xad\xe6\x96\x87\xe4\xb8\xad\xe6\x96\x87\xe4\xb8\xad\xe6\x96\x87\xe4\xb8\xad\xe6\x96\x87",
    "Emoji \xf0\x9f\x98\x80\xf0\x9f\x8e\x89\xf0\x9f\x9a\x80 party",
    "plain ascii with =? and ?= and _underscores_",
    "x",
};

static void encode_limits(void **state)
{
    (void)state;
    char big[1200];
    size_t bl = 0;
    /* 200 characters of mixed scripts */
    for (int i = 0; bl < 700; i++) {
        const char *s = samples[i % 4];
        size_t l = strlen(s);
        memcpy(big + bl, s, l);
        bl += l;
    }
    big[bl] = 0;
    for (size_t k = 0; k < sizeof samples / sizeof samples[0] + 1; k++) {
        const char *in = k < sizeof samples / sizeof samples[0] ? samples[k] : big;
        for (size_t col = 0; col <= 80; col += 3) {
            char out[8000];
            size_t n;
            assert_int_equal(mailproto_rfc2047_encode(in, strlen(in), col, out, sizeof out, &n), MAILPROTO_OK);
            assert_int_equal(strlen(out), n);
            char dec[4000];
            size_t dl = check_words(out, n, col, dec, sizeof dec);
            assert_int_equal(dl, strlen(in));
            assert_memory_equal(dec, in, dl);
            /* the whole run decodes too (after a fold before the first word,
             * which header unfolding removes) */
            size_t skip = (n >= 3 && out[0] == '\r') ? 3 : 0;
            assert_int_equal(mailproto_rfc2047_decode(out + skip, n - skip, dec, sizeof dec, &dl), MAILPROTO_OK);
            assert_int_equal(dl, strlen(in));
            assert_memory_equal(dec, in, dl);
        }
    }
}

static void encode_picks_b_or_q(void **state)
{
    (void)state;
    char out[400];
    size_t n;
    assert_int_equal(mailproto_rfc2047_encode(samples[0], strlen(samples[0]), 9, out, sizeof out, &n), MAILPROTO_OK);
    /* both carry everything: the shorter one wins */
    assert_string_equal(out, "=?UTF-8?B?Q2Fmw6kgY3LDqG1lIGJyw7tsw6ll?=");
    const char *de = "Gr\xc3\xbc\xc3\x9f" "e aus Berlin und Hamburg";
    assert_int_equal(mailproto_rfc2047_encode(de, strlen(de), 9, out, sizeof out, &n), MAILPROTO_OK);
    assert_string_equal(out, "=?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_Berlin_und_Hamburg?=");
    assert_int_equal(mailproto_rfc2047_encode(samples[1], strlen(samples[1]), 9, out, sizeof out, &n), MAILPROTO_OK);
    assert_non_null(strstr(out, "?B?"));
}

static void encode_rejects(void **state)
{
    (void)state;
    char out[200];
    size_t n;
    assert_int_equal(mailproto_rfc2047_encode("a\r\nBcc: x", 9, 0, out, sizeof out, &n), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_rfc2047_encode("a\nb", 3, 0, out, sizeof out, &n), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_rfc2047_encode("a\0b", 3, 0, out, sizeof out, &n), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_rfc2047_encode("\xc3", 1, 0, out, sizeof out, &n), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_rfc2047_encode(samples[1], strlen(samples[1]), 0, out, 10, &n), MAILPROTO_E_LIMIT);
    assert_true(n > 10);
}

static void decode_vectors(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } v[] = {
        /* RFC 2047 section 8 */
        {"(=?ISO-8859-1?Q?a?=)", "(a)"},
        {"(=?ISO-8859-1?Q?a?= b)", "(a b)"},
        {"(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)", "(ab)"},
        {"(=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=)", "(ab)"},
        {"(=?ISO-8859-1?Q?a_b?=)", "(a b)"},
        {"(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)", "(a b)"},
        {"=?iso-8859-1?q?caf=E9?=", "caf\xc3\xa9"},
        /* a character split across two words */
        {"=?UTF-8?B?4oI=?= =?UTF-8?B?rA==?=", "\xe2\x82\xac"},
        /* adjacent words without whitespace */
        {"=?UTF-8?Q?a?==?UTF-8?Q?b?=", "ab"},
        /* language suffix */
        {"=?UTF-8*en?Q?hi?=", "hi"},
        /* malformed: kept */
        {"=?UTF-8?X?abc?=", "=?UTF-8?X?abc?="},
        {"=?UTF-8?Q?no end", "=?UTF-8?Q?no end"},
        {"=?", "=?"},
        /* unknown charset: ASCII kept, the rest replaced */
        {"=?x-unknown?Q?a=FF?=", "a\xef\xbf\xbd"},
        /* disallowed charset */
        {"=?ISO-2022-CN-EXT?Q?ok?=", "ok"},
        /* bad base64 keeps what decoded */
        {"=?UTF-8?B?aGk*?=", "hi"},
        /* raw 8-bit junk becomes U+FFFD */
        {"a\xff b", "a\xef\xbf\xbd b"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char out[200];
        size_t n;
        assert_int_equal(mailproto_rfc2047_decode(v[i].in, strlen(v[i].in), out, sizeof out, &n), MAILPROTO_OK);
        assert_int_equal(n, strlen(v[i].out));
        assert_memory_equal(out, v[i].out, n);
    }
#if MAILPROTO_HAS_ICONV
    char out[64];
    size_t n;
    assert_int_equal(mailproto_rfc2047_decode("=?iso-8859-2?q?=B1?=", 20, out, sizeof out, &n), MAILPROTO_OK);
    assert_string_equal(out, "\xc4\x85");
    assert_int_equal(mailproto_rfc2047_decode("=?koi8-r?b?8NLJ18XU?=", 21, out, sizeof out, &n), MAILPROTO_OK);
    assert_string_equal(out, "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82");
#endif
}

/* ---- RFC 2231 ---- */

static void param_roundtrip(const char *value, size_t col0)
{
    char out[4000];
    size_t n, col = col0;
    assert_int_equal(mailproto_rfc2231_encode("filename", value, strlen(value), &col, out, sizeof out, &n),
                     MAILPROTO_OK);
    /* lines <= 78 */
    size_t c = col0;
    for (size_t i = 0; i < n; i++) {
        if (out[i] == '\r') {
            assert_true(out[i + 1] == '\n' && out[i + 2] == ' ');
            assert_true(c <= 78);
            c = 0;
            i++;
            continue;
        }
        c++;
    }
    assert_true(c <= 78);
    assert_int_equal(c, col);
    char hv[4100];
    int l = snprintf(hv, sizeof hv, "attachment%s", out);
    char dec[4000];
    size_t dl;
    assert_int_equal(mailproto_param_get(hv, (size_t)l, "filename", dec, sizeof dec, &dl), MAILPROTO_OK);
    assert_int_equal(dl, strlen(value));
    assert_memory_equal(dec, value, dl);
}

static void rfc2231_encode(void **state)
{
    (void)state;
    char out[200];
    size_t n, col = 30;
    assert_int_equal(mailproto_rfc2231_encode("name", "a.txt", 5, &col, out, sizeof out, &n), MAILPROTO_OK);
    assert_string_equal(out, "; name=a.txt");
    col = 30;
    assert_int_equal(mailproto_rfc2231_encode("name", "a b;\"c\".txt", 11, &col, out, sizeof out, &n), MAILPROTO_OK);
    assert_string_equal(out, "; name=\"a b;\\\"c\\\".txt\"");
    col = 30;
    assert_int_equal(mailproto_rfc2231_encode("filename", "\xc3\xa9t\xc3\xa9.pdf", 9, &col, out, sizeof out, &n),
                     MAILPROTO_OK);
    assert_string_equal(out, "; filename*=UTF-8''%C3%A9t%C3%A9.pdf");
    col = 0;
    assert_int_equal(mailproto_rfc2231_encode("filename", "a\r\nb", 4, &col, out, sizeof out, &n), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_rfc2231_encode("filename", "a\0b", 3, &col, out, sizeof out, &n), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_rfc2231_encode("file name", "a", 1, &col, out, sizeof out, &n), MAILPROTO_E_INVALID);

    param_roundtrip("short.txt", 20);
    param_roundtrip("quotes \"and\" semi;colons; \\ back.txt", 60);
    char longa[400], longu[800];
    for (int i = 0; i < 399; i++)
        longa[i] = (char)('a' + i % 26);
    longa[399] = 0;
    param_roundtrip(longa, 40);
    size_t k = 0;
    while (k < 700) {
        memcpy(longu + k, "\xe6\x96\x87\xc3\xa9\"; ", 8);
        k += 8;
    }
    longu[k] = 0;
    param_roundtrip(longu, 40);
    param_roundtrip("\xf0\x9f\x98\x80.png", 70);
}

static void rfc2231_decode(void **state)
{
    (void)state;
    static const struct {
        const char *hv, *out;
    } v[] = {
        {"attachment; filename=plain.txt", "plain.txt"},
        {"attachment; FILENAME=\"q \\\"x\\\".txt\"", "q \"x\".txt"},
        {"attachment; filename*=iso-8859-1'en'caf%E9.txt", "caf\xc3\xa9.txt"},
        {"attachment; filename*1=\"b.txt\"; filename*0*=UTF-8''%C3%A9", "\xc3\xa9" "b.txt"},
        {"attachment; filename*0=\"a\"; filename*2=\"c\"; filename*1=\"b\"", "abc"},
        {"attachment; filename*0=\"a\"; filename*2=\"c\"", "a"},
        {"attachment; filename=\"=?UTF-8?B?w6l0w6kucGRm?=\"", "\xc3\xa9t\xc3\xa9.pdf"},
        {"attachment; name=x; filename=y; filename=z", "y"},
        {"attachment; filename*=UTF-8''bad%zz%4", "bad%zz%4"},
        {"attachment; filename=\"unterminated", "unterminated"},
        {"inline;filename=a;;;", "a"},
        {"a; b=\"x;filename=no\"; filename=yes", "yes"},
        {"attachment; filename=\"raw\xff\"", "raw\xef\xbf\xbd"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char out[200];
        size_t n;
        assert_int_equal(mailproto_param_get(v[i].hv, strlen(v[i].hv), "filename", out, sizeof out, &n),
                         MAILPROTO_OK);
        assert_int_equal(n, strlen(v[i].out));
        assert_memory_equal(out, v[i].out, n);
    }
    char out[16];
    size_t n;
    assert_int_equal(mailproto_param_get("attachment", 10, "filename", out, sizeof out, &n), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_param_get("a; filename=0123456789abcdefg", 29, "filename", out, sizeof out, &n),
                     MAILPROTO_E_LIMIT);
    assert_int_equal(n, 17);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(encode_limits),    cmocka_unit_test(encode_picks_b_or_q),
        cmocka_unit_test(encode_rejects),   cmocka_unit_test(decode_vectors),
        cmocka_unit_test(rfc2231_encode),   cmocka_unit_test(rfc2231_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
