/*
 * Benchmark (not a test): the libmailproto IMAP response parser beside
 * libetpan's mailimap parser, in one process, on the same bytes:
 *
 *  1. metadata: FETCH responses with UID, FLAGS, INTERNALDATE, RFC822.SIZE,
 *     ENVELOPE and BODYSTRUCTURE (libetpan builds its tree; we pull every
 *     event, and separately also build ENVELOPE and BODYSTRUCTURE into an
 *     arena);
 *  2. bodies: FETCH BODY[] with 1 MiB literals, against memcpy of the same
 *     bytes.
 *
 * Prints MB/s and the ratios.  Goal (reported, not asserted): >= 10x
 * libetpan on metadata, >= 0.5x memcpy on bodies.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libetpan/libetpan.h>
#include <mailproto/imap.h>

/* libetpan exports its parser entry point but does not install
 * mailimap_parser.h; this is its prototype in libetpan 1.9. */
int mailimap_response_parse(mailstream *fd, MMAPString *buffer, struct mailimap_parser_context *parser_ctx,
                            size_t *indx, struct mailimap_response **result, size_t progr_rate,
                            progress_function *progr_fun);

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct corpus {
    char *p;
    size_t len, cap;
} corpus;

static void add(corpus *c, const char *s, size_t n)
{
    if (c->len + n > c->cap) {
        c->cap = (c->len + n) * 2;
        c->p = realloc(c->p, c->cap);
        if (!c->p)
            exit(1);
    }
    memcpy(c->p + c->len, s, n);
    c->len += n;
}

static void metadata(corpus *c, int n)
{
    char line[4096];
    for (int i = 1; i <= n; i++) {
        int k = snprintf(
            line, sizeof line,
            "* %d FETCH (UID %d FLAGS (\\Seen $Label%d) INTERNALDATE \"%2d-Jul-2025 02:44:25 -0700\" "
            "RFC822.SIZE %d ENVELOPE (\"Wed, 17 Jul 2025 02:23:25 -0700 (PDT)\" \"Re: quarterly report #%d\" "
            "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((\"Terry Gray\" NIL \"gray\" "
            "\"cac.washington.edu\")) ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
            "((NIL NIL \"imap\" \"cac.washington.edu\")) ((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")"
            "(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) NIL \"<a%d@example.org>\" \"<B%d-0100000@cac.washington.edu>\") "
            "BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"quoted-printable\" 1200 40 NIL NIL NIL NIL)"
            "(\"application\" \"pdf\" (\"name\" \"report.pdf\") NIL NIL \"base64\" 44000 NIL (\"attachment\" "
            "(\"filename\" \"report.pdf\")) NIL NIL) \"mixed\" (\"boundary\" \"----=_Part_%d\") NIL NIL NIL))\r\n",
            i, 1000 + i, i % 7, 1 + i % 28, 40000 + i, i, i, i, i);
        add(c, line, (size_t)k);
    }
    add(c, "A1 OK FETCH completed\r\n", 23);
}

static void bodies(corpus *c, int n, size_t size)
{
    char head[128];
    char *body = malloc(size);
    for (size_t i = 0; i < size; i++)
        body[i] = (char)((i % 78 == 76) ? '\r' : (i % 78 == 77) ? '\n' : 'a' + (char)(i % 26));
    for (int i = 1; i <= n; i++) {
        int k = snprintf(head, sizeof head, "* %d FETCH (UID %d BODY[] {%zu}\r\n", i, i, size);
        add(c, head, (size_t)k);
        add(c, body, size);
        add(c, ")\r\n", 3);
    }
    add(c, "A1 OK FETCH completed\r\n", 23);
    free(body);
}

/* ---- libetpan ---- */

static ssize_t eof_read(mailstream_low *s, void *buf, size_t count)
{
    (void)s; (void)buf; (void)count;
    return 0;
}
static ssize_t eof_write(mailstream_low *s, const void *buf, size_t count)
{
    (void)s; (void)buf;
    return (ssize_t)count;
}
static int eof_close(mailstream_low *s)
{
    (void)s;
    return 0;
}
static int eof_fd(mailstream_low *s)
{
    (void)s;
    return -1;
}
static void eof_free(mailstream_low *s)
{
    free(s);
}
static void eof_cancel(mailstream_low *s)
{
    (void)s;
}
static mailstream_low_driver eof_driver = {
    .mailstream_read = eof_read, .mailstream_write = eof_write, .mailstream_close = eof_close,
    .mailstream_get_fd = eof_fd, .mailstream_free = eof_free, .mailstream_cancel = eof_cancel,
};

static double etpan_run(const corpus *c, int reps)
{
    mailimap *session = mailimap_new(0, NULL);
    struct mailimap_parser_context *ctx = mailimap_parser_context_new(session);
    mailstream *st = mailstream_new(mailstream_low_new(NULL, &eof_driver), 8192);
    MMAPString *buf = mmap_string_new_len(c->p, c->len);
    double t0 = now();
    for (int r = 0; r < reps; r++) {
        size_t indx = 0;
        struct mailimap_response *resp = NULL;
        int rc = mailimap_response_parse(st, buf, ctx, &indx, &resp, 0, NULL);
        if (rc != MAILIMAP_NO_ERROR || indx + 2 < c->len) { /* it leaves the final CRLF */
            fprintf(stderr, "libetpan parse failed: %d at %zu of %zu\n", rc, indx, c->len);
            exit(1);
        }
        mailimap_response_free(resp);
    }
    double dt = now() - t0;
    mmap_string_free(buf);
    mailstream_close(st);
    mailimap_parser_context_free(ctx);
    mailimap_free(session);
    return (double)c->len * reps / dt / 1e6;
}

/* ---- libmailproto ---- */

static unsigned char arena_space[1 << 16];

static double ours_run(const corpus *c, int reps, size_t bufsize, int build, uint64_t *sink_out)
{
    mailproto_imap_parser_config cfg = {.input_size = bufsize};
    mailproto_imap_parser *p;
    if (mailproto_imap_parser_new(&p, &cfg, NULL) != MAILPROTO_OK)
        exit(1);
    mailproto_imap_parser_set_authenticated(p, 1);
    uint64_t sink = 0;
    mailproto_arena arena;
    mailproto_mem mem;
    mailproto_imap_builder benv, bbody;
    double t0 = now();
    for (int r = 0; r < reps; r++) {
        mailproto_imap_parser_reset(p);
        size_t off = 0;
        for (;;) {
            const mailproto_imap_event *e;
            int rc = mailproto_imap_parser_next(p, &e);
            if (rc == MAILPROTO_EVENT) {
                sink += e->number + e->data.len;
                if (build) {
                    if (e->type == MAILPROTO_IMAP_EV_FETCH) {
                        mailproto_arena_init(&arena, arena_space, sizeof arena_space, &mem);
                        mailproto_imap_build_begin(&benv, &mem, MAILPROTO_IMAP_ITEM_ENVELOPE, 0);
                        mailproto_imap_build_begin(&bbody, &mem, MAILPROTO_IMAP_ITEM_BODYSTRUCTURE, 0);
                    } else if (e->item == MAILPROTO_IMAP_ITEM_ENVELOPE) {
                        if (mailproto_imap_build_feed(&benv, e) < 0)
                            exit(2);
                    } else if (e->item == MAILPROTO_IMAP_ITEM_BODYSTRUCTURE) {
                        if (mailproto_imap_build_feed(&bbody, e) < 0)
                            exit(2);
                    }
                }
                continue;
            }
            if (rc != MAILPROTO_AGAIN)
                break;
            if (off == c->len) {
                mailproto_imap_parser_eof(p);
                continue;
            }
            size_t used;
            mailproto_imap_parser_feed(p, c->p + off, c->len - off, &used);
            off += used;
        }
    }
    double dt = now() - t0;
    mailproto_imap_parser_free(p);
    *sink_out += sink;
    return (double)c->len * reps / dt / 1e6;
}

static double memcpy_run(const corpus *c, int reps)
{
    char *dst = malloc(c->len);
    double t0 = now();
    for (int r = 0; r < reps; r++) {
        memcpy(dst, c->p, c->len);
        __asm__ volatile("" : : "r"(dst) : "memory");
    }
    double dt = now() - t0;
    free(dst);
    return (double)c->len * reps / dt / 1e6;
}

/* memcpy in 4 KiB pieces into one 4 KiB buffer: what any parser that copies
 * input into a small buffer must at least do */
static double memcpy4k_run(const corpus *c, int reps)
{
    static char dst[4096];
    double t0 = now();
    for (int r = 0; r < reps; r++) {
        for (size_t off = 0; off < c->len; off += sizeof dst) {
            size_t k = c->len - off < sizeof dst ? c->len - off : sizeof dst;
            memcpy(dst, c->p + off, k);
            __asm__ volatile("" : : "r"(dst) : "memory");
        }
    }
    double dt = now() - t0;
    return (double)c->len * reps / dt / 1e6;
}

int main(int argc, char **argv)
{
    int scale = argc > 1 ? atoi(argv[1]) : 1;
    if (scale < 1)
        scale = 1;
    uint64_t sink = 0;
    corpus meta = {0}, body = {0};
    metadata(&meta, 2000);
    bodies(&body, 64, 1u << 20);

    printf("IMAP response parsing, one process, same bytes\n");
    printf("metadata corpus: %zu FETCH responses (UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE), "
           "%.1f MB\n", (size_t)2000, meta.len / 1e6);
    int reps = 20 * scale;
    double etpan = etpan_run(&meta, reps);
    double ours = ours_run(&meta, reps * 5, 4096, 0, &sink);
    double ours_b = ours_run(&meta, reps * 5, 4096, 1, &sink);
    printf("  libetpan mailimap_response_parse:       %8.1f MB/s\n", etpan);
    printf("  libmailproto events (4 KiB buffer):     %8.1f MB/s   ratio %.1fx\n", ours, ours / etpan);
    printf("  libmailproto events + arena builder:    %8.1f MB/s   ratio %.1fx\n", ours_b, ours_b / etpan);
    printf("body corpus: 64 x BODY[] {1 MiB}, %.1f MB\n", body.len / 1e6);
    reps = 5 * scale;
    double mc = memcpy_run(&body, reps);
    double mc4 = memcpy4k_run(&body, reps);
    double etpan_b = etpan_run(&body, reps);
    double ours_4k = ours_run(&body, reps, 4096, 0, &sink);
    double ours_64k = ours_run(&body, reps, 65536, 0, &sink);
    printf("  memcpy of the same bytes:               %8.1f MB/s\n", mc);
    printf("  memcpy in 4 KiB pieces (4 KiB target):  %8.1f MB/s\n", mc4);
    printf("  libetpan mailimap_response_parse:       %8.1f MB/s   (%.2fx memcpy)\n", etpan_b, etpan_b / mc);
    printf("  libmailproto, 4 KiB buffer (feed):      %8.1f MB/s   (%.2fx memcpy, %.1fx libetpan)\n", ours_4k,
           ours_4k / mc, ours_4k / etpan_b);
    printf("  libmailproto, 64 KiB buffer (feed):     %8.1f MB/s   (%.2fx memcpy, %.1fx libetpan)\n", ours_64k,
           ours_64k / mc, ours_64k / etpan_b);
    printf("goal: >= 10x libetpan on metadata: %s (%.1fx); >= 0.5x memcpy on bodies: %s (%.2fx of memcpy, "
           "%.2fx of 4 KiB-piece memcpy)\n",
           ours / etpan >= 10 ? "met" : "NOT met", ours / etpan, ours_4k / mc >= 0.5 ? "met" : "NOT met",
           ours_4k / mc, ours_4k / mc4);
    if (sink == 42)
        printf("\n");
    free(meta.p);
    free(body.p);
    return 0;
}
