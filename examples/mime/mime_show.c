/*
 * mime_show: parse a message with the MIME reader and print it decoded.
 *
 *   mime_show FILE|-
 *
 * Prints the decoded Subject, From, To and Date, then one line per part:
 * its number, content type, charset, disposition, file name and decoded
 * size, and the first lines of each text part.  Exit 0, 1 on a read or
 * parse error, 2 usage.  No network: this is the MIME reader alone.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mailproto/mailproto.h>

#define MAX_MESSAGE ((size_t)512 << 20)
#define TEXT_SHOWN 400 /* bytes of each text part printed */

typedef struct count_sink {
    uint64_t n;
    char text[TEXT_SHOWN + 1];
    size_t text_len;
} count_sink;

static int count_write(void *ctx, const void *data, size_t len)
{
    count_sink *c = ctx;
    c->n += len;
    size_t room = TEXT_SHOWN - c->text_len;
    size_t k = len < room ? len : room;
    memcpy(c->text + c->text_len, data, k);
    c->text_len += k;
    return MAILPROTO_OK;
}

static int read_file(const char *path, unsigned char **out, size_t *len)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        fprintf(stderr, "mime_show: %s: %s\n", path, strerror(errno));
        return -1;
    }
    unsigned char *buf = NULL;
    size_t cap = 0, n = 0;
    int bad = 0;
    for (;;) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 1u << 16;
            unsigned char *nb = ncap <= MAX_MESSAGE ? realloc(buf, ncap) : NULL;
            if (!nb) {
                fprintf(stderr, "mime_show: %s: too large or out of memory\n", path);
                bad = 1;
                break;
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            bad = ferror(f) != 0;
            break;
        }
    }
    if (f != stdin)
        fclose(f);
    if (bad) {
        free(buf);
        return -1;
    }
    *out = buf;
    *len = n;
    return 0;
}

/* Print up to a few lines of decoded text, indented; controls shown as '.'. */
static void show_text(const char *t, size_t len, int indent)
{
    int lines = 0;
    size_t i = 0;
    while (i < len && lines < 6) {
        size_t e = i;
        while (e < len && t[e] != '\n')
            e++;
        size_t l = e - i;
        if (l && t[i + l - 1] == '\r')
            l--;
        printf("%*s| ", indent, "");
        for (size_t k = 0; k < l; k++) {
            unsigned char c = (unsigned char)t[i + k];
            putchar(c < 0x20 || c == 0x7f ? '.' : c);
        }
        putchar('\n');
        lines++;
        i = e + 1;
    }
}

int main(int argc, char **argv)
{
    if (argc != 2 || !strcmp(argv[1], "--help")) {
        fprintf(argc == 2 ? stdout : stderr, "usage: mime_show FILE|-\n");
        return argc == 2 ? 0 : 2;
    }
    unsigned char *msg = NULL;
    size_t len = 0;
    if (read_file(argv[1], &msg, &len) != 0)
        return 1;
    mailproto_mime_reader *r = NULL;
    int rc = mailproto_mime_reader_new(&r, NULL, NULL);
    if (rc == MAILPROTO_OK)
        rc = mailproto_mime_reader_parse(r, msg, len);
    if (rc != MAILPROTO_OK) {
        fprintf(stderr, "mime_show: %s: %s\n", argv[1], mailproto_strerror(rc));
        mailproto_mime_reader_free(r);
        free(msg);
        return 1;
    }
    static const char *const hdrs[] = {"Subject", "From", "To", "Cc", "Date", "Message-ID"};
    for (size_t i = 0; i < sizeof hdrs / sizeof hdrs[0]; i++) {
        const char *v = mailproto_mime_reader_header(r, hdrs[i]);
        if (v[0])
            printf("%s: %s\n", hdrs[i], v);
    }
    size_t n = mailproto_mime_reader_count(r);
    printf("Parts: %zu\n", n);
    int status = 0;
    for (size_t i = 0; i < n; i++) {
        const mailproto_mime_info *p = mailproto_mime_reader_part(r, i);
        int indent = 2 + 2 * (int)p->depth;
        printf("%*s[%zu] %s", indent, "", i, p->type);
        if (p->charset[0])
            printf("; charset=%s", p->charset);
        if (p->multipart) {
            printf(" (%zu parts)\n", p->n_children);
            continue;
        }
        count_sink c;
        memset(&c, 0, sizeof c);
        const mailproto_sink sink = {count_write, &c};
        rc = mailproto_mime_reader_decode(r, i, msg, len, 0, &sink);
        if (rc == MAILPROTO_E_UNSUPPORTED) /* a charset this build cannot convert */
            rc = mailproto_mime_reader_decode(r, i, msg, len, MAILPROTO_MIME_DECODE_RAW, &sink);
        if (p->disposition[0])
            printf(" %s", p->disposition);
        if (p->filename[0])
            printf(" \"%s\"", p->filename);
        if (p->content_id[0])
            printf(" cid:%s", p->content_id);
        if (rc != MAILPROTO_OK) {
            printf(" (cannot decode: %s)\n", mailproto_strerror(rc));
            status = 1;
            continue;
        }
        printf(", %llu bytes%s\n", (unsigned long long)c.n, p->truncated ? " (truncated)" : "");
        if (!strncmp(p->type, "text/", 5) && strcmp(p->disposition, "attachment") != 0)
            show_text(c.text, c.text_len, indent + 4);
    }
    mailproto_mime_reader_free(r);
    free(msg);
    return status;
}
