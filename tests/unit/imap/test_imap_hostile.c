/*
 * IMAP response parser against hostile and huge input: bad literal counts,
 * unterminated strings, deep nesting, endless lines, out-of-range numbers,
 * bad sequence sets, every limit; and streaming in constant memory (a
 * 1 GiB literal, a 1 MiB quoted string, a SEARCH with a million UIDs).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imap_dump.h"
#include "testutil.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif
#ifndef UNDER_SANITIZER
#define UNDER_SANITIZER 0
#endif

/* Run a whole input (and byte by byte: must agree); return the final rc
 * and the rendering. */
static char *run(const char *in, size_t len, const mailproto_imap_parser_config *cfg, int authed, int *rc)
{
    int rc1;
    char *a = dump_parse(in, len, 0, cfg, authed, rc);
    char *b = dump_parse(in, len, 1, cfg, authed, &rc1);
    assert_int_equal(*rc, rc1);
    assert_string_equal(a, b);
    free(b);
    return a;
}

#define RUN(s, rcvar) run((s), sizeof(s) - 1, NULL, 1, &(rcvar))

static void test_literal_counts(void **state)
{
    (void)state;
    int rc;
    char *out;

    out = RUN("* 1 FETCH (BODY[] {0}\r\n)\r\n", rc);
    assert_int_equal(rc, MAILPROTO_E_CLOSED);
    assert_non_null(strstr(out, "\n59 r17 s0 i8 f0 e0 seq1 n0/0")); /* begin, size 0 */
    assert_non_null(strstr(out, "\n61 "));                           /* end */
    free(out);

    static const char *bad[] = {
        "* 1 FETCH (BODY[] {-1}\r\n",
        "* 1 FETCH (BODY[] {+5}\r\nabcde)\r\n",
        "* 1 FETCH (BODY[] {5+}\r\nabcde)\r\n",
        "* 1 FETCH (BODY[] {18446744073709551616}\r\n",
        "* 1 FETCH (BODY[] {}\r\n",
        "* 1 FETCH (BODY[] {12a}\r\n",
        "* 1 FETCH (BODY[] {5} x\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        out = run(bad[i], strlen(bad[i]), NULL, 1, &rc);
        assert_int_equal(rc, MAILPROTO_E_PROTOCOL);
        free(out);
    }

    /* {4294967296}: a body may be that big; the input ends early: truncation */
    out = RUN("* 1 FETCH (BODY[] {4294967296}\r\nabc", rc);
    assert_int_equal(rc, MAILPROTO_E_PROTOCOL);
    assert_non_null(strstr(out, "n4294967296/0"));
    assert_non_null(strstr(out, "closed in the middle"));
    free(out);
    /* ... but not as a string outside a body */
    out = RUN("* 1 FETCH (ENVELOPE (NIL {4294967296}\r\nabc", rc);
    assert_int_equal(rc, MAILPROTO_E_LIMIT);
    free(out);
    /* {999999999999} + 10 bytes + EOF: protocol error, memory stays the buffer */
    test_alloc ta;
    mailproto_mem mem = test_mem(&ta);
    mailproto_imap_parser *p;
    assert_int_equal(mailproto_imap_parser_new(&p, NULL, &mem), MAILPROTO_OK);
    const char in[] = "* 1 FETCH (BODY[] {999999999999}\r\n0123456789";
    size_t used;
    mailproto_imap_parser_feed(p, in, sizeof in - 1, &used);
    assert_int_equal(used, sizeof in - 1);
    const mailproto_imap_event *e;
    int r, chunks = 0;
    while ((r = mailproto_imap_parser_next(p, &e)) == MAILPROTO_EVENT)
        chunks += e->type == MAILPROTO_IMAP_EV_LITERAL_CHUNK;
    assert_int_equal(r, MAILPROTO_AGAIN);
    assert_int_equal(chunks, 1);
    mailproto_imap_parser_eof(p);
    assert_int_equal(mailproto_imap_parser_next(p, &e), MAILPROTO_E_PROTOCOL);
    assert_int_equal(mailproto_imap_parser_next(p, &e), MAILPROTO_E_PROTOCOL); /* sticky */
    assert_true(ta.peak <= mailproto_imap_parser_memory(p));
    assert_int_equal(ta.count, 2);
    mailproto_imap_parser_free(p);
    assert_int_equal(ta.live, 0);
}

static void test_garbled_resync(void **state)
{
    (void)state;
    int rc;
    /* each bad response is skipped (literal included) and the next one parses */
    static const char *bad[] = {
        "* 4294967296 EXISTS\r\n",
        "* 0 EXPUNGE\r\n",
        "* 0 FETCH (UID 1)\r\n",
        "* VANISHED 1:5,\r\n",
        "* VANISHED 0\r\n",
        "* VANISHED 1:4294967296\r\n",
        "A1 OK [COPYUID 1 1:5, 2] x\r\n",
        "A1 OK [UIDVALIDITY 4294967296] x\r\n",
        "* 1 FETCH (UID 4294967296)\r\n",
        "* 1 FETCH (UID 0)\r\n",
        "* 1 FETCH (MODSEQ (9223372036854775808))\r\n",
        "* 1 FETCH (INTERNALDATE \"abc\r\n",
        "* 1 FETCH (INTERNALDATE \"a\\xc\")\r\n",
        "* 1 FETCH (UID 5 BODY[] {3}\r\n)\r\n) garbage {4}\r\nab\r\n\r\n",
        "* 1 FETCH (FLAGS (\\Seen) UID 5 junk)\r\n",
        "* 1 FETCH UID 5\r\n",
        "* LIST (\\Noselect) \"ab\" foo\r\n",
        "* STATUS INBOX (MESSAGES x)\r\n",
        "* SEARCH 1 0 3\r\n",
        "* SEARCH 1 -3\r\n",
        "* ESEARCH (TAG \"x\") COUNT 99999999999\r\n",
        "A1 BYE no\r\n",
        "+OK hello\r\n",
        ")\r\n",
        "\r\n",
        "* \r\n",
        "* OK [UIDNEXT] x\r\n",
        "* OK [ALERT text\r\n",
        "* THREAD (1 (2)\r\n",
        "* 3 EXISTS extra\r\n",
        "* OK x\rbad\r\n",
        "* ID (\"a\" \"b\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char in[256];
        int n = snprintf(in, sizeof in, "%s* 7 EXISTS\r\n", bad[i]);
        char *out = run(in, (size_t)n, NULL, 1, &rc);
        if (rc != MAILPROTO_E_CLOSED || !strstr(out, "e-30") || !strstr(out, "\n13 r13 s0 i0 f0 e0 seq0 n7/0"))
            fprintf(stderr, "case %zu: %s\n%s", i, bad[i], out);
        assert_int_equal(rc, MAILPROTO_E_CLOSED);
        assert_non_null(strstr(out, "e-30"));                            /* EV_UNPARSED, protocol error */
        assert_non_null(strstr(out, "\n13 r13 s0 i0 f0 e0 seq0 n7/0")); /* the next response */
        free(out);
    }
    /* an unknown response is skipped quietly (error 0) with its literal */
    char *out = RUN("* XFOO bar {5}\r\n)\r\n(x baz\r\n* 7 EXISTS\r\n", rc);
    assert_non_null(strstr(out, "41 r0 s0 i0 f0 e0 seq0 n0/0 tag[] name[XFOO]"));
    assert_non_null(strstr(out, "n7/0"));
    free(out);
}

/* The buffer can be full with a token that needs one more byte: a CR at the
 * very end, or "~" before "{".  That must never wait for input that cannot
 * fit (it would stall forever). */
static void test_full_buffer_edges(void **state)
{
    (void)state;
    int rc;
    for (int which = 0; which < 3; which++) {
        static char in[12000];
        size_t k = (size_t)sprintf(in, "* 1 FETCH (UID");
        /* 4095 spaces: once "UID" is taken and the buffer compacted, the
         * special byte is the last one of the full 4 KiB buffer */
        for (int sp = 0; sp < 4095; sp++)
            in[k++] = ' ';
        if (which == 0)
            k += (size_t)sprintf(in + k, "\r\n");
        else if (which == 1)
            k += (size_t)sprintf(in + k, "~{3}\r\nabc)\r\n");
        else
            k += (size_t)sprintf(in + k, "5)\r\n");
        k += (size_t)sprintf(in + k, "* 7 EXISTS\r\n");
        char *out = run(in, k, NULL, 1, &rc);
        assert_int_equal(rc, MAILPROTO_E_CLOSED);
        /* garbled and skipped (leading spaces count toward a token that fills the buffer) */
        assert_non_null(strstr(out, "e-30"));
        assert_non_null(strstr(out, "n7/0"));
        free(out);
    }
    /* "* OK" then a full buffer of spaces and the CR last */
    static char ok[9000];
    size_t k = (size_t)sprintf(ok, "* 1 FETCH (UID 5)");
    for (int sp = 0; sp < 4095; sp++)
        ok[k++] = ' ';
    k += (size_t)sprintf(ok + k, "\r\n* 7 EXISTS\r\n");
    char *out = run(ok, k, NULL, 1, &rc);
    assert_int_equal(rc, MAILPROTO_E_CLOSED);
    assert_non_null(strstr(out, "n7/0"));
    free(out);
}

static void test_unterminated_quoted(void **state)
{
    (void)state;
    int rc;
    char *out = RUN("* 1 FETCH (INTERNALDATE \"17-Jul-1996 02:44:25", rc);
    assert_int_equal(rc, MAILPROTO_E_PROTOCOL);
    free(out);
    /* a NUL inside a quoted string */
    static const char nul[] = "* LIST () \"/\" \"a\0b\"\r\n* 7 EXISTS\r\n";
    out = run(nul, sizeof nul - 1, NULL, 1, &rc);
    assert_non_null(strstr(out, "e-30"));
    assert_non_null(strstr(out, "n7/0"));
    free(out);
}

static char *nested(size_t depth, const char *head)
{
    size_t hl = strlen(head);
    char *s = malloc(hl + 2 * depth + 8);
    memcpy(s, head, hl);
    memset(s + hl, '(', depth);
    memset(s + hl + depth, ')', depth);
    memcpy(s + hl + 2 * depth, ")\r\n", 4);
    return s;
}

static void test_nesting(void **state)
{
    (void)state;
    int rc;
    char *in = nested(10000, "* 1 FETCH (BODYSTRUCTURE ");
    char *out = run(in, strlen(in), NULL, 1, &rc);
    assert_int_equal(rc, MAILPROTO_E_LIMIT);
    assert_non_null(strstr(out, "nesting deeper than 64"));
    free(out);
    free(in);
    in = nested(10000, "* THREAD ");
    out = run(in, strlen(in) - 3, NULL, 1, &rc);
    assert_int_equal(rc, MAILPROTO_E_LIMIT);
    free(out);
    free(in);
    /* 63 levels inside FETCH (64 in all) pass; one more fails */
    in = nested(63, "* 1 FETCH (XNEST ");
    out = run(in, strlen(in), NULL, 1, &rc);
    assert_int_equal(rc, MAILPROTO_E_CLOSED);
    free(out);
    free(in);
    in = nested(64, "* 1 FETCH (XNEST ");
    out = run(in, strlen(in), NULL, 1, &rc);
    assert_int_equal(rc, MAILPROTO_E_LIMIT);
    free(out);
    free(in);
    /* before authentication: 4 */
    static const char id4[] = "* ID ((((\"x\"))))\r\n";
    out = run(id4, sizeof id4 - 1, NULL, 0, &rc);
    assert_int_equal(rc, MAILPROTO_E_CLOSED);
    free(out);
    static const char id5[] = "* ID (((((\"x\")))))\r\n";
    out = run(id5, sizeof id5 - 1, NULL, 0, &rc);
    assert_int_equal(rc, MAILPROTO_E_LIMIT);
    assert_non_null(strstr(out, "nesting deeper than 4"));
    free(out);
    out = run(id5, sizeof id5 - 1, NULL, 1, &rc);
    assert_int_equal(rc, MAILPROTO_E_CLOSED);
    free(out);
}

static void test_limits(void **state)
{
    (void)state;
    int rc;
    /* items per list */
    size_t n = 5000;
    char *in = malloc(16 + n * 4 + 4);
    strcpy(in, "* CAPABILITY");
    for (size_t i = 0; i < n; i++)
        strcat(in, " X");
    strcat(in, "\r\n");
    char *out = run(in, strlen(in), NULL, 1, &rc);
    assert_int_equal(rc, MAILPROTO_E_LIMIT);
    assert_non_null(strstr(out, "more than 4096 items"));
    free(out);
    mailproto_imap_parser_config cfg = {.max_items = 10000};
    out = run(in, strlen(in), &cfg, 1, &rc);
    assert_int_equal(rc, MAILPROTO_E_CLOSED);
    free(out);
    free(in);
    /* body literal limit */
    mailproto_imap_parser_config lc = {.max_literal = 100};
    static const char big[] = "* 1 FETCH (BODY[] {101}\r\n";
    out = run(big, sizeof big - 1, &lc, 1, &rc);
    assert_int_equal(rc, MAILPROTO_E_LIMIT);
    free(out);
    /* string literal limit */
    mailproto_imap_parser_config sc = {.max_string = 4};
    static const char s5[] = "* LIST () \"/\" {5}\r\nabcde\r\n";
    out = run(s5, sizeof s5 - 1, &sc, 1, &rc);
    assert_int_equal(rc, MAILPROTO_E_LIMIT);
    free(out);
    static const char s4[] = "* LIST () \"/\" {4}\r\nabcd\r\n";
    out = run(s4, sizeof s4 - 1, &sc, 1, &rc);
    assert_int_equal(rc, MAILPROTO_E_CLOSED);
    assert_non_null(strstr(out, "|abcd|"));
    free(out);
    /* line limit, small */
    mailproto_imap_parser_config ll = {.max_line = 64};
    static const char l1[] = "* OK 0123456789012345678901234567890123456789012345678901234567890123456789\r\n";
    out = run(l1, sizeof l1 - 1, &ll, 1, &rc);
    assert_int_equal(rc, MAILPROTO_E_LIMIT);
    free(out);
    /* bad configuration */
    mailproto_imap_parser *p;
    mailproto_imap_parser_config bad = {.input_size = 100};
    assert_int_equal(mailproto_imap_parser_new(&p, &bad, NULL), MAILPROTO_E_INVALID);
    mailproto_imap_parser_config bad2 = {.max_depth = 65};
    assert_int_equal(mailproto_imap_parser_new(&p, &bad2, NULL), MAILPROTO_E_INVALID);
    /* allocation failures */
    test_alloc ta;
    mailproto_mem mem = test_mem(&ta);
    ta.fail_at = 1;
    assert_int_equal(mailproto_imap_parser_new(&p, NULL, &mem), MAILPROTO_E_NOMEM);
    ta.count = 0;
    ta.fail_at = 2;
    assert_int_equal(mailproto_imap_parser_new(&p, NULL, &mem), MAILPROTO_E_NOMEM);
    assert_int_equal(ta.live, 0);
}

/* a 100 MiB line without CRLF, generated on the fly, through the lent buffer */
static void test_endless_line(void **state)
{
    (void)state;
    mailproto_imap_parser *p;
    assert_int_equal(mailproto_imap_parser_new(&p, NULL, NULL), MAILPROTO_OK);
    uint64_t total = (uint64_t)100 << 20, sent = 0;
    const mailproto_imap_event *e;
    int r;
    uint64_t text = 0;
    int first = 1;
    for (;;) {
        r = mailproto_imap_parser_next(p, &e);
        if (r == MAILPROTO_EVENT) {
            if (e->type == MAILPROTO_IMAP_EV_TEXT)
                text += e->data.len;
            continue;
        }
        if (r != MAILPROTO_AGAIN)
            break;
        char *buf;
        size_t cap;
        assert_int_equal(mailproto_imap_parser_input_buf(p, &buf, &cap), MAILPROTO_OK);
        assert_true(cap > 0);
        size_t k = 0;
        if (first) {
            memcpy(buf, "* OK ", 5);
            k = 5;
            first = 0;
        }
        size_t fill = cap - k;
        if (fill > total - sent)
            fill = (size_t)(total - sent);
        memset(buf + k, 'A', fill);
        sent += fill;
        mailproto_imap_parser_input_done(p, k + fill);
        assert_true(sent < total);
    }
    assert_int_equal(r, MAILPROTO_E_LIMIT);
    assert_true(sent <= (1u << 20) + 2 * 4096);
    assert_true(text <= (1u << 20));
    printf("endless line: E_LIMIT after %llu bytes\n", (unsigned long long)sent);
    mailproto_imap_parser_free(p);
}

typedef struct gen {
    uint64_t sum;
    uint64_t bytes;
} gen;

static int sink_write(void *ctx, const void *data, size_t len)
{
    gen *g = ctx;
    const unsigned char *d = data;
    for (size_t i = 0; i < len; i++)
        g->sum = g->sum * 31 + d[i];
    g->bytes += len;
    return MAILPROTO_OK;
}

static unsigned char pattern(uint64_t i)
{
    return (unsigned char)((i * 2654435761u) >> 13);
}

/* a 1 GiB literal in constant memory, through the lent buffer and the drain helper */
static void test_gib_literal(void **state)
{
    (void)state;
    uint64_t size = UNDER_SANITIZER ? (uint64_t)64 << 20 : (uint64_t)1 << 30;
    if (UNDER_SANITIZER)
        printf("sanitizer build: literal shrunk from 1 GiB to %llu MiB\n", (unsigned long long)(size >> 20));
    test_alloc ta;
    mailproto_mem mem = test_mem(&ta);
    mailproto_imap_parser *p;
    assert_int_equal(mailproto_imap_parser_new(&p, NULL, &mem), MAILPROTO_OK);
    size_t allocs = ta.count, peak = ta.peak;
    char head[96];
    int hl = snprintf(head, sizeof head, "* 1 FETCH (UID 7 BODY[] {%llu}\r\n", (unsigned long long)size);
    const char tail[] = ")\r\nA1 OK done\r\n";
    uint64_t stream_len = (uint64_t)hl + size + sizeof tail - 1, pos = 0;
    gen g = {0}, want = {0};
    int began = 0, ended = 0, ok = 0;
    mailproto_sink sink = {sink_write, &g};
    for (;;) {
        const mailproto_imap_event *e;
        int r;
        if (began && !ended) {
            r = mailproto_imap_parser_drain_literal(p, &sink);
            if (r == MAILPROTO_OK) {
                ended = 1;
                continue;
            }
        } else {
            r = mailproto_imap_parser_next(p, &e);
            if (r == MAILPROTO_EVENT) {
                if (e->type == MAILPROTO_IMAP_EV_LITERAL_BEGIN) {
                    assert_true(e->number == size);
                    began = 1;
                }
                if (e->type == MAILPROTO_IMAP_EV_STATUS && e->status == MAILPROTO_IMAP_OK)
                    ok = 1;
                continue;
            }
        }
        if (r == MAILPROTO_E_CLOSED)
            break;
        assert_int_equal(r, MAILPROTO_AGAIN);
        if (pos == stream_len) {
            mailproto_imap_parser_eof(p);
            continue;
        }
        char *buf;
        size_t cap;
        assert_int_equal(mailproto_imap_parser_input_buf(p, &buf, &cap), MAILPROTO_OK);
        size_t k = 0;
        while (k < cap && pos < stream_len) {
            if (pos < (uint64_t)hl) {
                buf[k++] = head[pos++];
            } else if (pos < (uint64_t)hl + size) {
                uint64_t i = pos - (uint64_t)hl;
                size_t run = cap - k;
                if (run > size - i)
                    run = (size_t)(size - i);
                for (size_t j = 0; j < run; j++)
                    buf[k + j] = (char)pattern(i + j);
                k += run;
                pos += run;
            } else {
                buf[k++] = tail[pos - (uint64_t)hl - size];
                pos++;
            }
        }
        mailproto_imap_parser_input_done(p, k);
    }
    for (uint64_t i = 0; i < size; i++)
        want.sum = want.sum * 31 + pattern(i);
    assert_true(g.bytes == size);
    assert_true(g.sum == want.sum);
    assert_true(ended && ok);
    assert_int_equal(ta.count, allocs); /* no allocation while streaming */
    assert_int_equal(ta.peak, peak);
    printf("literal of %llu bytes streamed; parser memory %zu bytes\n", (unsigned long long)size, ta.peak);
    mailproto_imap_parser_free(p);
}

/* feed in seeded random pieces; collect joined strings of one item */
static uint32_t rnd(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static void test_mib_quoted_string(void **state)
{
    (void)state;
    size_t n = (1u << 20) - 200;
    char *in = malloc(n + 200);
    int hl = sprintf(in, "* 1 FETCH (ENVELOPE (NIL \"");
    for (size_t i = 0; i < n; i++)
        in[hl + i] = (i % 97 == 5) ? '\\' : (char)('a' + i % 26);
    /* make every backslash an escape of a backslash or quote */
    for (size_t i = 0; i < n; i++)
        if (in[hl + i] == '\\') {
            in[hl + i + 1] = (i % 2) ? '"' : '\\';
            i++;
        }
    size_t len = (size_t)hl + n;
    len += (size_t)sprintf(in + len, "\" NIL NIL NIL NIL NIL NIL NIL NIL))\r\n");
    /* expected unescaped subject */
    size_t want_len = 0;
    for (size_t i = 0; i < n; i++) {
        if (in[hl + i] == '\\')
            i++;
        want_len++;
    }
    test_alloc ta;
    mailproto_mem mem = test_mem(&ta);
    for (uint32_t seed = 1; seed <= 3; seed++) {
        mailproto_imap_parser *p;
        assert_int_equal(mailproto_imap_parser_new(&p, NULL, &mem), MAILPROTO_OK);
        mailproto_imap_parser_set_authenticated(p, 1);
        uint32_t s = seed * 2654435761u;
        size_t off = 0, got = 0, pieces = 0;
        int r;
        for (;;) {
            const mailproto_imap_event *e;
            r = mailproto_imap_parser_next(p, &e);
            if (r == MAILPROTO_EVENT) {
                if (e->type == MAILPROTO_IMAP_EV_STRING && e->path_len == 1 && e->path[0] == 1) {
                    got += e->data.len;
                    pieces++;
                    assert_true(e->data.len <= 4096);
                }
                continue;
            }
            if (r != MAILPROTO_AGAIN)
                break;
            if (off == len) {
                mailproto_imap_parser_eof(p);
                continue;
            }
            size_t k = 1 + rnd(&s) % 9000;
            if (k > len - off)
                k = len - off;
            size_t used;
            mailproto_imap_parser_feed(p, in + off, k, &used);
            off += used;
        }
        assert_int_equal(r, MAILPROTO_E_CLOSED);
        assert_int_equal(got, want_len);
        assert_true(pieces > 200);
        assert_true(ta.peak <= mailproto_imap_parser_memory(p));
        mailproto_imap_parser_free(p);
    }
    /* and the joined text equals the whole parse with random splits (dump) */
    int rc;
    char *a = dump_parse(in, len, 0, NULL, 1, &rc);
    char *b = dump_parse(in, len, 4093, NULL, 1, &rc);
    assert_string_equal(a, b);
    free(a);
    free(b);
    free(in);
}

static void test_million_uids(void **state)
{
    (void)state;
    const uint32_t count = 1000000;
    mailproto_imap_parser_config cfg = {.max_line = 16u << 20};
    test_alloc ta;
    mailproto_mem mem = test_mem(&ta);
    mailproto_imap_parser *p;
    assert_int_equal(mailproto_imap_parser_new(&p, &cfg, &mem), MAILPROTO_OK);
    size_t peak = ta.peak;
    uint32_t next = 1, seen = 0;
    uint64_t sum = 0;
    int state_ = 0; /* 0 head, 1 numbers, 2 tail, 3 done */
    int r;
    for (;;) {
        const mailproto_imap_event *e;
        r = mailproto_imap_parser_next(p, &e);
        if (r == MAILPROTO_EVENT) {
            if (e->type == MAILPROTO_IMAP_EV_NUMBER && e->resp == MAILPROTO_IMAP_EV_SEARCH) {
                seen++;
                sum += e->number;
            }
            continue;
        }
        if (r != MAILPROTO_AGAIN)
            break;
        char *buf;
        size_t cap, k = 0;
        mailproto_imap_parser_input_buf(p, &buf, &cap);
        if (state_ == 0) {
            memcpy(buf, "* SEARCH", 8);
            k = 8;
            state_ = 1;
        }
        while (state_ == 1 && cap - k > 16) {
            k += (size_t)sprintf(buf + k, " %u", (unsigned)(next * 3));
            if (++next > count)
                state_ = 2;
        }
        if (state_ == 2 && cap - k >= 2) {
            memcpy(buf + k, "\r\n", 2);
            k += 2;
            state_ = 3;
        } else if (state_ == 3 && k == 0) {
            mailproto_imap_parser_eof(p);
        }
        mailproto_imap_parser_input_done(p, k);
    }
    assert_int_equal(r, MAILPROTO_E_CLOSED);
    assert_int_equal(seen, count);
    assert_true(sum == 3ull * count * (count + 1) / 2);
    assert_int_equal(ta.peak, peak);
    mailproto_imap_parser_free(p);
}

static void test_api_misuse(void **state)
{
    (void)state;
    const mailproto_imap_event *e;
    assert_int_equal(mailproto_imap_parser_next(NULL, &e), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_imap_parser_new(NULL, NULL, NULL), MAILPROTO_E_INVALID);
    mailproto_imap_parser *p;
    assert_int_equal(mailproto_imap_parser_new(&p, NULL, NULL), MAILPROTO_OK);
    char *buf;
    size_t cap;
    assert_int_equal(mailproto_imap_parser_input_buf(p, &buf, &cap), MAILPROTO_OK);
    assert_int_equal(cap, 4096);
    assert_int_equal(mailproto_imap_parser_input_done(p, cap + 1), MAILPROTO_E_INVALID);
    mailproto_sink sink = {sink_write, NULL};
    assert_int_equal(mailproto_imap_parser_drain_literal(p, &sink), MAILPROTO_E_STATE);
    mailproto_imap_parser_eof(p);
    assert_int_equal(mailproto_imap_parser_next(p, &e), MAILPROTO_E_CLOSED);
    assert_int_equal(mailproto_imap_parser_feed(p, "x", 1, NULL), MAILPROTO_E_STATE);
    mailproto_imap_parser_reset(p);
    assert_int_equal(mailproto_imap_parser_buffered(p), 0);
    assert_int_equal(mailproto_imap_parser_buffered(NULL), 0);
    /* STARTTLS injection: bytes after the tagged OK are visible */
    size_t used;
    static const char inj[] = "A2 OK begin TLS\r\n* 1 EXISTS\r\n";
    assert_int_equal(mailproto_imap_parser_feed(p, inj, sizeof inj - 1, &used), MAILPROTO_OK);
    int seen_end = 0;
    while (!seen_end && mailproto_imap_parser_next(p, &e) == MAILPROTO_EVENT)
        seen_end = e->type == MAILPROTO_IMAP_EV_END;
    assert_true(seen_end);
    assert_int_equal(mailproto_imap_parser_buffered(p), 12);
    mailproto_imap_parser_reset(p);
    assert_int_equal(mailproto_imap_parser_feed(p, "* 1 EXISTS\r\n", 12, &used), MAILPROTO_OK);
    assert_int_equal(mailproto_imap_parser_next(p, &e), MAILPROTO_EVENT);
    assert_int_equal(e->type, MAILPROTO_IMAP_EV_EXISTS);
    mailproto_imap_parser_free(p);
    mailproto_imap_parser_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literal_counts),   cmocka_unit_test(test_garbled_resync),
        cmocka_unit_test(test_unterminated_quoted), cmocka_unit_test(test_nesting),
        cmocka_unit_test(test_full_buffer_edges),
        cmocka_unit_test(test_limits),           cmocka_unit_test(test_endless_line),
        cmocka_unit_test(test_gib_literal),      cmocka_unit_test(test_mib_quoted_string),
        cmocka_unit_test(test_million_uids),     cmocka_unit_test(test_api_misuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
