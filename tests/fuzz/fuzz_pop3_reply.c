/* Fuzz target: the POP3 engine's reply side.  The first byte picks the
 * session (login method, TLS mode, pipelining, chunk size, max_line); the
 * rest is everything the server says, fed in chunks to an engine that
 * logs in and then asks for STAT, LIST, UIDL, RETR, TOP, DELE and QUIT.
 * Status lines, CAPA, listings and dot-stuffed message data all come from
 * the input.  The engine must stay within its buffers and limits, and the
 * pure parsers run on every line as well. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pop3/pop3_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int sink_write(void *ctx, const void *p, size_t n)
{
    uint64_t *count = ctx;
    volatile const unsigned char *b = p;
    if (n)
        (void)b[n - 1]; /* touch the last byte: ASan checks the span */
    *count += n;
    return (*count & 0xfff) == 0x123 ? MAILPROTO_E_IO : MAILPROTO_OK; /* sometimes refuse */
}

static void parsers(const char *p, size_t len)
{
    const char *t;
    size_t tl;
    char code[48];
    int temp;
    if (mailproto__pop3_status(p, len, &t, &tl, code, sizeof code, &temp) >= 0 &&
        (t < p || t + tl > p + len || strlen(code) >= sizeof code))
        abort();
    uint32_t m;
    uint64_t sz;
    if (mailproto__pop3_parse_list(p, len, &m, &sz) == 0 && (m == 0 || sz > ((uint64_t)1 << 62)))
        abort();
    mailproto__pop3_parse_stat(p, len, &m, &sz);
    uint64_t hint = mailproto__pop3_octets_hint(p, len);
    if (hint != UINT64_MAX && hint > ((uint64_t)1 << 62))
        abort();
    const char *uid;
    size_t ul;
    if (mailproto__pop3_parse_uidl(p, len, &m, &uid, &ul) == 0 &&
        (ul == 0 || ul > 70 || uid < p || uid + ul > p + len))
        abort();
    char ts[64];
    if (mailproto__pop3_timestamp(p, len, ts, sizeof ts) == 1 && (ts[0] != '<' || strlen(ts) >= 64))
        abort();
    mailproto_pop3_capa_info ci;
    memset(&ci, 0, sizeof ci);
    mailproto__pop3_capa_line(&ci, p, len);
    if (strlen(ci.implementation) >= sizeof ci.implementation)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    unsigned sel = data[0], chunk = 1 + data[1] % 97;
    data += 2;
    size -= 2;

    /* the pure parsers on each line */
    const char *p = (const char *)data;
    size_t n = size;
    while (n) {
        const char *nl = memchr(p, '\n', n);
        size_t len = nl ? (size_t)(nl - p) : n;
        char *line = malloc(len ? len : 1);
        if (!line)
            abort();
        memcpy(line, p, len);
        parsers(line, len && line[len - 1] == '\r' ? len - 1 : len);
        free(line);
        p += nl ? len + 1 : len;
        n -= nl ? len + 1 : len;
    }

    /* the engine */
    static unsigned char in[4096], out[1024], work[4096];
    mailproto_pop3_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.security = (sel & 1) ? MAILPROTO_SEC_PLAIN : MAILPROTO_SEC_STARTTLS;
    cfg.allow_plaintext_auth = 1;
    cfg.username = "user";
    cfg.password = "pass";
    cfg.login = (int)((sel >> 1) & 3);
    cfg.no_pipelining = (sel >> 3) & 1;
    cfg.max_line = (sel & 0x10) ? 512 : 2000;
    cfg.max_list = 50;
    cfg.utf8 = (sel >> 5) & 1;
    mailproto__pop3_config_defaults(&cfg);
    mailproto__err err;
    mailproto__err_clear(&err);
    mailproto__pop3_engine e;
    mailproto__pop3_engine_init(&e, &cfg, &err, in, sizeof in, out, sizeof out, work, sizeof work);
    e.tls_event = 1;
    if (mailproto__pop3_engine_start(&e) != MAILPROTO_OK)
        abort();
    uint64_t count = 0, now = 0;
    mailproto_sink sink = {sink_write, &count};
    int submitted = 0;
    size_t off = 0;
    for (int guard = 0; guard < 1000000; guard++) {
        const mailproto_pop3_event *ev;
        int rc = mailproto__pop3_engine_next(&e, now, &ev);
        if (rc == MAILPROTO_EVENT) {
            if (ev->uid.len && (ev->uid.len > 70 || (const unsigned char *)ev->uid.ptr < in ||
                                (const unsigned char *)ev->uid.ptr + ev->uid.len > in + sizeof in))
                abort();
            if (ev->text.len > MAILPROTO__POP3_TEXT_MAX)
                abort();
            if (ev->type == MAILPROTO_POP3_EV_STARTTLS)
                mailproto__pop3_engine_tls_done(&e);
            if (ev->type == MAILPROTO_POP3_EV_READY && !submitted) {
                submitted = 1;
                mailproto__pop3_engine_submit(&e, MAILPROTO_POP3_STAT, 0, 0, NULL);
                mailproto__pop3_engine_submit(&e, MAILPROTO_POP3_LIST, 0, 0, NULL);
                mailproto__pop3_engine_submit(&e, MAILPROTO_POP3_UIDL, sel >> 7, 0, NULL);
                mailproto__pop3_engine_submit(&e, MAILPROTO_POP3_RETR, 1, 0, &sink);
                mailproto__pop3_engine_submit(&e, MAILPROTO_POP3_TOP, 1, 2, &sink);
                mailproto__pop3_engine_submit(&e, MAILPROTO_POP3_DELE, 1, 0, NULL);
                mailproto__pop3_engine_quit(&e);
            }
            continue;
        }
        if (rc < 0 && rc != MAILPROTO_E_AUTH && rc != MAILPROTO_E_UNSUPPORTED &&
            rc != MAILPROTO_E_INVALID && e.dead == 0 && rc != MAILPROTO_E_LIMIT)
            abort();
        if (e.in_len > e.in_cap || e.in_off > e.in_len || e.out_len > e.out_cap)
            abort();
        const unsigned char *op;
        size_t on;
        mailproto__pop3_engine_output(&e, &op, &on);
        if (on) {
            mailproto__pop3_engine_output_done(&e, on);
            continue;
        }
        if (e.dead || off == size) {
            if (!e.dead && off == size) {
                mailproto__pop3_engine_input_done(&e, 0);
                mailproto__pop3_engine_next(&e, now, &ev);
            }
            break;
        }
        unsigned char *ip;
        size_t cap;
        mailproto__pop3_engine_input(&e, &ip, &cap);
        if (cap == 0) {
            if (e.want_tls) {
                mailproto__pop3_engine_tls_done(&e);
                continue;
            }
            now += 70000; /* nothing wanted: let the deadline speak */
            mailproto__pop3_engine_next(&e, now, &ev);
            break;
        }
        size_t k = size - off < chunk ? size - off : chunk;
        if (k > cap)
            k = cap;
        memcpy(ip, data + off, k);
        mailproto__pop3_engine_input_done(&e, k);
        off += k;
        now += 10;
    }
    /* QUIT's outcome: a session that dies with QUIT queued is "unknown"
     * once QUIT went out, "not committed" before */
    if (e.dead && e.quit_queued && e.quit_sent && e.outcome != MAILPROTO_POP3_OUTCOME_UNKNOWN)
        abort();
    if (e.dead && e.quit_queued && !e.quit_sent && e.logged_in &&
        e.outcome != MAILPROTO_POP3_OUTCOME_NOT_COMMITTED)
        abort();
    return 0;
}
