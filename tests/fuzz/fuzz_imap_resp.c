/* Fuzz target: the IMAP response parser.  The first byte picks the piece
 * size the input is fed in, the second the state (authenticated or not)
 * and the buffer size.  Oracle: the events of the chunked parse, with the
 * PARTIAL pieces of one token joined, equal those of the whole parse, and
 * the final status is the same. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/imap/imap_dump.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t step = data[0] ? data[0] : 1;
    int authed = data[1] & 1;
    mailproto_imap_parser_config cfg = {0};
    if (data[1] & 2)
        cfg.input_size = 512;
    if (data[1] & 4)
        cfg.max_line = 2048;
    if (data[1] & 8)
        cfg.max_items = 8;
    const char *in = (const char *)data + 2;
    size -= 2;
    int rc1, rc2;
    char *whole = dump_parse(in, size, 0, &cfg, authed, &rc1);
    char *chunked = dump_parse(in, size, step, &cfg, authed, &rc2);
    if (rc1 != rc2 || strcmp(whole, chunked) != 0)
        abort();
    if (rc1 >= 0 && rc1 != MAILPROTO_AGAIN)
        abort(); /* the input always ends: E_CLOSED, E_PROTOCOL or E_LIMIT */
    free(whole);
    free(chunked);
    return 0;
}
