/*
 * bench_mime: libmailproto's MIME builder beside GMime 3 (not a test).
 * Both build the same message (text/plain + text/html alternative, a 1 MiB
 * and a 10 MiB binary attachment, base64) and serialize it with CRLF line
 * ends into a counting sink, ITER times.  Each library runs in its own
 * child process so that its peak RSS is measured alone.  A third run has
 * libmailproto pull the attachments from generating sources, to show that
 * its memory does not depend on the attachment sizes.
 *
 *   bench_mime [ITER]
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gmime/gmime.h>
#include <mailproto/mime.h>

#define SMALL (1u << 20)
#define BIG (10u << 20)

static const char text[] = "Hello,\nthe nightly report is attached.\n\nRegards\n";
static const char html[] = "<html><body><p>Hello,</p><p>the nightly report is attached.</p></body></html>\n";

static unsigned char *att_small, *att_big;

static void make_data(void)
{
    att_small = malloc(SMALL);
    att_big = malloc(BIG);
    uint32_t s = 12345;
    for (size_t i = 0; i < BIG; i++) {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        if (i < SMALL)
            att_small[i] = (unsigned char)(s >> 24);
        att_big[i] = (unsigned char)s;
    }
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- libmailproto ---- */

static int count_sink(void *ctx, const void *d, size_t n)
{
    (void)d;
    *(uint64_t *)ctx += n;
    return 0;
}

typedef struct gen {
    mailproto_source src;
    uint32_t seed, state;
    uint64_t len, pos;
} gen;

static int gen_read(void *ctx, void *buf, size_t cap, size_t *got)
{
    gen *g = ctx;
    unsigned char *p = buf;
    size_t n = 0;
    while (n < cap && g->pos < g->len) {
        g->state ^= g->state << 13;
        g->state ^= g->state >> 17;
        g->state ^= g->state << 5;
        p[n++] = (unsigned char)g->state;
        g->pos++;
    }
    *got = n;
    return 0;
}

static int gen_rewind(void *ctx)
{
    gen *g = ctx;
    g->state = g->seed;
    g->pos = 0;
    return 0;
}

static uint64_t run_mailproto(int streamed)
{
    mailproto_mime *m = NULL;
    mailproto_source s1, s2;
    gen g1 = {{gen_read, gen_rewind, NULL, SMALL, NULL, 0, 0}, 1, 1, SMALL, 0};
    gen g2 = {{gen_read, gen_rewind, NULL, BIG, NULL, 0, 0}, 2, 2, BIG, 0};
    g1.src.ctx = &g1;
    g2.src.ctx = &g2;
    mailproto_source_mem(&s1, att_small, SMALL);
    mailproto_source_mem(&s2, att_big, BIG);
    mailproto_mime_part *p1 = NULL, *p2 = NULL;
    if (mailproto_mime_new(&m, NULL) || mailproto_mime_set_header(m, "From", "Zo\xc3\xab <zoe@example.org>") ||
        mailproto_mime_set_header(m, "To", "to@example.com") ||
        mailproto_mime_set_subject(m, "Nightly report \xe2\x9c\x93") ||
        mailproto_mime_add_text(m, "text/plain", text) || mailproto_mime_add_text(m, "text/html", html) ||
        mailproto_mime_source_part(m, NULL, "application/octet-stream", "small.bin",
                                   streamed ? &g1.src : &s1, &p1) ||
        mailproto_mime_source_part(m, NULL, "application/octet-stream", "big.bin",
                                   streamed ? &g2.src : &s2, &p2))
        exit(1);
    /* declared, as GMime is told, so neither library scans the attachments */
    mailproto_mime_part_set_encoding(p1, MAILPROTO_CTE_BASE64);
    mailproto_mime_part_set_encoding(p2, MAILPROTO_CTE_BASE64);
    uint64_t n = 0;
    mailproto_sink sink = {count_sink, &n};
    if (mailproto_mime_write(m, &sink))
        exit(1);
    mailproto_mime_free(m);
    return n;
}

/* ---- GMime ---- */

static GMimeObject *gm_attachment(const char *name, unsigned char *data, size_t len)
{
    GMimePart *p = g_mime_part_new_with_type("application", "octet-stream");
    GByteArray *ba = g_byte_array_new_take(data, len);
    GMimeStream *st = g_mime_stream_mem_new_with_byte_array(ba);
    g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(st), FALSE);
    GMimeDataWrapper *dw = g_mime_data_wrapper_new_with_stream(st, GMIME_CONTENT_ENCODING_DEFAULT);
    g_mime_part_set_content(p, dw);
    g_mime_part_set_content_encoding(p, GMIME_CONTENT_ENCODING_BASE64);
    g_mime_part_set_filename(p, name);
    g_object_unref(dw);
    g_object_unref(st);
    return (GMimeObject *)p;
}

static uint64_t run_gmime(void)
{
    GMimeMessage *msg = g_mime_message_new(TRUE);
    g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_FROM, "Zo\xc3\xab", "zoe@example.org");
    g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_TO, NULL, "to@example.com");
    g_mime_message_set_subject(msg, "Nightly report \xe2\x9c\x93", "utf-8");
    GMimeMultipart *mixed = g_mime_multipart_new_with_subtype("mixed");
    GMimeMultipart *alt = g_mime_multipart_new_with_subtype("alternative");
    GMimeTextPart *t = g_mime_text_part_new_with_subtype("plain");
    g_mime_text_part_set_text(t, text);
    GMimeTextPart *h = g_mime_text_part_new_with_subtype("html");
    g_mime_text_part_set_text(h, html);
    g_mime_multipart_add(alt, (GMimeObject *)t);
    g_mime_multipart_add(alt, (GMimeObject *)h);
    g_mime_multipart_add(mixed, (GMimeObject *)alt);
    GMimeObject *a1 = gm_attachment("small.bin", att_small, SMALL);
    GMimeObject *a2 = gm_attachment("big.bin", att_big, BIG);
    g_mime_multipart_add(mixed, a1);
    g_mime_multipart_add(mixed, a2);
    g_mime_message_set_mime_part(msg, (GMimeObject *)mixed);
    GMimeStream *null = g_mime_stream_null_new();
    GMimeFormatOptions *fo = g_mime_format_options_new();
    g_mime_format_options_set_newline_format(fo, GMIME_NEWLINE_FORMAT_DOS);
    g_mime_object_write_to_stream((GMimeObject *)msg, fo, null);
    uint64_t n = GMIME_STREAM_NULL(null)->written;
    g_mime_format_options_free(fo);
    g_object_unref(null);
    g_object_unref(t);
    g_object_unref(h);
    g_object_unref(alt);
    g_object_unref(a1);
    g_object_unref(a2);
    g_object_unref(mixed);
    g_object_unref(msg);
    return n;
}

static void child(int which, int iter)
{
    if (which != 2)
        make_data();
    if (which == 1)
        g_mime_init();
    uint64_t bytes = 0;
    double t0 = now();
    for (int i = 0; i < iter; i++)
        bytes += which == 1 ? run_gmime() : run_mailproto(which == 2);
    double dt = now() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    static const char *const names[] = {"libmailproto (attachments in memory)", "GMime 3 (attachments in memory)",
                                        "libmailproto (attachments streamed)"};
    printf("%-40s %8.1f MB/s  %6.2f MB per message  peak RSS %7.1f MiB\n", names[which],
           bytes / dt / 1e6, bytes / (double)iter / 1e6, ru.ru_maxrss / 1024.0);
    fflush(stdout);
    exit(0);
}

int main(int argc, char **argv)
{
    int iter = argc > 1 ? atoi(argv[1]) : 5;
    if (iter < 1)
        iter = 1;
    printf("building + serializing text, HTML, 1 MiB and 10 MiB attachments (base64, CRLF), %d times\n", iter);
    fflush(stdout);
    for (int which = 0; which < 3; which++) {
        pid_t pid = fork();
        if (pid == 0)
            child(which, iter);
        int st;
        waitpid(pid, &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "bench_mime: run %d failed\n", which);
            return 1;
        }
    }
    return 0;
}
