/* Fuzz target: the MIME reader must be total on any input, fed whole or in
 * pieces, and decoding every part must not crash; the parts table must not
 * depend on how the input was split. */
#include <stdlib.h>
#include <string.h>

#include <mailproto/mime.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int null_sink(void *ctx, const void *d, size_t n)
{
    (void)d;
    *(size_t *)ctx += n;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mailproto_mime_limits lim = {.max_depth = 8, .max_parts = 200, .max_header_bytes = 4096};
    mailproto_mime_reader *a = NULL, *b = NULL;
    if (mailproto_mime_reader_new(&a, NULL, &lim) || mailproto_mime_reader_new(&b, NULL, &lim))
        goto out;
    (void)mailproto_mime_reader_parse(a, data, size);
    size_t step = size ? (size_t)data[0] % 7 + 1 : 1;
    for (size_t off = 0; off < size; off += step)
        (void)mailproto_mime_reader_feed(b, data + off, size - off < step ? size - off : step);
    (void)mailproto_mime_reader_finish(b);
    size_t n = mailproto_mime_reader_count(a);
    if (n != mailproto_mime_reader_count(b))
        abort();
    for (size_t i = 0; i < n; i++) {
        const mailproto_mime_info *x = mailproto_mime_reader_part(a, i);
        const mailproto_mime_info *y = mailproto_mime_reader_part(b, i);
        if (x->body_off != y->body_off || x->body_end != y->body_end || strcmp(x->type, y->type) ||
            strcmp(x->filename, y->filename) || x->body_end > size || x->body_off > x->body_end)
            abort();
        size_t total = 0;
        mailproto_sink s = {null_sink, &total};
        (void)mailproto_mime_reader_decode(a, i, data, size, 0, &s);
        (void)mailproto_mime_reader_decode(a, i, data, size, MAILPROTO_MIME_DECODE_RAW, &s);
    }
    static const char *const hdrs[] = {"subject", "from", "to", "cc", "date", "message-id"};
    for (size_t i = 0; i < sizeof hdrs / sizeof hdrs[0]; i++) {
        const char *v = mailproto_mime_reader_header(a, hdrs[i]);
        if (!v || strcmp(v, mailproto_mime_reader_header(b, hdrs[i])) != 0)
            abort();
        const mailproto_mime_address *l;
        size_t k;
        (void)mailproto_mime_reader_addresses(a, hdrs[i], &l, &k);
    }
    int64_t t;
    int tz;
    (void)mailproto_mime_reader_date(a, &t, &tz);
out:
    mailproto_mime_reader_free(a);
    mailproto_mime_reader_free(b);
    return 0;
}
