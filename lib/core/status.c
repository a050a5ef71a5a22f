/*
 * Status codes, their names, the last-error record, and the version.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "internal.h"

const char *mailproto_version(void) { return MAILPROTO_VERSION_STRING; }

unsigned long mailproto_version_number(void) { return MAILPROTO_VERSION_NUMBER; }

/* One table gives both the symbolic name and the sentence (X-macro, libuv's
 * pair).  -Derror_strings=false keeps only the names. */
#define MAILPROTO__STATUSES(X)                                                        \
    X(MAILPROTO_OK, "success")                                                        \
    X(MAILPROTO_EVENT, "an event is ready")                                           \
    X(MAILPROTO_AGAIN, "operation would block")                                       \
    X(MAILPROTO_E_INVALID, "invalid argument")                                        \
    X(MAILPROTO_E_STATE, "operation not allowed in this state")                       \
    X(MAILPROTO_E_UNSUPPORTED, "not supported by the server or this build")           \
    X(MAILPROTO_E_LIMIT, "a configured limit was exceeded")                           \
    X(MAILPROTO_E_NOMEM, "out of memory")                                             \
    X(MAILPROTO_E_RESOLVE, "host name could not be resolved")                         \
    X(MAILPROTO_E_CONNECT, "connection refused or unreachable")                       \
    X(MAILPROTO_E_IO, "network read or write failed")                                 \
    X(MAILPROTO_E_CLOSED, "connection closed by the server")                          \
    X(MAILPROTO_E_TIMEOUT, "operation timed out")                                     \
    X(MAILPROTO_E_TLS, "TLS handshake failed")                                        \
    X(MAILPROTO_E_CERT_UNTRUSTED, "server certificate is not trusted")                \
    X(MAILPROTO_E_CERT_EXPIRED, "server certificate is expired or not yet valid")     \
    X(MAILPROTO_E_CERT_NAME, "server certificate does not match the host name")      \
    X(MAILPROTO_E_CERT_PIN, "server certificate does not match the pin")             \
    X(MAILPROTO_E_TLS_REQUIRED, "TLS is required but not available")                  \
    X(MAILPROTO_E_STARTTLS_INJECTION, "server sent data after the STARTTLS go-ahead") \
    X(MAILPROTO_E_PROTOCOL, "protocol error from the server")                         \
    X(MAILPROTO_E_AUTH, "authentication failed")                                      \
    X(MAILPROTO_E_REJECTED, "the server rejected the request")                        \
    X(MAILPROTO_E_NOT_SENT, "connection lost; the message was not sent")              \
    X(MAILPROTO_E_OUTCOME_UNKNOWN, "connection lost; the message may have been sent") \
    X(MAILPROTO_E_CALLBACK, "a callback reported an error")                           \
    X(MAILPROTO_E_CANCELLED, "cancelled by the caller")

const char *mailproto_strerror(int status)
{
    switch (status) {
#if MAILPROTO_HAS_ERROR_STRINGS
#define X(code, text) \
    case code:        \
        return text;
#else
#define X(code, text) \
    case code:        \
        return #code;
#endif
        MAILPROTO__STATUSES(X)
#undef X
    default:
        return status < 0 ? "unknown error" : "unknown status";
    }
}

const char *mailproto_errname(int status)
{
    switch (status) {
#define X(code, text) \
    case code:        \
        return #code;
        MAILPROTO__STATUSES(X)
#undef X
    default:
        return "MAILPROTO_UNKNOWN";
    }
}

int mailproto_is_fatal(int status)
{
    switch (status) {
    case MAILPROTO_E_RESOLVE:
    case MAILPROTO_E_CONNECT:
    case MAILPROTO_E_IO:
    case MAILPROTO_E_CLOSED:
    case MAILPROTO_E_TIMEOUT:
    case MAILPROTO_E_TLS:
    case MAILPROTO_E_CERT_UNTRUSTED:
    case MAILPROTO_E_CERT_EXPIRED:
    case MAILPROTO_E_CERT_NAME:
    case MAILPROTO_E_CERT_PIN:
    case MAILPROTO_E_TLS_REQUIRED:
    case MAILPROTO_E_STARTTLS_INJECTION:
    case MAILPROTO_E_PROTOCOL:
    case MAILPROTO_E_NOT_SENT:
    case MAILPROTO_E_OUTCOME_UNKNOWN:
    case MAILPROTO_E_CANCELLED:
        return 1;
    default:
        return 0;
    }
}

/* ---- last error ---- */

static const mailproto_reply empty_reply = {0, 0, "", 0, 0, 0, 0, "", 0, "", 0, "", 0, 0};

const mailproto_reply *mailproto__reply_empty(void) { return &empty_reply; }

void mailproto__err_clear(mailproto__err *e)
{
    memset(&e->pub, 0, sizeof e->pub);
    e->text[0] = '\0';
    e->msg[0] = '\0';
    e->pub.text = e->text;
    e->pub.message = e->msg;
}

int mailproto__err_set(mailproto__err *e, int status, const char *fmt, ...)
{
    e->pub.status = status;
    e->pub.text = e->text;
    e->pub.message = e->msg;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        mailproto__vfmt(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    } else {
        mailproto__fmt(e->msg, sizeof e->msg, "%s", mailproto_strerror(status));
    }
    return status;
}

void mailproto__err_text(mailproto__err *e, const char *text, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 1 < sizeof e->text; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '\t')
            c = ' ';
        if (c < 0x20 || c == 0x7f)
            continue; /* a server's text never carries control characters to the caller */
        e->text[o++] = (char)c;
    }
    e->text[o] = '\0';
    e->pub.text = e->text;
    e->pub.text_len = o;
}

size_t mailproto__parse_enhanced(const char *p, size_t len, int *cls, int *subj, int *detail)
{
    /* class "." subject "." detail; class 2/4/5, subject 1-3 digits, detail 1-3 digits */
    size_t i = 0;
    int v[3] = {0, 0, 0};
    for (int part = 0; part < 3; part++) {
        size_t start = i;
        while (i < len && mailproto__is_digit((unsigned char)p[i]) && i - start < 3) {
            v[part] = v[part] * 10 + (p[i] - '0');
            i++;
        }
        if (i == start || (part == 0 && i - start != 1))
            return 0;
        if (part < 2) {
            if (i >= len || p[i] != '.')
                return 0;
            i++;
        }
    }
    if (i < len && p[i] != ' ' && p[i] != '\r' && p[i] != '\n')
        return 0;
    if (v[0] != 2 && v[0] != 4 && v[0] != 5)
        return 0;
    if (cls)
        *cls = v[0];
    if (subj)
        *subj = v[1];
    if (detail)
        *detail = v[2];
    return i;
}

void mailproto__err_code(mailproto__err *e, int code, const char *enh, size_t enh_len)
{
    e->pub.code = code;
    e->pub.enhanced[0] = '\0';
    e->pub.enh_class = e->pub.enh_subject = e->pub.enh_detail = 0;
    if (enh && enh_len) {
        int c, s, d;
        size_t n = mailproto__parse_enhanced(enh, enh_len, &c, &s, &d);
        if (n && n < sizeof e->pub.enhanced) {
            memcpy(e->pub.enhanced, enh, n);
            e->pub.enhanced[n] = '\0';
            e->pub.enh_class = c;
            e->pub.enh_subject = s;
            e->pub.enh_detail = d;
        }
    }
    e->pub.temporary = (code >= 400 && code < 500) ? 1 : 0;
}
