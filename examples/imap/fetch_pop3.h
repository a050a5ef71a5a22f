/*
 * mailproto-fetch's POP3 commands (pop3:// and pop3s:// server URLs).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MAILPROTO_FETCH_POP3_H
#define MAILPROTO_FETCH_POP3_H

/* Run mailproto-fetch for a POP3 URL.  argv is the whole command line
 * (options and COMMAND [ARGS]); url is the --server value.  Returns the
 * exit code: 0 success, 1 failure (one line "mailproto-fetch: reason" on
 * stderr), 2 usage. */
int fetch_pop3_main(int argc, char **argv, const char *url);

#endif /* MAILPROTO_FETCH_POP3_H */
