/* MIME builder: one test per policy rule (DESIGN.md section 20). */
#include "testutil.h"

#include <stdio.h>
#include <unistd.h>

#include "cases.h"

typedef struct outbuf {
    unsigned char *p;
    size_t len, cap;
} outbuf;

static int out_write(void *ctx, const void *d, size_t n)
{
    outbuf *o = ctx;
    if (o->len + n > o->cap) {
        size_t nc = (o->len + n) * 2;
        unsigned char *np = realloc(o->p, nc);
        if (!np)
            return MAILPROTO_E_NOMEM;
        o->p = np;
        o->cap = nc;
    }
    memcpy(o->p + o->len, d, n);
    o->len += n;
    return 0;
}

/* Read the whole message through its source with buffers of size chunk. */
static int read_all(mailproto_mime *m, size_t chunk, outbuf *o)
{
    mailproto_source *s = mailproto_mime_source(m);
    int rc = mailproto_source_rewind(s);
    unsigned char *buf = malloc(chunk);
    while (rc == 0) {
        size_t got;
        rc = mailproto_source_read(s, buf, chunk, &got);
        if (rc || !got)
            break;
        out_write(o, buf, got);
    }
    free(buf);
    return rc;
}

static char *as_str(outbuf *o)
{
    out_write(o, "", 1);
    o->len--;
    return (char *)o->p;
}

static mailproto_mime *simple(uint32_t *seed)
{
    mailproto_mime *m;
    assert_int_equal(mailproto_mime_new(&m, NULL), 0);
    mailproto_mime_set_clock(m, case_clock, NULL);
    mailproto_mime_set_random(m, case_random, seed);
    mailproto_mime_set_hostname(m, "test.example");
    assert_int_equal(mailproto_mime_set_header(m, "From", "a@example.org"), 0);
    return m;
}

static void injection_is_invalid(void **state)
{
    (void)state;
    uint32_t seed = 1;
    mailproto_mime *m = simple(&seed);
    static const char *bad[] = {"x\r\nBcc: evil@example.org", "x\nX-Injected: 1", "x\rY"};
    for (size_t i = 0; i < 3; i++) {
        const char *v = bad[i];
        assert_int_equal(mailproto_mime_set_subject(m, v), MAILPROTO_E_INVALID);
        assert_int_equal(mailproto_mime_set_header(m, "X-Custom", v), MAILPROTO_E_INVALID);
        assert_int_equal(mailproto_mime_set_header(m, "To", v), MAILPROTO_E_INVALID);
        assert_int_equal(mailproto_mime_add_address(m, "To", v, "b@example.org"), MAILPROTO_E_INVALID);
        assert_int_equal(mailproto_mime_add_address(m, "To", "B", v), MAILPROTO_E_INVALID);
        assert_int_equal(mailproto_mime_data(m, NULL, "application/pdf", v, "x", 1, NULL), MAILPROTO_E_INVALID);
        assert_int_equal(mailproto_mime_set_header(m, "References", v), MAILPROTO_E_INVALID);
    }
    assert_int_equal(mailproto_mime_set_header(m, "X-A\r\nB", "v"), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_mime_set_header(m, "X A", "v"), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_mime_set_header(m, "X:A", "v"), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_mime_set_header(m, "Content-Type", "text/html"), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_mime_set_header(m, "MIME-Version", "2.0"), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_mime_set_header(m, "Subject", "\xc3\x28"), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_mime_set_header(m, "Message-ID", "<\xc3\xa9@x>"), MAILPROTO_E_INVALID);
    mailproto_mime_part *p;
    assert_int_equal(mailproto_mime_data(m, NULL, "application/pdf", "ok.pdf", "x", 1, &p), 0);
    assert_int_equal(mailproto_mime_part_set_cid(p, "a\r\nb"), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_mime_part_set_cid(p, "a>b"), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_mime_part_set_header(p, "Content-Description", "a\nb"), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_mime_part_set_header(p, "Content-Type", "x/y"), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_mime_data(m, NULL, "text/plain\r\nX: y", NULL, "x", 1, NULL), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_mime_multipart(m, NULL, "mixed\r\nX", NULL), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_mime_set_hostname(m, "evil\r\nhost"), MAILPROTO_E_INVALID);
    assert_non_null(mailproto_mime_last_error(m)->message);
    /* nothing got in */
    outbuf o = {0};
    assert_int_equal(read_all(m, 4096, &o), 0);
    char *s = as_str(&o);
    assert_null(strstr(s, "Bcc"));
    assert_null(strstr(s, "Injected"));
    assert_null(strstr(s, "evil"));
    free(o.p);
    mailproto_mime_free(m);
}

/* Every string entry point of the builder, with CR, LF and CRLF at the
 * start, in the middle and at the end: each one is MAILPROTO_E_INVALID, and
 * the message read out afterwards holds none of the injected text. */
static void injection_every_entry_point(void **state)
{
    (void)state;
    static const char *fmt[] = {"\rX-Evil: 1", "a\nX-Evil: 1", "a\r\nX-Evil: 1", "a\r\n", "a\r",
                                "a\n"};
    char path[64];
    snprintf(path, sizeof path, "/tmp/mp_inj_%ld.txt", (long)getpid());
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs("file body\n", f);
    fclose(f);
    uint32_t seed = 42;
    mailproto_mime *m = simple(&seed);
    mailproto_mime_part *mp, *dp;
    assert_int_equal(mailproto_mime_multipart(m, NULL, "mixed", &mp), 0);
    assert_int_equal(mailproto_mime_data(m, mp, "application/octet-stream", "ok.bin", "x", 1, &dp), 0);
    assert_int_equal(mailproto_mime_text(m, mp, "text/plain", "hi", 2, NULL, NULL), 0);
    mailproto_source src;
    mailproto_source_mem(&src, "y", 1);
    static const char *hdrs[] = {"Subject", "From", "To", "Cc", "Reply-To", "Bcc", "Message-ID",
                                 "In-Reply-To", "References", "Disposition-Notification-To",
                                 "Date", "X-Custom", "Keywords", "Comments"};
    for (size_t i = 0; i < sizeof fmt / sizeof fmt[0]; i++) {
        const char *v = fmt[i];
        for (size_t h = 0; h < sizeof hdrs / sizeof hdrs[0]; h++) {
            if (mailproto_mime_set_header(m, hdrs[h], v) != MAILPROTO_E_INVALID)
                fail_msg("set_header %s %zu", hdrs[h], i);
            if (mailproto_mime_add_header(m, hdrs[h], v) != MAILPROTO_E_INVALID)
                fail_msg("add_header %s %zu", hdrs[h], i);
            if (mailproto_mime_add_address(m, hdrs[h], v, "b@example.org") != MAILPROTO_E_INVALID)
                fail_msg("add_address name %s %zu", hdrs[h], i);
            assert_int_equal(mailproto_mime_add_address(m, hdrs[h], "B", v), MAILPROTO_E_INVALID);
        }
        assert_int_equal(mailproto_mime_set_header(m, v, "x"), MAILPROTO_E_INVALID);
        assert_int_equal(mailproto_mime_add_header(m, v, "x"), MAILPROTO_E_INVALID);
        assert_int_equal(mailproto_mime_add_address(m, v, "B", "b@example.org"), MAILPROTO_E_INVALID);
        assert_int_equal(mailproto_mime_set_subject(m, v), MAILPROTO_E_INVALID);
        assert_int_equal(mailproto_mime_set_hostname(m, v), MAILPROTO_E_INVALID);
        assert_int_equal(mailproto_mime_set_text_charset(m, v), MAILPROTO_E_UNSUPPORTED);
        assert_int_equal(mailproto_mime_text(m, mp, v, "hi", 2, NULL, NULL), MAILPROTO_E_INVALID);
        assert_true(mailproto_mime_text(m, mp, "text/plain", "hi", 2, v, NULL) != MAILPROTO_OK);
        assert_int_equal(mailproto_mime_data(m, mp, v, NULL, "x", 1, NULL), MAILPROTO_E_INVALID);
        assert_int_equal(mailproto_mime_data(m, mp, "application/pdf", v, "x", 1, NULL), MAILPROTO_E_INVALID);
        assert_int_equal(mailproto_mime_file(m, mp, v, NULL, path, NULL), MAILPROTO_E_INVALID);
        assert_int_equal(mailproto_mime_file(m, mp, "text/plain", v, path, NULL), MAILPROTO_E_INVALID);
        assert_int_equal(mailproto_mime_source_part(m, mp, v, NULL, &src, NULL), MAILPROTO_E_INVALID);
        assert_int_equal(mailproto_mime_source_part(m, mp, "application/pdf", v, &src, NULL), MAILPROTO_E_INVALID);
        assert_int_equal(mailproto_mime_add_source(m, "application/pdf", v, &src), MAILPROTO_E_INVALID);
        assert_int_equal(mailproto_mime_add_source(m, v, "a.pdf", &src), MAILPROTO_E_INVALID);
        assert_int_equal(mailproto_mime_add_text(m, v, "hi"), MAILPROTO_E_INVALID);
        assert_int_equal(mailproto_mime_multipart(m, mp, v, NULL), MAILPROTO_E_INVALID);
        assert_int_equal(mailproto_mime_part_set_cid(dp, v), MAILPROTO_E_INVALID);
        assert_int_equal(mailproto_mime_part_set_disposition(dp, v), MAILPROTO_E_INVALID);
        assert_int_equal(mailproto_mime_part_set_header(dp, "Content-Description", v), MAILPROTO_E_INVALID);
        assert_int_equal(mailproto_mime_part_set_header(dp, v, "x"), MAILPROTO_E_INVALID);
    }
    outbuf o = {0};
    assert_int_equal(read_all(m, 4096, &o), 0);
    char *out = as_str(&o);
    assert_null(strstr(out, "X-Evil"));
    /* every line break in the output is CRLF */
    for (size_t i = 0; i < o.len; i++)
        if (out[i] == '\n')
            assert_true(i > 0 && out[i - 1] == '\r');
        else if (out[i] == '\r')
            assert_true(i + 1 < o.len && out[i + 1] == '\n');
    free(o.p);
    mailproto_mime_free(m);
    unlink(path);
}

/* add_header adds one more header (address headers: more addresses);
 * set_header replaces every earlier one of that name. */
static void add_header_appends(void **state)
{
    (void)state;
    uint32_t seed = 43;
    mailproto_mime *m = simple(&seed);
    assert_int_equal(mailproto_mime_set_header(m, "X-Tag", "one"), 0);
    assert_int_equal(mailproto_mime_add_header(m, "X-Tag", "two"), 0);
    assert_int_equal(mailproto_mime_add_header(m, "Comments", "c1"), 0);
    assert_int_equal(mailproto_mime_set_header(m, "To", "a1@example.org"), 0);
    assert_int_equal(mailproto_mime_add_header(m, "To", "B <b1@example.org>, b2@example.org"), 0);
    assert_int_equal(mailproto_mime_add_header(m, "Bcc", "hidden@example.org"), 0);
    assert_int_equal(mailproto_mime_add_text(m, "text/plain", "x\n"), 0);
    outbuf o = {0};
    assert_int_equal(read_all(m, 4096, &o), 0);
    char *s = as_str(&o);
    assert_non_null(strstr(s, "\r\nX-Tag: one\r\n"));
    assert_non_null(strstr(s, "\r\nX-Tag: two\r\n"));
    assert_non_null(strstr(s, "\r\nComments: c1\r\n"));
    const char *to = strstr(s, "\r\nTo: ");
    assert_non_null(to);
    assert_null(strstr(to + 2, "\r\nTo: ")); /* one To header with every address */
    const char *end = strstr(to + 2, "\r\n");
    while (end[2] == ' ' || end[2] == '\t')
        end = strstr(end + 2, "\r\n");
    char line[300];
    size_t ll = (size_t)(end - to);
    assert_true(ll < sizeof line);
    memcpy(line, to, ll);
    line[ll] = 0;
    assert_non_null(strstr(line, "a1@example.org"));
    assert_non_null(strstr(line, "b1@example.org"));
    assert_non_null(strstr(line, "b2@example.org"));
    assert_string_equal(mailproto_mime_rcpt(m, 0), "a1@example.org");
    assert_string_equal(mailproto_mime_rcpt(m, 1), "b1@example.org");
    assert_string_equal(mailproto_mime_rcpt(m, 2), "b2@example.org");
    assert_string_equal(mailproto_mime_rcpt(m, 3), "hidden@example.org");
    assert_null(mailproto_mime_rcpt(m, 4));
    free(o.p);
    /* set replaces both earlier X-Tag headers and the added addresses */
    assert_int_equal(mailproto_mime_set_header(m, "X-Tag", "three"), 0);
    assert_int_equal(mailproto_mime_set_header(m, "To", "c@example.org"), 0);
    o = (outbuf){0};
    assert_int_equal(read_all(m, 4096, &o), 0);
    s = as_str(&o);
    assert_null(strstr(s, "X-Tag: one"));
    assert_null(strstr(s, "X-Tag: two"));
    assert_non_null(strstr(s, "\r\nX-Tag: three\r\n"));
    assert_null(strstr(s, "b1@example.org"));
    assert_string_equal(mailproto_mime_rcpt(m, 0), "c@example.org");
    free(o.p);
    mailproto_mime_free(m);
}

static void bcc_never_written(void **state)
{
    (void)state;
    uint32_t seed = 2;
    mailproto_mime *m = simple(&seed);
    assert_int_equal(mailproto_mime_set_header(m, "To", "t@example.org"), 0);
    assert_int_equal(mailproto_mime_set_header(m, "Cc", "c@example.org"), 0);
    assert_int_equal(mailproto_mime_set_header(m, "Bcc", "hidden@example.org, h2@example.org"), 0);
    outbuf o = {0};
    assert_int_equal(read_all(m, 100, &o), 0);
    char *s = as_str(&o);
    assert_null(strstr(s, "hidden"));
    assert_null(strstr(s, "Bcc"));
    assert_string_equal(mailproto_mime_rcpt(m, 0), "t@example.org");
    assert_string_equal(mailproto_mime_rcpt(m, 1), "c@example.org");
    assert_string_equal(mailproto_mime_rcpt(m, 2), "hidden@example.org");
    assert_string_equal(mailproto_mime_rcpt(m, 3), "h2@example.org");
    assert_null(mailproto_mime_rcpt(m, 4));
    assert_string_equal(mailproto_mime_sender(m), "a@example.org");
    free(o.p);
    mailproto_mime_free(m);
}

static void reproducible_and_size_exact(void **state)
{
    (void)state;
    for (int k = 0; k < N_CASES; k++) {
        case_ctx c1, c2;
        case_expect e;
        mailproto_mime *m1, *m2;
        case_build(k, &c1, &m1, &e, 0);
        case_build(k, &c2, &m2, &e, 0);
        outbuf a = {0}, b = {0}, d = {0};
        assert_int_equal(read_all(m1, 4096, &a), 0);
        assert_int_equal(read_all(m2, 7, &b), 0);
        assert_int_equal(a.len, b.len);
        assert_memory_equal(a.p, b.p, a.len);
        /* size() counts exactly what is read, and a rewind gives the same bytes */
        uint64_t size;
        assert_int_equal(mailproto_mime_size(m1, &size), 0);
        assert_int_equal(size, a.len);
        assert_int_equal(mailproto_mime_source(m1)->size, size);
        assert_int_equal(read_all(m1, k == 3 ? 65536 : 1, &d), 0);
        assert_int_equal(d.len, a.len);
        assert_memory_equal(d.p, a.p, a.len);
        free(a.p);
        free(b.p);
        free(d.p);
        case_free(&c1, m1);
        case_free(&c2, m2);
    }
    /* another random source gives other boundaries and Message-ID */
    uint32_t s1 = 10, s2 = 11;
    mailproto_mime *m1 = simple(&s1), *m2 = simple(&s2);
    mailproto_mime_add_text(m1, "text/plain", "x");
    mailproto_mime_data(m1, NULL, "application/pdf", "a.pdf", "x", 1, NULL);
    mailproto_mime_add_text(m2, "text/plain", "x");
    mailproto_mime_data(m2, NULL, "application/pdf", "a.pdf", "x", 1, NULL);
    outbuf a = {0}, b = {0};
    read_all(m1, 4096, &a);
    read_all(m2, 4096, &b);
    assert_int_equal(a.len, b.len);
    assert_memory_not_equal(a.p, b.p, a.len);
    free(a.p);
    free(b.p);
    mailproto_mime_free(m1);
    mailproto_mime_free(m2);
}

static const char *find(const void *h, size_t hl, const char *n, size_t nl)
{
    const char *p = h;
    for (size_t i = 0; i + nl <= hl; i++)
        if (memcmp(p + i, n, nl) == 0)
            return p + i;
    return NULL;
}

static const char *cte_of(const outbuf *o, const char *type)
{
    const char *t = find(o->p, o->len, type, strlen(type));
    static char out[32];
    out[0] = '\0';
    if (!t)
        return out;
    const char *key = "Content-Transfer-Encoding: ";
    t = find(t, o->len - (size_t)(t - (const char *)o->p), key, strlen(key));
    if (t)
        sscanf(t + strlen(key), "%31s", out);
    return out;
}

static void cte_by_scanning(void **state)
{
    (void)state;
    static char longline[2000], mostly[400], binary[256];
    memset(longline, 'x', sizeof longline - 1);
    for (size_t i = 0; i + 2 < sizeof mostly; i += 2)
        memcpy(mostly + i, i % 20 == 0 ? "ab" : "\xc3\xa9", 2);
    for (int i = 0; i < 256; i++)
        binary[i] = (char)i;
    for (int opt = 0; opt < 3; opt++) {
        uint32_t seed = 3;
        mailproto_mime *m = simple(&seed);
        unsigned flags = opt == 0 ? 0 : opt == 1 ? MAILPROTO_MIME_8BIT : MAILPROTO_MIME_BINARY;
        assert_int_equal(mailproto_mime_set_options(m, flags), 0);
        mailproto_mime_text(m, NULL, "text/plain", "plain ascii\n", 12, NULL, NULL);
        mailproto_mime_text(m, NULL, "text/html", "caf\xc3\xa9 mostly ascii text here\n", 29, NULL, NULL);
        mailproto_mime_data(m, NULL, "text/x-long", "long.txt", longline, strlen(longline), NULL);
        mailproto_mime_data(m, NULL, "text/x-mostly", "m.txt", mostly, strlen(mostly), NULL);
        mailproto_mime_data(m, NULL, "application/x-bin", "b.bin", binary, sizeof binary, NULL);
        mailproto_mime_data(m, NULL, "application/x-ascii", "a.txt", "abc\r\ndef\r\n", 10, NULL);
        mailproto_mime_data(m, NULL, "application/x-lf", "lf.txt", "abc\ndef\n", 8, NULL);
        outbuf o = {0};
        assert_int_equal(read_all(m, 4096, &o), 0);
        assert_string_equal(cte_of(&o, "text/plain"), "7bit");
        assert_string_equal(cte_of(&o, "text/html"), opt ? "8bit" : "quoted-printable");
        assert_string_equal(cte_of(&o, "text/x-long"), "quoted-printable");
        assert_string_equal(cte_of(&o, "text/x-mostly"), opt ? "8bit" : "base64");
        assert_string_equal(cte_of(&o, "application/x-bin"), opt == 2 ? "binary" : "base64");
        assert_string_equal(cte_of(&o, "application/x-ascii"), opt == 2 ? "binary" : "7bit");
        assert_string_equal(cte_of(&o, "application/x-lf"), opt == 2 ? "binary" : "base64");
        unsigned needs = mailproto_mime_needs(m);
        assert_int_equal(needs & MAILPROTO_MIME_NEEDS_8BITMIME, opt ? MAILPROTO_MIME_NEEDS_8BITMIME : 0);
        assert_int_equal(needs & MAILPROTO_MIME_NEEDS_BINARYMIME, opt == 2 ? MAILPROTO_MIME_NEEDS_BINARYMIME : 0);
        if (opt == 0) {
            /* 7-bit output by default: no byte >= 0x80 anywhere */
            for (size_t i = 0; i < o.len; i++)
                assert_true(o.p[i] < 0x80);
        }
        free(o.p);
        mailproto_mime_free(m);
    }
}

static void text_line_breaks_become_crlf(void **state)
{
    (void)state;
    uint32_t seed = 4;
    mailproto_mime *m = simple(&seed);
    mailproto_mime_text(m, NULL, "text/plain", "a\nb\rc\r\nd", 8, NULL, NULL);
    outbuf o = {0};
    assert_int_equal(read_all(m, 3, &o), 0);
    char *s = as_str(&o);
    assert_non_null(strstr(s, "\r\n\r\na\r\nb\r\nc\r\nd"));
    for (size_t i = 0; i < o.len; i++) {
        if (o.p[i] == '\n')
            assert_true(i > 0 && o.p[i - 1] == '\r');
        if (o.p[i] == '\r')
            assert_true(i + 1 < o.len && o.p[i + 1] == '\n');
    }
    free(o.p);
    mailproto_mime_free(m);
}

static void empty_multipart_is_an_error(void **state)
{
    (void)state;
    uint32_t seed = 5;
    mailproto_mime *m = simple(&seed);
    mailproto_mime_part *mp;
    assert_int_equal(mailproto_mime_multipart(m, NULL, "mixed", &mp), 0);
    uint64_t size;
    assert_int_equal(mailproto_mime_size(m, &size), MAILPROTO_E_INVALID);
    size_t got;
    char buf[64];
    assert_int_equal(mailproto_source_read(mailproto_mime_source(m), buf, sizeof buf, &got), MAILPROTO_E_INVALID);
    /* a child fixes it */
    assert_int_equal(mailproto_mime_text(m, mp, "text/plain", "x", 1, NULL, NULL), 0);
    assert_int_equal(mailproto_mime_size(m, &size), 0);
    /* a multipart type for a leaf, a leaf as a parent */
    mailproto_mime_part *leaf;
    assert_int_equal(mailproto_mime_data(m, NULL, "multipart/mixed", NULL, "x", 1, NULL), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_mime_data(m, mp, "application/x", NULL, "x", 1, &leaf), 0);
    assert_int_equal(mailproto_mime_data(m, leaf, "application/x", NULL, "x", 1, NULL), MAILPROTO_E_INVALID);
    mailproto_mime_free(m);
}

static void text_charset_labels(void **state)
{
    (void)state;
    /* text from memory in Latin-1: converted to UTF-8, or kept as Latin-1 when asked */
    uint32_t seed = 12;
    mailproto_mime *m = simple(&seed);
    assert_int_equal(mailproto_mime_text(m, NULL, "text/plain", "The caf\xe9 is open", 16, "latin1", NULL), 0);
    assert_int_equal(mailproto_mime_set_text_charset(m, "x-unknown"), MAILPROTO_E_UNSUPPORTED);
    assert_int_equal(mailproto_mime_set_text_charset(m, "iso-8859-1"), 0);
    assert_int_equal(mailproto_mime_text(m, NULL, "text/html", "\xe2\x82\xac", 3, NULL, NULL),
                     MAILPROTO_E_INVALID); /* the euro sign is not in Latin-1: no '?' */
    assert_int_equal(mailproto_mime_text(m, NULL, "text/html", "The caf\xc3\xa9 is open", 17, NULL, NULL), 0);
    outbuf o = {0};
    assert_int_equal(read_all(m, 4096, &o), 0);
    char *s = as_str(&o);
    assert_non_null(strstr(s, "text/plain; charset=utf-8"));
    assert_non_null(strstr(s, "text/html; charset=iso-8859-1"));
    assert_non_null(strstr(s, "caf=C3=A9"));
    assert_non_null(strstr(s, "caf=E9"));
    free(o.p);
    mailproto_mime_free(m);

    /* text from a source: labelled, or it must be UTF-8 */
    seed = 12;
    m = simple(&seed);
    mailproto_source src;
    mailproto_source_mem(&src, "caf\xe9\n", 5);
    mailproto_mime_part *p;
    assert_int_equal(mailproto_mime_source_part(m, NULL, "text/plain", NULL, &src, &p), 0);
    o = (outbuf){0};
    assert_int_equal(read_all(m, 4096, &o), MAILPROTO_E_INVALID);
    free(o.p);
    assert_int_equal(mailproto_mime_part_set_charset(p, "ISO-8859-1"), 0);
    assert_int_equal(mailproto_mime_part_set_charset(p, "bad name"), MAILPROTO_E_INVALID);
    o = (outbuf){0};
    assert_int_equal(read_all(m, 4096, &o), 0);
    assert_non_null(strstr(as_str(&o), "text/plain; charset=iso-8859-1"));
    free(o.p);
    mailproto_mime_free(m);
}

/* Unlabelled text from a source must be well-formed UTF-8: overlong forms,
 * surrogates, code points above U+10FFFF, stray continuation bytes and a
 * sequence cut at the end are refused; valid 2-, 3- and 4-byte characters at
 * the edges of each range pass.  The source hands out one byte per read, so
 * the check works across reads. */
typedef struct byte_src {
    mailproto_source src;
    const unsigned char *p;
    size_t n, off;
} byte_src;

static int byte_read(void *ctx, void *buf, size_t cap, size_t *got)
{
    byte_src *b = ctx;
    *got = 0;
    if (b->off < b->n && cap) {
        ((unsigned char *)buf)[0] = b->p[b->off++];
        *got = 1;
    }
    return 0;
}

static int byte_rewind(void *ctx)
{
    ((byte_src *)ctx)->off = 0;
    return 0;
}

static void text_source_utf8_strict(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int ok;
    } cases[] = {
        {"a\xc2\x80z", 1},             /* U+0080 */
        {"a\xe0\xa0\x80z", 1},         /* U+0800 */
        {"a\xed\x9f\xbfz", 1},         /* U+D7FF */
        {"a\xee\x80\x80z", 1},         /* U+E000 */
        {"a\xf0\x90\x80\x80z", 1},     /* U+10000 */
        {"a\xf4\x8f\xbf\xbfz", 1},     /* U+10FFFF */
        {"a\xc0\xafz", 0},             /* overlong '/' */
        {"a\xc1\xbfz", 0},             /* overlong */
        {"a\xe0\x80\xafz", 0},         /* overlong 3-byte */
        {"a\xe0\x9f\xbfz", 0},         /* overlong 3-byte, top */
        {"a\xed\xa0\x80z", 0},         /* U+D800 */
        {"a\xed\xbf\xbfz", 0},         /* U+DFFF */
        {"a\xf0\x80\x80\xafz", 0},     /* overlong 4-byte */
        {"a\xf0\x8f\xbf\xbfz", 0},     /* overlong 4-byte, top */
        {"a\xf4\x90\x80\x80z", 0},     /* U+110000 */
        {"a\xf5\x80\x80\x80z", 0},     /* F5 lead */
        {"a\x80z", 0},                 /* stray continuation */
        {"a\xe2\x82z", 0},             /* cut short */
        {"a\xe2\x82", 0},              /* cut at the end */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint32_t seed = 40;
        mailproto_mime *m = simple(&seed);
        byte_src b = {{0}, (const unsigned char *)cases[i].text, strlen(cases[i].text), 0};
        b.src.read = byte_read;
        b.src.rewind = byte_rewind;
        b.src.ctx = &b;
        b.src.size = MAILPROTO_SIZE_UNKNOWN;
        assert_int_equal(mailproto_mime_source_part(m, NULL, "text/plain", NULL, &b.src, NULL), 0);
        outbuf o = {0};
        int rc = read_all(m, 4096, &o);
        if (cases[i].ok != (rc == 0))
            fail_msg("case %zu: rc %d", i, rc);
        free(o.p);
        mailproto_mime_free(m);
    }
}

static void read_once_sources(void **state)
{
    (void)state;
    /* not rewindable, size known: base64 without scanning, and size computed */
    uint32_t seed = 6;
    mailproto_mime *m = simple(&seed);
    gen_src g;
    gen_init(&g, 9, 100000, 0);
    mailproto_mime_add_text(m, "text/plain", "see attached\n");
    assert_int_equal(mailproto_mime_add_source(m, "application/octet-stream", "g.bin", &g.src), 0);
    uint64_t size;
    assert_int_equal(mailproto_mime_size(m, &size), 0);
    outbuf o = {0};
    mailproto_source *s = mailproto_mime_source(m);
    unsigned char buf[999];
    size_t got;
    int rc;
    while ((rc = mailproto_source_read(s, buf, sizeof buf, &got)) == 0 && got)
        out_write(&o, buf, got);
    assert_int_equal(rc, 0);
    assert_int_equal(o.len, size);
    assert_non_null(strstr(as_str(&o), "Content-Transfer-Encoding: base64"));
    /* a second pass cannot happen */
    assert_int_equal(mailproto_source_rewind(s), 0);
    rc = 0;
    while (rc == 0) {
        rc = mailproto_source_read(s, buf, sizeof buf, &got);
        if (!got)
            break;
    }
    assert_int_equal(rc, MAILPROTO_E_UNSUPPORTED);
    free(o.p);
    mailproto_mime_free(m);

    /* size unknown: no measure, but it can still be read */
    seed = 6;
    m = simple(&seed);
    gen_init(&g, 9, 1000, 0);
    g.src.size = MAILPROTO_SIZE_UNKNOWN;
    mailproto_mime_add_source(m, "application/octet-stream", "g.bin", &g.src);
    assert_int_equal(mailproto_mime_size(m, &size), MAILPROTO_E_UNSUPPORTED);
    o = (outbuf){0};
    assert_int_equal(read_all(m, 512, &o), 0);
    assert_true(o.len > 1000);
    free(o.p);
    mailproto_mime_free(m);

    /* declared 7bit, content is not: the read fails */
    seed = 6;
    m = simple(&seed);
    gen_init(&g, 9, 1000, 0);
    mailproto_mime_part *p;
    mailproto_mime_source_part(m, NULL, "application/octet-stream", NULL, &g.src, &p);
    assert_int_equal(mailproto_mime_part_set_encoding(p, MAILPROTO_CTE_7BIT), 0);
    o = (outbuf){0};
    assert_int_equal(read_all(m, 512, &o), MAILPROTO_E_INVALID);
    free(o.p);
    mailproto_mime_free(m);
}

/* A read-once part written as 7bit/8bit cannot be scanned first: it is
 * checked as it goes out (one byte per read), and a bare LF, a line over
 * 998 octets or a line starting like the enclosing delimiter stops the
 * read with MAILPROTO_E_INVALID instead of producing a broken message. */
static int once_build(const char *type, int cte, const char *content, size_t len, outbuf *o)
{
    uint32_t seed = 41;
    mailproto_mime *m = simple(&seed);
    byte_src b = {{0}, (const unsigned char *)content, len, 0};
    b.src.read = byte_read;
    b.src.rewind = NULL;
    b.src.ctx = &b;
    b.src.size = len;
    assert_int_equal(mailproto_mime_add_text(m, "text/plain", "see attached\n"), 0);
    mailproto_mime_part *p;
    assert_int_equal(mailproto_mime_source_part(m, NULL, type, "x.dat", &b.src, &p), 0);
    if (cte)
        assert_int_equal(mailproto_mime_part_set_encoding(p, cte), 0);
    int rc = read_all(m, 700, o);
    mailproto_mime_free(m);
    return rc;
}

static void read_once_plain_checked(void **state)
{
    (void)state;
    outbuf o = {0};
    const char *good = "Subject: inner\r\nFrom: a@example.org\r\n\r\nhello\r\n";
    assert_int_equal(once_build("message/rfc822", 0, good, strlen(good), &o), 0);
    assert_non_null(strstr(as_str(&o), good));
    free(o.p);
    o = (outbuf){0};
    const char *lf = "Subject: inner\nFrom: a@example.org\n\nhello\n";
    assert_int_equal(once_build("message/rfc822", 0, lf, strlen(lf), &o), MAILPROTO_E_INVALID);
    free(o.p);
    o = (outbuf){0};
    const char *cr = "Subject: inner\r\n\r\nhel\rlo\r\n";
    assert_int_equal(once_build("message/rfc822", 0, cr, strlen(cr), &o), MAILPROTO_E_INVALID);
    free(o.p);

    /* line lengths: 998 passes, 999 does not (also as the last line) */
    char line[1200];
    for (size_t len = 998; len <= 999; len++) {
        for (int last = 0; last <= 1; last++) {
            memset(line, 'a', len);
            size_t n = len;
            if (!last) {
                memcpy(line + n, "\r\nb\r\n", 5);
                n += 5;
            }
            o = (outbuf){0};
            int rc = once_build("application/octet-stream", MAILPROTO_CTE_8BIT, line, n, &o);
            assert_int_equal(rc, len == 998 ? 0 : MAILPROTO_E_INVALID);
            free(o.p);
        }
    }

    /* a line that starts like the delimiter of the enclosing multipart:
     * the first boundary seed 41 draws */
    uint32_t s41 = 41;
    unsigned char r[26];
    case_random(&s41, r, 26);
    char t[200];
    int n = sprintf(t, "before\r\n--=_mp_");
    for (int i = 0; i < 26; i++)
        t[n++] = "abcdefghijklmnopqrstuvwxyz234567"[r[i] & 31];
    n += sprintf(t + n, "--\r\nafter\r\n");
    o = (outbuf){0};
    assert_int_equal(once_build("application/octet-stream", MAILPROTO_CTE_7BIT, t, (size_t)n, &o),
                     MAILPROTO_E_INVALID);
    free(o.p);
    /* the same bytes with one letter changed go through, so the test above
     * hit the delimiter and nothing else */
    t[18] = t[18] == 'a' ? 'b' : 'a';
    o = (outbuf){0};
    assert_int_equal(once_build("application/octet-stream", MAILPROTO_CTE_7BIT, t, (size_t)n, &o), 0);
    free(o.p);
}

typedef struct again_src {
    gen_src g;
    int flip;
    mailproto_source src;
} again_src;

static int again_read(void *ctx, void *buf, size_t cap, size_t *got)
{
    again_src *a = ctx;
    *got = 0;
    if (++a->flip % 3 != 0) /* two AGAINs before each chunk */
        return MAILPROTO_AGAIN;
    return gen_read(&a->g, buf, cap, got);
}

static void again_passes_through(void **state)
{
    (void)state;
    /* a non-blocking part source: AGAIN reaches the reader of the message,
     * which calls again later and gets the same bytes as without it */
    uint32_t seed = 13;
    mailproto_mime *m = simple(&seed);
    again_src a;
    memset(&a, 0, sizeof a);
    gen_init(&a.g, 5, 20000, 0);
    a.src.read = again_read;
    a.src.ctx = &a;
    a.src.size = 20000;
    mailproto_mime_part *p;
    assert_int_equal(mailproto_mime_source_part(m, NULL, "application/octet-stream", "x.bin", &a.src, &p), 0);
    assert_int_equal(mailproto_mime_part_set_encoding(p, MAILPROTO_CTE_BASE64), 0);
    uint64_t size;
    assert_int_equal(mailproto_mime_size(m, &size), 0);
    mailproto_source *s = mailproto_mime_source(m);
    outbuf o = {0};
    unsigned char buf[1000];
    size_t got, agains = 0;
    for (;;) {
        int rc = mailproto_source_read(s, buf, sizeof buf, &got);
        if (rc == MAILPROTO_AGAIN) {
            agains++;
            continue;
        }
        assert_int_equal(rc, 0);
        if (!got)
            break;
        out_write(&o, buf, got);
    }
    assert_true(agains > 0);
    assert_int_equal(o.len, size);
    mailproto_mime_reader *r;
    assert_int_equal(mailproto_mime_reader_new(&r, NULL, NULL), 0);
    assert_int_equal(mailproto_mime_reader_parse(r, o.p, o.len), 0);
    gen_src ref;
    gen_init(&ref, 5, 20000, 1);
    unsigned char want[20000];
    size_t wl;
    gen_read(&ref, want, sizeof want, &wl);
    outbuf dec = {0};
    mailproto_sink sk = {out_write, &dec};
    assert_int_equal(mailproto_mime_reader_decode(r, 1, o.p, o.len, 0, &sk), 0);
    assert_int_equal(dec.len, 20000);
    assert_memory_equal(dec.p, want, 20000);
    free(dec.p);
    free(o.p);
    mailproto_mime_reader_free(r);
    mailproto_mime_free(m);
}

static size_t peak_for(size_t len, size_t *live_after)
{
    test_alloc a;
    mailproto_mem mem = test_mem(&a);
    mailproto_mime *m;
    assert_int_equal(mailproto_mime_new(&m, &mem), 0);
    uint32_t seed = 7;
    mailproto_mime_set_clock(m, case_clock, NULL);
    mailproto_mime_set_random(m, case_random, &seed);
    mailproto_mime_set_header(m, "From", "a@example.org");
    mailproto_mime_add_text(m, "text/plain", "big one attached\n");
    gen_src g;
    gen_init(&g, 3, len, 1);
    mailproto_mime_add_source(m, "application/octet-stream", "big.bin", &g.src);
    mailproto_source *s = mailproto_mime_source(m);
    static unsigned char buf[16384];
    size_t got, total = 0;
    while (mailproto_source_read(s, buf, sizeof buf, &got) == 0 && got)
        total += got;
    assert_true(total > len);
    size_t peak = a.peak;
    mailproto_mime_free(m);
    *live_after = a.live;
    assert_int_equal(a.size_errors, 0);
    return peak;
}

static void constant_memory(void **state)
{
    (void)state;
    size_t live1, live2;
    size_t small = peak_for(64 * 1024, &live1);
    size_t big = peak_for(10u << 20, &live2);
    printf("peak heap: %zu bytes with a 64 KiB attachment, %zu with 10 MiB\n", small, big);
    assert_int_equal(small, big);
    assert_int_equal(live1, 0);
    assert_int_equal(live2, 0);
}

static void allocation_failures(void **state)
{
    (void)state;
    for (size_t n = 1;; n++) {
        test_alloc a;
        mailproto_mem mem = test_mem(&a);
        a.fail_at = n;
        mailproto_mime *m = NULL;
        int rc = mailproto_mime_new(&m, &mem);
        if (rc == 0) {
            uint32_t seed = 8;
            mailproto_mime_set_random(m, case_random, &seed);
            mailproto_mime_set_clock(m, case_clock, NULL);
            int r[8];
            r[0] = mailproto_mime_set_header(m, "From", "Zo\xc3\xab <z@example.org>");
            r[1] = mailproto_mime_set_header(m, "To", "a@example.org, G: b@example.org;");
            r[2] = mailproto_mime_set_subject(m, "Subject \xe2\x9c\x93");
            r[3] = mailproto_mime_add_text(m, "text/plain", "text\n");
            r[4] = mailproto_mime_add_text(m, "text/html", "<p>html</p>\n");
            mailproto_mime_part *p = NULL;
            r[5] = mailproto_mime_data(m, NULL, "image/png", NULL, png, sizeof png, &p);
            r[6] = p ? mailproto_mime_part_set_cid(p, "c@x") : MAILPROTO_E_NOMEM;
            r[7] = mailproto_mime_data(m, NULL, "application/pdf", "\xc3\xa9.pdf", "x", 1, NULL);
            for (int i = 0; i < 8; i++)
                assert_true(r[i] == 0 || r[i] == MAILPROTO_E_NOMEM);
            uint64_t size;
            int s = mailproto_mime_size(m, &size);
            assert_true(s == 0 || s == MAILPROTO_E_NOMEM);
            mailproto_mime_free(m);
        } else {
            assert_int_equal(rc, MAILPROTO_E_NOMEM);
        }
        assert_int_equal(a.live, 0);
        assert_int_equal(a.size_errors, 0);
        if (a.count < n)
            break; /* no allocation failed: every path was covered */
    }
}

static void headers_utf8_and_idn(void **state)
{
    (void)state;
    uint32_t seed = 9;
    mailproto_mime *m = simple(&seed);
    int idn = mailproto_mime_set_header(m, "To", "J\xc3\xb6rg <j@b\xc3\xbc" "cher.example>");
#if MAILPROTO_HAS_IDN
    assert_int_equal(idn, 0);
    outbuf o = {0};
    assert_int_equal(read_all(m, 4096, &o), 0);
    assert_non_null(strstr(as_str(&o), "<j@xn--bcher-kva.example>"));
    assert_string_equal(mailproto_mime_rcpt(m, 0), "j@xn--bcher-kva.example");
    assert_int_equal(mailproto_mime_needs(m), 0);
    free(o.p);
#else
    assert_int_equal(idn, MAILPROTO_E_UNSUPPORTED);
#endif
    /* non-ASCII local part: only with UTF-8 headers */
    assert_int_equal(mailproto_mime_set_header(m, "Cc", "j\xc3\xb6rg@example.org"), MAILPROTO_E_UNSUPPORTED);
    assert_int_equal(mailproto_mime_set_options(m, MAILPROTO_MIME_UTF8_HEADERS), 0);
    assert_int_equal(mailproto_mime_set_header(m, "Cc", "j\xc3\xb6rg@b\xc3\xbc" "cher.example"), 0);
    assert_int_equal(mailproto_mime_set_subject(m, "Gr\xc3\xbc\xc3\x9f" "e"), 0);
    outbuf o2 = {0};
    assert_int_equal(read_all(m, 4096, &o2), 0);
    char *s = as_str(&o2);
    assert_non_null(strstr(s, "Subject: Gr\xc3\xbc\xc3\x9f" "e\r\n"));
    assert_non_null(strstr(s, "Cc: j\xc3\xb6rg@b\xc3\xbc" "cher.example\r\n"));
    assert_true(mailproto_mime_needs(m) & MAILPROTO_MIME_NEEDS_SMTPUTF8);
    free(o2.p);
    mailproto_mime_free(m);
}

static void folding_and_dates(void **state)
{
    (void)state;
    uint32_t seed = 10;
    mailproto_mime *m = simple(&seed);
    char subj[3000];
    size_t n = 0;
    while (n < 400) {
        memcpy(subj + n, "word ", 5);
        n += 5;
    }
    subj[n] = 0;
    assert_int_equal(mailproto_mime_set_subject(m, subj), 0);
    char word[2100];
    memset(word, 'w', 2000);
    word[2000] = 0;
    assert_int_equal(mailproto_mime_set_header(m, "X-Long-Word", word), 0);
    assert_int_equal(mailproto_mime_set_header(m, "References", word), MAILPROTO_E_LIMIT);
    outbuf o = {0};
    assert_int_equal(read_all(m, 4096, &o), 0);
    char *s = as_str(&o);
    assert_non_null(strstr(s, "Date: Sun, 30 Nov 2025 01:30:00 +0130\r\n"));
    /* every header line within 78; the long word went into encoded-words */
    char *body = strstr(s, "\r\n\r\n");
    for (char *l = s; l < body;) {
        char *e = strstr(l, "\r\n");
        assert_true(e - l <= 78);
        l = e + 2;
    }
    assert_non_null(strstr(s, "X-Long-Word: =?UTF-8?Q?www"));
    free(o.p);
    mailproto_mime_free(m);
    /* negative offsets and the other side of the epoch */
    char d[64];
    extern size_t mailproto__fmt_date(char *out, size_t cap, int64_t t, int tz);
    mailproto__fmt_date(d, sizeof d, 0, -300);
    assert_string_equal(d, "Wed, 31 Dec 1969 19:00:00 -0500");
    mailproto__fmt_date(d, sizeof d, 951782400, 0);
    assert_string_equal(d, "Tue, 29 Feb 2000 00:00:00 +0000");
}

static void file_parts(void **state)
{
    (void)state;
    char path[] = "/tmp/mailproto-mime-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unsigned char data[5000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i * 7);
    assert_int_equal(write(fd, data, sizeof data), (ssize_t)sizeof data);
    close(fd);
    uint32_t seed = 11;
    mailproto_mime *m = simple(&seed);
    assert_int_equal(mailproto_mime_file(m, NULL, "application/octet-stream", NULL, path, NULL), 0);
    assert_int_equal(mailproto_mime_file(m, NULL, "application/octet-stream", NULL, "/nonexistent/x", NULL),
                     MAILPROTO_E_IO);
    uint64_t size;
    assert_int_equal(mailproto_mime_size(m, &size), 0);
    outbuf o = {0};
    assert_int_equal(read_all(m, 1000, &o), 0);
    assert_int_equal(o.len, size);
    assert_non_null(strstr(as_str(&o), path + 5)); /* the base name is the filename */
    mailproto_mime_reader *r;
    assert_int_equal(mailproto_mime_reader_new(&r, NULL, NULL), 0);
    assert_int_equal(mailproto_mime_reader_parse(r, o.p, o.len), 0);
    assert_int_equal(mailproto_mime_reader_count(r), 2);
    const mailproto_mime_info *in = mailproto_mime_reader_part(r, 1);
    assert_string_equal(in->filename, path + 5);
    outbuf dec = {0};
    mailproto_sink sk = {out_write, &dec};
    assert_int_equal(mailproto_mime_reader_decode(r, 1, o.p, o.len, 0, &sk), 0);
    assert_int_equal(dec.len, sizeof data);
    assert_memory_equal(dec.p, data, sizeof data);
    free(dec.p);
    mailproto_mime_reader_free(r);
    free(o.p);
    mailproto_mime_free(m);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(injection_is_invalid),
        cmocka_unit_test(injection_every_entry_point),
        cmocka_unit_test(add_header_appends),
        cmocka_unit_test(bcc_never_written),
        cmocka_unit_test(reproducible_and_size_exact),
        cmocka_unit_test(cte_by_scanning),
        cmocka_unit_test(text_line_breaks_become_crlf),
        cmocka_unit_test(empty_multipart_is_an_error),
        cmocka_unit_test(text_charset_labels),
        cmocka_unit_test(text_source_utf8_strict),
        cmocka_unit_test(read_once_sources),
        cmocka_unit_test(read_once_plain_checked),
        cmocka_unit_test(again_passes_through),
        cmocka_unit_test(constant_memory),
        cmocka_unit_test(allocation_failures),
        cmocka_unit_test(headers_utf8_and_idn),
        cmocka_unit_test(folding_and_dates),
        cmocka_unit_test(file_parts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
