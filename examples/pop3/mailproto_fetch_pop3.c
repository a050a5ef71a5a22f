/*
 * mailproto-fetch-pop3: mailproto-fetch's POP3 half as a program of its
 * own, until mailproto-fetch (examples/imap/) calls fetch_pop3_main for
 * pop3:// and pop3s:// URLs itself.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <string.h>

#include "../imap/fetch_pop3.h"

int main(int argc, char **argv)
{
    const char *url = NULL;
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--server"))
            url = argv[i + 1];
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return fetch_pop3_main(argc, argv, url);
    if (!url) {
        fprintf(stderr, "mailproto-fetch: --server pop3s://host (or pop3://) is needed\n");
        return 2;
    }
    return fetch_pop3_main(argc, argv, url);
}
