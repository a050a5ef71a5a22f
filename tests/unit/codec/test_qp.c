/* quoted-printable: vectors, line limits, text vs binary mode, streaming at
 * every split, and a total decoder. */
#include "testutil.h"

#include <stdio.h>

#include <mailproto/codec.h>

static size_t enc_all(int binary, const void *in, size_t n, size_t split, char *out)
{
    mailproto_qp_enc e;
    mailproto_qp_enc_init(&e, binary);
    if (split > n)
        split = n;
    size_t w = mailproto_qp_enc_update(&e, in, split, out);
    w += mailproto_qp_enc_update(&e, (const char *)in + split, n - split, out + w);
    w += mailproto_qp_enc_final(&e, out + w);
    return w;
}

static size_t dec_all(const char *in, size_t n, size_t split, unsigned char *out)
{
    mailproto_qp_dec d;
    mailproto_qp_dec_init(&d);
    size_t a, b, c;
    if (split > n)
        split = n;
    assert_int_equal(mailproto_qp_dec_update(&d, in, split, out, &a), MAILPROTO_OK);
    assert_int_equal(mailproto_qp_dec_update(&d, in + split, n - split, out + a, &b), MAILPROTO_OK);
    assert_int_equal(mailproto_qp_dec_final(&d, out + a + b, &c), MAILPROTO_OK);
    return a + b + c;
}

/* every line at most 76 characters, CRLF only, no whitespace before a break */
static void check_lines(const char *s, size_t n)
{
    size_t col = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\r') {
            assert_true(i + 1 < n && s[i + 1] == '\n');
            assert_true(i == 0 || (s[i - 1] != ' ' && s[i - 1] != '\t'));
            col = 0;
            i++;
            continue;
        }
        assert_true(s[i] != '\n');
        col++;
        assert_true(col <= 76);
    }
    assert_true(n == 0 || (s[n - 1] != ' ' && s[n - 1] != '\t'));
}

static void vectors(void **state)
{
    (void)state;
    static const struct {
        int binary;
        const char *in, *out;
    } v[] = {
        {0, "a=b", "a=3Db"},
        {0, "caf\xc3\xa9", "caf=C3=A9"},
        {0, "end ", "end=20"},
        {0, "tab\t\nx", "tab=09\r\nx"},
        {0, "a\nb\rc\r\nd", "a\r\nb\r\nc\r\nd"},
        {0, "two  words", "two  words"},
        {1, "a\r\nb", "a=0D=0Ab"},
        {1, "\x00\xff", "=00=FF"},
        {0, "From me\nFrom you", "=46rom me\r\n=46rom you"},
        {0, ".\n.x\na.F", "=2E\r\n=2Ex\r\na.F"},
        {1, "From", "=46rom"},
        {0, " From", " From"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char out[64];
        size_t n = enc_all(v[i].binary, v[i].in, strlen(v[i].in) + (v[i].binary && v[i].in[0] == 0 ? 2 : 0),
                           0, out);
        assert_int_equal(n, strlen(v[i].out));
        assert_memory_equal(out, v[i].out, n);
    }
}

static void long_lines_and_soft_breaks(void **state)
{
    (void)state;
    /* 10 000 characters without a space, and runs of '=' that must not be
     * split across a soft break */
    static char in[10000];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (i % 7 == 3) ? '=' : (char)('a' + i % 26);
    static char out[40000];
    size_t n = enc_all(0, in, sizeof in, 5000, out);
    assert_true(n <= mailproto_qp_enc_bound(sizeof in) + 8);
    check_lines(out, n);
    static unsigned char back[40100];
    size_t m = dec_all(out, n, n / 3, back);
    assert_int_equal(m, sizeof in);
    assert_memory_equal(back, in, m);
}

/* After a soft break the next line starts with the encoded 'F' or '.'. */
static void line_start_from_and_dot(void **state)
{
    (void)state;
    for (int ch = 0; ch < 2; ch++) {
        char in[300];
        memset(in, ch ? '.' : 'F', sizeof in);
        char out[1200];
        size_t n = enc_all(0, in, sizeof in, 7, out);
        check_lines(out, n);
        const char *enc = ch ? "=2E" : "=46";
        /* every line begins with the encoded form, and no line begins with
         * the raw character */
        assert_memory_equal(out, enc, 3);
        for (size_t i = 0; i + 2 < n; i++)
            if (out[i] == '\r' && out[i + 1] == '\n') {
                assert_memory_equal(out + i + 2, enc, 3);
            }
        unsigned char back[400];
        size_t m = dec_all(out, n, 5, back);
        assert_int_equal(m, sizeof in);
        assert_memory_equal(back, in, m);
    }
}

static void binary_roundtrip_every_split(void **state)
{
    (void)state;
    unsigned char data[300];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i < 256 ? i : i * 7);
    for (size_t split = 0; split <= sizeof data; split++) {
        char out[2000];
        size_t n = enc_all(1, data, sizeof data, split, out);
        check_lines(out, n);
        unsigned char back[2100];
        size_t m = dec_all(out, n, split, back);
        assert_int_equal(m, sizeof data);
        assert_memory_equal(back, data, m);
    }
}

static void text_roundtrip_random(void **state)
{
    (void)state;
    srand(7);
    for (int round = 0; round < 200; round++) {
        char in[600];
        size_t n = (size_t)(rand() % (int)sizeof in);
        for (size_t i = 0; i < n; i++) {
            int r = rand() % 10;
            in[i] = r == 0 ? ' ' : r == 1 ? '\t' : r == 2 ? '\n' : r == 3 ? '=' : r == 4 ? (char)0xE9
                                                                                   : (char)('A' + rand() % 26);
        }
        char out[4000];
        size_t w = enc_all(0, in, n, (size_t)rand() % (n + 1), out);
        check_lines(out, w);
        unsigned char back[4100];
        size_t m = dec_all(out, w, (size_t)rand() % (w + 1), back);
        /* expected: LF -> CRLF */
        char exp[1300];
        size_t e = 0;
        for (size_t i = 0; i < n; i++) {
            if (in[i] == '\n')
                exp[e++] = '\r';
            exp[e++] = in[i];
        }
        assert_int_equal(m, e);
        assert_memory_equal(back, exp, e);
    }
}

static void decoder_is_lenient(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } v[] = {
        {"=4a=4A", "JJ"},
        {"soft=\r\nbreak", "softbreak"},
        {"soft=\nbreak", "softbreak"},
        {"soft=  \r\nbreak", "softbreak"},
        {"bad=ZZ", "bad=ZZ"},
        {"half=4", "half=4"},
        {"trail   \r\nx", "trail\r\nx"},
        {"end=", "end="},
        {"end   ", "end"},
        {"=\r", ""},
        {"a=4\r\n", "a=4\r\n"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        size_t n = strlen(v[i].in);
        for (size_t split = 0; split <= n; split++) {
            unsigned char out[128];
            size_t m = dec_all(v[i].in, n, split, out);
            assert_int_equal(m, strlen(v[i].out));
            assert_memory_equal(out, v[i].out, m);
        }
    }
    /* a long run of whitespace is kept when text follows */
    char ws[100];
    memset(ws, ' ', 99);
    ws[99] = 'x';
    unsigned char out[300];
    assert_int_equal(dec_all(ws, 100, 50, out), 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(vectors),
        cmocka_unit_test(long_lines_and_soft_breaks),
        cmocka_unit_test(line_start_from_and_dot),
        cmocka_unit_test(binary_roundtrip_every_split),
        cmocka_unit_test(text_roundtrip_random),
        cmocka_unit_test(decoder_is_lenient),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
