/* Fuzz target: the whole SMTP engine against hostile server bytes.  The
 * first byte picks the security mode, AUTH, pipelining and a split size;
 * the rest is what the server says.  Invariants: no crash, no output
 * beyond the buffers, every command line ends in CRLF, the password never
 * (no AUTH at all) leaves before TLS unless plaintext auth was allowed, at most one end of
 * data, and the engine settles (no busy loop). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int contains(const unsigned char *p, size_t n, const char *s)
{
    size_t k = strlen(s);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(p + i, s, k) == 0)
            return 1;
    return 0;
}

static int fixed_random(void *ctx, void *buf, size_t n)
{
    (void)ctx;
    memset(buf, 0x41, n);
    return MAILPROTO_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    data++;
    size--;
    static unsigned char in[2048], out[1024], work[4096];
    static mailproto_smtp_rcpt rcpt[4];
    mailproto_smtp_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.security = (flags & 3) == 0 ? MAILPROTO_SEC_PLAIN : (flags & 3) == 1 ? MAILPROTO_SEC_STARTTLS
                                                                         : MAILPROTO_SEC_TLS;
    if (flags & 4) {
        cfg.username = "user";
        cfg.password = "pencil";
        cfg.allow_plaintext_auth = (flags & 8) != 0;
    }
    cfg.lmtp = (flags & 16) != 0;
    cfg.no_pipelining = (flags & 32) != 0;
    cfg.random = fixed_random;
    cfg.in_buf_size = sizeof in;
    cfg.out_buf_size = sizeof out;
    mailproto__smtp_config_defaults(&cfg);
    mailproto__err err;
    mailproto__err_clear(&err);
    mailproto__smtp_engine e;
    mailproto__smtp_engine_init(&e, &cfg, &err, in, sizeof in, out, sizeof out, work, sizeof work, rcpt, 4);
    e.tls_event = 1;
    static const char *const to[] = {"b@example.test", "c@example.test"};
    mailproto_envelope env = {.from = "a@example.test", .rcpt = to, .n_rcpt = 2};
    mailproto_source body;
    mailproto_source_mem(&body, "Subject: x\n\n.body\n", 18);
    size_t chunk = 1 + (size_t)(flags >> 6) * 7;
    mailproto__smtp_engine_start(&e);
    int secure = 0, submitted = 0, ends = 0;
    size_t pos = 0;
    uint64_t now = 1000;
    for (int guard = 0; guard < 100000; guard++) {
        const mailproto_smtp_event *ev;
        int rc = mailproto__smtp_engine_next(&e, now, &ev);
        if (rc == MAILPROTO_EVENT) {
            if (ev->type == MAILPROTO_SMTP_EV_STARTTLS) {
                mailproto__smtp_engine_tls_done(&e);
                secure = 1;
            } else if ((ev->type == MAILPROTO_SMTP_EV_READY || ev->type == MAILPROTO_SMTP_EV_SENT) &&
                       submitted < 2) {
                submitted++;
                mailproto_source_rewind(&body);
                mailproto__smtp_engine_submit(&e, &env, &body);
            }
            continue;
        }
        const unsigned char *p;
        size_t n;
        mailproto__smtp_engine_output(&e, &p, &n);
        if (n) {
            if (n > sizeof out)
                abort();
            if (!secure && !cfg.allow_plaintext_auth && (contains(p, n, "AUTH ") || contains(p, n, "cGVuY2ls")))
                abort(); /* credentials before TLS */
            for (size_t i = 0; i + 5 <= n; i++)
                if (memcmp(p + i, "\r\n.\r\n", 5) == 0)
                    ends++;
            mailproto__smtp_engine_output_done(&e, n);
            continue;
        }
        if (rc < 0 || rc == MAILPROTO_OK || pos >= size) {
            if (pos >= size && rc == MAILPROTO_AGAIN) {
                now += 700000; /* every deadline passes */
                if (mailproto__smtp_engine_next(&e, now, &ev) == MAILPROTO_AGAIN &&
                    mailproto__smtp_engine_deadline(&e, now) == 0)
                    abort(); /* a passed deadline must end the wait */
            }
            break;
        }
        unsigned char *ip;
        size_t cap;
        mailproto__smtp_engine_input(&e, &ip, &cap);
        if (cap == 0)
            break;
        size_t k = size - pos < chunk ? size - pos : chunk;
        if (k > cap)
            k = cap;
        memcpy(ip, data + pos, k);
        pos += k;
        mailproto__smtp_engine_input_done(&e, k);
        now += 10;
    }
    if (ends > 2)
        abort();
    return 0;
}
