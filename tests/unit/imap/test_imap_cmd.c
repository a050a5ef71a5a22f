/*
 * IMAP command encoder, tags, dates, modified UTF-7, and the
 * ENVELOPE/BODYSTRUCTURE builder.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cmd_parse.h"
#include "imap_dump.h"
#include "testutil.h"

/* Concatenate the fragments (ext literals filled with 'X'). */
static char *joined(const mailproto_imap_cmd *c, size_t *len)
{
    size_t n = mailproto_imap_cmd_nfrags(c), total = 0;
    assert_true(n > 0);
    for (size_t i = 0; i < n; i++) {
        mailproto_imap_frag f;
        assert_int_equal(mailproto_imap_cmd_frag(c, i, &f), MAILPROTO_OK);
        total += f.len + (size_t)f.ext_len;
    }
    char *s = malloc(total + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        mailproto_imap_frag f;
        mailproto_imap_cmd_frag(c, i, &f);
        memcpy(s + k, f.ptr, f.len);
        k += f.len;
        memset(s + k, 'X', (size_t)f.ext_len);
        k += (size_t)f.ext_len;
    }
    s[k] = '\0';
    *len = k;
    return s;
}

static char buf[65536];

static void expect_cmd(const mailproto_imap_cmd *c, const char *want)
{
    size_t len;
    char *s = joined(c, &len);
    assert_string_equal(s, want);
    cp_cmd pc;
    assert_int_equal(cp_parse(s, len, &pc), 0);
    cp_free(&pc);
    free(s);
}

static void test_tags(void **state)
{
    (void)state;
    mailproto_imap_tagger t;
    const unsigned char r[4] = {0, 25, 26, 200};
    mailproto_imap_tagger_init(&t, r);
    assert_string_equal(t.prefix, "AZAS");
    char a[32], b[32];
    assert_int_equal(mailproto_imap_tagger_next(&t, a, sizeof a), MAILPROTO_OK);
    assert_string_equal(a, "AZAS1");
    for (int i = 0; i < 100000; i++) {
        assert_int_equal(mailproto_imap_tagger_next(&t, b, sizeof b), MAILPROTO_OK);
        assert_string_not_equal(a, b);
    }
    assert_string_equal(b, "AZAS100001");
    assert_int_equal(mailproto_imap_tagger_next(&t, b, 8), MAILPROTO_E_INVALID);
    t.counter = UINT64_MAX;
    assert_int_equal(mailproto_imap_tagger_next(&t, b, sizeof b), MAILPROTO_E_LIMIT);
    /* a tag is an atom the encoder accepts */
    mailproto_imap_cmd c;
    assert_int_equal(mailproto_imap_cmd_begin(&c, buf, sizeof buf, 0, a, "NOOP"), MAILPROTO_OK);
    assert_int_equal(mailproto_imap_cmd_end(&c), MAILPROTO_OK);
    expect_cmd(&c, "AZAS1 NOOP\r\n");
}

static void test_strings(void **state)
{
    (void)state;
    mailproto_imap_cmd c;
    mailproto_imap_cmd_begin(&c, buf, sizeof buf, 0, "A1", "LOGIN");
    mailproto_imap_cmd_astring(&c, "alice", 5);
    mailproto_imap_cmd_astring(&c, "p a\"s\\s", 7);
    assert_int_equal(mailproto_imap_cmd_end(&c), MAILPROTO_OK);
    expect_cmd(&c, "A1 LOGIN alice \"p a\\\"s\\\\s\"\r\n");
    assert_int_equal(mailproto_imap_cmd_nfrags(&c), 1);

    /* empty, NIL, specials */
    mailproto_imap_cmd_begin(&c, buf, sizeof buf, 0, "A2", "X");
    mailproto_imap_cmd_astring(&c, "", 0);
    mailproto_imap_cmd_astring(&c, "NIL", 3);
    mailproto_imap_cmd_astring(&c, "a*b", 3);
    mailproto_imap_cmd_astring(&c, "a]b", 3);
    mailproto_imap_cmd_string(&c, "atom", 4);
    mailproto_imap_cmd_end(&c);
    expect_cmd(&c, "A2 X \"\" \"NIL\" \"a*b\" \"a]b\" \"atom\"\r\n");

    /* CR/LF force a literal: the injection stays one argument */
    const char evil[] = "INBOX\r\nA9 DELETE INBOX";
    mailproto_imap_cmd_begin(&c, buf, sizeof buf, 0, "A3", "SELECT");
    mailproto_imap_cmd_astring(&c, evil, sizeof evil - 1);
    assert_int_equal(mailproto_imap_cmd_end(&c), MAILPROTO_OK);
    expect_cmd(&c, "A3 SELECT {22}\r\nINBOX\r\nA9 DELETE INBOX\r\n");
    assert_int_equal(mailproto_imap_cmd_nfrags(&c), 2);
    mailproto_imap_frag f;
    mailproto_imap_cmd_frag(&c, 0, &f);
    assert_int_equal(f.wait_continue, 0);
    assert_int_equal(f.len, 16);
    mailproto_imap_cmd_frag(&c, 1, &f);
    assert_int_equal(f.wait_continue, 1); /* no LITERAL+: wait for "+" */
    size_t len;
    char *s = joined(&c, &len);
    cp_cmd pc;
    assert_int_equal(cp_parse(s, len, &pc), 0);
    assert_int_equal(pc.n, 3);
    assert_int_equal(pc.arg[2].kind, 'l');
    assert_memory_equal(pc.arg[2].data, evil, sizeof evil - 1);
    cp_free(&pc);
    free(s);

    /* LITERAL+ and LITERAL- */
    mailproto_imap_cmd_begin(&c, buf, sizeof buf, MAILPROTO_IMAP_CMD_LITERALPLUS, "A4", "X");
    mailproto_imap_cmd_astring(&c, "a\nb", 3);
    mailproto_imap_cmd_end(&c);
    expect_cmd(&c, "A4 X {3+}\r\na\nb\r\n");
    mailproto_imap_cmd_frag(&c, 1, &f);
    assert_int_equal(f.wait_continue, 0);
    static char big[5000];
    memset(big, '\n', sizeof big);
    mailproto_imap_cmd_begin(&c, buf, sizeof buf, MAILPROTO_IMAP_CMD_LITERALMINUS, "A5", "X");
    mailproto_imap_cmd_literal(&c, big, 4096);
    mailproto_imap_cmd_literal(&c, big, 4097);
    assert_int_equal(mailproto_imap_cmd_end(&c), MAILPROTO_OK);
    assert_int_equal(mailproto_imap_cmd_nfrags(&c), 3);
    mailproto_imap_cmd_frag(&c, 0, &f);
    assert_memory_equal(f.ptr + f.len - 9, "{4096+}\r\n", 9);
    mailproto_imap_cmd_frag(&c, 1, &f);
    assert_int_equal(f.wait_continue, 0);
    assert_memory_equal(f.ptr + f.len - 8, "{4097}\r\n", 8);
    mailproto_imap_cmd_frag(&c, 2, &f);
    assert_int_equal(f.wait_continue, 1);

    /* 8-bit: literal, or quoted with UTF8=ACCEPT; long: literal */
    mailproto_imap_cmd_begin(&c, buf, sizeof buf, 0, "A6", "X");
    mailproto_imap_cmd_astring(&c, "caf\xc3\xa9", 5);
    mailproto_imap_cmd_end(&c);
    expect_cmd(&c, "A6 X {5}\r\ncaf\xc3\xa9\r\n");
    mailproto_imap_cmd_begin(&c, buf, sizeof buf, MAILPROTO_IMAP_CMD_UTF8, "A7", "X");
    mailproto_imap_cmd_astring(&c, "caf\xc3\xa9", 5);
    mailproto_imap_cmd_astring(&c, "bad\xc3", 4); /* invalid UTF-8: literal */
    mailproto_imap_cmd_end(&c);
    expect_cmd(&c, "A7 X \"caf\xc3\xa9\" {4}\r\nbad\xc3\r\n");
    memset(big, 'a', sizeof big);
    big[0] = ' ';
    mailproto_imap_cmd_begin(&c, buf, sizeof buf, 0, "A8", "X");
    mailproto_imap_cmd_astring(&c, big, 1025);
    mailproto_imap_cmd_end(&c);
    mailproto_imap_cmd_frag(&c, 0, &f);
    assert_memory_equal(f.ptr, "A8 X {1025}\r\n", 13);

    /* NUL refused, sticky */
    mailproto_imap_cmd_begin(&c, buf, sizeof buf, 0, "A9", "X");
    assert_int_equal(mailproto_imap_cmd_astring(&c, "a\0b", 3), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_imap_cmd_atom(&c, "OK"), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_imap_cmd_end(&c), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_imap_cmd_nfrags(&c), 0);
    assert_int_equal(mailproto_imap_cmd_frag(&c, 0, &f), MAILPROTO_E_INVALID);
}

static void test_atoms_raw_limits(void **state)
{
    (void)state;
    mailproto_imap_cmd c;
    assert_int_equal(mailproto_imap_cmd_begin(&c, buf, sizeof buf, 0, "A+1", "X"), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_imap_cmd_begin(&c, buf, sizeof buf, 0, "A1", "UID  FETCH"), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_imap_cmd_begin(&c, buf, sizeof buf, 0, "A1", "X\r\n"), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_imap_cmd_begin(&c, buf, sizeof buf, 0, "A1", "UID FETCH"), MAILPROTO_OK);
    mailproto_imap_range r[] = {{1, 10}};
    mailproto_imap_cmd_seqset(&c, r, 1);
    assert_int_equal(mailproto_imap_cmd_raw(&c, "(UID FLAGS BODY.PEEK[HEADER.FIELDS (FROM)])"), MAILPROTO_OK);
    mailproto_imap_cmd_end(&c);
    expect_cmd(&c, "A1 UID FETCH 1:10 (UID FLAGS BODY.PEEK[HEADER.FIELDS (FROM)])\r\n");
    mailproto_imap_cmd_begin(&c, buf, sizeof buf, 0, "A2", "X");
    assert_int_equal(mailproto_imap_cmd_raw(&c, "(A)\r\nA3 LOGOUT"), MAILPROTO_E_INVALID);
    mailproto_imap_cmd_begin(&c, buf, sizeof buf, 0, "A2", "X");
    assert_int_equal(mailproto_imap_cmd_atom(&c, "a b"), MAILPROTO_E_INVALID);
    mailproto_imap_cmd_begin(&c, buf, sizeof buf, 0, "A2", "X");
    assert_int_equal(mailproto_imap_cmd_atom(&c, "\\Seen"), MAILPROTO_E_INVALID);
    /* lists */
    mailproto_imap_cmd_begin(&c, buf, sizeof buf, 0, "A3", "STORE");
    mailproto_imap_cmd_number(&c, 5);
    mailproto_imap_cmd_atom(&c, "+FLAGS.SILENT");
    mailproto_imap_cmd_open(&c);
    mailproto_imap_cmd_flag(&c, "\\Seen");
    mailproto_imap_cmd_flag(&c, "$Junk");
    mailproto_imap_cmd_raw(&c, "\\Deleted");
    mailproto_imap_cmd_close(&c);
    assert_int_equal(mailproto_imap_cmd_end(&c), MAILPROTO_OK);
    expect_cmd(&c, "A3 STORE 5 +FLAGS.SILENT (\\Seen $Junk \\Deleted)\r\n");
    static const char *badflags[] = {"\\", "", "\\Se en", "a)b", "\\\\x", "x\r\n"};
    for (size_t i = 0; i < sizeof badflags / sizeof badflags[0]; i++) {
        mailproto_imap_cmd_begin(&c, buf, sizeof buf, 0, "A3", "X");
        assert_int_equal(mailproto_imap_cmd_flag(&c, badflags[i]), MAILPROTO_E_INVALID);
    }
    mailproto_imap_cmd_begin(&c, buf, sizeof buf, 0, "A3", "X");
    mailproto_imap_cmd_open(&c);
    assert_int_equal(mailproto_imap_cmd_end(&c), MAILPROTO_E_INVALID); /* unbalanced */
    mailproto_imap_cmd_begin(&c, buf, sizeof buf, 0, "A3", "X");
    assert_int_equal(mailproto_imap_cmd_close(&c), MAILPROTO_E_INVALID);
    /* buffer too small, line too long */
    char small[16];
    mailproto_imap_cmd_begin(&c, small, sizeof small, 0, "A4", "X");
    assert_int_equal(mailproto_imap_cmd_astring(&c, "abcdefghijklmnop", 16), MAILPROTO_E_LIMIT);
    mailproto_imap_cmd_begin(&c, buf, sizeof buf, 0, "A5", "X");
    int rc = 0;
    for (int i = 0; i < 2000 && rc == 0; i++)
        rc = mailproto_imap_cmd_atom(&c, "ABCDEFGH");
    assert_int_equal(rc, MAILPROTO_E_LIMIT);
    /* too many literals */
    mailproto_imap_cmd_begin(&c, buf, sizeof buf, 0, "A6", "X");
    rc = 0;
    for (int i = 0; i < 20 && rc == 0; i++)
        rc = mailproto_imap_cmd_literal(&c, "x", 1);
    assert_int_equal(rc, MAILPROTO_E_LIMIT);
}

static void test_seqset(void **state)
{
    (void)state;
    mailproto_imap_cmd c;
    mailproto_imap_range r[] = {{7, 7}, {1, 1}, {3, 2}, {5, 5}, {6, 6}, {0, 20}, {12, 15}, {10, 11}};
    mailproto_imap_cmd_begin(&c, buf, sizeof buf, 0, "A1", "FETCH");
    assert_int_equal(mailproto_imap_cmd_seqset(&c, r, sizeof r / sizeof r[0]), MAILPROTO_OK);
    mailproto_imap_cmd_end(&c);
    expect_cmd(&c, "A1 FETCH 1:3,5:7,10:15,20:*\r\n");
    mailproto_imap_range one[] = {{0, 0}};
    mailproto_imap_cmd_begin(&c, buf, sizeof buf, 0, "A2", "FETCH");
    mailproto_imap_cmd_seqset(&c, one, 1);
    mailproto_imap_cmd_end(&c);
    expect_cmd(&c, "A2 FETCH *\r\n");
    mailproto_imap_range top[] = {{4294967295u, 4294967295u}, {4294967294u, 4294967294u}, {1, 1}};
    mailproto_imap_cmd_begin(&c, buf, sizeof buf, 0, "A3", "FETCH");
    mailproto_imap_cmd_seqset(&c, top, 3);
    mailproto_imap_cmd_end(&c);
    expect_cmd(&c, "A3 FETCH 1,4294967294:4294967295\r\n");
    mailproto_imap_cmd_begin(&c, buf, sizeof buf, 0, "A4", "FETCH");
    assert_int_equal(mailproto_imap_cmd_seqset(&c, r, 0), MAILPROTO_E_INVALID);
    /* many scattered UIDs: compressed, and the line limit holds */
    mailproto_imap_range *many = malloc(3000 * sizeof *many);
    for (uint32_t i = 0; i < 3000; i++)
        many[i].first = many[i].last = (i * 7919u) % 3000u + 1; /* a permutation of 1..3000 */
    mailproto_imap_cmd_begin(&c, buf, sizeof buf, 0, "A5", "FETCH");
    assert_int_equal(mailproto_imap_cmd_seqset(&c, many, 3000), MAILPROTO_OK);
    mailproto_imap_cmd_end(&c);
    expect_cmd(&c, "A5 FETCH 1:3000\r\n");
    for (uint32_t i = 0; i < 3000; i++)
        many[i].first = many[i].last = i * 2 + 1;
    mailproto_imap_cmd_begin(&c, buf, sizeof buf, 0, "A6", "FETCH");
    assert_int_equal(mailproto_imap_cmd_seqset(&c, many, 3000), MAILPROTO_E_LIMIT);
    free(many);
}

static void test_dates_search(void **state)
{
    (void)state;
    mailproto_imap_cmd c;
    mailproto_imap_cmd_begin(&c, buf, sizeof buf, 0, "A1", "UID");
    mailproto_imap_cmd_search(&c, 0, 1);
    mailproto_imap_cmd_key_string(&c, "SUBJECT", "Gr\xc3\xbc\xc3\x9f" "e", 7);
    mailproto_imap_cmd_key_date(&c, "SINCE", 1994, 2, 1);
    mailproto_imap_cmd_key_number(&c, "LARGER", 1000);
    mailproto_imap_cmd_atom(&c, "NOT");
    mailproto_imap_cmd_key_header(&c, "X-Spam", "yes", 3);
    mailproto_imap_cmd_atom(&c, "OR");
    mailproto_imap_cmd_key_string(&c, "FROM", "a b", 3);
    mailproto_imap_cmd_atom(&c, "DELETED");
    assert_int_equal(mailproto_imap_cmd_end(&c), MAILPROTO_OK);
    expect_cmd(&c, "A1 UID SEARCH CHARSET UTF-8 SUBJECT {7}\r\nGr\xc3\xbc\xc3\x9f" "e SINCE 1-Feb-1994 LARGER 1000 "
                   "NOT HEADER X-Spam yes OR FROM \"a b\" DELETED\r\n");
    mailproto_imap_cmd_begin(&c, buf, sizeof buf, 0, "A2", "X");
    assert_int_equal(mailproto_imap_cmd_key_string(&c, "SUBJECT", "\xff", 1), MAILPROTO_E_INVALID);
    mailproto_imap_cmd_begin(&c, buf, sizeof buf, 0, "A2", "X");
    assert_int_equal(mailproto_imap_cmd_date(&c, 2023, 2, 29), MAILPROTO_E_INVALID);
    mailproto_imap_cmd_begin(&c, buf, sizeof buf, 0, "A2", "X");
    assert_int_equal(mailproto_imap_cmd_date(&c, 2024, 2, 29), MAILPROTO_OK);
    mailproto_imap_cmd_datetime(&c, 837596665, -420);
    mailproto_imap_cmd_datetime(&c, 0, 0);
    mailproto_imap_cmd_datetime(&c, -1, 90);
    mailproto_imap_cmd_end(&c);
    expect_cmd(&c, "A2 X 29-Feb-2024 \"17-Jul-1996 02:44:25 -0700\" \"01-Jan-1970 00:00:00 +0000\" "
                   "\"01-Jan-1970 01:29:59 +0130\"\r\n");
    /* parse back */
    int64_t utc;
    int tz;
    assert_int_equal(mailproto_imap_parse_datetime("01-Jan-1970 01:29:59 +0130", 26, &utc, &tz), MAILPROTO_OK);
    assert_int_equal(utc, -1);
    assert_int_equal(tz, 90);
    assert_int_equal(mailproto_imap_parse_datetime(" 1-Jan-2026 10:00:00 +0000", 26, &utc, &tz), MAILPROTO_OK);
    assert_int_equal(utc, 1767261600);
    assert_int_equal(mailproto_imap_parse_datetime("1-Jan-2026 10:00:00 +0000", 25, &utc, &tz), MAILPROTO_OK);
    assert_int_equal(utc, 1767261600);
    static const char *bad[] = {"32-Jan-2026 10:00:00 +0000", "01-Foo-2026 10:00:00 +0000",
                                "01-Jan-2026 24:00:00 +0000", "01-Jan-2026 10:00:00 +0060",
                                "01-Jan-2026 10:00:00 0000", "29-Feb-2023 10:00:00 +0000", "", "01-Jan-2026"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(mailproto_imap_parse_datetime(bad[i], strlen(bad[i]), &utc, &tz), MAILPROTO_E_INVALID);
    /* round trip of many instants */
    for (int64_t t = -2000000000; t < 4000000000; t += 86399 * 37) {
        mailproto_imap_cmd_begin(&c, buf, sizeof buf, 0, "A", "X");
        mailproto_imap_cmd_datetime(&c, t, (int)(t % 841));
        mailproto_imap_cmd_end(&c);
        size_t len;
        char *s = joined(&c, &len);
        assert_int_equal(mailproto_imap_parse_datetime(s + 5, 26, &utc, &tz), MAILPROTO_OK);
        assert_true(utc == t);
        assert_int_equal(tz, (int)(t % 841));
        free(s);
    }
}

static void test_append_ext(void **state)
{
    (void)state;
    mailproto_imap_cmd c;
    mailproto_imap_cmd_begin(&c, buf, sizeof buf, 0, "A1", "APPEND");
    mailproto_imap_cmd_mailbox(&c, "Entw\xc3\xbcrfe", 9);
    mailproto_imap_cmd_open(&c);
    mailproto_imap_cmd_raw(&c, "\\Seen");
    mailproto_imap_cmd_close(&c);
    mailproto_imap_cmd_literal_ext(&c, 1234567);
    assert_int_equal(mailproto_imap_cmd_end(&c), MAILPROTO_OK);
    assert_int_equal(mailproto_imap_cmd_nfrags(&c), 3);
    mailproto_imap_frag f;
    mailproto_imap_cmd_frag(&c, 0, &f);
    assert_int_equal(f.len, strlen("A1 APPEND Entw&APw-rfe (\\Seen) {1234567}\r\n"));
    assert_memory_equal(f.ptr, "A1 APPEND Entw&APw-rfe (\\Seen) {1234567}\r\n", f.len);
    mailproto_imap_cmd_frag(&c, 1, &f);
    assert_int_equal(f.len, 0);
    assert_int_equal(f.ext_len, 1234567);
    assert_int_equal(f.wait_continue, 1);
    mailproto_imap_cmd_frag(&c, 2, &f);
    assert_int_equal(f.len, 2);
    assert_int_equal(f.wait_continue, 0);
    size_t len;
    char *s = joined(&c, &len);
    cp_cmd pc;
    assert_int_equal(cp_parse(s, len, &pc), 0);
    assert_int_equal(pc.arg[pc.n - 1].len, 1234567);
    cp_free(&pc);
    free(s);
    /* mailbox names */
    mailproto_imap_cmd_begin(&c, buf, sizeof buf, 0, "A2", "SELECT");
    mailproto_imap_cmd_mailbox(&c, "inbox", 5);
    mailproto_imap_cmd_mailbox(&c, "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 28);
    mailproto_imap_cmd_mailbox(&c, "A&B", 3);
    mailproto_imap_cmd_mailbox(&c, "\x1a[x", 3); /* fuzz findings (test side): '[' in an atom */
    mailproto_imap_cmd_astring(&c, "BODY[[_[", 8);
    mailproto_imap_cmd_end(&c);
    expect_cmd(&c, "A2 SELECT INBOX ~peter/mail/&U,BTFw-/&ZeVnLIqe- A&-B &ABo-[x BODY[[_[\r\n");
    mailproto_imap_cmd_begin(&c, buf, sizeof buf, MAILPROTO_IMAP_CMD_UTF8, "A3", "SELECT");
    mailproto_imap_cmd_mailbox(&c, "Entw\xc3\xbcrfe", 9);
    mailproto_imap_cmd_end(&c);
    expect_cmd(&c, "A3 SELECT \"Entw\xc3\xbcrfe\"\r\n");
    mailproto_imap_cmd_begin(&c, buf, sizeof buf, 0, "A4", "SELECT");
    assert_int_equal(mailproto_imap_cmd_mailbox(&c, "\xc3", 1), MAILPROTO_E_INVALID);
}

/* ---- modified UTF-7 ---- */

static void dec_ok(const char *in, const char *want)
{
    char out[256];
    size_t n;
    assert_int_equal(mailproto_imap_mutf7_decode(in, strlen(in), out, sizeof out, &n), MAILPROTO_OK);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(out, want, n);
    char back[256];
    assert_int_equal(mailproto_imap_mutf7_encode(out, n, back, sizeof back, &n), MAILPROTO_OK);
    assert_int_equal(n, strlen(in));
    assert_memory_equal(back, in, n);
}

static void test_mutf7(void **state)
{
    (void)state;
    dec_ok("~peter/mail/&U,BTFw-/&ZeVnLIqe-", "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
    dec_ok("&-", "&");
    dec_ok("A&-B&-&-", "A&B&&");
    dec_ok("Entw&APw-rfe", "Entw\xc3\xbcrfe");
    dec_ok("&2D3eAQ-", "\xf0\x9f\x98\x81");       /* U+1F601 as a surrogate pair */
    dec_ok("&AAE-", "\x01");                      /* control characters are encoded */
    dec_ok("&AH8-", "\x7f");
    dec_ok("", "");
    static const char *bad[] = {
        "&AAA",        /* no '-' */
        "&AAA-",       /* U+0000 */
        "&Jjo",        /* unterminated */
        "&Jjo!-",      /* not base64 */
        "&ZeVnLIqe-&U,BTFw-", /* two runs back to back */
        "&AGE-",       /* 'a' must stand for itself */
        "&2D0-",       /* lone high surrogate */
        "&3gE-",       /* lone low surrogate */
        "&2D3YPQ-",    /* high surrogate followed by high */
        "&APw",        /* missing '-' at the end */
        "&APx-",       /* non-zero pad bits */
        "&AP-",        /* bits of a partial unit */
        "&APwA-",      /* 8 leftover bits */
        "&-&",         /* '&' at the end */
        "\xc3\xbc",    /* 8-bit */
        "a\tb",        /* control character */
        "&/w-",        /* '/' is not in the modified alphabet */
        "&=-",
    };
    char out[64];
    size_t n;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = mailproto_imap_mutf7_decode(bad[i], strlen(bad[i]), out, sizeof out, &n);
        if (rc != MAILPROTO_E_INVALID)
            fprintf(stderr, "accepted: %s\n", bad[i]);
        assert_int_equal(rc, MAILPROTO_E_INVALID);
    }
    /* encode refuses bad UTF-8 and NUL */
    static const char *bad8[] = {"\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82", "a\0b", "\x80"};
    static const size_t bad8len[] = {2, 3, 4, 2, 3, 1};
    for (size_t i = 0; i < sizeof bad8 / sizeof bad8[0]; i++)
        assert_int_equal(mailproto_imap_mutf7_encode(bad8[i], bad8len[i], out, sizeof out, &n), MAILPROTO_E_INVALID);
    /* mailbox names from the server: mUTF-7, or UTF-8 under UTF8=ACCEPT */
    assert_int_equal(mailproto_imap_mailbox_decode("Entw&APw-rfe", 12, 0, out, sizeof out, &n), MAILPROTO_OK);
    assert_int_equal(n, 9);
    assert_memory_equal(out, "Entw\xc3\xbcrfe", 9);
    assert_int_equal(mailproto_imap_mailbox_decode("Entw\xc3\xbcrfe", 9, 1, out, sizeof out, &n), MAILPROTO_OK);
    assert_int_equal(n, 9);
    assert_memory_equal(out, "Entw\xc3\xbcrfe", 9);
    assert_int_equal(mailproto_imap_mailbox_decode("Entw&APw-rfe", 12, 1, out, sizeof out, &n), MAILPROTO_OK);
    assert_int_equal(n, 12); /* no mUTF-7 decoding in UTF-8 mode */
    assert_int_equal(mailproto_imap_mailbox_decode("a\xc3", 2, 1, out, sizeof out, &n), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_imap_mailbox_decode("a\0b", 3, 1, out, sizeof out, &n), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_imap_mailbox_decode("\xc3\xbc", 2, 0, out, sizeof out, &n), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_imap_mailbox_decode("abc", 3, 1, out, 2, &n), MAILPROTO_E_LIMIT);

    /* measuring and a short buffer */
    assert_int_equal(mailproto_imap_mutf7_encode("\xc3\xbc", 2, NULL, 0, &n), MAILPROTO_E_LIMIT);
    assert_int_equal(n, 5);
    assert_int_equal(mailproto_imap_mutf7_decode("&APw-", 5, out, 1, &n), MAILPROTO_E_LIMIT);
    assert_int_equal(n, 2);
    /* round trip over every code point class */
    uint32_t s = 12345;
    for (int round = 0; round < 2000; round++) {
        char in[128];
        size_t k = 0;
        while (k < 100) {
            s = s * 1103515245u + 12345u;
            uint32_t cp = (s >> 8) % 5 == 0 ? (s >> 3) % 0x110000 : (s >> 3) % 0x80;
            if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff))
                continue;
            if (cp < 0x80) {
                in[k++] = (char)cp;
            } else if (cp < 0x800) {
                in[k++] = (char)(0xc0 | (cp >> 6));
                in[k++] = (char)(0x80 | (cp & 0x3f));
            } else if (cp < 0x10000) {
                in[k++] = (char)(0xe0 | (cp >> 12));
                in[k++] = (char)(0x80 | ((cp >> 6) & 0x3f));
                in[k++] = (char)(0x80 | (cp & 0x3f));
            } else {
                in[k++] = (char)(0xf0 | (cp >> 18));
                in[k++] = (char)(0x80 | ((cp >> 12) & 0x3f));
                in[k++] = (char)(0x80 | ((cp >> 6) & 0x3f));
                in[k++] = (char)(0x80 | (cp & 0x3f));
            }
        }
        char enc[1024], dec[256];
        size_t en, dn;
        assert_int_equal(mailproto_imap_mutf7_encode(in, k, enc, sizeof enc, &en), MAILPROTO_OK);
        for (size_t j = 0; j < en; j++)
            assert_true(enc[j] >= 0x20 && enc[j] <= 0x7e);
        assert_int_equal(mailproto_imap_mutf7_decode(enc, en, dec, sizeof dec, &dn), MAILPROTO_OK);
        assert_int_equal(dn, k);
        assert_memory_equal(dec, in, k);
    }
}

/* ---- builder ---- */

typedef struct built {
    mailproto_arena arena;
    mailproto_mem mem;
    unsigned char space[1 << 20];
    mailproto_imap_builder b;
    int rc;
} built;

static void build_from(built *bt, const char *data, size_t len, int item, size_t step)
{
    mailproto_arena_init(&bt->arena, bt->space, sizeof bt->space, &bt->mem);
    assert_int_equal(mailproto_imap_build_begin(&bt->b, &bt->mem, item, 0), MAILPROTO_OK);
    mailproto_imap_parser *p;
    mailproto_imap_parser_new(&p, NULL, NULL);
    mailproto_imap_parser_set_authenticated(p, 1);
    size_t off = 0;
    bt->rc = MAILPROTO_OK;
    for (;;) {
        const mailproto_imap_event *e;
        int r = mailproto_imap_parser_next(p, &e);
        if (r == MAILPROTO_EVENT) {
            if (bt->rc == MAILPROTO_OK)
                bt->rc = mailproto_imap_build_feed(&bt->b, e);
            continue;
        }
        if (r != MAILPROTO_AGAIN)
            break;
        if (off == len) {
            mailproto_imap_parser_eof(p);
            continue;
        }
        size_t k = step && step < len - off ? step : len - off, used;
        mailproto_imap_parser_feed(p, data + off, k, &used);
        off += used;
    }
    mailproto_imap_parser_free(p);
}

static void test_build_envelope(void **state)
{
    (void)state;
    built *bt = malloc(sizeof *bt);
    static const char in[] =
        "* 12 FETCH (ENVELOPE (\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"IMAP4rev1 WG mtg\" "
        "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) NIL NIL "
        "((NIL NIL \"Friends\" NIL)(\"B\" NIL \"b\" \"e.org\")(NIL NIL NIL NIL)(NIL NIL \"imap\" \"x.org\")) "
        "((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) NIL "
        "\"<a@b>\" {7}\r\n<id@x>\"))\r\n";
    for (size_t step = 0; step < 3; step++) {
        build_from(bt, in, sizeof in - 1, MAILPROTO_IMAP_ITEM_ENVELOPE, step);
        assert_int_equal(bt->rc, MAILPROTO_EVENT);
        const mailproto_imap_envelope *e = mailproto_imap_build_envelope(&bt->b);
        assert_non_null(e);
        assert_string_equal(e->subject, "IMAP4rev1 WG mtg");
        assert_string_equal(e->from->name, "Terry Gray");
        assert_string_equal(e->from->host, "cac.washington.edu");
        assert_null(e->from->next);
        assert_null(e->sender);
        assert_null(e->reply_to);
        const mailproto_imap_address *a = e->to;
        assert_int_equal(a->group, 1);
        assert_string_equal(a->mailbox, "Friends");
        a = a->next;
        assert_int_equal(a->group, 0);
        assert_string_equal(a->mailbox, "b");
        a = a->next;
        assert_int_equal(a->group, 2);
        a = a->next;
        assert_string_equal(a->mailbox, "imap");
        assert_null(a->next);
        assert_string_equal(e->cc->next->name, "John Klensin");
        assert_null(e->bcc);
        assert_string_equal(e->in_reply_to, "<a@b>");
        assert_string_equal(e->message_id, "<id@x>\"");
        assert_null(mailproto_imap_build_body(&bt->b));
    }
    /* a 10 000-byte subject literal and a 9 000-byte quoted subject: pieces joined in the arena */
    for (int quoted = 0; quoted < 2; quoted++) {
        size_t sl = quoted ? 9000 : 10000;
        char *big = malloc(sl + 200);
        size_t k = (size_t)sprintf(big, quoted ? "* 1 FETCH (ENVELOPE (NIL \"" : "* 1 FETCH (ENVELOPE (NIL {%zu}\r\n", sl);
        for (size_t j = 0; j < sl; j++)
            big[k + j] = (char)('a' + j % 26);
        k += sl;
        k += (size_t)sprintf(big + k, "%s NIL NIL NIL NIL NIL NIL NIL NIL))\r\n", quoted ? "\"" : "");
        build_from(bt, big, k, MAILPROTO_IMAP_ITEM_ENVELOPE, 1000);
        assert_int_equal(bt->rc, MAILPROTO_EVENT);
        const mailproto_imap_envelope *e = mailproto_imap_build_envelope(&bt->b);
        assert_int_equal(strlen(e->subject), sl);
        assert_int_equal(e->subject[sl - 1], 'a' + (sl - 1) % 26);
        free(big);
    }
    free(bt);
}

static void test_build_body(void **state)
{
    (void)state;
    built *bt = malloc(sizeof *bt);
    static const char mixed[] =
        "* 1 FETCH (UID 1 BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"quoted-printable\" "
        "120 4 NIL NIL NIL NIL)(\"application\" \"pdf\" (\"name\" \"a b.pdf\") NIL NIL \"base64\" 4400 NIL "
        "(\"attachment\" (\"filename\" \"a b.pdf\")) NIL NIL) \"mixed\" (\"boundary\" \"xyz\") NIL \"en\" NIL))\r\n";
    build_from(bt, mixed, sizeof mixed - 1, MAILPROTO_IMAP_ITEM_BODYSTRUCTURE, 0);
    assert_int_equal(bt->rc, MAILPROTO_EVENT);
    const mailproto_imap_body *b = mailproto_imap_build_body(&bt->b);
    assert_non_null(b);
    assert_string_equal(b->type, "multipart");
    assert_string_equal(b->subtype, "mixed");
    assert_string_equal(b->params->name, "boundary");
    assert_string_equal(b->params->value, "xyz");
    assert_string_equal(b->language, "en");
    assert_int_equal(b->nchildren, 2);
    const mailproto_imap_body *t = b->child;
    assert_string_equal(t->type, "text");
    assert_string_equal(t->encoding, "quoted-printable");
    assert_int_equal(t->octets, 120);
    assert_int_equal(t->lines, 4);
    assert_string_equal(t->params->value, "utf-8");
    const mailproto_imap_body *pdf = t->next;
    assert_string_equal(pdf->subtype, "pdf");
    assert_int_equal(pdf->octets, 4400);
    assert_string_equal(pdf->disposition, "attachment");
    assert_string_equal(pdf->disp_params->value, "a b.pdf");
    assert_ptr_equal(pdf->parent, b);
    assert_null(pdf->next);

    static const char msg[] =
        "* 3 FETCH (BODYSTRUCTURE (\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 900 (NIL \"inner\" NIL NIL NIL NIL "
        "NIL NIL NIL NIL) ((\"text\" \"plain\" NIL NIL NIL \"7bit\" 10 1)(\"text\" \"html\" NIL NIL NIL \"7bit\" 20 2) "
        "\"alternative\") 20 NIL NIL NIL NIL))\r\n";
    build_from(bt, msg, sizeof msg - 1, MAILPROTO_IMAP_ITEM_BODYSTRUCTURE, 1);
    assert_int_equal(bt->rc, MAILPROTO_EVENT);
    b = mailproto_imap_build_body(&bt->b);
    assert_string_equal(b->type, "message");
    assert_int_equal(b->lines, 20);
    assert_string_equal(b->envelope->subject, "inner");
    assert_string_equal(b->child->subtype, "alternative");
    assert_int_equal(b->child->nchildren, 2);
    assert_string_equal(b->child->child->next->subtype, "html");
    assert_int_equal(b->child->child->next->lines, 2);

    /* BODY (non-extensible) of a single part */
    static const char single[] = "* 1 FETCH (BODY (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92))\r\n";
    build_from(bt, single, sizeof single - 1, MAILPROTO_IMAP_ITEM_BODY, 0);
    assert_int_equal(bt->rc, MAILPROTO_EVENT);
    b = mailproto_imap_build_body(&bt->b);
    assert_int_equal(b->lines, 92);
    assert_int_equal(b->nchildren, 0);

    /* malformed: octets not a number; a part without subtype */
    static const char bad1[] = "* 1 FETCH (BODY (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" \"x\" 92))\r\n";
    build_from(bt, bad1, sizeof bad1 - 1, MAILPROTO_IMAP_ITEM_BODY, 0);
    assert_int_equal(bt->rc, MAILPROTO_E_PROTOCOL);
    static const char bad2[] = "* 1 FETCH (BODY ((\"TEXT\")))\r\n";
    build_from(bt, bad2, sizeof bad2 - 1, MAILPROTO_IMAP_ITEM_BODY, 0);
    assert_int_equal(bt->rc, MAILPROTO_E_PROTOCOL);

    /* BODYSTRUCTURE NIL is not a body (fuzz finding); ENVELOPE NIL is fine */
    static const char nilb[] = "* 1 FETCH (BODYSTRUCTURE NIL)\r\n";
    build_from(bt, nilb, sizeof nilb - 1, MAILPROTO_IMAP_ITEM_BODYSTRUCTURE, 0);
    assert_int_equal(bt->rc, MAILPROTO_E_PROTOCOL);
    assert_null(mailproto_imap_build_body(&bt->b));
    static const char nile[] = "* 1 FETCH (ENVELOPE NIL)\r\n";
    build_from(bt, nile, sizeof nile - 1, MAILPROTO_IMAP_ITEM_ENVELOPE, 0);
    assert_int_equal(bt->rc, MAILPROTO_EVENT);
    assert_null(mailproto_imap_build_envelope(&bt->b));

    /* part limit */
    char *many = malloc(200000);
    size_t k = (size_t)sprintf(many, "* 1 FETCH (BODYSTRUCTURE (");
    for (int i = 0; i < 3000; i++)
        k += (size_t)sprintf(many + k, "(\"t\" \"p\" NIL NIL NIL \"7bit\" 1 1)");
    k += (size_t)sprintf(many + k, " \"mixed\"))\r\n");
    mailproto_arena_init(&bt->arena, bt->space, sizeof bt->space, &bt->mem);
    build_from(bt, many, k, MAILPROTO_IMAP_ITEM_BODYSTRUCTURE, 0);
    assert_int_equal(bt->rc, MAILPROTO_EVENT);
    assert_int_equal(mailproto_imap_build_body(&bt->b)->nchildren, 3000);
    /* with max_parts 100 */
    {
        mailproto_arena_init(&bt->arena, bt->space, sizeof bt->space, &bt->mem);
        mailproto_imap_build_begin(&bt->b, &bt->mem, MAILPROTO_IMAP_ITEM_BODYSTRUCTURE, 100);
        mailproto_imap_parser *p;
        mailproto_imap_parser_new(&p, NULL, NULL);
        mailproto_imap_parser_set_authenticated(p, 1);
        size_t off = 0, used;
        int rc = MAILPROTO_OK, r;
        for (;;) {
            const mailproto_imap_event *e;
            r = mailproto_imap_parser_next(p, &e);
            if (r == MAILPROTO_EVENT) {
                if (rc == MAILPROTO_OK)
                    rc = mailproto_imap_build_feed(&bt->b, e);
                continue;
            }
            if (r != MAILPROTO_AGAIN)
                break;
            if (off == k) {
                mailproto_imap_parser_eof(p);
                continue;
            }
            mailproto_imap_parser_feed(p, many + off, k - off, &used);
            off += used;
        }
        assert_int_equal(rc, MAILPROTO_E_LIMIT);
        mailproto_imap_parser_free(p);
    }
    /* out of arena memory */
    {
        mailproto_arena small;
        mailproto_mem m;
        static unsigned char sp[256];
        mailproto_arena_init(&small, sp, sizeof sp, &m);
        mailproto_imap_builder b2;
        mailproto_imap_build_begin(&b2, &m, MAILPROTO_IMAP_ITEM_BODYSTRUCTURE, 0);
        mailproto_imap_parser *p;
        mailproto_imap_parser_new(&p, NULL, NULL);
        mailproto_imap_parser_set_authenticated(p, 1);
        size_t used;
        mailproto_imap_parser_feed(p, mixed, sizeof mixed - 1, &used);
        int rc = MAILPROTO_OK;
        const mailproto_imap_event *e;
        while (mailproto_imap_parser_next(p, &e) == MAILPROTO_EVENT && rc == MAILPROTO_OK)
            rc = mailproto_imap_build_feed(&b2, e);
        assert_int_equal(rc, MAILPROTO_E_NOMEM);
        mailproto_imap_parser_free(p);
    }
    free(many);
    free(bt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tags),         cmocka_unit_test(test_strings),
        cmocka_unit_test(test_atoms_raw_limits), cmocka_unit_test(test_seqset),
        cmocka_unit_test(test_dates_search), cmocka_unit_test(test_append_ext),
        cmocka_unit_test(test_mutf7),        cmocka_unit_test(test_build_envelope),
        cmocka_unit_test(test_build_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
