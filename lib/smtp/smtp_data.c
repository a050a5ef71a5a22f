/*
 * SMTP body encoder: CRLF canonicalization (lone LF and lone CR become
 * CRLF), dot-stuffing, the final CRLF before ".", 8-bit and NUL checks.  Constant
 * state, no lookahead: a CR is written as CRLF at once and an LF right
 * after it is dropped.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "smtp_int.h"

void mailproto__smtp_enc_init(mailproto__smtp_enc *e, int stuff, int canon, int allow8)
{
    e->bol = 1;
    e->skip_lf = 0;
    e->stuff = stuff;
    e->canon = canon;
    e->allow8 = allow8;
    e->bad8 = 0;
    e->nul = 0;
}

size_t mailproto__smtp_enc_run(mailproto__smtp_enc *e, const unsigned char *in, size_t n,
                               unsigned char *out)
{
    size_t o = 0;
    if (!e->canon) {
        /* byte-exact (BINARYMIME over BDAT) */
        memmove(out, in, n);
        if (n)
            e->bol = in[n - 1] == '\n';
        return n;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = in[i];
        if (c == '\n') {
            if (e->skip_lf) {
                e->skip_lf = 0;
                continue;
            }
            out[o++] = '\r';
            out[o++] = '\n';
            e->bol = 1;
            continue;
        }
        e->skip_lf = 0;
        if (c == '\r') {
            out[o++] = '\r';
            out[o++] = '\n';
            e->bol = 1;
            e->skip_lf = 1;
            continue;
        }
        if (c >= 0x80 && !e->allow8) {
            e->bad8 = 1;
            return o;
        }
        if (c == 0) {
            e->nul = 1;
            return o;
        }
        if (c == '.' && e->bol && e->stuff)
            out[o++] = '.';
        out[o++] = c;
        e->bol = 0;
    }
    return o;
}

size_t mailproto__smtp_enc_end(mailproto__smtp_enc *e, unsigned char *out)
{
    size_t o = 0;
    if (!e->bol && e->canon) {
        out[o++] = '\r';
        out[o++] = '\n';
        e->bol = 1;
    }
    if (e->stuff) {
        if (!e->bol) { /* cannot happen: stuffing implies canon */
            out[o++] = '\r';
            out[o++] = '\n';
        }
        memcpy(out + o, ".\r\n", 3);
        o += 3;
    }
    return o;
}
