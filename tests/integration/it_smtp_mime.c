/*
 * Integration: a MIME message (text, HTML alternative, non-ASCII subject,
 * two attachments, one of 5 MiB) sent through Postfix submission with
 * STARTTLS + AUTH and with implicit TLS, then read back from the maildir
 * Dovecot delivered it to and checked with the MIME reader: the message
 * byte for byte after the servers' trace headers, the attachments decoded
 * back to their bytes, the subject decoded back to its text.
 * Public API only.  Run through tests/servers/with-servers.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "it_util.h"

#define BIG_SIZE ((size_t)5 << 20)
#define SMALL_SIZE ((size_t)23456)

static const char subject[] =
    "Pr\xc3\xbc" "fbericht \xe2\x9c\x93 \xe2\x80\x94 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e, "
    "\xc3\xa9t\xc3\xa9 2026 (integration test with a subject long enough to be folded)";
static const char text_body[] = "Hello Bob,\r\n\r\nthe report is attached.\r\n"
                                "Gr\xc3\xbc\xc3\x9f" "e, Alice\r\n";
static const char html_body[] = "<html><body><p>Hello <b>Bob</b>,</p>"
                                "<p>the report is attached.</p>"
                                "<p>Gr\xc3\xbc\xc3\x9f" "e, Alice</p></body></html>\r\n";
static const char big_name[] = "messdaten-gro\xc3\x9f.bin";
static const char small_name[] = "r\xc3\xa9sum\xc3\xa9 (v2).pdf";

static unsigned char *big, *small;

/* Build the message and render it into *sent. */
static int build(mailproto_mime **out, const char *msgid, mailproto_source *big_src,
                 mailproto_source *small_src, it_buf *sent)
{
    mailproto_mime *m = NULL;
    int rc = mailproto_mime_new(&m, NULL);
    IT_CHECK(rc == MAILPROTO_OK, "mime_new: %s", mailproto_errname(rc));
    if (rc != MAILPROTO_OK)
        return rc;
    *out = m;
    rc = mailproto_mime_add_address(m, "From", "Alice Example", it_env("USER1"));
    if (rc == MAILPROTO_OK)
        rc = mailproto_mime_add_address(m, "To", "B\xc3\xb6" "b", it_env("USER2"));
    if (rc == MAILPROTO_OK)
        rc = mailproto_mime_set_subject(m, subject);
    if (rc == MAILPROTO_OK)
        rc = mailproto_mime_set_header(m, "Message-ID", msgid);
    if (rc == MAILPROTO_OK)
        rc = mailproto_mime_add_text(m, "text/plain", text_body);
    if (rc == MAILPROTO_OK)
        rc = mailproto_mime_add_text(m, "text/html", html_body);
    mailproto_source_mem(big_src, big, BIG_SIZE);
    mailproto_source_mem(small_src, small, SMALL_SIZE);
    if (rc == MAILPROTO_OK)
        rc = mailproto_mime_add_source(m, "application/octet-stream", big_name, big_src);
    if (rc == MAILPROTO_OK)
        rc = mailproto_mime_add_source(m, "application/pdf", small_name, small_src);
    IT_CHECK(rc == MAILPROTO_OK, "building: %s %s", mailproto_errname(rc),
             mailproto_mime_last_error(m)->message);
    if (rc != MAILPROTO_OK)
        return rc;
    sent->len = 0;
    mailproto_sink sink = it_buf_sink(sent);
    rc = mailproto_mime_write(m, &sink);
    IT_CHECK(rc == MAILPROTO_OK, "mime_write: %s", mailproto_errname(rc));
    uint64_t size = 0;
    int rc2 = mailproto_mime_size(m, &size);
    IT_CHECK(rc2 == MAILPROTO_OK && size == sent->len, "size %llu vs written %zu",
             (unsigned long long)size, sent->len);
    IT_CHECK(mailproto_mime_needs(m) == 0, "7-bit output needs nothing, got %u",
             mailproto_mime_needs(m));
    return rc;
}

/* Is every header line before the sent message a trace header the servers
 * add (Return-Path, Delivered-To, Received, with continuations)? */
static int only_trace_headers(const unsigned char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        const unsigned char *eol = memchr(p + i, '\n', n - i);
        if (!eol)
            return 0;
        size_t l = (size_t)(eol - (p + i)) + 1;
        int ok = p[i] == ' ' || p[i] == '\t' || (l > 12 && !strncasecmp((const char *)p + i, "Return-Path:", 12)) ||
                 (l > 13 && !strncasecmp((const char *)p + i, "Delivered-To:", 13)) ||
                 (l > 9 && !strncasecmp((const char *)p + i, "Received:", 9));
        if (!ok) {
            fprintf(stderr, "unexpected header: %.*s\n", (int)l, p + i);
            return 0;
        }
        i += l;
    }
    return 1;
}

static const mailproto_mime_info *part_by_name(const mailproto_mime_reader *r, const char *name,
                                               size_t *idx)
{
    for (size_t i = 0; i < mailproto_mime_reader_count(r); i++) {
        const mailproto_mime_info *p = mailproto_mime_reader_part(r, i);
        if (!strcmp(p->filename, name)) {
            *idx = i;
            return p;
        }
    }
    return NULL;
}

static const mailproto_mime_info *part_by_type(const mailproto_mime_reader *r, const char *type,
                                               size_t *idx)
{
    for (size_t i = 0; i < mailproto_mime_reader_count(r); i++) {
        const mailproto_mime_info *p = mailproto_mime_reader_part(r, i);
        if (!strcmp(p->type, type) && !p->filename[0]) {
            *idx = i;
            return p;
        }
    }
    return NULL;
}

static void check_decoded(const mailproto_mime_reader *r, const it_buf *msg, size_t idx,
                          const void *want, size_t want_len, const char *what)
{
    it_buf got = {0};
    mailproto_sink sink = it_buf_sink(&got);
    int rc = mailproto_mime_reader_decode(r, idx, msg->data, msg->len, 0, &sink);
    IT_CHECK(rc == MAILPROTO_OK, "%s: decode %s", what, mailproto_errname(rc));
    IT_CHECK(got.len == want_len && memcmp(got.data, want, want_len) == 0,
             "%s: decoded %zu bytes, want %zu (%s)", what, got.len, want_len,
             got.len == want_len ? "content differs" : "size differs");
    it_buf_free(&got);
}

/* Read the delivered copy back and check it against what was sent. */
static void verify(const char *msgid, const it_buf *sent, const char *how)
{
    it_buf file = {0}, msg = {0};
    int found = it_find_delivered(it_local(it_env("USER2")), msgid, 30000, &file);
    IT_CHECK(found == 0, "%s: message %s not delivered within 30 s", how, msgid);
    if (found != 0)
        return;
    it_lf_to_crlf(&file, &msg);
    it_log("%s: delivered %zu bytes (%zu as CRLF), sent %zu", how, file.len, msg.len, sent->len);
    int tail_ok = msg.len >= sent->len &&
                  memcmp(msg.data + msg.len - sent->len, sent->data, sent->len) == 0;
    IT_CHECK(tail_ok, "%s: the delivered message does not end with the sent bytes", how);
    if (tail_ok)
        IT_CHECK(only_trace_headers(msg.data, msg.len - sent->len),
                 "%s: the servers added more than trace headers", how);

    mailproto_mime_reader *r = NULL;
    int rc = mailproto_mime_reader_new(&r, NULL, NULL);
    /* the file as stored (LF line ends), fed in pieces of 4093 bytes */
    for (size_t off = 0; rc == MAILPROTO_OK && off < file.len; off += 4093)
        rc = mailproto_mime_reader_feed(r, file.data + off, file.len - off < 4093 ? file.len - off : 4093);
    if (rc == MAILPROTO_OK)
        rc = mailproto_mime_reader_finish(r);
    IT_CHECK(rc == MAILPROTO_OK, "%s: reader %s", how, mailproto_errname(rc));
    if (rc == MAILPROTO_OK) {
        const char *subj = mailproto_mime_reader_header(r, "Subject");
        IT_CHECK(!strcmp(subj, subject), "%s: subject decoded as \"%s\"", how, subj);
        IT_CHECK(!strcmp(mailproto_mime_reader_header(r, "Message-ID"), msgid), "%s: Message-ID",
                 how);
        const mailproto_mime_address *from;
        size_t n = 0;
        rc = mailproto_mime_reader_addresses(r, "From", &from, &n);
        IT_CHECK(rc == MAILPROTO_OK && n == 1 && !strcmp(from[0].address, it_env("USER1")) &&
                     !strcmp(from[0].name, "Alice Example"),
                 "%s: From", how);
        const mailproto_mime_info *root = mailproto_mime_reader_part(r, 0);
        IT_CHECK(root && !strcmp(root->type, "multipart/mixed") && root->n_children == 3,
                 "%s: top level %s with %zu children", how, root ? root->type : "-",
                 root ? root->n_children : 0);
        size_t i;
        const mailproto_mime_info *p = part_by_type(r, "multipart/alternative", &i);
        IT_CHECK(p && p->n_children == 2, "%s: multipart/alternative with text and HTML", how);
        /* text parts decode to UTF-8 with the line ends as stored (LF) */
        const mailproto_mime_info *tp = part_by_type(r, "text/plain", &i);
        IT_CHECK(tp != NULL, "%s: text/plain part", how);
        if (tp) {
            IT_CHECK(!strcmp(tp->charset, "utf-8"), "%s: text charset %s", how, tp->charset);
            it_buf t = {0}, want = {0};
            for (const char *s = text_body; *s; s++)
                if (*s != '\r')
                    it_buf_add(&want, s, 1);
            check_decoded(r, &file, i, want.data, want.len, "text/plain");
            it_buf_free(&t);
            it_buf_free(&want);
        }
        const mailproto_mime_info *hp = part_by_type(r, "text/html", &i);
        IT_CHECK(hp != NULL, "%s: text/html part", how);
        if (hp) {
            it_buf want = {0};
            for (const char *s = html_body; *s; s++)
                if (*s != '\r')
                    it_buf_add(&want, s, 1);
            check_decoded(r, &file, i, want.data, want.len, "text/html");
            it_buf_free(&want);
        }
        p = part_by_name(r, big_name, &i);
        IT_CHECK(p && !strcmp(p->disposition, "attachment") && !strcmp(p->encoding, "base64"),
                 "%s: 5 MiB attachment by its decoded name", how);
        if (p)
            check_decoded(r, &file, i, big, BIG_SIZE, big_name);
        p = part_by_name(r, small_name, &i);
        IT_CHECK(p && !strcmp(p->type, "application/pdf"), "%s: second attachment", how);
        if (p)
            check_decoded(r, &file, i, small, SMALL_SIZE, small_name);
    }
    mailproto_mime_reader_free(r);
    it_buf_free(&file);
    it_buf_free(&msg);
}

static void send_one(int implicit_tls)
{
    const char *how = implicit_tls ? "implicit TLS" : "STARTTLS";
    char msgid[200];
    it_message_id(msgid, sizeof msgid, implicit_tls ? "mime-tls" : "mime-starttls");
    mailproto_source big_src, small_src;
    mailproto_mime *m = NULL;
    it_buf sent = {0};
    if (build(&m, msgid, &big_src, &small_src, &sent) != MAILPROTO_OK) {
        mailproto_mime_free(m);
        it_buf_free(&sent);
        return;
    }
    mailproto_smtp_config cfg = it_smtp_config(implicit_tls, it_env("USER1"), it_env("PASS1"));
    mailproto_smtp *s = NULL;
    int rc = mailproto_smtp_new(&s, &cfg, NULL);
    if (rc == MAILPROTO_OK)
        rc = mailproto_smtp_connect(s);
    IT_CHECK(rc == MAILPROTO_OK, "%s: connect %s (%s)", how, mailproto_errname(rc),
             mailproto_smtp_last_reply(s)->message);
    if (rc == MAILPROTO_OK) {
        unsigned caps = mailproto_smtp_caps(s);
        IT_CHECK(mailproto_smtp_is_secure(s), "%s: session not secure", how);
        IT_CHECK((caps & MAILPROTO_SMTP_CAP_SIZE) && (caps & MAILPROTO_SMTP_CAP_PIPELINING) &&
                     (caps & MAILPROTO_SMTP_CAP_CHUNKING) && (caps & MAILPROTO_SMTP_CAP_8BITMIME) &&
                     (caps & MAILPROTO_SMTP_CAP_ENHANCEDSTATUSCODES) && (caps & MAILPROTO_SMTP_CAP_DSN),
                 "%s: capabilities 0x%x", how, caps);
        IT_CHECK(mailproto_smtp_size_limit(s) == 52428800u, "%s: SIZE %llu", how,
                 (unsigned long long)mailproto_smtp_size_limit(s));
        const char *rcpt[] = {it_env("USER2")};
        mailproto_envelope env;
        memset(&env, 0, sizeof env);
        env.from = it_env("USER1");
        env.rcpt = rcpt;
        env.n_rcpt = 1;
        mailproto_mime_size(m, &env.size);
        mailproto_smtp_result res;
        uint64_t t0 = mailproto_clock_monotonic_ms(NULL);
        rc = mailproto_smtp_send(s, &env, mailproto_mime_source(m), &res);
        it_log("%s: %llu bytes sent in %llu ms", how, (unsigned long long)env.size,
               (unsigned long long)(mailproto_clock_monotonic_ms(NULL) - t0));
        IT_CHECK(rc == MAILPROTO_OK, "%s: send %s (%d %s %s)", how, mailproto_errname(rc),
                 mailproto_smtp_last_reply(s)->code, mailproto_smtp_last_reply(s)->enhanced,
                 mailproto_smtp_last_reply(s)->text);
        if (rc == MAILPROTO_OK) {
            IT_CHECK(res.n_accepted == 1 && res.n_rejected == 0 && res.data_complete == 1,
                     "%s: result %zu accepted %zu rejected", how, res.n_accepted, res.n_rejected);
            IT_CHECK(res.code == 250 && !strncmp(res.enhanced, "2.", 2), "%s: end of data %d %s",
                     how, res.code, res.enhanced);
        }
        IT_CHECK(mailproto_smtp_quit(s) == MAILPROTO_OK, "%s: quit", how);
    }
    mailproto_smtp_free(s);
    if (rc == MAILPROTO_OK)
        verify(msgid, &sent, how);
    mailproto_mime_free(m);
    it_buf_free(&sent);
}

int main(void)
{
    it_require_stack();
    big = malloc(BIG_SIZE);
    small = malloc(SMALL_SIZE);
    if (!big || !small)
        return 1;
    it_fill(big, BIG_SIZE, 0x5eed);
    it_fill(small, SMALL_SIZE, 0xc0ffee);
    memcpy(small, "%PDF-1.4\n", 9);
    send_one(0);
    send_one(1);
    free(big);
    free(small);
    return it_done("smtp-mime");
}
