/* Fuzz target: the command encoder.  The input is a capability byte and a
 * list of typed arguments (kind byte, length byte, bytes).  The encoded
 * command, read back by an independent test-side parser, must be exactly
 * one command whose arguments are the given bytes; an argument may only
 * be refused for a reason (NUL, bad UTF-8, not an atom, limits). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdio.h>

#include <mailproto/imap.h>

#include "../unit/imap/cmd_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char buf[1 << 16];

typedef struct want {
    int kind; /* 's' string-ish, 'm' mailbox, 'n' number, 'a' atom */
    const char *p;
    size_t len;
    uint64_t num;
} want;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned caps = data[0] & 7;
    mailproto_imap_cmd c;
    if (mailproto_imap_cmd_begin(&c, buf, sizeof buf, caps, "T1", "X") != MAILPROTO_OK)
        abort();
    want w[CP_MAX_ARGS];
    size_t nw = 0, i = 1;
    int rc = MAILPROTO_OK;
    while (i + 2 <= size && nw < 14 && rc == MAILPROTO_OK) {
        int kind = data[i] % 5;
        size_t len = data[i + 1];
        i += 2;
        if (len > size - i)
            len = size - i;
        const char *s = (const char *)data + i;
        i += len;
        switch (kind) {
        case 0:
            rc = mailproto_imap_cmd_astring(&c, s, len);
            w[nw++] = (want){'s', s, len, 0};
            if (rc == MAILPROTO_E_INVALID && !memchr(s, 0, len))
                abort();
            break;
        case 1:
            rc = mailproto_imap_cmd_string(&c, s, len);
            w[nw++] = (want){'s', s, len, 0};
            if (rc == MAILPROTO_E_INVALID && !memchr(s, 0, len))
                abort();
            break;
        case 2:
            rc = mailproto_imap_cmd_literal(&c, s, len);
            w[nw++] = (want){'s', s, len, 0};
            break;
        case 3:
            rc = mailproto_imap_cmd_mailbox(&c, s, len);
            w[nw++] = (want){'m', s, len, 0};
            break;
        default: {
            uint64_t v = 0;
            for (size_t k = 0; k < len && k < 8; k++)
                v = v << 8 | (uint8_t)s[k];
            rc = mailproto_imap_cmd_number(&c, v);
            w[nw++] = (want){'n', s, len, v};
            break;
        }
        }
    }
    if (rc != MAILPROTO_OK)
        return 0;
    if (mailproto_imap_cmd_end(&c) != MAILPROTO_OK)
        return 0; /* buffer or line limit */
    /* join */
    size_t total = 0, nf = mailproto_imap_cmd_nfrags(&c);
    char *all = malloc(sizeof buf + 1);
    if (!all)
        return 0;
    for (size_t f = 0; f < nf; f++) {
        mailproto_imap_frag fr;
        if (mailproto_imap_cmd_frag(&c, f, &fr) != MAILPROTO_OK || fr.ext_len)
            abort();
        /* a fragment that waits for "+" follows a synchronizing literal header */
        if (fr.wait_continue && (f == 0 || (caps & MAILPROTO_IMAP_CMD_LITERALPLUS)))
            abort();
        memcpy(all + total, fr.ptr, fr.len);
        total += fr.len;
    }
    cp_cmd pc;
    if (cp_parse(all, total, &pc) != 0)
        abort();
    if (pc.n != nw + 2 || strcmp(pc.arg[0].data, "T1") || strcmp(pc.arg[1].data, "X"))
        abort();
    for (size_t k = 0; k < nw; k++) {
        cp_arg *a = &pc.arg[k + 2];
        if (w[k].kind == 's') {
            if (a->len != w[k].len || memcmp(a->data, w[k].p, a->len))
                abort();
            if ((a->kind == 'a' || a->kind == 'q') && memchr(a->data, '\n', a->len))
                abort();
        } else if (w[k].kind == 'm') {
            char dec[1024];
            size_t dn;
            if ((caps & MAILPROTO_IMAP_CMD_UTF8) || (w[k].len == 5 && strncasecmp(w[k].p, "INBOX", 5) == 0)) {
                if (w[k].len == 5 && strncasecmp(w[k].p, "INBOX", 5) == 0) {
                    if (strcmp(a->data, "INBOX"))
                        abort();
                } else if (a->len != w[k].len || memcmp(a->data, w[k].p, a->len)) {
                    abort();
                }
            } else {
                if (mailproto_imap_mutf7_decode(a->data, a->len, dec, sizeof dec, &dn) != MAILPROTO_OK ||
                    dn != w[k].len || memcmp(dec, w[k].p, dn))
                    abort();
            }
        } else {
            char num[24];
            int n = snprintf(num, sizeof num, "%llu", (unsigned long long)w[k].num);
            if (a->kind != 'a' || a->len != (size_t)n || memcmp(a->data, num, (size_t)n))
                abort();
        }
    }
    cp_free(&pc);
    free(all);
    return 0;
}
