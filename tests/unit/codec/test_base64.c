/* base64: RFC 4648 vectors, streaming at every split, line wrapping, errors. */
#include "testutil.h"

#include <mailproto/codec.h>

static const struct {
    const char *plain, *enc;
} vec[] = {
    {"", ""},           {"f", "Zg=="},         {"fo", "Zm8="},         {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
};

static void rfc4648_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
        char out[32];
        unsigned char dec[32];
        size_t n;
        assert_int_equal(mailproto_base64_encode(vec[i].plain, strlen(vec[i].plain), out, sizeof out, &n),
                         MAILPROTO_OK);
        assert_int_equal(n, strlen(vec[i].enc));
        assert_memory_equal(out, vec[i].enc, n);
        assert_int_equal(mailproto_base64_decode(vec[i].enc, strlen(vec[i].enc), dec, sizeof dec, &n),
                         MAILPROTO_OK);
        assert_int_equal(n, strlen(vec[i].plain));
        assert_memory_equal(dec, vec[i].plain, n);
    }
    char tiny[3];
    size_t n;
    assert_int_equal(mailproto_base64_encode("foo", 3, tiny, sizeof tiny, &n), MAILPROTO_E_LIMIT);
    assert_int_equal(n, 4);
}

static void streaming_every_split_and_line_length(void **state)
{
    (void)state;
    unsigned char data[200];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i * 37 + 11);
    char ref[400];
    size_t ref_len;
    assert_int_equal(mailproto_base64_encode(data, sizeof data, ref, sizeof ref, &ref_len), MAILPROTO_OK);
    for (unsigned line = 0; line <= 76; line += 76) {
        for (size_t split = 0; split <= sizeof data; split++) {
            mailproto_b64_enc e;
            mailproto_b64_enc_init(&e, line);
            char out[600];
            size_t bound = mailproto_b64_enc_bound(&e, sizeof data);
            assert_true(bound <= sizeof out);
            size_t n = mailproto_b64_enc_update(&e, data, split, out);
            n += mailproto_b64_enc_update(&e, data + split, sizeof data - split, out + n);
            n += mailproto_b64_enc_final(&e, out + n);
            assert_true(n <= bound);
            /* strip CRLF; every line at most `line` characters */
            char flat[600];
            size_t f = 0, col = 0;
            for (size_t k = 0; k < n; k++) {
                if (out[k] == '\r') {
                    assert_int_equal(out[k + 1], '\n');
                    assert_int_equal(col, line);
                    col = 0;
                    k++;
                    continue;
                }
                flat[f++] = out[k];
                col++;
                if (line)
                    assert_true(col <= line);
            }
            assert_int_equal(f, ref_len);
            assert_memory_equal(flat, ref, f);
            /* decode the wrapped text split at the same point */
            mailproto_b64_dec d;
            mailproto_b64_dec_init(&d);
            unsigned char back[300];
            size_t got1, got2;
            size_t s2 = split < n ? split : n;
            assert_int_equal(mailproto_b64_dec_update(&d, out, s2, back, &got1), MAILPROTO_OK);
            assert_int_equal(mailproto_b64_dec_update(&d, out + s2, n - s2, back + got1, &got2), MAILPROTO_OK);
            assert_int_equal(mailproto_b64_dec_final(&d), MAILPROTO_OK);
            assert_int_equal(got1 + got2, sizeof data);
            assert_memory_equal(back, data, sizeof data);
        }
    }
}

static void decoder_rejects_garbage(void **state)
{
    (void)state;
    unsigned char out[64];
    size_t n;
    assert_int_equal(mailproto_base64_decode("Zm9v!", 5, out, sizeof out, &n), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_base64_decode("Zg==Zg==", 8, out, sizeof out, &n), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_base64_decode("Z===", 4, out, sizeof out, &n), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_base64_decode("Z", 1, out, sizeof out, &n), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_base64_decode("=", 1, out, sizeof out, &n), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_base64_decode("Zm\x80v", 4, out, sizeof out, &n), MAILPROTO_E_INVALID);
    /* whitespace and unpadded endings are accepted */
    assert_int_equal(mailproto_base64_decode(" Zm9v\r\nYmE", 10, out, sizeof out, &n), MAILPROTO_OK);
    assert_int_equal(n, 5);
    assert_memory_equal(out, "fooba", 5);
    /* cap too small: a limit error, nothing overrun */
    unsigned char two[2];
    assert_int_equal(mailproto_base64_decode("Zm9v", 4, two, sizeof two, &n), MAILPROTO_E_LIMIT);
    /* errors are sticky */
    mailproto_b64_dec d;
    mailproto_b64_dec_init(&d);
    assert_int_equal(mailproto_b64_dec_update(&d, "*", 1, out, &n), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_b64_dec_update(&d, "Zm9v", 4, out, &n), MAILPROTO_E_INVALID);
    assert_int_equal(n, 0);
    assert_int_equal(mailproto_b64_dec_final(&d), MAILPROTO_E_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rfc4648_vectors),
        cmocka_unit_test(streaming_every_split_and_line_length),
        cmocka_unit_test(decoder_rejects_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
