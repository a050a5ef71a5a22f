/*
 * imap_fetch: the blocking IMAP sample (DESIGN.md section 13).  Connects,
 * selects INBOX read-only and prints the newest message on stdout.
 *
 *   MAILPROTO_PASSWORD=... imap_fetch imap.example.org alice [port]
 *
 * MAILPROTO_CAFILE names a CA bundle (default: the system's).
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mailproto/mailproto.h>

static int to_stdout(void *ctx, const void *data, size_t len)
{
    (void)ctx;
    return fwrite(data, 1, len, stdout) == len ? MAILPROTO_OK : MAILPROTO_E_IO;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: MAILPROTO_PASSWORD=... %s HOST USER [PORT]\n", argv[0]);
        return 2;
    }
    mailproto_tls_config *tls = NULL;
    if (getenv("MAILPROTO_CAFILE")) {
        mailproto_tls_options o;
        memset(&o, 0, sizeof o);
        o.ca_file = getenv("MAILPROTO_CAFILE");
        if (mailproto_tls_config_new(&tls, &o, NULL, NULL, 0) != MAILPROTO_OK)
            return 1;
    }
    mailproto_imap_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.host = argv[1];
    cfg.port = argc > 3 ? (uint16_t)atoi(argv[3]) : 993; /* 993: implicit TLS */
    cfg.username = argv[2];
    cfg.password = getenv("MAILPROTO_PASSWORD");
    cfg.tls = tls;
    mailproto_imap *im = NULL;
    int rc = mailproto_imap_new(&im, &cfg, NULL);
    if (rc == MAILPROTO_OK)
        rc = mailproto_imap_connect(im);               /* TLS verified, LOGIN/AUTHENTICATE */
    if (rc == MAILPROTO_OK)
        rc = mailproto_imap_select(im, "INBOX", MAILPROTO_IMAP_EXAMINE);
    uint32_t n = mailproto_imap_mailbox_state(im)->exists;
    if (rc == MAILPROTO_OK && n) {
        mailproto_sink out = {to_stdout, NULL};
        rc = mailproto_imap_fetch_body(im, MAILPROTO_IMAP_SEQ, n, "", 0, 0, &out);  /* streamed */
    }
    if (rc < 0) {
        const mailproto_reply *r = mailproto_imap_last_reply(im);  /* NULL-safe */
        fprintf(stderr, "imap failed: %s (%s) [%s] %.*s\n", mailproto_strerror(rc), r->message ? r->message : "",
                r->resp_code, (int)r->text_len, r->text);
    }
    mailproto_imap_free(im);                                   /* LOGOUT if still connected */
    mailproto_tls_config_free(tls);
    return rc < 0 ? 1 : 0;
}
