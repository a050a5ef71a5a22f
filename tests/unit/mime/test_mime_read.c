/* MIME reader: builder -> reader round trips on the referee's cases (fed
 * whole, split at every byte, and in seeded random pieces), and malformed
 * input: missing headers, unclosed and mid-line boundaries, bad base64,
 * unknown charsets, deep nesting, huge header counts. */
#include "testutil.h"

#include "cases.h"

typedef struct buf {
    unsigned char *p;
    size_t len, cap;
} buf;

static int buf_write(void *ctx, const void *d, size_t n)
{
    buf *o = ctx;
    if (o->len + n + 1 > o->cap) {
        size_t nc = (o->len + n + 1) * 2;
        unsigned char *np = realloc(o->p, nc);
        if (!np)
            return MAILPROTO_E_NOMEM;
        o->p = np;
        o->cap = nc;
    }
    memcpy(o->p + o->len, d, n);
    o->len += n;
    o->p[o->len] = 0;
    return 0;
}

/* e may point into the case's text buffer: it is freed with the next build */
static char *last_case_buf;

static buf build(int k, case_expect *e, int big)
{
    case_ctx c;
    mailproto_mime *m;
    case_build(k, &c, &m, e, big);
    buf b = {0};
    mailproto_sink s = {buf_write, &b};
    assert_int_equal(mailproto_mime_write(m, &s), 0);
    free(last_case_buf);
    last_case_buf = c.buf;
    c.buf = NULL;
    case_free(&c, m);
    return b;
}

/* LF, CR and CRLF all become "\n" */
static size_t norm(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\r') {
            out[o++] = '\n';
            if (i + 1 < n && s[i + 1] == '\n')
                i++;
        } else {
            out[o++] = s[i];
        }
    }
    return o;
}

typedef struct gen_cmp {
    uint32_t state;
    uint64_t pos;
    int bad;
} gen_cmp;

static int gen_cmp_write(void *ctx, const void *d, size_t n)
{
    gen_cmp *g = ctx;
    const unsigned char *p = d;
    for (size_t i = 0; i < n; i++, g->pos++)
        if (p[i] != gen_next(&g->state))
            g->bad = 1;
    return 0;
}

static mailproto_mime_reader *parse_split(const buf *b, size_t *splits, size_t nsplits)
{
    mailproto_mime_reader *r;
    assert_int_equal(mailproto_mime_reader_new(&r, NULL, NULL), 0);
    size_t off = 0;
    for (size_t i = 0; i <= nsplits; i++) {
        size_t end = i < nsplits ? splits[i] : b->len;
        assert_int_equal(mailproto_mime_reader_feed(r, b->p + off, end - off), 0);
        off = end;
    }
    assert_int_equal(mailproto_mime_reader_finish(r), 0);
    return r;
}

/* Compare what the reader found with what the case says. */
static void check_case(const mailproto_mime_reader *r, const case_expect *e, const buf *b, size_t first,
                       size_t nexp)
{
    size_t n = mailproto_mime_reader_count(r);
    assert_int_equal(n, nexp);
    for (size_t i = 0; i < n; i++) {
        const mailproto_mime_info *in = mailproto_mime_reader_part(r, i);
        const case_part *w = &e->parts[first + i];
        assert_string_equal(in->type, w->type);
        assert_string_equal(in->filename, w->filename ? w->filename : "");
        assert_string_equal(in->content_id, w->cid ? w->cid : "");
        assert_int_equal(in->truncated, 0);
        if (in->multipart || strcmp(in->type, "message/rfc822") == 0)
            continue;
        if (w->gen_len) {
            gen_cmp g = {w->gen_seed, 0, 0};
            mailproto_sink s = {gen_cmp_write, &g};
            assert_int_equal(mailproto_mime_reader_decode(r, i, b->p, b->len, 0, &s), 0);
            assert_int_equal(g.pos, w->gen_len);
            assert_false(g.bad);
            continue;
        }
        buf d = {0};
        mailproto_sink s = {buf_write, &d};
        assert_int_equal(mailproto_mime_reader_decode(r, i, b->p, b->len, 0, &s), 0);
        if (w->text) {
            size_t tl = strlen(w->text);
            char *x = malloc(tl + 1), *y = malloc(d.len + 1);
            size_t xl = norm(w->text, tl, x), yl = norm((char *)d.p, d.len, y);
            assert_int_equal(yl, xl);
            assert_memory_equal(y, x, xl);
            free(x);
            free(y);
        } else {
            assert_int_equal(d.len, w->len);
            assert_memory_equal(d.p, w->data, w->len);
        }
        free(d.p);
    }
}

static void check_top(const mailproto_mime_reader *r, const case_expect *e)
{
    assert_string_equal(mailproto_mime_reader_header(r, "Subject"), e->subject);
    const mailproto_mime_address *a;
    size_t n;
    const case_addr *lists[] = {e->from, e->to, e->cc};
    const char *names[] = {"From", "To", "Cc"};
    for (int l = 0; l < 3; l++) {
        assert_int_equal(mailproto_mime_reader_addresses(r, names[l], &a, &n), 0);
        size_t want = 0;
        while (want < CASE_MAX_ADDRS && lists[l][want].addr)
            want++;
        assert_int_equal(n, want);
        for (size_t i = 0; i < n; i++) {
            assert_string_equal(a[i].name, lists[l][i].name);
            assert_string_equal(a[i].address, lists[l][i].addr);
        }
    }
    int64_t t;
    int tz;
    assert_int_equal(mailproto_mime_reader_date(r, &t, &tz), 0);
    assert_int_equal(t, 1764460800);
    assert_int_equal(tz, 90);
}

static void roundtrip_cases(void **state)
{
    (void)state;
    for (int k = 0; k < N_CASES; k++) {
        case_expect e;
        buf b = build(k, &e, 1);
        /* whole, and in seeded random pieces */
        srand((unsigned)k);
        for (int round = 0; round < 3; round++) {
            size_t splits[64], ns = 0;
            if (round) {
                ns = (size_t)(rand() % 63) + 1;
                for (size_t i = 0; i < ns; i++)
                    splits[i] = (size_t)rand() % (b.len + 1);
                for (size_t i = 1; i < ns; i++) /* sort */
                    for (size_t j = i; j > 0 && splits[j - 1] > splits[j]; j--) {
                        size_t t = splits[j];
                        splits[j] = splits[j - 1];
                        splits[j - 1] = t;
                    }
            }
            mailproto_mime_reader *r = parse_split(&b, splits, ns);
            check_top(r, &e);
            check_case(r, &e, &b, 0, e.n_parts);
            if (strcmp(e.name, "rfc822") == 0) {
                /* the embedded message is part 3, inside the message/rfc822 part 2 */
                const mailproto_mime_info *in = mailproto_mime_reader_part(r, 3);
                assert_int_equal(in->parent, 2);
                assert_int_equal(in->header_off, mailproto_mime_reader_part(r, 2)->body_off);
                /* and it parses alone too */
                const mailproto_mime_info *outer = mailproto_mime_reader_part(r, 2);
                buf inner = {0};
                buf_write(&inner, b.p + outer->body_off, (size_t)(outer->body_end - outer->body_off));
                mailproto_mime_reader *r2 = parse_split(&inner, NULL, 0);
                assert_string_equal(mailproto_mime_reader_header(r2, "subject"), "inner \xe2\x9c\x93");
                check_case(r2, &e, &inner, 3, 3);
                mailproto_mime_reader_free(r2);
                free(inner.p);
            }
            mailproto_mime_reader_free(r);
        }
        free(b.p);
    }
}

static void split_at_every_byte(void **state)
{
    (void)state;
    int ks[] = {0, 7};
    for (size_t c = 0; c < 2; c++) {
        case_expect e;
        buf b = build(ks[c], &e, 0);
        assert_true(b.len < 64 * 1024);
        mailproto_mime_reader *whole = parse_split(&b, NULL, 0);
        for (size_t s = 0; s <= b.len; s++) {
            mailproto_mime_reader *r = parse_split(&b, &s, 1);
            assert_int_equal(mailproto_mime_reader_count(r), mailproto_mime_reader_count(whole));
            for (size_t i = 0; i < mailproto_mime_reader_count(r); i++) {
                const mailproto_mime_info *x = mailproto_mime_reader_part(r, i);
                const mailproto_mime_info *y = mailproto_mime_reader_part(whole, i);
                assert_int_equal(x->header_off, y->header_off);
                assert_int_equal(x->body_off, y->body_off);
                assert_int_equal(x->body_end, y->body_end);
                assert_string_equal(x->type, y->type);
                assert_string_equal(x->filename, y->filename);
            }
            assert_string_equal(mailproto_mime_reader_header(r, "subject"),
                                mailproto_mime_reader_header(whole, "subject"));
            mailproto_mime_reader_free(r);
        }
        mailproto_mime_reader_free(whole);
        free(b.p);
    }
}

static mailproto_mime_reader *parse_str(const char *s, size_t n)
{
    mailproto_mime_reader *r;
    assert_int_equal(mailproto_mime_reader_new(&r, NULL, NULL), 0);
    assert_int_equal(mailproto_mime_reader_parse(r, s, n), 0);
    return r;
}

static char *decode_str(const mailproto_mime_reader *r, size_t i, const char *msg, int flags, int *rc)
{
    static buf d;
    free(d.p);
    d = (buf){0};
    buf_write(&d, "", 0);
    mailproto_sink s = {buf_write, &d};
    *rc = mailproto_mime_reader_decode(r, i, msg, strlen(msg), flags, &s);
    return (char *)d.p;
}

static void malformed(void **state)
{
    (void)state;
    int rc;
    /* empty input */
    mailproto_mime_reader *r = parse_str("", 0);
    assert_int_equal(mailproto_mime_reader_count(r), 1);
    assert_string_equal(mailproto_mime_reader_part(r, 0)->type, "text/plain");
    assert_string_equal(mailproto_mime_reader_header(r, "Subject"), "");
    mailproto_mime_reader_free(r);

    /* no headers, only a body after the empty line; LF only */
    const char *m1 = "\nhello\nworld\n";
    r = parse_str(m1, strlen(m1));
    assert_string_equal(decode_str(r, 0, m1, 0, &rc), "hello\nworld\n");
    mailproto_mime_reader_free(r);

    /* headers only, no empty line, a line without a colon, a continuation */
    const char *m2 = "From nobody Mon Jan 1\r\nSubject: a\r\n b\r\nX: y";
    r = parse_str(m2, strlen(m2));
    assert_string_equal(mailproto_mime_reader_header(r, "Subject"), "a b");
    assert_int_equal(mailproto_mime_reader_part(r, 0)->body_off, strlen(m2));
    mailproto_mime_reader_free(r);

    /* unclosed boundary, mid-line boundaries, duplicate Content-Type */
    const char *m3 = "Content-Type: multipart/mixed; boundary=XYZ\r\n"
                     "Content-Type: text/plain\r\n\r\n"
                     "preamble --XYZ not a delimiter\r\n"
                     "--XYZ\r\nContent-Type: text/plain\r\n\r\none --XYZ two\r\n"
                     "--XYZ \t\r\n\r\nsecond\r\n";
    r = parse_str(m3, strlen(m3));
    assert_int_equal(mailproto_mime_reader_count(r), 3);
    assert_string_equal(mailproto_mime_reader_part(r, 0)->type, "multipart/mixed");
    assert_int_equal(mailproto_mime_reader_part(r, 0)->truncated, 1);
    assert_int_equal(mailproto_mime_reader_part(r, 0)->n_children, 2);
    assert_string_equal(decode_str(r, 1, m3, 0, &rc), "one --XYZ two");
    assert_string_equal(decode_str(r, 2, m3, 0, &rc), "second\r\n");
    assert_int_equal(mailproto_mime_reader_part(r, 2)->truncated, 1);
    mailproto_mime_reader_free(r);

    /* a close delimiter at the very end without CRLF; an outer delimiter closing an inner part */
    const char *m4 = "Content-Type: multipart/mixed; boundary=\"o\"\r\n\r\n"
                     "--o\r\nContent-Type: multipart/alternative; boundary=i\r\n\r\n"
                     "--i\r\n\r\ninner\r\n--o\r\n\r\nlast\r\n--o--";
    r = parse_str(m4, strlen(m4));
    assert_int_equal(mailproto_mime_reader_count(r), 4);
    assert_int_equal(mailproto_mime_reader_part(r, 1)->truncated, 1);
    assert_string_equal(decode_str(r, 2, m4, 0, &rc), "inner");
    assert_string_equal(decode_str(r, 3, m4, 0, &rc), "last");
    assert_int_equal(mailproto_mime_reader_part(r, 0)->truncated, 0);
    mailproto_mime_reader_free(r);

    /* a delimiter where headers were expected (no empty line): the part is empty */
    const char *m4b = "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
                      "--b\r\nContent-Type: text/plain\r\n--b\r\n\r\nsecond\r\n"
                      "--b\r\nContent-Type: message/rfc822\r\n--b--\r\n";
    r = parse_str(m4b, strlen(m4b));
    assert_int_equal(mailproto_mime_reader_count(r), 5);
    assert_int_equal(mailproto_mime_reader_part(r, 1)->body_off, mailproto_mime_reader_part(r, 1)->body_end);
    assert_string_equal(decode_str(r, 2, m4b, 0, &rc), "second");
    assert_string_equal(mailproto_mime_reader_part(r, 3)->type, "message/rfc822");
    assert_int_equal(mailproto_mime_reader_part(r, 4)->parent, 3);
    assert_int_equal(mailproto_mime_reader_part(r, 0)->truncated, 0);
    mailproto_mime_reader_free(r);

    /* bad base64 and quoted-printable: decoded as far as possible */
    const char *m5 = "Content-Transfer-Encoding: base64\r\n\r\nSGVs*bG8h\r\n!!!\r\nIQ==garbage=\r\n";
    r = parse_str(m5, strlen(m5));
    char *d = decode_str(r, 0, m5, 0, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(strncmp(d, "Hello!", 6), 0);
    mailproto_mime_reader_free(r);
    const char *m6 = "Content-Transfer-Encoding: Quoted-Printable\r\nContent-Type: text/plain; charset=ISO-8859-1\r\n\r\n"
                     "caf=E9 =ZZ soft=\r\nbreak=\r\n";
    r = parse_str(m6, strlen(m6));
    assert_string_equal(decode_str(r, 0, m6, 0, &rc), "caf\xc3\xa9 =ZZ softbreak");
    assert_string_equal(decode_str(r, 0, m6, MAILPROTO_MIME_DECODE_RAW, &rc), "caf\xe9 =ZZ softbreak");
    mailproto_mime_reader_free(r);

    /* unknown and refused charsets: a clear error, raw still possible */
    const char *m7 = "Content-Type: text/plain; charset=x-klingon\r\n\r\nqapla'\r\n";
    r = parse_str(m7, strlen(m7));
    decode_str(r, 0, m7, 0, &rc);
    assert_int_equal(rc, MAILPROTO_E_UNSUPPORTED);
    assert_string_equal(decode_str(r, 0, m7, MAILPROTO_MIME_DECODE_RAW, &rc), "qapla'\r\n");
    mailproto_mime_reader_free(r);
    const char *m8 = "Content-Type: text/plain; charset=ISO-2022-CN-EXT\r\n\r\nx\r\n";
    r = parse_str(m8, strlen(m8));
    decode_str(r, 0, m8, 0, &rc);
    assert_int_equal(rc, MAILPROTO_E_UNSUPPORTED);
    mailproto_mime_reader_free(r);

    /* invalid UTF-8 in a UTF-8 part becomes U+FFFD; an 8-bit "us-ascii" part is read as UTF-8 */
    const char *m9 = "Content-Type: text/plain; charset=utf-8\r\n\r\na\xff" "b\r\n";
    r = parse_str(m9, strlen(m9));
    assert_string_equal(decode_str(r, 0, m9, 0, &rc), "a\xef\xbf\xbd" "b\r\n");
    mailproto_mime_reader_free(r);

    /* RFC 2047 / 2231 in headers; digest default type */
    const char *m10 = "Subject: =?iso-8859-1?q?caf=E9?= =?utf-8?b?4pyT?= plain\r\n"
                      "From: =?utf-8?q?Zo=C3=AB?= <z@x.example>, \"q\\\"x\" <q@x>\r\n"
                      "Date: Mon, 1 Jan 01 00:00 GMT\r\n"
                      "Content-Type: multipart/digest; boundary=d\r\n\r\n"
                      "--d\r\n\r\nSubject: inner\r\n\r\nx\r\n--d\r\n"
                      "Content-Type: application/pdf; name=\"=?UTF-8?B?w6l0w6kucGRm?=\"\r\n\r\n"
                      "x\r\n--d\r\nContent-Disposition: attachment; filename*0*=UTF-8''%C3%A9;\r\n filename*1=\".txt\"\r\n\r\n"
                      "y\r\n--d--\r\n";
    r = parse_str(m10, strlen(m10));
    assert_string_equal(mailproto_mime_reader_header(r, "Subject"), "caf\xc3\xa9\xe2\x9c\x93 plain");
    const mailproto_mime_address *a;
    size_t n;
    assert_int_equal(mailproto_mime_reader_addresses(r, "From", &a, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(a[0].name, "Zo\xc3\xab");
    assert_string_equal(a[1].name, "q\"x");
    assert_string_equal(a[1].address, "q@x");
    int64_t t;
    int tz;
    assert_int_equal(mailproto_mime_reader_date(r, &t, &tz), 0);
    assert_int_equal(t, 978307200);
    /* digest: parts default to message/rfc822, whose embedded messages are parts too */
    assert_int_equal(mailproto_mime_reader_count(r), 6);
    assert_string_equal(mailproto_mime_reader_part(r, 1)->type, "message/rfc822");
    assert_int_equal(mailproto_mime_reader_part(r, 2)->parent, 1);
    assert_string_equal(decode_str(r, 2, m10, 0, &rc), "x");
    assert_string_equal(mailproto_mime_reader_part(r, 3)->filename, "\xc3\xa9t\xc3\xa9.pdf");
    assert_string_equal(mailproto_mime_reader_part(r, 4)->type, "message/rfc822");
    assert_string_equal(mailproto_mime_reader_part(r, 4)->filename, "\xc3\xa9.txt");
    assert_string_equal(mailproto_mime_reader_part(r, 4)->disposition, "attachment");
    assert_int_equal(mailproto_mime_reader_part(r, 5)->parent, 4);
    mailproto_mime_reader_free(r);
}

/* A transfer-encoded message/rfc822 is a leaf; decoding it raw and feeding
 * a second reader shows the embedded message (the documented way). */
static void encoded_message_part(void **state)
{
    (void)state;
    const char *m = "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
                    "--b\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                    "U3ViamVjdDogaW5uZXINCg0KaGVsbG8NCg==\r\n--b--\r\n";
    mailproto_mime_reader *r = parse_str(m, strlen(m));
    assert_int_equal(mailproto_mime_reader_count(r), 2);
    const mailproto_mime_info *pi = mailproto_mime_reader_part(r, 1);
    assert_string_equal(pi->type, "message/rfc822");
    assert_string_equal(pi->encoding, "base64");
    assert_int_equal(pi->n_children, 0);
    buf b = {0};
    mailproto_sink sink = {0};
    sink.write = buf_write;
    sink.ctx = &b;
    assert_int_equal(mailproto_mime_reader_decode(r, 1, m, strlen(m), MAILPROTO_MIME_DECODE_RAW, &sink), 0);
    assert_int_equal(b.len, 25);
    assert_memory_equal(b.p, "Subject: inner\r\n\r\nhello\r\n", 25);
    mailproto_mime_reader *r2 = parse_str((const char *)b.p, b.len);
    assert_string_equal(mailproto_mime_reader_header(r2, "Subject"), "inner");
    mailproto_mime_reader_free(r2);
    mailproto_mime_reader_free(r);
    free(b.p);
}

static void deep_nesting_is_bounded(void **state)
{
    (void)state;
    /* 10 000 nested multiparts: followed to the depth limit, the rest is content */
    buf b = {0};
    for (int i = 0; i < 10000; i++) {
        char line[128];
        int l = snprintf(line, sizeof line, "Content-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n--b%d\r\n", i, i);
        buf_write(&b, line, (size_t)l);
    }
    buf_write(&b, "\r\ndeep\r\n", 8);
    test_alloc ta;
    mailproto_mem mem = test_mem(&ta);
    mailproto_mime_reader *r;
    assert_int_equal(mailproto_mime_reader_new(&r, &mem, NULL), 0);
    for (size_t off = 0; off < b.len; off += 4096)
        assert_int_equal(mailproto_mime_reader_feed(r, b.p + off, (b.len - off < 4096 ? b.len - off : 4096)), 0);
    assert_int_equal(mailproto_mime_reader_finish(r), 0);
    size_t n = mailproto_mime_reader_count(r);
    assert_true(n >= 32 && n <= 40);
    size_t maxd = 0;
    for (size_t i = 0; i < n; i++)
        if (mailproto_mime_reader_part(r, i)->depth > maxd) maxd = mailproto_mime_reader_part(r, i)->depth;
    assert_true(maxd <= 33);
    printf("10000 nested multiparts: %zu parts kept, depth %zu, peak heap %zu bytes\n", n, maxd, ta.peak);
    assert_true(ta.peak < 1024 * 1024);
    mailproto_mime_reader_free(r);
    assert_int_equal(ta.live, 0);
    free(b.p);

    /* 10 000 nested embedded messages */
    b = (buf){0};
    for (int i = 0; i < 10000; i++)
        buf_write(&b, "Content-Type: message/rfc822\r\n\r\n", 32);
    buf_write(&b, "Subject: deepest\r\n\r\nbody\r\n", 26);
    assert_int_equal(mailproto_mime_reader_new(&r, NULL, NULL), 0);
    assert_int_equal(mailproto_mime_reader_parse(r, b.p, b.len), 0);
    n = mailproto_mime_reader_count(r);
    assert_int_equal(n, 33);
    assert_int_equal(mailproto_mime_reader_part(r, n - 1)->depth, 32);
    mailproto_mime_reader_free(r);
    free(b.p);

    /* many parts: the limit keeps the table bounded */
    b = (buf){0};
    buf_write(&b, "Content-Type: multipart/mixed; boundary=x\r\n\r\n", 45);
    for (int i = 0; i < 50000; i++)
        buf_write(&b, "--x\r\n\r\np\r\n", 10);
    buf_write(&b, "--x--\r\n", 7);
    mailproto_mime_limits lim = {.max_parts = 100};
    assert_int_equal(mailproto_mime_reader_new(&r, NULL, &lim), 0);
    assert_int_equal(mailproto_mime_reader_parse(r, b.p, b.len), 0);
    assert_int_equal(mailproto_mime_reader_count(r), 100);
    mailproto_mime_reader_free(r);
    free(b.p);
}

static void many_headers_are_bounded(void **state)
{
    (void)state;
    buf b = {0};
    for (int i = 0; i < 100000; i++)
        buf_write(&b, "X-Header: some value that repeats\r\n", 35);
    /* a header line of 1 MiB, and then the subject */
    buf_write(&b, "X-Huge: ", 8);
    for (int i = 0; i < 1 << 14; i++)
        buf_write(&b, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", 64);
    buf_write(&b, "\r\nSubject: found\r\n\r\nbody\r\n", 26);
    test_alloc ta;
    mailproto_mem mem = test_mem(&ta);
    mailproto_mime_reader *r;
    assert_int_equal(mailproto_mime_reader_new(&r, &mem, NULL), 0);
    assert_int_equal(mailproto_mime_reader_parse(r, b.p, b.len), 0);
    assert_string_equal(mailproto_mime_reader_header(r, "subject"), "found");
    printf("100000 headers + a 1 MiB header: peak heap %zu bytes\n", ta.peak);
    assert_true(ta.peak < 512 * 1024);
    mailproto_mime_reader_free(r);
    free(b.p);
}

static void decoder_streams(void **state)
{
    (void)state;
    /* the decoder takes the raw body in any pieces */
    case_expect e;
    buf b = build(7, &e, 0);
    mailproto_mime_reader *r = parse_split(&b, NULL, 0);
    for (size_t i = 0; i < mailproto_mime_reader_count(r); i++) {
        const mailproto_mime_info *in = mailproto_mime_reader_part(r, i);
        if (in->multipart)
            continue;
        buf whole = {0}, pieces = {0};
        mailproto_sink s1 = {buf_write, &whole}, s2 = {buf_write, &pieces};
        assert_int_equal(mailproto_mime_reader_decode(r, i, b.p, b.len, 0, &s1), 0);
        mailproto_mime_decoder d;
        assert_int_equal(mailproto_mime_decoder_init(&d, r, i, 0, &s2), 0);
        for (uint64_t off = in->body_off; off < in->body_end; off++)
            assert_int_equal(mailproto_mime_decoder_update(&d, b.p + off, 1), 0);
        assert_int_equal(mailproto_mime_decoder_final(&d), 0);
        assert_int_equal(whole.len, pieces.len);
        assert_memory_equal(whole.p, pieces.p, whole.len);
        free(whole.p);
        free(pieces.p);
    }
    mailproto_mime_decoder d;
    mailproto_sink s = {buf_write, NULL};
    assert_int_equal(mailproto_mime_decoder_init(&d, r, 0, 0, &s), MAILPROTO_E_INVALID); /* multipart */
    assert_int_equal(mailproto_mime_decoder_init(&d, r, 99, 0, &s), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_mime_reader_feed(r, "x", 1), MAILPROTO_E_STATE);
    mailproto_mime_reader_free(r);
    free(b.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(roundtrip_cases),
        cmocka_unit_test(split_at_every_byte),
        cmocka_unit_test(malformed),
        cmocka_unit_test(encoded_message_part),
        cmocka_unit_test(deep_nesting_is_bounded),
        cmocka_unit_test(many_headers_are_bounded),
        cmocka_unit_test(decoder_streams),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(last_case_buf);
    return rc;
}
