/* Fuzz target: the SMTP reply / EHLO parser.  Lines are fed one at a time
 * with limits picked by the first byte; the parser must stay within them
 * and never read outside the line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    mailproto__smtp_reply r;
    memset(&r, 0, sizeof r);
    r.max_line = 64 + (size_t)(data[0] & 0x3f) * 16;
    r.max_bytes = 256 + (size_t)(data[0] >> 6) * 1024;
    r.max_lines = 1 + (data[0] & 7) * 4;
    r.enhanced_on = data[0] & 0x80;
    mailproto__smtp_reply_reset(&r);
    mailproto__smtp_caps caps;
    memset(&caps, 0, sizeof caps);
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    while (n) {
        const char *nl = memchr(p, '\n', n);
        size_t len = nl ? (size_t)(nl - p) : n;
        /* copy the line so that any read past it is caught by ASan */
        char *line = malloc(len ? len : 1);
        if (!line)
            abort();
        memcpy(line, p, len);
        size_t l = len && line[len - 1] == '\r' ? len - 1 : len;
        int rc = mailproto__smtp_reply_line(&r, line, l);
        if (rc >= 0) {
            if (r.code < 200 || r.code > 599 || r.lines > r.max_lines || r.bytes > r.max_bytes)
                abort();
            if (r.text_len >= sizeof r.text || r.line_text < line || r.line_text + r.line_len > line + l)
                abort();
            if (r.lines > 1)
                mailproto__smtp_caps_line(&caps, r.line_text, r.line_len);
        } else if (rc != MAILPROTO_E_PROTOCOL && rc != MAILPROTO_E_LIMIT) {
            abort();
        }
        free(line);
        if (rc < 0)
            mailproto__smtp_reply_reset(&r);
        p += nl ? len + 1 : len;
        n -= nl ? len + 1 : len;
    }
    if (caps.auth & ~0xfeu)
        abort();
    return 0;
}
