/*
 * mime_build: build a MIME message without any network and write it to
 * stdout.  Shows the builder: addresses with non-ASCII display names, an
 * encoded subject, text + HTML alternatives, an inline image referenced by
 * Content-ID, and attachments read from files in constant memory.
 *
 *   mime_build [--attach FILE]... [--fixed] > message.eml
 *
 * --fixed injects a fixed clock and random source so the output is the same
 * on every run (what the tests do).
 */
#include <stdio.h>
#include <string.h>

#include <mailproto/mailproto.h>

static int write_stdout(void *ctx, const void *data, size_t len)
{
    (void)ctx;
    return fwrite(data, 1, len, stdout) == len ? MAILPROTO_OK : MAILPROTO_E_IO;
}

static int64_t fixed_clock(void *ctx, int *tz_minutes)
{
    (void)ctx;
    *tz_minutes = 60;
    return 1764460800;
}

static int fixed_random(void *ctx, void *buf, size_t n)
{
    unsigned *state = ctx;
    unsigned char *p = buf;
    for (size_t i = 0; i < n; i++) {
        *state = *state * 1103515245u + 12345u;
        p[i] = (unsigned char)(*state >> 16);
    }
    return MAILPROTO_OK;
}

static const unsigned char logo_png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

int main(int argc, char **argv)
{
    mailproto_mime *m = NULL;
    unsigned seed = 42;
    int rc = mailproto_mime_new(&m, NULL);
    for (int i = 1; rc == MAILPROTO_OK && i < argc; i++) {
        if (strcmp(argv[i], "--fixed") == 0) {
            mailproto_mime_set_clock(m, fixed_clock, NULL);
            mailproto_mime_set_random(m, fixed_random, &seed);
        } else if (strcmp(argv[i], "--attach") == 0 && i + 1 < argc) {
            rc = mailproto_mime_file(m, NULL, "application/octet-stream", NULL, argv[++i], NULL);
            if (rc != MAILPROTO_OK)
                fprintf(stderr, "mime_build: %s: %s\n", argv[i], mailproto_strerror(rc));
        } else if (strcmp(argv[i], "--help") == 0) {
            printf("usage: mime_build [--attach FILE]... [--fixed] > message.eml\n");
            mailproto_mime_free(m);
            return 0;
        } else {
            fprintf(stderr, "usage: mime_build [--attach FILE]... [--fixed]\n");
            mailproto_mime_free(m);
            return 2;
        }
    }
    if (rc == MAILPROTO_OK)
        rc = mailproto_mime_set_header(m, "From", "Zo\xc3\xab \xc3\x84rger <zoe@example.org>");
    if (rc == MAILPROTO_OK)
        rc = mailproto_mime_set_header(m, "To", "\"Smith, John\" <john@example.com>, ops@example.net");
    if (rc == MAILPROTO_OK)
        rc = mailproto_mime_set_subject(m, "Nightly report \xe2\x9c\x93 \xe2\x80\x94 caf\xc3\xa9 cr\xc3\xa8me");
    if (rc == MAILPROTO_OK)
        rc = mailproto_mime_add_text(m, "text/plain", "Hello,\nthe report is attached.\n");
    if (rc == MAILPROTO_OK)
        rc = mailproto_mime_add_text(m, "text/html",
                                     "<p>Hello,</p><p>the report is attached. <img src=\"cid:logo@example.org\"></p>\n");
    mailproto_mime_part *logo = NULL;
    if (rc == MAILPROTO_OK)
        rc = mailproto_mime_data(m, NULL, "image/png", NULL, logo_png, sizeof logo_png, &logo);
    if (rc == MAILPROTO_OK)
        rc = mailproto_mime_part_set_cid(logo, "logo@example.org");
    uint64_t size = 0;
    if (rc == MAILPROTO_OK)
        rc = mailproto_mime_size(m, &size); /* what SIZE= or an APPEND literal would announce */
    if (rc == MAILPROTO_OK) {
        mailproto_sink out = {write_stdout, NULL};
        rc = mailproto_mime_write(m, &out);
    }
    if (rc != MAILPROTO_OK) {
        fprintf(stderr, "mime_build: %s (%s)\n", mailproto_strerror(rc), mailproto_mime_last_error(m)->message);
        mailproto_mime_free(m);
        return 1;
    }
    fprintf(stderr, "mime_build: %llu bytes\n", (unsigned long long)size);
    mailproto_mime_free(m);
    return 0;
}
