/* Fuzz target: quoted-printable decode is total; encode -> decode is exact
 * in binary mode and CRLF-normalising in text mode, with lines <= 76 that
 * never start with a raw 'F' or '.'. */
#include <stdlib.h>
#include <string.h>

#include <mailproto/codec.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_lines(const char *s, size_t n)
{
    size_t col = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\r') {
            if (i + 1 >= n || s[i + 1] != '\n' || (i && (s[i - 1] == ' ' || s[i - 1] == '\t')))
                abort();
            col = 0;
            i++;
        } else if ((col == 0 && (s[i] == 'F' || s[i] == '.')) || ++col > 76 || s[i] == '\n') {
            abort(); /* also: no line starts with a raw 'F' ("From ") or '.' */
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *out = malloc(size + 64);
    size_t a, b;
    mailproto_qp_dec d;
    mailproto_qp_dec_init(&d);
    size_t split = size ? data[0] % (size + 1) : 0;
    if (!out || mailproto_qp_dec_update(&d, (const char *)data, split, out, &a) != 0 ||
        mailproto_qp_dec_update(&d, (const char *)data + split, size - split, out + a, &b) != 0 ||
        a + b > size + 40)
        abort();
    size_t c;
    mailproto_qp_dec_final(&d, out + a + b, &c);
    for (int binary = 0; binary < 2; binary++) {
        size_t bound = mailproto_qp_enc_bound(size) + 8;
        char *enc = malloc(bound);
        unsigned char *back = malloc(bound + 64);
        if (!enc || !back)
            abort();
        mailproto_qp_enc e;
        mailproto_qp_enc_init(&e, binary);
        size_t n = mailproto_qp_enc_update(&e, data, split, enc);
        n += mailproto_qp_enc_update(&e, data + split, size - split, enc + n);
        n += mailproto_qp_enc_final(&e, enc + n);
        if (n > bound)
            abort();
        check_lines(enc, n);
        mailproto_qp_dec_init(&d);
        mailproto_qp_dec_update(&d, enc, n, back, &a);
        mailproto_qp_dec_final(&d, back + a, &b);
        if (binary) {
            if (a + b != size || (size && memcmp(back, data, size) != 0))
                abort();
        } else {
            /* expected: every line break form becomes CRLF */
            size_t k = 0;
            for (size_t i = 0; i < size; i++) {
                if (data[i] == '\r' || data[i] == '\n') {
                    if (k + 2 > a + b || back[k] != '\r' || back[k + 1] != '\n')
                        abort();
                    k += 2;
                    if (data[i] == '\r' && i + 1 < size && data[i + 1] == '\n')
                        i++;
                } else if (k >= a + b || back[k++] != data[i]) {
                    abort();
                }
            }
            if (k != a + b)
                abort();
        }
        free(enc);
        free(back);
    }
    free(out);
    return 0;
}
