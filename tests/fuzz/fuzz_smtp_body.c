/* Fuzz target: the SMTP body encoder.  Un-stuffing its output must give
 * back the canonical input (lone CR and lone LF as CRLF, a final CRLF),
 * the output must have no bare CR or LF, and "\r\n.\r\n" only at the end.
 * The first byte picks DATA or BDAT mode and the chunk size. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* reference canonicalization, the obvious way */
static size_t canon(const uint8_t *in, size_t n, uint8_t *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (in[i] == '\r') {
            out[o++] = '\r';
            out[o++] = '\n';
            if (i + 1 < n && in[i + 1] == '\n')
                i++;
        } else if (in[i] == '\n') {
            out[o++] = '\r';
            out[o++] = '\n';
        } else {
            out[o++] = in[i];
        }
    }
    if (o && !(o >= 2 && out[o - 2] == '\r' && out[o - 1] == '\n'))
        out[o++] = '\r', out[o++] = '\n';
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int stuff = !(data[0] & 1);
    size_t chunk = (size_t)(data[0] >> 1) + 1;
    data++;
    size--;
    /* canonical text cannot carry NUL: the encoder stops at the first one
     * (checked here), the round trip is checked on what comes before it */
    const uint8_t *nul = memchr(data, 0, size);
    if (nul) {
        mailproto__smtp_enc z;
        mailproto__smtp_enc_init(&z, stuff, 1, 1);
        uint8_t *zo = malloc(2 * size);
        if (!zo)
            abort();
        size_t zw = mailproto__smtp_enc_run(&z, data, size, zo);
        if (!z.nul || memchr(zo, 0, zw))
            abort();
        free(zo);
        size = (size_t)(nul - data);
    }
    uint8_t *ref = malloc(2 * size + 2);
    /* room for in-place encoding: each chunk is copied to the upper half */
    uint8_t *out = malloc(2 * size + 8 + 2 * chunk);
    uint8_t *tmp = malloc(2 * chunk);
    if (!ref || !out || !tmp)
        abort();
    mailproto__smtp_enc e;
    mailproto__smtp_enc_init(&e, stuff, 1, 1);
    size_t o = 0;
    for (size_t i = 0; i < size; i += chunk) {
        size_t n = size - i < chunk ? size - i : chunk;
        /* in place: the input sits n bytes after where the output goes */
        memcpy(tmp + n, data + i, n);
        size_t w = mailproto__smtp_enc_run(&e, tmp + n, n, tmp);
        if (w > 2 * n)
            abort();
        memcpy(out + o, tmp, w);
        o += w;
    }
    o += mailproto__smtp_enc_end(&e, out + o);
    size_t rl = canon(data, size, ref);
    /* no bare CR or LF */
    for (size_t i = 0; i < o; i++) {
        if (out[i] == '\r' && (i + 1 >= o || out[i + 1] != '\n'))
            abort();
        if (out[i] == '\n' && (i == 0 || out[i - 1] != '\r'))
            abort();
    }
    size_t body = o;
    if (stuff) {
        if (o < 3 || memcmp(out + o - 3, ".\r\n", 3) != 0)
            abort();
        body = o - 3;
        /* the terminator appears once: at the end */
        for (size_t i = 0; i + 5 <= o; i++)
            if (memcmp(out + i, "\r\n.\r\n", 5) == 0 && i + 5 != o)
                abort();
        if (body && (body < 2 || out[body - 2] != '\r' || out[body - 1] != '\n'))
            abort();
        /* un-stuff */
        size_t u = 0;
        int bol = 1;
        for (size_t i = 0; i < body; i++) {
            if (bol && out[i] == '.') {
                if (i + 1 >= body || out[i + 1] != '.')
                    abort(); /* a lone dot at a line start */
                i++;
            }
            out[u++] = out[i];
            bol = out[i] == '\n';
        }
        body = u;
    }
    if (body != rl || memcmp(out, ref, rl) != 0)
        abort();
    free(ref);
    free(out);
    free(tmp);
    return 0;
}
