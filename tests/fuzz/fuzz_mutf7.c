/* Fuzz target: modified UTF-7.  Whatever decodes re-encodes to exactly the
 * same bytes (strict decoding admits one spelling per name); whatever
 * encodes decodes back to the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mailproto/imap.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    size_t cap = size * 4 + 16, n, m;
    char *a = malloc(cap), *b = malloc(cap);
    if (!a || !b)
        goto out;
    if (mailproto_imap_mutf7_decode(in, size, a, cap, &n) == MAILPROTO_OK) {
        if (mailproto_imap_mutf7_encode(a, n, b, cap, &m) != MAILPROTO_OK || m != size || memcmp(b, in, size))
            abort();
    }
    if (mailproto_imap_mutf7_encode(in, size, a, cap, &n) == MAILPROTO_OK) {
        for (size_t i = 0; i < n; i++)
            if (a[i] < 0x20 || a[i] > 0x7e)
                abort();
        if (mailproto_imap_mutf7_decode(a, n, b, cap, &m) != MAILPROTO_OK || m != size || memcmp(b, in, size))
            abort();
    }
out:
    free(a);
    free(b);
    return 0;
}
