/*
 * smtp_send_nonblock: several messages from one poll() loop; nothing
 * blocks (except name resolution in mailproto_smtp_connect).
 *
 *   MAILPROTO_PASSWORD=secret ./smtp_send_nonblock mail.example.org 587 USER FROM TO [COUNT]
 *
 * SPDX-License-Identifier: MIT
 */
#include <poll.h>
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
        fprintf(stderr, "usage: %s HOST PORT USER FROM TO [COUNT]\n", argv[0]);
        return 2;
    }
    int count = argc > 6 ? atoi(argv[6]) : 3;
    mailproto_tls_config *tls = tls_from_env();
    const mailproto_smtp_config cfg = {
        .tls = tls,
        .host = argv[1], .port = (uint16_t)atoi(argv[2]), .username = argv[3],
        .password = getenv("MAILPROTO_PASSWORD"), .nonblocking = 1,
    };
    const char *rcpt[] = {argv[5]};
    const mailproto_envelope env = {.from = argv[4], .rcpt = rcpt, .n_rcpt = 1};
    char body[128];
    mailproto_source src;

    mailproto_smtp *s = NULL;
    int rc = mailproto_smtp_new(&s, &cfg, NULL);
    if (rc == MAILPROTO_OK)
        rc = mailproto_smtp_connect(s); /* starts; the session is ready at EV_READY */
    int submitted = 0, done = 0, failed = 0;
    while (rc == MAILPROTO_AGAIN || rc == MAILPROTO_OK || rc == MAILPROTO_EVENT) {
        const mailproto_smtp_event *ev;
        uint64_t now = mailproto_clock_monotonic_ms(NULL);
        while ((rc = mailproto_smtp_poll(s, now, &ev)) == MAILPROTO_EVENT) {
            switch (ev->type) {
            case MAILPROTO_SMTP_EV_SENT:
                done++;
                if (ev->status != MAILPROTO_OK)
                    failed++;
                printf("message %d: %s (%d %s)\n", done, mailproto_strerror(ev->status), ev->code,
                       ev->enhanced);
                /* the session is ready for the next one */
                /* fall through */
            case MAILPROTO_SMTP_EV_READY:
                if (submitted < count) {
                    int n = snprintf(body, sizeof body, "Subject: message %d of %d\r\n\r\nHello.\r\n",
                                     submitted + 1, count);
                    mailproto_source_mem(&src, body, (size_t)n);
                    if (mailproto_smtp_submit(s, &env, &src) == MAILPROTO_OK)
                        submitted++;
                } else {
                    mailproto_smtp_quit(s); /* EV_CLOSED follows */
                }
                break;
            case MAILPROTO_SMTP_EV_RCPT:
                if (ev->code >= 400)
                    printf("recipient refused: %d %s\n", ev->code, ev->enhanced);
                break;
            case MAILPROTO_SMTP_EV_CLOSED:
                mailproto_smtp_free(s);
    mailproto_tls_config_free(tls);
                return failed ? 1 : 0;
            default:
                break;
            }
        }
        if (rc != MAILPROTO_AGAIN)
            break;
        int interest = mailproto_smtp_io_interest(s);
        struct pollfd p = {mailproto_smtp_fd(s),
                           (short)(((interest & MAILPROTO_IO_READ) ? POLLIN : 0) |
                                   ((interest & MAILPROTO_IO_WRITE) ? POLLOUT : 0)),
                           0};
        poll(&p, 1, mailproto_smtp_timeout_ms(s, mailproto_clock_monotonic_ms(NULL)));
    }
    const mailproto_reply *r = mailproto_smtp_last_reply(s);
    fprintf(stderr, "failed: %s (server: %d %s %s)\n", mailproto_strerror(rc), r->code, r->enhanced,
            r->text);
    mailproto_smtp_free(s);
    mailproto_tls_config_free(tls);
    return 1;
}
