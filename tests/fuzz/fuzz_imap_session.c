/*
 * Fuzz target: the IMAP client session (engine mode) against arbitrary
 * server bytes.  Byte 0 picks the security mode and credentials, byte 1 the
 * size of the pieces the rest is fed in.  After the session is ready the
 * client queues SELECT, FETCH (body to a sink), SEARCH, APPEND, IDLE.
 *
 * Invariants (abort on violation): no credential byte leaves before TLS
 * unless plain text was allowed; no allocation after the handle was made;
 * everything is freed.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mailproto/imap.h>

typedef struct fz_alloc {
    size_t live, count;
} fz_alloc;

static void *fz_malloc(void *ctx, size_t n)
{
    fz_alloc *a = ctx;
    a->count++;
    a->live += n;
    return malloc(n);
}

static void fz_free(void *ctx, void *p, size_t n)
{
    fz_alloc *a = ctx;
    if (p)
        a->live -= n;
    free(p);
}

static int fz_random(void *ctx, void *buf, size_t n)
{
    (void)ctx;
    memset(buf, 7, n);
    return MAILPROTO_OK;
}

static int fz_sink(void *ctx, const void *d, size_t n)
{
    (void)d;
    *(uint64_t *)ctx += n;
    return MAILPROTO_OK;
}

#define SECRET "Zx9-secret-Qw"

typedef struct fz {
    mailproto_imap *h;
    int secure;
    int plain_ok;
    int queued;
    uint64_t now;
    uint64_t body;
    mailproto_sink sink;
    mailproto_source src;
    mailproto_imap_uidset set;
    mailproto_imap_range ranges[4];
} fz;

static void pump(fz *f)
{
    for (int guard = 0; guard < 10000; guard++) {
        const mailproto_imap_event *ev;
        int rc = mailproto_imap_next(f->h, f->now, &ev);
        if (rc == MAILPROTO_EVENT) {
            if (ev->type == MAILPROTO_IMAP_EV_STARTTLS) {
                mailproto_imap_tls_ready(f->h);
                f->secure = 1;
            } else if (ev->type == MAILPROTO_IMAP_EV_READY && !f->queued) {
                f->queued = 1;
                mailproto_imap_range r = {1, 0};
                mailproto_imap_select(f->h, "INBOX", 0);
                mailproto_imap_fetch_set(f->h, 1, &r, 1, "(UID FLAGS BODY.PEEK[])", 0, 0, &f->sink);
                mailproto_imap_search(f->h, 1, NULL, MAILPROTO_IMAP_RETURN_ALL, &f->set);
                mailproto_imap_append(f->h, "Sent", "\\Seen", 0, 0, &f->src);
                mailproto_imap_idle(f->h);
            }
            continue;
        }
        const unsigned char *p;
        size_t n = 0;
        if (mailproto_imap_output_buf(f->h, &p, &n) != MAILPROTO_OK || n == 0)
            return;
        if (!f->secure && !f->plain_ok && n >= sizeof SECRET - 1) {
            for (size_t i = 0; i + sizeof SECRET - 1 <= n; i++)
                if (!memcmp(p + i, SECRET, sizeof SECRET - 1))
                    abort();
        }
        mailproto_imap_output_done(f->h, n);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    fz f;
    memset(&f, 0, sizeof f);
    mailproto_imap_config c;
    memset(&c, 0, sizeof c);
    c.security = 1 + data[0] % 3;
    c.username = "user";
    c.password = SECRET;
    c.allow_plaintext_auth = (data[0] >> 2) & 1;
    c.auth_mech = (data[0] >> 3) % 8;
    c.random = fz_random;
    c.in_buf_size = 512;
    f.plain_ok = c.allow_plaintext_auth;
    size_t piece = 1 + data[1] % 64;
    data += 2;
    size -= 2;
    fz_alloc a = {0, 0};
    mailproto_mem mem = {&a, fz_malloc, NULL, fz_free};
    if (mailproto_imap_new(&f.h, &c, &mem) != MAILPROTO_OK)
        return 0;
    size_t allocs = a.count;
    f.sink.write = fz_sink;
    f.sink.ctx = &f.body;
    mailproto_source_mem(&f.src, "Subject: x\r\n\r\nbody\r\n", 20);
    f.set.ranges = f.ranges;
    f.set.cap = 4;
    mailproto_imap_start(f.h);
    pump(&f);
    while (size) {
        unsigned char *b;
        size_t cap = 0;
        if (mailproto_imap_input_buf(f.h, &b, &cap) != MAILPROTO_OK)
            break;
        if (cap == 0) {
            pump(&f);
            if (mailproto_imap_input_buf(f.h, &b, &cap) != MAILPROTO_OK || cap == 0)
                break;
        }
        size_t n = size < piece ? size : piece;
        if (n > cap)
            n = cap;
        memcpy(b, data, n);
        mailproto_imap_input_done(f.h, n);
        data += n;
        size -= n;
        f.now += 1000;
        pump(&f);
    }
    mailproto_imap_input_done(f.h, 0);
    pump(&f);
    if (a.count != allocs)
        abort();
    mailproto_imap_free(f.h);
    if (a.live != 0)
        abort();
    return 0;
}
