/* SASL mechanisms against the RFC example exchanges, hostile challenges. */
#include "testutil.h"

#include <mailproto/codec.h>

#include "core/internal.h"
#include "sasl/sasl.h"

static unsigned char work[4096];

typedef struct fixed_rand {
    unsigned char bytes[64];
    size_t len;
} fixed_rand;

static int fixed_random(void *ctx, void *buf, size_t n)
{
    fixed_rand *r = ctx;
    if (n > r->len)
        return MAILPROTO_E_INVALID;
    memcpy(buf, r->bytes, n);
    return MAILPROTO_OK;
}

/* Random bytes whose base64 is the given nonce text. */
static void nonce_from_b64(fixed_rand *r, const char *b64)
{
    assert_int_equal(mailproto_base64_decode(b64, strlen(b64), r->bytes, sizeof r->bytes, &r->len),
                     MAILPROTO_OK);
}

static char *b64(const char *plain, size_t n)
{
    static char out[1024];
    size_t len;
    assert_int_equal(mailproto_base64_encode(plain, n, out, sizeof out, &len), MAILPROTO_OK);
    return out;
}

static char *unb64(const char *text, size_t *n)
{
    static char out[1024];
    assert_int_equal(mailproto_base64_decode(text, strlen(text), out, sizeof out - 1, n), MAILPROTO_OK);
    out[*n] = '\0';
    return out;
}

static void names_and_choice(void **state)
{
    (void)state;
    assert_int_equal(mailproto__sasl_from_name("scram-sha-256", 13), MAILPROTO__SASL_SCRAM_SHA256);
    assert_int_equal(mailproto__sasl_from_name("DIGEST-MD5", 10), MAILPROTO__SASL_NONE);
    assert_string_equal(mailproto__sasl_name(MAILPROTO__SASL_CRAM_MD5), "CRAM-MD5");
    unsigned adv = mailproto__sasl_parse_list("PLAIN LOGIN CRAM-MD5 DIGEST-MD5", 31);
    assert_int_equal(adv, (1u << MAILPROTO__SASL_PLAIN) | (1u << MAILPROTO__SASL_LOGIN) |
                              (1u << MAILPROTO__SASL_CRAM_MD5));
    mailproto__sasl_cred pw = {.user = "u", .password = "p"};
    mailproto__sasl_cred tok = {.user = "u", .token = "t"};
    assert_int_equal(mailproto__sasl_choose(adv, 0, &pw), MAILPROTO__SASL_CRAM_MD5);
    unsigned all = mailproto__sasl_parse_list("PLAIN SCRAM-SHA-1 SCRAM-SHA-256 XOAUTH2 OAUTHBEARER", 51);
    assert_int_equal(mailproto__sasl_choose(all, 0, &pw), MAILPROTO__SASL_SCRAM_SHA256);
    assert_int_equal(mailproto__sasl_choose(all, 0, &tok), MAILPROTO__SASL_OAUTHBEARER);
    assert_int_equal(mailproto__sasl_choose(all, MAILPROTO__SASL_PLAIN, &pw), MAILPROTO__SASL_PLAIN);
    assert_int_equal(mailproto__sasl_choose(all, MAILPROTO__SASL_LOGIN, &pw), MAILPROTO_E_UNSUPPORTED);
    assert_int_equal(mailproto__sasl_choose(all, MAILPROTO__SASL_XOAUTH2, &pw), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto__sasl_choose(1u << MAILPROTO__SASL_XOAUTH2, 0, &pw),
                     MAILPROTO_E_UNSUPPORTED);
}

/* RFC 4616 section 4 examples. */
static void plain_rfc4616(void **state)
{
    (void)state;
    mailproto__sasl s;
    char out[256];
    size_t n;
    mailproto__sasl_cred c = {.user = "tim", .password = "tanstaaftanstaaf"};
    assert_int_equal(mailproto__sasl_start(&s, MAILPROTO__SASL_PLAIN, &c, NULL, NULL, work, sizeof work),
                     MAILPROTO_OK);
    assert_int_equal(mailproto__sasl_initial(&s, out, sizeof out, &n), MAILPROTO_OK);
    assert_string_equal(out, "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
    assert_int_equal(mailproto__sasl_finish(&s), MAILPROTO_OK);
    /* no second challenge */
    assert_int_equal(mailproto__sasl_step(&s, "", 0, out, sizeof out, &n), MAILPROTO_E_PROTOCOL);
    mailproto__sasl_cred c2 = {.authzid = "Ursel", .user = "Kurt", .password = "xipj3plmq"};
    assert_int_equal(mailproto__sasl_start(&s, MAILPROTO__SASL_PLAIN, &c2, NULL, NULL, work, sizeof work),
                     MAILPROTO_OK);
    assert_int_equal(mailproto__sasl_initial(&s, out, sizeof out, &n), MAILPROTO_OK);
    assert_string_equal(out, "VXJzZWwAS3VydAB4aXBqM3BsbXE=");
    /* without an initial response: the empty 334 asks for it */
    assert_int_equal(mailproto__sasl_start(&s, MAILPROTO__SASL_PLAIN, &c, NULL, NULL, work, sizeof work),
                     MAILPROTO_OK);
    assert_int_equal(mailproto__sasl_step(&s, "", 0, out, sizeof out, &n), MAILPROTO_OK);
    assert_string_equal(out, "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
    /* too small an output */
    assert_int_equal(mailproto__sasl_start(&s, MAILPROTO__SASL_PLAIN, &c, NULL, NULL, work, sizeof work),
                     MAILPROTO_OK);
    assert_int_equal(mailproto__sasl_initial(&s, out, 10, &n), MAILPROTO_E_LIMIT);
    /* CR/LF in credentials never reach the wire */
    mailproto__sasl_cred bad = {.user = "tim\r\nQUIT", .password = "x"};
    assert_int_equal(mailproto__sasl_start(&s, MAILPROTO__SASL_PLAIN, &bad, NULL, NULL, work, sizeof work),
                     MAILPROTO_E_INVALID);
}

static void login_exchange(void **state)
{
    (void)state;
    mailproto__sasl s;
    char out[256];
    size_t n;
    mailproto__sasl_cred c = {.user = "tim", .password = "tanstaaftanstaaf"};
    assert_int_equal(mailproto__sasl_start(&s, MAILPROTO__SASL_LOGIN, &c, NULL, NULL, work, sizeof work),
                     MAILPROTO_OK);
    assert_int_equal(mailproto__sasl_initial(&s, out, sizeof out, &n), MAILPROTO_E_STATE);
    assert_int_equal(mailproto__sasl_step(&s, "VXNlcm5hbWU6", 12, out, sizeof out, &n), MAILPROTO_OK);
    assert_string_equal(out, "dGlt");
    assert_int_equal(mailproto__sasl_step(&s, "UGFzc3dvcmQ6", 12, out, sizeof out, &n), MAILPROTO_OK);
    assert_string_equal(out, b64("tanstaaftanstaaf", 16));
    assert_int_equal(mailproto__sasl_step(&s, "UGFzc3dvcmQ6", 12, out, sizeof out, &n), MAILPROTO_E_PROTOCOL);
    assert_int_equal(mailproto__sasl_finish(&s), MAILPROTO_OK);
}

/* RFC 2195 section 2 example. */
static void cram_md5_rfc2195(void **state)
{
    (void)state;
    mailproto__sasl s;
    char out[256];
    size_t n;
    mailproto__sasl_cred c = {.user = "tim", .password = "tanstaaftanstaaf"};
    assert_int_equal(mailproto__sasl_start(&s, MAILPROTO__SASL_CRAM_MD5, &c, NULL, NULL, work, sizeof work),
                     MAILPROTO_OK);
    const char *chal = "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+";
    assert_int_equal(mailproto__sasl_step(&s, chal, strlen(chal), out, sizeof out, &n), MAILPROTO_OK);
    assert_string_equal(out, "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw");
    assert_int_equal(n, strlen(out));
    /* bad base64 challenge */
    assert_int_equal(mailproto__sasl_start(&s, MAILPROTO__SASL_CRAM_MD5, &c, NULL, NULL, work, sizeof work),
                     MAILPROTO_OK);
    assert_int_equal(mailproto__sasl_step(&s, "!!!==", 5, out, sizeof out, &n), MAILPROTO_E_PROTOCOL);
}

static void scram_run(int mech, const char *nonce, const char *first, const char *server_first,
                      const char *final, const char *server_final)
{
    mailproto__sasl s;
    fixed_rand r;
    char out[512];
    size_t n;
    nonce_from_b64(&r, nonce);
    mailproto__sasl_cred c = {.user = "user", .password = "pencil"};
    assert_int_equal(mailproto__sasl_start(&s, mech, &c, fixed_random, &r, work, sizeof work), MAILPROTO_OK);
    s.nonce_raw = r.len;
    assert_int_equal(mailproto__sasl_initial(&s, out, sizeof out, &n), MAILPROTO_OK);
    assert_string_equal(unb64(out, &n), first);
    char chal[512];
    strcpy(chal, b64(server_first, strlen(server_first)));
    assert_int_equal(mailproto__sasl_step(&s, chal, strlen(chal), out, sizeof out, &n), MAILPROTO_OK);
    assert_string_equal(unb64(out, &n), final);
    assert_int_equal(mailproto__sasl_finish(&s), MAILPROTO_E_AUTH); /* not verified yet */
    strcpy(chal, b64(server_final, strlen(server_final)));
    assert_int_equal(mailproto__sasl_step(&s, chal, strlen(chal), out, sizeof out, &n), MAILPROTO_OK);
    assert_int_equal(n, 0);
    assert_int_equal(mailproto__sasl_finish(&s), MAILPROTO_OK);
    mailproto__sasl_clear(&s);
    for (size_t i = 0; i < sizeof work; i++)
        assert_int_equal(work[i], 0);
}

/* RFC 5802 section 5. */
static void scram_sha1_rfc5802(void **state)
{
    (void)state;
    scram_run(MAILPROTO__SASL_SCRAM_SHA1, "fyko+d2lbbFgONRv9qkxdawL",
              "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
              "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
              "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
              "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=");
}

/* RFC 7677 section 3. */
static void scram_sha256_rfc7677(void **state)
{
    (void)state;
    scram_run(MAILPROTO__SASL_SCRAM_SHA256, "rOprNGfwEbeRWgbNEkqO",
              "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
              "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
              "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
              "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
}

/* Start a SCRAM-SHA-256 exchange up to the client-final message. */
static void scram_to_final(mailproto__sasl *s, fixed_rand *r, const mailproto__sasl_cred *c)
{
    char out[512], chal[512];
    size_t n;
    nonce_from_b64(r, "rOprNGfwEbeRWgbNEkqO");
    assert_int_equal(mailproto__sasl_start(s, MAILPROTO__SASL_SCRAM_SHA256, c, fixed_random, r, work,
                                           sizeof work), MAILPROTO_OK);
    s->nonce_raw = r->len;
    assert_int_equal(mailproto__sasl_initial(s, out, sizeof out, &n), MAILPROTO_OK);
    const char *sf = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    strcpy(chal, b64(sf, strlen(sf)));
    assert_int_equal(mailproto__sasl_step(s, chal, strlen(chal), out, sizeof out, &n), MAILPROTO_OK);
}

static void scram_bad_server(void **state)
{
    (void)state;
    mailproto__sasl s;
    fixed_rand r;
    char out[512], chal[512];
    size_t n;
    mailproto__sasl_cred c = {.user = "user", .password = "pencil"};
    /* wrong server signature (one character changed) */
    scram_to_final(&s, &r, &c);
    const char *bad = "v=6rriURBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";
    strcpy(chal, b64(bad, strlen(bad)));
    assert_int_equal(mailproto__sasl_step(&s, chal, strlen(chal), out, sizeof out, &n), MAILPROTO_E_AUTH);
    assert_int_equal(mailproto__sasl_finish(&s), MAILPROTO_E_AUTH);
    /* server error attribute */
    scram_to_final(&s, &r, &c);
    strcpy(chal, b64("e=invalid-proof", 15));
    assert_int_equal(mailproto__sasl_step(&s, chal, strlen(chal), out, sizeof out, &n), MAILPROTO_E_AUTH);
    /* a server nonce that does not extend ours */
    nonce_from_b64(&r, "rOprNGfwEbeRWgbNEkqO");
    assert_int_equal(mailproto__sasl_start(&s, MAILPROTO__SASL_SCRAM_SHA256, &c, fixed_random, &r, work,
                                           sizeof work), MAILPROTO_OK);
    s.nonce_raw = r.len;
    assert_int_equal(mailproto__sasl_initial(&s, out, sizeof out, &n), MAILPROTO_OK);
    const char *sf = "r=XXprNGfwEbeRWgbNEkqO%hvYD,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    strcpy(chal, b64(sf, strlen(sf)));
    assert_int_equal(mailproto__sasl_step(&s, chal, strlen(chal), out, sizeof out, &n), MAILPROTO_E_PROTOCOL);
    /* absurd iteration count, and a mandatory extension */
    const char *sfs[] = {
        "r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999999",
        "m=ext,r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        "r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0",
        "r=rOprNGfwEbeRWgbNEkqOxyz,i=4096",
    };
    const int want[] = {MAILPROTO_E_LIMIT, MAILPROTO_E_AUTH, MAILPROTO_E_PROTOCOL, MAILPROTO_E_PROTOCOL};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(mailproto__sasl_start(&s, MAILPROTO__SASL_SCRAM_SHA256, &c, fixed_random, &r,
                                               work, sizeof work), MAILPROTO_OK);
        s.nonce_raw = r.len;
        assert_int_equal(mailproto__sasl_initial(&s, out, sizeof out, &n), MAILPROTO_OK);
        strcpy(chal, b64(sfs[i], strlen(sfs[i])));
        assert_int_equal(mailproto__sasl_step(&s, chal, strlen(chal), out, sizeof out, &n), want[i]);
    }
}

static void scram_names_and_saslprep(void **state)
{
    (void)state;
    mailproto__sasl s;
    fixed_rand r;
    char out[512];
    size_t n;
    nonce_from_b64(&r, "fyko+d2lbbFgONRv9qkxdawL");
    mailproto__sasl_cred c = {.authzid = "a,b", .user = "us=er,x", .password = "pencil"};
    assert_int_equal(mailproto__sasl_start(&s, MAILPROTO__SASL_SCRAM_SHA1, &c, fixed_random, &r, work,
                                           sizeof work), MAILPROTO_OK);
    s.nonce_raw = r.len;
    assert_int_equal(mailproto__sasl_initial(&s, out, sizeof out, &n), MAILPROTO_OK);
    assert_string_equal(unb64(out, &n), "n,a=a=2Cb,n=us=3Der=2Cx,r=fyko+d2lbbFgONRv9qkxdawL");
    char buf[64];
    assert_int_equal(mailproto__saslprep("pencil", buf, sizeof buf, &n), MAILPROTO_OK);
    assert_string_equal(buf, "pencil");
    assert_int_equal(mailproto__saslprep("a\tb", buf, sizeof buf, &n), MAILPROTO_E_INVALID);
    mailproto__sasl_cred u8 = {.user = "user", .password = "I\xc2\xadX"}; /* soft hyphen */
#if MAILPROTO_HAS_SASLPREP
    /* RFC 4013 section 3 examples: SOFT HYPHEN mapped to nothing, U+00AA to "a" */
    assert_int_equal(mailproto__saslprep("I\xc2\xadX", buf, sizeof buf, &n), MAILPROTO_OK);
    assert_string_equal(buf, "IX");
    assert_int_equal(mailproto__saslprep("\xc2\xaa", buf, sizeof buf, &n), MAILPROTO_OK);
    assert_string_equal(buf, "a");
    assert_int_equal(mailproto__saslprep("\xe2\x85\xa8", buf, sizeof buf, &n), MAILPROTO_OK);
    assert_string_equal(buf, "IX"); /* U+2168 ROMAN NUMERAL NINE */
    assert_int_equal(mailproto__saslprep("\x07", buf, sizeof buf, &n), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto__saslprep("\xd8\xa7" "1", buf, sizeof buf, &n), MAILPROTO_E_INVALID); /* bidi */
    assert_int_equal(mailproto__sasl_start(&s, MAILPROTO__SASL_SCRAM_SHA256, &u8, fixed_random, &r, work,
                                           sizeof work), MAILPROTO_OK);
#else
    assert_int_equal(mailproto__sasl_start(&s, MAILPROTO__SASL_SCRAM_SHA256, &u8, fixed_random, &r, work,
                                           sizeof work), MAILPROTO_E_UNSUPPORTED);
#endif
}

/* RFC 7628 section 4.1 and 4.3 (error challenge answered with %x01). */
static void oauthbearer_rfc7628(void **state)
{
    (void)state;
    mailproto__sasl s;
    char out[512];
    size_t n;
    mailproto__sasl_cred c = {.user = "user@example.com", .token = "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==",
                              .host = "server.example.com", .port = 143};
    assert_int_equal(mailproto__sasl_start(&s, MAILPROTO__SASL_OAUTHBEARER, &c, NULL, NULL, work, sizeof work),
                     MAILPROTO_OK);
    assert_int_equal(mailproto__sasl_initial(&s, out, sizeof out, &n), MAILPROTO_OK);
    assert_string_equal(out, "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1"
                             "dGg9QmVhcmVyIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB");
    assert_int_equal(mailproto__sasl_finish(&s), MAILPROTO_OK);
    const char *err = "eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NvcGUiOiJleGFtcGxlX3Njb3BlIiwib3BlbmlkLWNvbmZp"
                      "Z3VyYXRpb24iOiJodHRwczovL2V4YW1wbGUuY29tLy53ZWxsLWtub3duL29wZW5pZC1jb25maWd1cmF0aW9u"
                      "In0=";
    assert_int_equal(mailproto__sasl_step(&s, err, strlen(err), out, sizeof out, &n), MAILPROTO_OK);
    assert_string_equal(out, "AQ==");
    assert_int_equal(mailproto__sasl_finish(&s), MAILPROTO_E_AUTH);
    /* a second error challenge is a protocol error */
    assert_int_equal(mailproto__sasl_step(&s, err, strlen(err), out, sizeof out, &n), MAILPROTO_E_PROTOCOL);
}

static void xoauth2_exchange(void **state)
{
    (void)state;
    mailproto__sasl s;
    char out[512];
    size_t n;
    mailproto__sasl_cred c = {.user = "someuser@example.com", .token = "ya29.vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg"};
    assert_int_equal(mailproto__sasl_start(&s, MAILPROTO__SASL_XOAUTH2, &c, NULL, NULL, work, sizeof work),
                     MAILPROTO_OK);
    assert_int_equal(mailproto__sasl_initial(&s, out, sizeof out, &n), MAILPROTO_OK);
    /* Google's documented example */
    assert_string_equal(out, "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52"
                             "YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2cBAQ==");
    const char *err = "eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIG1hYyIsInNjb3BlIjoiaHR0cHM6Ly9tYWlsLmdvb2dsZS5jb20vIn0K";
    assert_int_equal(mailproto__sasl_step(&s, err, strlen(err), out, sizeof out, &n), MAILPROTO_OK);
    assert_int_equal(n, 0);
    assert_string_equal(out, "");
    assert_int_equal(mailproto__sasl_finish(&s), MAILPROTO_E_AUTH);
    /* a %x01 (or any control character) in the token, user or host would
     * add a field to the message: refused before anything is built */
    static const mailproto__sasl_cred bad[] = {
        {.user = "u", .token = "tok\001auth=Bearer other"},
        {.user = "u\001auth=Bearer other", .token = "tok"},
        {.user = "u", .token = "tok", .host = "mx\001port=1"},
        {.user = "u", .token = "tok\r\nQUIT"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(mailproto__sasl_start(&s, MAILPROTO__SASL_XOAUTH2, &bad[i], NULL, NULL,
                                               work, sizeof work),
                         MAILPROTO_E_INVALID);
        assert_int_equal(mailproto__sasl_start(&s, MAILPROTO__SASL_OAUTHBEARER, &bad[i], NULL,
                                               NULL, work, sizeof work),
                         MAILPROTO_E_INVALID);
    }
}

static void endless_and_oversized_challenges(void **state)
{
    (void)state;
    mailproto__sasl s;
    char out[512];
    size_t n;
    mailproto__sasl_cred c = {.user = "tim", .password = "x"};
    assert_int_equal(mailproto__sasl_start(&s, MAILPROTO__SASL_LOGIN, &c, NULL, NULL, work, sizeof work),
                     MAILPROTO_OK);
    int rc = MAILPROTO_OK, rounds = 0;
    while (rc == MAILPROTO_OK && rounds < 1000) {
        rc = mailproto__sasl_step(&s, "VXNlcm5hbWU6", 12, out, sizeof out, &n);
        rounds++;
    }
    assert_true(rounds <= MAILPROTO__SASL_MAX_ROUNDS + 1);
    assert_true(rc == MAILPROTO_E_LIMIT || rc == MAILPROTO_E_PROTOCOL);
    /* SCRAM: server-final repeated forever stops at 5 rounds */
    fixed_rand r;
    mailproto__sasl_cred pc = {.user = "user", .password = "pencil"};
    scram_to_final(&s, &r, &pc);
    char chal[128];
    const char *v = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";
    strcpy(chal, b64(v, strlen(v)));
    assert_int_equal(mailproto__sasl_step(&s, chal, strlen(chal), out, sizeof out, &n), MAILPROTO_OK);
    assert_int_equal(mailproto__sasl_step(&s, chal, strlen(chal), out, sizeof out, &n), MAILPROTO_E_PROTOCOL);
    for (int i = 0; i < 10; i++)
        rc = mailproto__sasl_step(&s, chal, strlen(chal), out, sizeof out, &n);
    assert_int_equal(rc, MAILPROTO_E_LIMIT);
    /* a challenge over 16 KiB */
    static char big[MAILPROTO__SASL_MAX_CHALLENGE + 8];
    memset(big, 'A', sizeof big);
    assert_int_equal(mailproto__sasl_start(&s, MAILPROTO__SASL_CRAM_MD5, &c, NULL, NULL, work, sizeof work),
                     MAILPROTO_OK);
    assert_int_equal(mailproto__sasl_step(&s, big, sizeof big, out, sizeof out, &n), MAILPROTO_E_LIMIT);
    /* within 16 KiB but more than the work buffer holds */
    assert_int_equal(mailproto__sasl_start(&s, MAILPROTO__SASL_CRAM_MD5, &c, NULL, NULL, work, 1024),
                     MAILPROTO_OK);
    assert_int_equal(mailproto__sasl_step(&s, big, 8000, out, sizeof out, &n), MAILPROTO_E_LIMIT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_and_choice),
        cmocka_unit_test(plain_rfc4616),
        cmocka_unit_test(login_exchange),
        cmocka_unit_test(cram_md5_rfc2195),
        cmocka_unit_test(scram_sha1_rfc5802),
        cmocka_unit_test(scram_sha256_rfc7677),
        cmocka_unit_test(scram_bad_server),
        cmocka_unit_test(scram_names_and_saslprep),
        cmocka_unit_test(oauthbearer_rfc7628),
        cmocka_unit_test(xoauth2_exchange),
        cmocka_unit_test(endless_and_oversized_challenges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
