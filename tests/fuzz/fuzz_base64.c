/* Fuzz target: base64 decode must be total, and encode -> decode must
 * round-trip at every line length and split point. */
#include <stdlib.h>
#include <string.h>

#include <mailproto/codec.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* decode arbitrary input: must not crash or overrun */
    unsigned char *out = malloc(size / 4 * 3 + 3);
    size_t got;
    if (!out)
        return 0;
    mailproto_b64_dec d;
    mailproto_b64_dec_init(&d);
    (void)mailproto_b64_dec_update(&d, (const char *)data, size, out, &got);
    (void)mailproto_b64_dec_final(&d);

    /* round trip with a line length and split picked by the first bytes */
    unsigned line = size ? (data[0] % 5) * 19 : 0;
    size_t split = size > 1 ? data[1] % size : 0;
    mailproto_b64_enc e;
    mailproto_b64_enc_init(&e, line);
    size_t bound = mailproto_b64_enc_bound(&e, size) + 8;
    char *enc = malloc(bound);
    unsigned char *dec = malloc(size + 3);
    if (enc && dec) {
        size_t n = mailproto_b64_enc_update(&e, data, split, enc);
        n += mailproto_b64_enc_update(&e, data + split, size - split, enc + n);
        n += mailproto_b64_enc_final(&e, enc + n);
        if (n > bound)
            abort();
        mailproto_b64_dec_init(&d);
        if (mailproto_b64_dec_update(&d, enc, n, dec, &got) != 0 || got != size ||
            mailproto_b64_dec_final(&d) != 0 || (size && memcmp(dec, data, size) != 0))
            abort();
    }
    free(enc);
    free(dec);
    free(out);
    return 0;
}
