/* Internal crypto over Mbed TLS: known-answer vectors (RFC 1321, FIPS 180,
 * RFC 2202 / 4231 HMAC, RFC 6070 PBKDF2) and the random source. */
#include "testutil.h"

#include "core/crypto.h"
#include "core/internal.h"

static inline void hex(const unsigned char *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = "0123456789abcdef"[p[i] >> 4];
        out[2 * i + 1] = "0123456789abcdef"[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static void hashes(void **state)
{
    (void)state;
#if MAILPROTO_HAS_TLS
    unsigned char d[32];
    char h[65];
    assert_int_equal(mailproto__hash(MAILPROTO__MD5, "abc", 3, d), MAILPROTO_OK);
    hex(d, 16, h);
    assert_string_equal(h, "900150983cd24fb0d6963f7d28e17f72");
    assert_int_equal(mailproto__hash(MAILPROTO__SHA1, "abc", 3, d), MAILPROTO_OK);
    hex(d, 20, h);
    assert_string_equal(h, "a9993e364706816aba3e25717850c26c9cd0d89d");
    assert_int_equal(mailproto__hash(MAILPROTO__SHA256, "abc", 3, d), MAILPROTO_OK);
    hex(d, 32, h);
    assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(mailproto__hash(99, "abc", 3, d), MAILPROTO_E_INVALID);
#else
    unsigned char d[32];
    assert_int_equal(mailproto__hash(MAILPROTO__SHA256, "abc", 3, d), MAILPROTO_E_UNSUPPORTED);
#endif
    assert_int_equal(mailproto__hash_len(MAILPROTO__SHA1), 20);
    assert_int_equal(mailproto__hash_len(0), 0);
}

static void hmacs(void **state)
{
    (void)state;
#if MAILPROTO_HAS_TLS
    unsigned char d[32];
    char h[65];
    /* RFC 2202 test case 2 (MD5 and SHA-1), RFC 4231 test case 2 (SHA-256) */
    const char *data = "what do ya want for nothing?";
    assert_int_equal(mailproto__hmac(MAILPROTO__MD5, "Jefe", 4, data, strlen(data), d), MAILPROTO_OK);
    hex(d, 16, h);
    assert_string_equal(h, "750c783e6ab0b503eaa86e310a5db738");
    assert_int_equal(mailproto__hmac(MAILPROTO__SHA1, "Jefe", 4, data, strlen(data), d), MAILPROTO_OK);
    hex(d, 20, h);
    assert_string_equal(h, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
    assert_int_equal(mailproto__hmac(MAILPROTO__SHA256, "Jefe", 4, data, strlen(data), d), MAILPROTO_OK);
    hex(d, 32, h);
    assert_string_equal(h, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
#else
    skip();
#endif
}

static void pbkdf2(void **state)
{
    (void)state;
#if MAILPROTO_HAS_TLS
    unsigned char d[25];
    char h[51];
    /* RFC 6070 */
    assert_int_equal(mailproto__pbkdf2(MAILPROTO__SHA1, "password", 8, "salt", 4, 4096, d, 20), MAILPROTO_OK);
    hex(d, 20, h);
    assert_string_equal(h, "4b007901b765489abead49d926f721d065a429c1");
    assert_int_equal(mailproto__pbkdf2(MAILPROTO__SHA1, "passwordPASSWORDpassword", 24,
                                       "saltSALTsaltSALTsaltSALTsaltSALTsalt", 36, 4096, d, 25),
                     MAILPROTO_OK);
    hex(d, 25, h);
    assert_string_equal(h, "3d2eec4fe41c849b80c8d83662c0e44a8b291a964cf2f07038");
    assert_int_equal(mailproto__pbkdf2(MAILPROTO__SHA1, "p", 1, "s", 1, 0, d, 20), MAILPROTO_E_INVALID);
#else
    skip();
#endif
}

static void random_and_compare(void **state)
{
    (void)state;
    unsigned char a[32], b[32];
#if MAILPROTO_HAS_SOCKETS
    assert_int_equal(mailproto__random(NULL, a, sizeof a), MAILPROTO_OK);
    assert_int_equal(mailproto__random(NULL, b, sizeof b), MAILPROTO_OK);
    assert_true(memcmp(a, b, sizeof a) != 0); /* 2^-256 chance of a false failure */
#else
    assert_int_equal(mailproto__random(NULL, a, sizeof a), MAILPROTO_E_UNSUPPORTED);
#endif
    memcpy(b, a, sizeof a);
    assert_int_equal(mailproto__ct_memcmp(a, b, sizeof a), 0);
    b[31] ^= 1;
    assert_true(mailproto__ct_memcmp(a, b, sizeof a) != 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hashes),
        cmocka_unit_test(hmacs),
        cmocka_unit_test(pbkdf2),
        cmocka_unit_test(random_and_compare),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
