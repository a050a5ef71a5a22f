/*
 * The message cases shared by the referee (mime_cases.c writes them out
 * for Python's email parser) and the builder -> reader round trips.  Each
 * case builds a message and records what a parser must find in it.
 */
#ifndef MIME_CASES_H
#define MIME_CASES_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mailproto/mime.h>

/* ---- deterministic hooks ---- */

static int64_t case_clock(void *ctx, int *tz)
{
    (void)ctx;
    *tz = 90;
    return 1764460800; /* 2025-11-30 00:00:00 UTC */
}

static int case_random(void *ctx, void *buf, size_t n)
{
    uint32_t *s = ctx;
    unsigned char *p = buf;
    for (size_t i = 0; i < n; i++) {
        *s ^= *s << 13;
        *s ^= *s >> 17;
        *s ^= *s << 5;
        p[i] = (unsigned char)(*s >> 24);
    }
    return 0;
}

/* ---- a generated, seeded attachment (xorshift32, top byte) ---- */

typedef struct gen_src {
    mailproto_source src;
    uint32_t seed, state;
    uint64_t len, pos;
} gen_src;

static unsigned char gen_next(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return (unsigned char)(*s >> 24);
}

static int gen_read(void *ctx, void *buf, size_t cap, size_t *got)
{
    gen_src *g = ctx;
    size_t n = 0;
    unsigned char *p = buf;
    while (n < cap && g->pos < g->len) {
        p[n++] = gen_next(&g->state);
        g->pos++;
    }
    *got = n;
    return 0;
}

static int gen_rewind(void *ctx)
{
    gen_src *g = ctx;
    g->state = g->seed;
    g->pos = 0;
    return 0;
}

static void gen_init(gen_src *g, uint32_t seed, uint64_t len, int rewindable)
{
    memset(g, 0, sizeof *g);
    g->seed = g->state = seed;
    g->len = len;
    g->src.read = gen_read;
    g->src.rewind = rewindable ? gen_rewind : NULL;
    g->src.ctx = g;
    g->src.size = len;
}

/* ---- what a parser must find ---- */

#define CASE_MAX_PARTS 16
#define CASE_MAX_ADDRS 8

typedef struct case_addr {
    const char *name, *addr;
} case_addr;

typedef struct case_part {
    const char *type;      /* every part in walk order, multiparts too */
    const char *filename;  /* NULL: none */
    const char *cid;       /* without <> */
    const char *text;      /* text parts: the text given (line breaks normalised when compared) */
    const void *data;      /* data parts: the bytes */
    size_t len;
    uint32_t gen_seed;     /* generated parts: seed and length */
    uint64_t gen_len;
} case_part;

typedef struct case_expect {
    const char *name;
    const char *subject;
    case_addr from[CASE_MAX_ADDRS], to[CASE_MAX_ADDRS], cc[CASE_MAX_ADDRS];
    case_part parts[CASE_MAX_PARTS];
    size_t n_parts;
    int utf8_headers;
} case_expect;

/* the state a case keeps alive while its message is read */
typedef struct case_ctx {
    uint32_t seed;
    gen_src gen[2];
    mailproto_mime *inner;
    uint32_t inner_seed;
    char *buf;
} case_ctx;

static mailproto_mime *case_new(case_ctx *c, uint32_t seed)
{
    mailproto_mime *m = NULL;
    if (mailproto_mime_new(&m, NULL) != 0)
        abort();
    c->seed = seed;
    mailproto_mime_set_clock(m, case_clock, NULL);
    mailproto_mime_set_random(m, case_random, &c->seed);
    mailproto_mime_set_hostname(m, "test.example");
    return m;
}

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if ((x) != 0) {                                                                            \
            fprintf(stderr, "%s:%d: %s failed\n", __FILE__, __LINE__, #x);                         \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static const char subj200[] =
    "Caf\xc3\xa9 cr\xc3\xa8me \xe2\x80\x94 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe4\xbb\xb6"
    "\xe5\x90\x8d \xf0\x9f\x98\x80\xf0\x9f\x8e\x89 na\xc3\xafve r\xc3\xa9sum\xc3\xa9 \xd0\x9f\xd1\x80"
    "\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 \xce\xba\xce\xb1\xce\xbb\xce\xb7\xce\xbc\xe1\xbd\xb3\xcf\x81\xce"
    "\xb1 \xe4\xb8\xad\xe6\x96\x87\xe6\xb5\x8b\xe8\xaf\x95 \xf0\x9f\x9a\x80\xf0\x9f\x9a\x80 "
    "and some ASCII words to make it longer than one line, then more "
    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe6\x97\xa5\xe6\x9c\xac"
    "\xe8\xaa\x9e \xc3\xa0\xc3\xa9\xc3\xae\xc3\xb5\xc3\xbc \xf0\x9f\x98\x80 end of the "
    "subject line with 200 characters or so, really \xe2\x9c\x93!";

static const char fname_long[] =
    "R\xc3\xa9sum\xc3\xa9 \"final\"; version 2 \xe2\x80\x94 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e "
    "with a very long name that needs RFC 2231 continuations; and; semicolons.pdf";

static const char text_plain[] = "Hello,\nthis is the text part.\n\n-- \nsignature\n";
static const char text_html[] = "<html><body><p>Hello <b>world</b> \xc3\xa9</p>"
                                "<img src=\"cid:logo@test.example\"></body></html>\n";
static const unsigned char png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13,
                                    'I',  'H', 'D', 'R', 0,    0,    0,    1,    0, 0, 0, 1};

#define N_CASES 10

/* Build case k into *out (owned by the caller with ctx) and describe it. */
static void case_build(int k, case_ctx *c, mailproto_mime **out, case_expect *e, int big)
{
    memset(e, 0, sizeof *e);
    memset(c, 0, sizeof *c);
    mailproto_mime *m = case_new(c, 1000u + (uint32_t)k);
    mailproto_mime_part *p;
    CHECK(mailproto_mime_set_header(m, "From", "Zo\xc3\xab \xc3\x84rger <zoe@example.org>"));
    e->from[0] = (case_addr){"Zo\xc3\xab \xc3\x84rger", "zoe@example.org"};
    switch (k) {
    case 0: /* subjects and addresses */
        e->name = "subjects";
        e->subject = subj200;
        CHECK(mailproto_mime_set_subject(m, subj200));
        CHECK(mailproto_mime_set_header(m, "To", "\"Smith, John\" <john@example.com>, plain@example.net, "
                                                 "Team: a@x.example, \"B \\\"Q\\\" B\" <b@x.example>;"));
        CHECK(mailproto_mime_add_address(m, "Cc", "\xe5\xb1\xb1\xe7\x94\xb0 \xe5\xa4\xaa\xe9\x83\x8e",
                                         "taro@example.jp"));
        CHECK(mailproto_mime_add_address(m, "Cc", "Very Long Display Name That Goes On And On, Esq. (Ph.D.)",
                                         "long@example.org"));
        CHECK(mailproto_mime_set_header(m, "Bcc", "secret@example.org"));
        e->to[0] = (case_addr){"Smith, John", "john@example.com"};
        e->to[1] = (case_addr){"", "plain@example.net"};
        e->to[2] = (case_addr){"", "a@x.example"};
        e->to[3] = (case_addr){"B \"Q\" B", "b@x.example"};
        e->cc[0] = (case_addr){"\xe5\xb1\xb1\xe7\x94\xb0 \xe5\xa4\xaa\xe9\x83\x8e", "taro@example.jp"};
        e->cc[1] = (case_addr){"Very Long Display Name That Goes On And On, Esq. (Ph.D.)", "long@example.org"};
        CHECK(mailproto_mime_add_text(m, "text/plain", text_plain));
        e->parts[e->n_parts++] = (case_part){.type = "text/plain", .text = text_plain};
        break;
    case 1: /* filenames */
    case 2: /* the same with the Outlook name= */
        e->name = k == 1 ? "filenames" : "filenames-outlook";
        e->subject = "Attachments";
        CHECK(mailproto_mime_set_subject(m, "Attachments"));
        if (k == 2)
            CHECK(mailproto_mime_set_options(m, MAILPROTO_MIME_NAME_RFC2047));
        CHECK(mailproto_mime_set_header(m, "To", "to@example.com"));
        e->to[0] = (case_addr){"", "to@example.com"};
        CHECK(mailproto_mime_add_text(m, "text/plain", "see attached\n"));
        CHECK(mailproto_mime_data(m, NULL, "application/pdf", fname_long, "%PDF-1.4\n", 9, NULL));
        {
            static char longascii[200];
            for (int i = 0; i < 180; i++)
                longascii[i] = (char)('a' + i % 26);
            memcpy(longascii + 180, ".txt", 5);
            CHECK(mailproto_mime_data(m, NULL, "text/plain", longascii, "x\n", 2, NULL));
            CHECK(mailproto_mime_data(m, NULL, "application/octet-stream", "a;b\"c\\d.bin", "\x01\x02", 2, NULL));
            e->parts[e->n_parts++] = (case_part){.type = "multipart/mixed"};
            e->parts[e->n_parts++] = (case_part){.type = "text/plain", .text = "see attached\n"};
            e->parts[e->n_parts++] = (case_part){.type = "application/pdf", .filename = fname_long,
                                                 .data = "%PDF-1.4\n", .len = 9};
            e->parts[e->n_parts++] = (case_part){.type = "text/plain", .filename = longascii, .text = "x\n"};
            e->parts[e->n_parts++] = (case_part){.type = "application/octet-stream",
                                                 .filename = "a;b\"c\\d.bin", .data = "\x01\x02", .len = 2};
        }
        break;
    case 3: { /* a 10 MiB binary attachment (1 MiB when !big), text and HTML */
        uint64_t len = big ? 10u << 20 : 1u << 20;
        e->name = "big";
        e->subject = "Big attachment";
        CHECK(mailproto_mime_set_subject(m, "Big attachment"));
        CHECK(mailproto_mime_set_header(m, "To", "to@example.com"));
        e->to[0] = (case_addr){"", "to@example.com"};
        CHECK(mailproto_mime_add_text(m, "text/plain", text_plain));
        CHECK(mailproto_mime_add_text(m, "text/html", "<p>big</p>\n"));
        gen_init(&c->gen[0], 77, len, 1);
        CHECK(mailproto_mime_add_source(m, "application/octet-stream", "big.bin", &c->gen[0].src));
        e->parts[e->n_parts++] = (case_part){.type = "multipart/mixed"};
        e->parts[e->n_parts++] = (case_part){.type = "multipart/alternative"};
        e->parts[e->n_parts++] = (case_part){.type = "text/plain", .text = text_plain};
        e->parts[e->n_parts++] = (case_part){.type = "text/html", .text = "<p>big</p>\n"};
        e->parts[e->n_parts++] = (case_part){.type = "application/octet-stream", .filename = "big.bin",
                                             .gen_seed = 77, .gen_len = len};
        break;
    }
    case 4: /* bare LF and lone CR */
        e->name = "newlines";
        e->subject = "Line breaks";
        CHECK(mailproto_mime_set_subject(m, "Line breaks"));
        CHECK(mailproto_mime_set_header(m, "To", "to@example.com"));
        e->to[0] = (case_addr){"", "to@example.com"};
        {
            static const char t[] = "unix\nline\nmac\rline\rdos\r\nline\r\n\n\rmixed\n\r\nend";
            CHECK(mailproto_mime_text(m, NULL, "text/plain", t, sizeof t - 1, NULL, NULL));
            e->parts[e->n_parts++] = (case_part){.type = "text/plain", .text = t};
        }
        break;
    case 5: { /* lines of 10 000 characters without spaces */
        e->name = "longlines";
        e->subject = "Long lines";
        CHECK(mailproto_mime_set_subject(m, "Long lines"));
        CHECK(mailproto_mime_set_header(m, "To", "to@example.com"));
        e->to[0] = (case_addr){"", "to@example.com"};
        c->buf = malloc(30100);
        char *t = c->buf;
        size_t n = 0;
        for (int i = 0; i < 10000; i++)
            t[n++] = (char)('A' + i % 26);
        t[n++] = '\n';
        for (int i = 0; i < 5000; i++) {
            memcpy(t + n, "\xc3\xa9", 2);
            n += 2;
        }
        t[n++] = '\n';
        for (int i = 0; i < 10000; i++)
            t[n++] = i % 100 == 99 ? '=' : 'z';
        t[n] = '\0';
        CHECK(mailproto_mime_add_text(m, "text/plain", t));
        e->parts[e->n_parts++] = (case_part){.type = "text/plain", .text = t};
        break;
    }
    case 6: { /* a body holding a would-be delimiter line */
        e->name = "boundary";
        e->subject = "Boundary in the body";
        CHECK(mailproto_mime_set_subject(m, "Boundary in the body"));
        CHECK(mailproto_mime_set_header(m, "To", "to@example.com"));
        e->to[0] = (case_addr){"", "to@example.com"};
        /* the first boundary this seed will draw */
        uint32_t s = c->seed;
        unsigned char r[26];
        case_random(&s, r, 26);
        c->buf = malloc(200);
        char *t = c->buf;
        int n = sprintf(t, "before\n--=_mp_");
        for (int i = 0; i < 26; i++)
            t[n++] = "abcdefghijklmnopqrstuvwxyz234567"[r[i] & 31];
        n += sprintf(t + n, "\nmiddle\n--=_mp_");
        for (int i = 0; i < 26; i++)
            t[n++] = "abcdefghijklmnopqrstuvwxyz234567"[r[i] & 31];
        sprintf(t + n, "--\nafter\n");
        CHECK(mailproto_mime_add_text(m, "text/plain", t));
        CHECK(mailproto_mime_data(m, NULL, "text/plain", "note.txt", t, strlen(t), NULL));
        e->parts[e->n_parts++] = (case_part){.type = "multipart/mixed"};
        e->parts[e->n_parts++] = (case_part){.type = "text/plain", .text = t};
        e->parts[e->n_parts++] = (case_part){.type = "text/plain", .filename = "note.txt", .text = t};
        break;
    }
    case 7: /* related: HTML with an inline image, plus an attachment */
        e->name = "related";
        e->subject = "Inline image";
        CHECK(mailproto_mime_set_subject(m, "Inline image"));
        CHECK(mailproto_mime_set_header(m, "To", "to@example.com"));
        CHECK(mailproto_mime_set_header(m, "In-Reply-To", "<a1@example.org>"));
        CHECK(mailproto_mime_set_header(m, "References", "<a0@example.org> <a1@example.org>"));
        CHECK(mailproto_mime_set_header(m, "Disposition-Notification-To", "zoe@example.org"));
        CHECK(mailproto_mime_set_header(m, "X-Mailer", "libmailproto test"));
        e->to[0] = (case_addr){"", "to@example.com"};
        CHECK(mailproto_mime_add_text(m, "text/plain", text_plain));
        CHECK(mailproto_mime_add_text(m, "text/html", text_html));
        CHECK(mailproto_mime_data(m, NULL, "image/png", NULL, png, sizeof png, &p));
        CHECK(mailproto_mime_part_set_cid(p, "logo@test.example"));
        CHECK(mailproto_mime_data(m, NULL, "application/zip", "archive.zip", "PK\x03\x04", 4, NULL));
        e->parts[e->n_parts++] = (case_part){.type = "multipart/mixed"};
        e->parts[e->n_parts++] = (case_part){.type = "multipart/alternative"};
        e->parts[e->n_parts++] = (case_part){.type = "text/plain", .text = text_plain};
        e->parts[e->n_parts++] = (case_part){.type = "multipart/related"};
        e->parts[e->n_parts++] = (case_part){.type = "text/html", .text = text_html};
        e->parts[e->n_parts++] = (case_part){.type = "image/png", .cid = "logo@test.example",
                                             .data = png, .len = sizeof png};
        e->parts[e->n_parts++] = (case_part){.type = "application/zip", .filename = "archive.zip",
                                             .data = "PK\x03\x04", .len = 4};
        break;
    case 8: /* message/rfc822 holding another built message */
        e->name = "rfc822";
        e->subject = "Fwd: inner";
        CHECK(mailproto_mime_set_subject(m, "Fwd: inner"));
        CHECK(mailproto_mime_set_header(m, "To", "to@example.com"));
        e->to[0] = (case_addr){"", "to@example.com"};
        CHECK(mailproto_mime_add_text(m, "text/plain", "forwarded below\n"));
        c->inner = NULL;
        CHECK(mailproto_mime_new(&c->inner, NULL));
        c->inner_seed = 5;
        mailproto_mime_set_clock(c->inner, case_clock, NULL);
        mailproto_mime_set_random(c->inner, case_random, &c->inner_seed);
        CHECK(mailproto_mime_set_header(c->inner, "From", "inner@example.org"));
        CHECK(mailproto_mime_set_subject(c->inner, "inner \xe2\x9c\x93"));
        CHECK(mailproto_mime_add_text(c->inner, "text/plain", "inner text\n"));
        CHECK(mailproto_mime_data(c->inner, NULL, "application/octet-stream", "in.bin", "\xff\x00", 2, NULL));
        CHECK(mailproto_mime_source_part(m, NULL, "message/rfc822", NULL, mailproto_mime_source(c->inner), &p));
        CHECK(mailproto_mime_part_set_disposition(p, "attachment"));
        e->parts[e->n_parts++] = (case_part){.type = "multipart/mixed"};
        e->parts[e->n_parts++] = (case_part){.type = "text/plain", .text = "forwarded below\n"};
        e->parts[e->n_parts++] = (case_part){.type = "message/rfc822"};
        e->parts[e->n_parts++] = (case_part){.type = "multipart/mixed"};
        e->parts[e->n_parts++] = (case_part){.type = "text/plain", .text = "inner text\n"};
        e->parts[e->n_parts++] = (case_part){.type = "application/octet-stream", .filename = "in.bin",
                                             .data = "\xff\x00", .len = 2};
        break;
    default: /* 9: charsets: Latin-1 input, and an ISO-8859-1 text part out */
        e->name = "charsets";
        e->subject = "Charsets \xc3\xa9t\xc3\xa9";
        CHECK(mailproto_mime_set_subject(m, "Charsets \xc3\xa9t\xc3\xa9"));
        CHECK(mailproto_mime_set_header(m, "To", "to@example.com"));
        e->to[0] = (case_addr){"", "to@example.com"};
        CHECK(mailproto_mime_text(m, NULL, "text/plain", "caf\xe9 cr\xe8me\n", 11, "iso-8859-1", NULL));
        CHECK(mailproto_mime_set_text_charset(m, "iso-8859-1"));
        CHECK(mailproto_mime_text(m, NULL, "text/html", "<p>\xc3\xa9t\xc3\xa9</p>\n", 13, NULL, NULL));
        e->parts[e->n_parts++] = (case_part){.type = "multipart/alternative"};
        e->parts[e->n_parts++] = (case_part){.type = "text/plain", .text = "caf\xc3\xa9 cr\xc3\xa8me\n"};
        e->parts[e->n_parts++] = (case_part){.type = "text/html", .text = "<p>\xc3\xa9t\xc3\xa9</p>\n"};
        break;
    }
    *out = m;
}

static void case_free(case_ctx *c, mailproto_mime *m)
{
    mailproto_mime_free(m);
    mailproto_mime_free(c->inner);
    free(c->buf);
}

#endif
