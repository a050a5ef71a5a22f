/* Fuzz target: the RFC 2047 decoder and the RFC 2231 parameter decoder are
 * total and give valid UTF-8; encoding valid UTF-8 round-trips and keeps
 * every word within 75 octets. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include <mailproto/codec.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t cap = size * 3 + 8, n;
    char *out = malloc(cap);
    if (!out)
        return 0;
    if (mailproto_rfc2047_decode((const char *)data, size, out, cap, &n) != 0 ||
        mailproto_utf8_check(out, n) != 0)
        abort();
    if (mailproto_param_get((const char *)data, size, "filename", out, cap, &n) == 0 &&
        mailproto_utf8_check(out, n) != 0)
        abort();
    /* the bytes as text to encode, when they are valid UTF-8 without CR/LF/NUL */
    if (mailproto_utf8_check(data, size) == 0 && !memchr(data, '\r', size) && !memchr(data, '\n', size) &&
        !memchr(data, 0, size)) {
        size_t need;
        size_t col = size ? data[0] % 80 : 0;
        int rc = mailproto_rfc2047_encode((const char *)data, size, col, NULL, 0, &need);
        if (rc != 0 && rc != -4)
            abort();
        char *enc = malloc(need + 1);
        char *back = malloc(need * 3 + 8);
        if (enc && back && mailproto_rfc2047_encode((const char *)data, size, col, enc, need + 1, &need) == 0) {
            size_t skip = (need >= 3 && enc[0] == '\r') ? 3 : 0, bl;
            if (mailproto_rfc2047_decode(enc + skip, need - skip, back, need * 3 + 8, &bl) != 0 || bl != size ||
                memcmp(back, data, size) != 0)
                abort();
            /* words <= 75 octets, each decoding alone to whole characters
             * (no U+FFFD unless the text has one), '=' padding only on the
             * last B word, lines <= 76 with the first starting at col */
            int has_fffd = size >= 3 && memmem(data, size, "\xef\xbf\xbd", 3) != NULL;
            const char *padded = NULL;
            for (const char *w = strstr(enc, "=?"); w; w = strstr(w + 2, "=?")) {
                const char *e = strstr(w + 10, "?=");
                if (!e || e + 2 - w > 75 || padded)
                    abort();
                if (w[8] == 'B' && e[-1] == '=')
                    padded = w;
                char one[300];
                size_t ol;
                if (mailproto_rfc2047_decode(w, (size_t)(e + 2 - w), one, sizeof one, &ol) != 0 ||
                    mailproto_utf8_check(one, ol) != 0 ||
                    (!has_fffd && ol >= 3 && memmem(one, ol, "\xef\xbf\xbd", 3)))
                    abort();
                w = e;
            }
            size_t line = col;
            for (size_t i = 0; i < need; i++) {
                if (enc[i] == '\r') {
                    if (enc[i + 1] != '\n' || enc[i + 2] != ' ' || (i > 0 && line > 76))
                        abort();
                    line = 0;
                    i++;
                    continue;
                }
                line++;
            }
            if (line > 76)
                abort();
        }
        free(enc);
        free(back);
        /* and as a parameter */
        size_t c2 = col, pl;
        char *p = malloc(size * 4 + 1024);
        if (p && mailproto_rfc2231_encode("filename", (const char *)data, size, &c2, p, size * 4 + 1024, &pl) == 0) {
            char *hv = malloc(pl + 2);
            char *dec = malloc(pl * 3 + 8);
            if (hv && dec) {
                hv[0] = 'a';
                memcpy(hv + 1, p, pl);
                size_t dl;
                if (mailproto_param_get(hv, pl + 1, "filename", dec, pl * 3 + 8, &dl) != 0 ||
                    (size <= 4000 && (dl != size || memcmp(dec, data, size) != 0)))
                    abort();
            }
            free(hv);
            free(dec);
        }
        free(p);
    }
    free(out);
    return 0;
}
