/*
 * imap_idle_epoll: IMAP IDLE inside an epoll loop, nothing blocks
 * (DESIGN.md section 15).  Prints the From/Subject header of every new
 * message as it arrives.
 *
 *   MAILPROTO_PASSWORD=... imap_idle_epoll imap.example.org alice [port]
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <mailproto/mailproto.h>

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void report(const mailproto_reply *r)
{
    fprintf(stderr, "imap: %s [%s] %.*s\n", r->message ? r->message : "", r->resp_code, (int)r->text_len, r->text);
}

static int watch_inbox(int ep, const char *host, uint16_t port, const char *user, const char *pass,
                       const mailproto_tls_config *tls)
{
    mailproto_imap_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.host = host;
    cfg.port = port;
    cfg.username = user;
    cfg.password = pass;
    cfg.tls = tls;
    cfg.nonblocking = 1;
    cfg.idle_refresh_ms = 9 * 60 * 1000; /* providers that drop idle links early */
    mailproto_imap *im = NULL;
    int rc = mailproto_imap_new(&im, &cfg, NULL);
    if (rc == MAILPROTO_OK)
        rc = mailproto_imap_connect(im); /* starts; AGAIN expected */
    if (rc != MAILPROTO_AGAIN) {
        mailproto_imap_free(im);
        return rc;
    }
    mailproto_imap_select(im, "INBOX", 0); /* queued, run in order */
    mailproto_imap_idle(im);
    struct epoll_event ee;
    memset(&ee, 0, sizeof ee);
    ee.events = EPOLLIN | EPOLLOUT;
    ee.data.ptr = im;
    epoll_ctl(ep, EPOLL_CTL_ADD, mailproto_imap_fd(im), &ee);
    while (rc >= 0) {
        const mailproto_imap_event *ev;
        while ((rc = mailproto_imap_poll(im, now_ms(), &ev)) == MAILPROTO_EVENT) {
            if (ev->type == MAILPROTO_IMAP_EV_EXISTS && mailproto_imap_mailbox_state(im)->selected) {
                uint32_t n = (uint32_t)ev->number;              /* "* 42 EXISTS" */
                mailproto_imap_idle_done(im);                  /* DONE, fetch, IDLE again */
                mailproto_imap_fetch(im, MAILPROTO_IMAP_SEQ, n, n,
                                     "(UID FLAGS BODY.PEEK[HEADER.FIELDS (FROM SUBJECT)])");
                mailproto_imap_idle(im);
            } else if (ev->type == MAILPROTO_IMAP_EV_LITERAL_CHUNK) {
                fwrite(ev->data.ptr, 1, ev->data.len, stdout); /* borrowed span */
                fflush(stdout);
            } else if (ev->type == MAILPROTO_IMAP_EV_COMPLETED && ev->status != MAILPROTO_IMAP_OK) {
                report(mailproto_imap_last_reply(im));         /* NO/BAD + response code */
            } else if (ev->type == MAILPROTO_IMAP_EV_ALERT) {
                fprintf(stderr, "server alert: %.*s\n", (int)ev->data.len, ev->data.ptr);
            }                                                  /* other event types: ignore */
        }
        if (rc != MAILPROTO_AGAIN)
            break;                                             /* fatal: caller reconnects */
        ee.events = EPOLLIN | ((mailproto_imap_io_interest(im) & MAILPROTO_IO_WRITE) ? EPOLLOUT : 0);
        epoll_ctl(ep, EPOLL_CTL_MOD, mailproto_imap_fd(im), &ee);
        epoll_wait(ep, &ee, 1, mailproto_imap_timeout_ms(im, now_ms())); /* incl. IDLE refresh */
    }
    if (rc < 0)
        report(mailproto_imap_last_reply(im));
    mailproto_imap_free(im);
    return rc;
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
    int ep = epoll_create1(0);
    if (ep < 0)
        return 1;
    int rc = watch_inbox(ep, argv[1], argc > 3 ? (uint16_t)atoi(argv[3]) : 993, argv[2],
                         getenv("MAILPROTO_PASSWORD"), tls);
    close(ep);
    mailproto_tls_config_free(tls);
    return rc < 0 ? 1 : 0;
}
