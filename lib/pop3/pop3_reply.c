/*
 * POP3 reply parsers: status lines with RFC 2449 extended response codes,
 * STAT / LIST / UIDL lines, CAPA lines and the APOP timestamp.  Pure
 * functions over borrowed bytes (fuzzed by tests/fuzz/fuzz_pop3_reply.c).
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "pop3_int.h"

#include "../sasl/sasl.h"

/* Response codes that mean "the same request may work later". */
static int code_is_temporary(const char *code, size_t n)
{
    static const char *const temp[] = {"IN-USE", "LOGIN-DELAY", "SYS/TEMP"};
    for (size_t i = 0; i < MAILPROTO__ARRAY_LEN(temp); i++) {
        size_t l = strlen(temp[i]);
        /* hierarchical: "SYS/TEMP/DISK" is still SYS/TEMP */
        if (n >= l && mailproto__strncasecmp(code, temp[i], l) == 0 && (n == l || code[l] == '/'))
            return 1;
    }
    return 0;
}

int mailproto__pop3_status(const char *line, size_t len, const char **text, size_t *text_len,
                           char *code, size_t code_cap, int *temporary)
{
    int ok;
    size_t i;
    if (code_cap)
        code[0] = '\0';
    *temporary = 0;
    *text = line + len;
    *text_len = 0;
    if (len >= 3 && mailproto__strncasecmp(line, "+OK", 3) == 0) {
        ok = 1;
        i = 3;
    } else if (len >= 4 && mailproto__strncasecmp(line, "-ERR", 4) == 0) {
        ok = 0;
        i = 4;
    } else {
        return -1;
    }
    if (i < len && line[i] != ' ')
        return -1;
    while (i < len && line[i] == ' ')
        i++;
    /* RFC 2449 8: "[" resp-code "]" right after the status */
    if (i < len && line[i] == '[') {
        size_t j = i + 1;
        while (j < len && j - i - 1 < 40) {
            unsigned char c = (unsigned char)line[j];
            if (c == ']' || c <= 0x20 || c >= 0x7f)
                break;
            j++;
        }
        if (j < len && line[j] == ']' && j > i + 1) {
            size_t n = j - i - 1;
            if (code_cap > n) {
                memcpy(code, line + i + 1, n);
                code[n] = '\0';
            }
            if (!ok)
                *temporary = code_is_temporary(line + i + 1, n);
            i = j + 1;
            while (i < len && line[i] == ' ')
                i++;
        }
    }
    *text = line + i;
    *text_len = len - i;
    return ok;
}

/* One decimal field at *i (no sign, at least one digit), then spaces. */
static int field_u64(const char *p, size_t len, size_t *i, uint64_t max, uint64_t *out)
{
    size_t s = *i;
    while (*i < len && mailproto__is_digit((unsigned char)p[*i]))
        (*i)++;
    if (*i == s || (*i < len && p[*i] != ' '))
        return -1;
    if (mailproto__parse_u64(p + s, *i - s, max, out) != 0)
        return -1;
    while (*i < len && p[*i] == ' ')
        (*i)++;
    return 0;
}

/* Sizes are bounded well below 2^64 so that sums never wrap. */
#define SIZE_MAXV ((uint64_t)1 << 62)

uint64_t mailproto__pop3_octets_hint(const char *p, size_t len)
{
    size_t i = 0;
    uint64_t n;
    if (field_u64(p, len, &i, SIZE_MAXV, &n) != 0 || len - i < 6 ||
        mailproto__strncasecmp(p + i, "octets", 6) != 0 || (len - i > 6 && p[i + 6] != ' '))
        return MAILPROTO_SIZE_UNKNOWN;
    return n;
}

int mailproto__pop3_parse_stat(const char *p, size_t len, uint32_t *count, uint64_t *size)
{
    size_t i = 0;
    uint64_t c, s;
    if (field_u64(p, len, &i, UINT32_MAX, &c) || field_u64(p, len, &i, SIZE_MAXV, &s))
        return MAILPROTO_E_PROTOCOL;
    /* RFC 1939 5: anything after the size is allowed (ignored) */
    *count = (uint32_t)c;
    *size = s;
    return 0;
}

int mailproto__pop3_parse_list(const char *p, size_t len, uint32_t *msg, uint64_t *size)
{
    size_t i = 0;
    uint64_t m, s;
    if (field_u64(p, len, &i, UINT32_MAX, &m) || m == 0 || field_u64(p, len, &i, SIZE_MAXV, &s))
        return MAILPROTO_E_PROTOCOL;
    *msg = (uint32_t)m;
    *size = s;
    return 0;
}

int mailproto__pop3_parse_uidl(const char *p, size_t len, uint32_t *msg, const char **uid,
                               size_t *uid_len)
{
    size_t i = 0;
    uint64_t m;
    if (field_u64(p, len, &i, UINT32_MAX, &m) || m == 0)
        return MAILPROTO_E_PROTOCOL;
    size_t s = i;
    while (i < len && p[i] != ' ') {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x21 || c > 0x7e) /* RFC 1939 7: 0x21 to 0x7E */
            return MAILPROTO_E_PROTOCOL;
        i++;
    }
    if (i == s || i - s > MAILPROTO__POP3_UID_MAX)
        return MAILPROTO_E_PROTOCOL;
    *msg = (uint32_t)m;
    *uid = p + s;
    *uid_len = i - s;
    return 0;
}

/* Word k (0-based) of a CAPA line. */
static int word(const char *p, size_t len, size_t k, const char **w, size_t *wl)
{
    size_t i = 0;
    for (size_t n = 0;; n++) {
        while (i < len && p[i] == ' ')
            i++;
        if (i >= len)
            return 0;
        size_t s = i;
        while (i < len && p[i] != ' ')
            i++;
        if (n == k) {
            *w = p + s;
            *wl = i - s;
            return 1;
        }
    }
}

/* "n" or "NEVER" plus optional "USER". */
static void capa_number(const char *p, size_t len, uint32_t *v, int *user, int never_ok)
{
    const char *w;
    size_t wl;
    uint64_t n;
    if (word(p, len, 1, &w, &wl)) {
        if (never_ok && mailproto__span_ieq(w, wl, "NEVER"))
            *v = MAILPROTO_POP3_EXPIRE_NEVER;
        else if (mailproto__parse_u64(w, wl, UINT32_MAX - 1, &n) == 0)
            *v = (uint32_t)n;
    }
    if (word(p, len, 2, &w, &wl) && mailproto__span_ieq(w, wl, "USER"))
        *user = 1;
}

void mailproto__pop3_capa_line(mailproto_pop3_capa_info *c, const char *p, size_t len)
{
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {
        {"TOP", MAILPROTO_POP3_CAP_TOP},
        {"USER", MAILPROTO_POP3_CAP_USER},
        {"SASL", MAILPROTO_POP3_CAP_SASL},
        {"RESP-CODES", MAILPROTO_POP3_CAP_RESP_CODES},
        {"AUTH-RESP-CODE", MAILPROTO_POP3_CAP_AUTH_RESP_CODE},
        {"PIPELINING", MAILPROTO_POP3_CAP_PIPELINING},
        {"UIDL", MAILPROTO_POP3_CAP_UIDL},
        {"EXPIRE", MAILPROTO_POP3_CAP_EXPIRE},
        {"LOGIN-DELAY", MAILPROTO_POP3_CAP_LOGIN_DELAY},
        {"STLS", MAILPROTO_POP3_CAP_STLS},
        {"UTF8", MAILPROTO_POP3_CAP_UTF8},
        {"IMPLEMENTATION", MAILPROTO_POP3_CAP_IMPLEMENTATION},
    };
    const char *w;
    size_t wl;
    if (!word(p, len, 0, &w, &wl))
        return;
    unsigned bit = 0;
    for (size_t i = 0; i < MAILPROTO__ARRAY_LEN(names); i++)
        if (mailproto__span_ieq(w, wl, names[i].name))
            bit = names[i].bit;
    if (!bit)
        return;
    c->caps |= bit;
    size_t rest = (size_t)(w + wl - p);
    switch (bit) {
    case MAILPROTO_POP3_CAP_SASL:
        c->sasl |= mailproto__sasl_parse_list(p + rest, len - rest);
        break;
    case MAILPROTO_POP3_CAP_EXPIRE:
        capa_number(p, len, &c->expire_days, &c->expire_user, 1);
        break;
    case MAILPROTO_POP3_CAP_LOGIN_DELAY:
        capa_number(p, len, &c->login_delay_s, &c->login_delay_user, 0);
        break;
    case MAILPROTO_POP3_CAP_UTF8:
        if (word(p, len, 1, &w, &wl) && mailproto__span_ieq(w, wl, "USER"))
            c->utf8_user = 1;
        break;
    case MAILPROTO_POP3_CAP_IMPLEMENTATION: {
        size_t o = 0, i = rest;
        while (i < len && p[i] == ' ')
            i++;
        for (; i < len && o + 1 < sizeof c->implementation; i++) {
            unsigned char ch = (unsigned char)p[i];
            if (ch >= 0x20 && ch < 0x7f)
                c->implementation[o++] = (char)ch;
        }
        c->implementation[o] = '\0';
        break;
    }
    default:
        break;
    }
}

int mailproto__pop3_timestamp(const char *text, size_t len, char *ts, size_t cap)
{
    ts[0] = '\0';
    const char *lt = memchr(text, '<', len);
    if (!lt)
        return 0;
    size_t s = (size_t)(lt - text);
    const char *gt = memchr(lt, '>', len - s);
    if (!gt)
        return -1;
    size_t n = (size_t)(gt - lt) + 1;
    /* RFC 1939 7 / RFC 822 msg-id: printable, no space or brackets inside, an '@' */
    int at = 0;
    for (size_t i = 1; i + 1 < n; i++) {
        unsigned char c = (unsigned char)lt[i];
        if (c <= 0x20 || c >= 0x7f || c == '<')
            return -1;
        if (c == '@')
            at++;
    }
    if (n < 5 || at != 1 || lt[1] == '@' || lt[n - 2] == '@' || n + 1 > cap)
        return -1;
    memcpy(ts, lt, n);
    ts[n] = '\0';
    return 1;
}
