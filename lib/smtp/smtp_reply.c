/*
 * SMTP reply parser: one line at a time, bounded; EHLO keywords.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "smtp_int.h"

void mailproto__smtp_reply_reset(mailproto__smtp_reply *r)
{
    r->complete = 0;
    r->code = 0;
    r->lines = 0;
    r->bytes = 0;
    r->enh_cls = r->enh_subj = r->enh_det = 0;
    r->enhanced[0] = '\0';
    r->line_text = "";
    r->line_len = 0;
    r->text[0] = '\0';
    r->text_len = 0;
}

static void add_text(mailproto__smtp_reply *r, const char *p, size_t n)
{
    if (r->text_len && r->text_len < sizeof r->text - 1)
        r->text[r->text_len++] = ' ';
    for (size_t i = 0; i < n && r->text_len < sizeof r->text - 1; i++) {
        unsigned char c = (unsigned char)p[i];
        r->text[r->text_len++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    r->text[r->text_len] = '\0';
}

int mailproto__smtp_reply_line(mailproto__smtp_reply *r, const char *line, size_t len)
{
    if (r->complete)
        mailproto__smtp_reply_reset(r);
    if (len > r->max_line)
        return MAILPROTO_E_LIMIT;
    if (r->lines + 1 > r->max_lines || len + 2 > r->max_bytes - r->bytes ||
        r->bytes > r->max_bytes)
        return MAILPROTO_E_LIMIT;
    r->lines++;
    r->bytes += len + 2;
    if (len < 3 || line[0] < '2' || line[0] > '5' || !mailproto__is_digit(line[1]) ||
        !mailproto__is_digit(line[2]))
        return MAILPROTO_E_PROTOCOL;
    int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    int last;
    if (len == 3 || line[3] == ' ')
        last = 1;
    else if (line[3] == '-')
        last = 0;
    else
        return MAILPROTO_E_PROTOCOL;
    if (r->lines > 1 && code != r->code)
        return MAILPROTO_E_PROTOCOL;
    r->code = code;
    const char *t = len > 4 ? line + 4 : line + len;
    size_t tl = len > 4 ? len - 4 : 0;
    if (r->enhanced_on) {
        int c, s, d;
        size_t el = mailproto__parse_enhanced(t, tl, &c, &s, &d);
        if (el && c == line[0] - '0' && (el == tl || t[el] == ' ')) {
            if (!r->enhanced[0] && el < sizeof r->enhanced) {
                memcpy(r->enhanced, t, el);
                r->enhanced[el] = '\0';
                r->enh_cls = c;
                r->enh_subj = s;
                r->enh_det = d;
            }
            t += el;
            tl -= el;
            while (tl && *t == ' ') {
                t++;
                tl--;
            }
        }
    }
    r->line_text = t;
    r->line_len = tl;
    add_text(r, t, tl);
    r->complete = last;
    return last;
}

static const struct {
    const char *kw;
    unsigned bit;
} kws[] = {
    {"PIPELINING", MAILPROTO_SMTP_CAP_PIPELINING},
    {"8BITMIME", MAILPROTO_SMTP_CAP_8BITMIME},
    {"SMTPUTF8", MAILPROTO_SMTP_CAP_SMTPUTF8},
    {"CHUNKING", MAILPROTO_SMTP_CAP_CHUNKING},
    {"BINARYMIME", MAILPROTO_SMTP_CAP_BINARYMIME},
    {"DSN", MAILPROTO_SMTP_CAP_DSN},
    {"ENHANCEDSTATUSCODES", MAILPROTO_SMTP_CAP_ENHANCEDSTATUSCODES},
    {"STARTTLS", MAILPROTO_SMTP_CAP_STARTTLS},
    {"REQUIRETLS", MAILPROTO_SMTP_CAP_REQUIRETLS},
};

void mailproto__smtp_caps_line(mailproto__smtp_caps *c, const char *p, size_t len)
{
    size_t k = 0;
    while (k < len && p[k] != ' ' && p[k] != '=')
        k++;
    const char *arg = p + k;
    size_t alen = len - k;
    while (alen && (*arg == ' ' || *arg == '=')) {
        arg++;
        alen--;
    }
    for (size_t i = 0; i < MAILPROTO__ARRAY_LEN(kws); i++) {
        if (mailproto__span_ieq(p, k, kws[i].kw)) {
            c->mask |= kws[i].bit;
            return;
        }
    }
    if (mailproto__span_ieq(p, k, "SIZE")) {
        uint64_t v = 0;
        c->mask |= MAILPROTO_SMTP_CAP_SIZE;
        size_t n = 0;
        while (n < alen && mailproto__is_digit(arg[n]))
            n++;
        if (n && mailproto__parse_u64(arg, n, UINT64_MAX, &v) == 0)
            c->size = v;
        else
            c->size = 0;
        return;
    }
    if (mailproto__span_ieq(p, k, "AUTH")) {
        c->mask |= MAILPROTO_SMTP_CAP_AUTH;
        c->auth |= mailproto__sasl_parse_list(arg, alen);
    }
}
