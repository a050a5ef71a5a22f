/*
 * A scripted server for the client tests over real loopback TCP: a thread
 * that accepts one connection on a free port and plays its steps ("S:"
 * send, "C:" read a line and check it, "W" pause 50 ms, "X" drop the
 * connection), then records whatever else the client sends (a ClientHello,
 * ...) until it closes.  Include after testutil.h.
 */
#ifndef MAILPROTO_TCP_PEER_H
#define MAILPROTO_TCP_PEER_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

typedef struct peer {
    int lfd;
    uint16_t port;
    const char *const *steps; /* "S:" send, "C:" read a line (checked), "W" pause 50 ms, "X" close */
    size_t n;
    char got[4096];
    size_t got_len;
    int ok;
} peer;

static int read_line(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap) {
        ssize_t r = recv(fd, buf + n, 1, 0);
        if (r <= 0)
            return -1;
        if (buf[n++] == '\n')
            break;
    }
    buf[n] = '\0';
    return (int)n;
}

static void *peer_main(void *arg)
{
    peer *p = arg;
    int fd = accept(p->lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    p->ok = 1;
    for (size_t i = 0; i < p->n; i++) {
        const char *st = p->steps[i];
        if (st[0] == 'S') {
            if (send(fd, st + 2, strlen(st + 2), MSG_NOSIGNAL) < 0)
                break;
        } else if (st[0] == 'C') {
            char line[1024];
            if (read_line(fd, line, sizeof line) < 0 || strcmp(line, st + 2) != 0) {
                fprintf(stderr, "peer: got [%s], expected [%s]\n", line, st + 2);
                p->ok = 0;
                break;
            }
        } else if (st[0] == 'W') {
            usleep(50000);
        } else if (st[0] == 'X') {
            close(fd);
            return NULL;
        }
    }
    ssize_t r;
    while (p->got_len < sizeof p->got &&
           (r = recv(fd, p->got + p->got_len, sizeof p->got - p->got_len, 0)) > 0)
        p->got_len += (size_t)r;
    close(fd);
    return NULL;
}

static void peer_start(peer *p, pthread_t *th)
{
    p->lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(p->lfd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0; /* a free port */
    assert_int_equal(bind(p->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(p->lfd, 1), 0);
    socklen_t l = sizeof a;
    getsockname(p->lfd, (struct sockaddr *)&a, &l);
    p->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(th, NULL, peer_main, p), 0);
}

static void peer_join(peer *p, pthread_t th)
{
    pthread_join(th, NULL);
    close(p->lfd);
}

#endif /* MAILPROTO_TCP_PEER_H */
