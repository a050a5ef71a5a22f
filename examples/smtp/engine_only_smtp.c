/*
 * engine_only_smtp: the caller owns the connection (here a plain POSIX
 * socket; on firmware an lwIP pcb or a modem): it reads into the engine's
 * input buffer, writes from its output buffer and pulls events.  No TLS in
 * this example, so it talks plain text (a local relay or LMTP server).
 *
 *   ./engine_only_smtp 127.0.0.1 25 FROM TO < message.eml
 *
 * SPDX-License-Identifier: MIT
 */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <mailproto/mailproto.h>

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int stdin_read(void *ctx, void *buf, size_t cap, size_t *got)
{
    (void)ctx;
    *got = fread(buf, 1, cap, stdin);
    return ferror(stdin) ? MAILPROTO_E_IO : MAILPROTO_OK;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s HOST PORT FROM TO < message\n", argv[0]);
        return 2;
    }
    struct addrinfo hints, *ai;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(argv[1], argv[2], &hints, &ai) != 0) {
        fprintf(stderr, "cannot resolve %s\n", argv[1]);
        return 1;
    }
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        perror("connect");
        return 1;
    }
    freeaddrinfo(ai);

    const mailproto_smtp_config cfg = {.security = MAILPROTO_SEC_PLAIN};
    mailproto_smtp *s = NULL;
    if (mailproto_smtp_new(&s, &cfg, NULL) != MAILPROTO_OK || mailproto_smtp_start(s) != MAILPROTO_OK)
        return 1;
    const char *rcpt[] = {argv[4]};
    const mailproto_envelope env = {.from = argv[3], .rcpt = rcpt, .n_rcpt = 1};
    mailproto_source body = {stdin_read, NULL, NULL, MAILPROTO_SIZE_UNKNOWN, NULL, 0, 0};
    int status = 1;
    for (;;) {
        const mailproto_smtp_event *ev;
        int rc = mailproto_smtp_next(s, now_ms(), &ev);
        if (rc == MAILPROTO_EVENT) {
            if (ev->type == MAILPROTO_SMTP_EV_READY) {
                if (mailproto_smtp_submit(s, &env, &body) != MAILPROTO_OK)
                    break;
            } else if (ev->type == MAILPROTO_SMTP_EV_SENT) {
                printf("%s: %d %s %.*s\n", mailproto_strerror(ev->status), ev->code, ev->enhanced,
                       (int)ev->text.len, ev->text.ptr);
                status = ev->status == MAILPROTO_OK ? 0 : 1;
                mailproto_smtp_quit(s);
            } else if (ev->type == MAILPROTO_SMTP_EV_CLOSED) {
                break;
            }
            continue;
        }
        if (rc < 0) {
            fprintf(stderr, "error: %s: %s\n", mailproto_strerror(rc), mailproto_smtp_last_reply(s)->message);
            break;
        }
        /* write what the engine has, then read what the server sent */
        const unsigned char *out;
        size_t len;
        mailproto_smtp_output_buf(s, &out, &len);
        if (len) {
            ssize_t n = send(fd, out, len, MSG_NOSIGNAL);
            if (n < 0) {
                perror("send");
                break;
            }
            mailproto_smtp_output_done(s, (size_t)n);
            continue;
        }
        if (rc == MAILPROTO_OK)
            break; /* idle: nothing more to do */
        unsigned char *in;
        size_t cap;
        mailproto_smtp_input_buf(s, &in, &cap);
        if (cap == 0)
            break;
        int t = mailproto_smtp_timeout_ms(s, now_ms());
        struct timeval tv = {t < 0 ? 60 : t / 1000, t < 0 ? 0 : (t % 1000) * 1000};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ssize_t n = recv(fd, in, cap, 0);
        if (n < 0)
            n = 0; /* a timeout: next() reports it when the deadline passed */
        mailproto_smtp_input_done(s, (size_t)n); /* 0: the server closed */
    }
    mailproto_smtp_free(s);
    close(fd);
    return status;
}
