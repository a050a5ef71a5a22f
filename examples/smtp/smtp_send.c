/*
 * smtp_send: send one message, blocking (DESIGN.md section 14 without the
 * MIME builder).
 *
 *   MAILPROTO_PASSWORD=secret ./smtp_send mail.example.org 587 bot@example.org \
 *       bot@example.org ops@example.org
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mailproto/mailproto.h>

/* MAILPROTO_CAFILE names a CA bundle to trust instead of the system's. */
static mailproto_tls_config *tls_from_env(void)
{
    mailproto_tls_config *tls = NULL;
    const char *ca = getenv("MAILPROTO_CAFILE");
    if (ca) {
        const mailproto_tls_options opt = {.ca_file = ca};
        char err[200];
        if (mailproto_tls_config_new(&tls, &opt, NULL, err, sizeof err) != MAILPROTO_OK)
            fprintf(stderr, "MAILPROTO_CAFILE: %s\n", err);
    }
    return tls;
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: %s HOST PORT USER FROM TO...  (password in MAILPROTO_PASSWORD)\n",
                argv[0]);
        return 2;
    }
    mailproto_tls_config *tls = tls_from_env();
    const mailproto_smtp_config cfg = {
        .tls = tls,
        .host = argv[1], .port = (uint16_t)atoi(argv[2]), .security = MAILPROTO_SEC_DEFAULT,
        .username = argv[3], .password = getenv("MAILPROTO_PASSWORD"), .timeout_ms = 30000,
    };
    static const char body[] = "Subject: Nightly report\r\n"
                               "\r\n"
                               "Everything is fine.\r\n";
    mailproto_source src;
    mailproto_source_mem(&src, body, sizeof body - 1);
    const mailproto_envelope env = {.from = argv[4], .rcpt = (const char *const *)&argv[5],
                                    .n_rcpt = (size_t)(argc - 5)};

    mailproto_smtp *s = NULL;
    mailproto_smtp_result res;
    memset(&res, 0, sizeof res);
    int rc = mailproto_smtp_new(&s, &cfg, NULL);      /* NULL allocator = malloc */
    if (rc == MAILPROTO_OK)
        rc = mailproto_smtp_connect(s);               /* TLS verified, EHLO, AUTH */
    if (rc == MAILPROTO_OK)
        rc = mailproto_smtp_send(s, &env, &src, &res); /* streams the body */
    if (rc < 0) {
        const mailproto_reply *r = mailproto_smtp_last_reply(s); /* NULL-safe */
        fprintf(stderr, "mail failed: %s (server: %d %s %.*s)\n", mailproto_strerror(rc), r->code,
                r->enhanced, (int)r->text_len, r->text);
    } else if (res.n_rejected > 0) {                  /* partial delivery is not an error */
        fprintf(stderr, "%zu refused, first %s\n", res.n_rejected, env.rcpt[res.first_rejected]);
    }
    mailproto_smtp_free(s);                           /* sends QUIT if still connected */
    return rc < 0 ? 1 : 0;
}
