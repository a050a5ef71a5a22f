/* The body encoder: canonical CRLF, dot-stuffing, the final CRLF, every
 * split point, in-place use, 8-bit detection; the reply parser's limits. */
#include "testutil.h"

#include "core/internal.h"
#include "smtp/smtp_int.h"

/* Encode in chunks of k bytes, in place as the engine does (the input
 * copied k bytes after the output position). */
static size_t encode(const char *in, size_t n, size_t k, int stuff, int canon, char *out)
{
    mailproto__smtp_enc e;
    mailproto__smtp_enc_init(&e, stuff, canon, 1);
    unsigned char tmp[64];
    size_t o = 0;
    for (size_t i = 0; i < n; i += k) {
        size_t m = n - i < k ? n - i : k;
        memcpy(tmp + m, in + i, m);
        size_t w = mailproto__smtp_enc_run(&e, tmp + m, m, tmp);
        assert_true(w <= 2 * m);
        memcpy(out + o, tmp, w);
        o += w;
    }
    o += mailproto__smtp_enc_end(&e, (unsigned char *)out + o);
    return o;
}

static void check(const char *in, size_t n, const char *want, int stuff)
{
    char out[256];
    for (size_t k = 1; k <= (n ? n : 1) && k <= 30; k++) {
        size_t o = encode(in, n, k, stuff, 1, out);
        if (o != strlen(want) || memcmp(out, want, o) != 0)
            fail_msg("chunk %zu: [%.*s] != [%s]", k, (int)o, out, want);
    }
}

static void canonical_and_stuffed(void **state)
{
    (void)state;
    check("a\n.\nb", 5, "a\r\n..\r\nb\r\n.\r\n", 1);
    check("a\r.\rb", 5, "a\r\n..\r\nb\r\n.\r\n", 1);
    check("a\r\n.\r\nb", 7, "a\r\n..\r\nb\r\n.\r\n", 1);
    check("a\n.\r\nb", 6, "a\r\n..\r\nb\r\n.\r\n", 1);
    check(".", 1, "..\r\n.\r\n", 1);
    check("..x", 3, "...x\r\n.\r\n", 1);
    check("no final newline", 16, "no final newline\r\n.\r\n", 1);
    check("lone CR at the end\r", 19, "lone CR at the end\r\n.\r\n", 1);
    check("", 0, ".\r\n", 1);
    check("\r\n", 2, "\r\n.\r\n", 1);
    check("\n\n", 2, "\r\n\r\n.\r\n", 1);
    check("\r\r\n", 3, "\r\n\r\n.\r\n", 1);
    check("x\r\n.\r\n", 5 + 1, "x\r\n..\r\n.\r\n", 1);
    /* BDAT: canonical, never stuffed, no terminator */
    check("a\n.b", 4, "a\r\n.b\r\n", 0);
    check(".\r.", 3, ".\r\n.\r\n", 0);
    check("", 0, "", 0);
}

static void binary_is_byte_exact(void **state)
{
    (void)state;
    char out[64];
    size_t o = encode("a\n\r.\x80\x00z", 7, 3, 0, 0, out);
    assert_int_equal(o, 7);
    assert_memory_equal(out, "a\n\r.\x80\x00z", 7);
}

static void eight_bit_detected(void **state)
{
    (void)state;
    mailproto__smtp_enc e;
    unsigned char out[32];
    mailproto__smtp_enc_init(&e, 1, 1, 0);
    size_t w = mailproto__smtp_enc_run(&e, (const unsigned char *)"ab\xc3\xa9", 4, out);
    assert_true(e.bad8);
    assert_int_equal(w, 2);
    mailproto__smtp_enc_init(&e, 1, 1, 1);
    w = mailproto__smtp_enc_run(&e, (const unsigned char *)"ab\xc3\xa9", 4, out);
    assert_false(e.bad8);
    assert_int_equal(w, 4);
    /* NUL stops canonical text, 8-bit allowed or not; stuffing or not */
    for (int stuff = 0; stuff < 2; stuff++) {
        mailproto__smtp_enc_init(&e, stuff, 1, 1);
        w = mailproto__smtp_enc_run(&e, (const unsigned char *)"a\nb\0c", 5, out);
        assert_true(e.nul);
        assert_false(e.bad8);
        assert_int_equal(w, 4);
        assert_memory_equal(out, "a\r\nb", 4);
    }
    /* byte-exact (BINARYMIME) carries it */
    mailproto__smtp_enc_init(&e, 0, 0, 1);
    w = mailproto__smtp_enc_run(&e, (const unsigned char *)"a\0b", 3, out);
    assert_false(e.nul);
    assert_int_equal(w, 3);
}

static void reply_parser(void **state)
{
    (void)state;
    mailproto__smtp_reply r;
    memset(&r, 0, sizeof r);
    r.max_line = 100;
    r.max_bytes = 200;
    r.max_lines = 3;
    r.enhanced_on = 1;
    mailproto__smtp_reply_reset(&r);
    assert_int_equal(mailproto__smtp_reply_line(&r, "550-5.1.1 first", 15), 0);
    assert_int_equal(mailproto__smtp_reply_line(&r, "550 5.1.1 second", 16), 1);
    assert_int_equal(r.code, 550);
    assert_string_equal(r.enhanced, "5.1.1");
    assert_string_equal(r.text, "first second");
    /* an enhanced code of another class is text */
    assert_int_equal(mailproto__smtp_reply_line(&r, "250 5.1.1 odd", 13), 1);
    assert_string_equal(r.enhanced, "");
    assert_string_equal(r.text, "5.1.1 odd");
    /* bare code, control characters sanitized */
    assert_int_equal(mailproto__smtp_reply_line(&r, "354", 3), 1);
    assert_int_equal(mailproto__smtp_reply_line(&r, "250 a\tb\x1b", 8), 1);
    assert_string_equal(r.text, "a?b?");
    /* malformed */
    const char *bad[] = {"25", "2500 x", "250x", "abc", "150 x", "650 x", "25a x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mailproto__smtp_reply_reset(&r);
        assert_int_equal(mailproto__smtp_reply_line(&r, bad[i], strlen(bad[i])), MAILPROTO_E_PROTOCOL);
    }
    mailproto__smtp_reply_reset(&r);
    assert_int_equal(mailproto__smtp_reply_line(&r, "250-a", 5), 0);
    assert_int_equal(mailproto__smtp_reply_line(&r, "251 b", 5), MAILPROTO_E_PROTOCOL);
    /* limits: lines, bytes, line length */
    mailproto__smtp_reply_reset(&r);
    for (int i = 0; i < 3; i++)
        assert_int_equal(mailproto__smtp_reply_line(&r, "250-a", 5), 0);
    assert_int_equal(mailproto__smtp_reply_line(&r, "250 a", 5), MAILPROTO_E_LIMIT);
    mailproto__smtp_reply_reset(&r);
    char longl[120];
    memset(longl, 'x', sizeof longl);
    memcpy(longl, "250 ", 4);
    assert_int_equal(mailproto__smtp_reply_line(&r, longl, sizeof longl), MAILPROTO_E_LIMIT);
    mailproto__smtp_reply_reset(&r);
    assert_int_equal(mailproto__smtp_reply_line(&r, longl, 99), 1);
    assert_int_equal(mailproto__smtp_reply_line(&r, longl, 99), 1); /* a new reply */
    r.max_lines = 10;
    mailproto__smtp_reply_reset(&r);
    longl[3] = '-';
    assert_int_equal(mailproto__smtp_reply_line(&r, longl, 99), 0);
    assert_int_equal(mailproto__smtp_reply_line(&r, longl, 99), MAILPROTO_E_LIMIT); /* 202 > 200 bytes */
}

static void ehlo_keywords(void **state)
{
    (void)state;
    mailproto__smtp_caps c;
    memset(&c, 0, sizeof c);
    const char *lines[] = {"pipelining", "SIZE 35882577", "8BITMIME", "AUTH=LOGIN PLAIN",
                           "AUTH SCRAM-SHA-256 XOAUTH2 GSSAPI", "STARTTLS", "smtputf8", "CHUNKING",
                           "BINARYMIME", "DSN", "ENHANCEDSTATUSCODES", "REQUIRETLS", "VRFY", "X-UNKNOWN 1"};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        mailproto__smtp_caps_line(&c, lines[i], strlen(lines[i]));
    assert_int_equal(c.mask, MAILPROTO_SMTP_CAP_PIPELINING | MAILPROTO_SMTP_CAP_SIZE |
                                 MAILPROTO_SMTP_CAP_8BITMIME | MAILPROTO_SMTP_CAP_AUTH |
                                 MAILPROTO_SMTP_CAP_STARTTLS | MAILPROTO_SMTP_CAP_SMTPUTF8 |
                                 MAILPROTO_SMTP_CAP_CHUNKING | MAILPROTO_SMTP_CAP_BINARYMIME |
                                 MAILPROTO_SMTP_CAP_DSN | MAILPROTO_SMTP_CAP_ENHANCEDSTATUSCODES |
                                 MAILPROTO_SMTP_CAP_REQUIRETLS);
    assert_int_equal(c.size, 35882577);
    assert_int_equal(c.auth, MAILPROTO_AUTH_BIT(MAILPROTO_AUTH_LOGIN) | MAILPROTO_AUTH_BIT(MAILPROTO_AUTH_PLAIN) |
                                 MAILPROTO_AUTH_BIT(MAILPROTO_AUTH_SCRAM_SHA256) |
                                 MAILPROTO_AUTH_BIT(MAILPROTO_AUTH_XOAUTH2));
    memset(&c, 0, sizeof c);
    mailproto__smtp_caps_line(&c, "SIZE", 4);
    assert_int_equal(c.size, 0);
    mailproto__smtp_caps_line(&c, "SIZE 99999999999999999999999", 27);
    assert_int_equal(c.size, 0);
}

/* Random bodies: un-stuffing the output gives the canonical input. */
static void random_round_trip(void **state)
{
    (void)state;
    srand(12345);
    static char in[2000], out[4100], canon[4100];
    for (int round = 0; round < 300; round++) {
        size_t n = (size_t)(rand() % (int)sizeof in);
        for (size_t i = 0; i < n; i++)
            in[i] = "ab.\r\n"[rand() % 5];
        size_t k = 1 + (size_t)(rand() % 30);
        size_t o = encode(in, n, k, 1, 1, out);
        size_t cl = 0;
        for (size_t i = 0; i < n; i++) {
            if (in[i] == '\r' || in[i] == '\n') {
                canon[cl++] = '\r';
                canon[cl++] = '\n';
                if (in[i] == '\r' && i + 1 < n && in[i + 1] == '\n')
                    i++;
            } else {
                canon[cl++] = in[i];
            }
        }
        if (cl && canon[cl - 1] != '\n') {
            canon[cl++] = '\r';
            canon[cl++] = '\n';
        }
        assert_true(o >= 3);
        assert_memory_equal(out + o - 3, ".\r\n", 3);
        size_t u = 0;
        int bol = 1;
        for (size_t i = 0; i < o - 3; i++) {
            if (bol && out[i] == '.') {
                assert_int_equal(out[i + 1], '.');
                i++;
            }
            assert_true(out[i] != '\r' || out[i + 1] == '\n');
            assert_true(out[i] != '\n' || (i > 0 && out[i - 1] == '\r'));
            out[u++] = out[i];
            bol = out[i] == '\n';
        }
        assert_int_equal(u, cl);
        assert_memory_equal(out, canon, cl);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(canonical_and_stuffed),
        cmocka_unit_test(binary_is_byte_exact),
        cmocka_unit_test(eight_bit_detected),
        cmocka_unit_test(reply_parser),
        cmocka_unit_test(ehlo_keywords),
        cmocka_unit_test(random_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
