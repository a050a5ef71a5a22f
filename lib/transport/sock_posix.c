/*
 * TCP over POSIX sockets: getaddrinfo, an RFC 8305-style connect race
 * (IPv6 first, families interleaved, the next address 250 ms after the
 * previous one started or at once when it failed) within one connect
 * budget, non-blocking sockets throughout, MSG_NOSIGNAL (and SO_NOSIGPIPE
 * where it exists) so that a reset connection never raises SIGPIPE.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport_int.h"

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* SO_NOSIGPIPE covers the platforms without it */
#endif

#define MAX_ADDRS 16
#define RACE_DELAY_MS 250
#define MULTI_POLL_MS 25 /* re-check other in-flight attempts this often */

struct mailproto__sock_conn {
    struct sockaddr_storage addr[MAX_ADDRS];
    socklen_t len[MAX_ADDRS];
    int fds[MAX_ADDRS]; /* -1: not started, failed or closed */
    size_t n, next;
    uint64_t deadline, next_at;
    int last_errno;
    int last_fd; /* most recent attempt still in flight, for _fd() */
};

static void addr_text(const struct sockaddr_storage *sa, char *buf, size_t cap)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (sa->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
        port = ntohs(a->sin6_port);
        mailproto__fmt(buf, cap, "[%s]:%u", ip, port);
    } else {
        const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
        port = ntohs(a->sin_port);
        mailproto__fmt(buf, cap, "%s:%u", ip, port);
    }
}

static int set_flags(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    int fdfl = fcntl(fd, F_GETFD);
    if (fdfl < 0 || fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) < 0)
        return -1;
#ifdef SO_NOSIGPIPE
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
    return 0;
}

static void close_attempts(struct mailproto__sock_conn *c, int keep)
{
    for (size_t i = 0; i < c->n; i++) {
        if (c->fds[i] >= 0 && c->fds[i] != keep)
            close(c->fds[i]);
        c->fds[i] = -1;
    }
}

static void conn_free(mailproto_transport *t, int keep)
{
    if (!t->conn)
        return;
    close_attempts(t->conn, keep);
    mailproto__free(t->memp, t->conn, sizeof *t->conn);
    t->conn = NULL;
}

/* Order: interleave the families, IPv6 first (RFC 8305 section 4). */
static int conn_new(mailproto_transport *t, const struct sockaddr *const *addrs,
                    const socklen_t *lens, size_t n, uint64_t now)
{
    struct mailproto__sock_conn *c = mailproto__calloc(t->memp, 1, sizeof *c);
    if (!c)
        return mailproto__tp_fail(t, MAILPROTO_E_NOMEM, "out of memory");
    size_t v6[MAX_ADDRS], v4[MAX_ADDRS], n6 = 0, n4 = 0;
    for (size_t i = 0; i < n && n6 + n4 < MAX_ADDRS; i++) {
        if (addrs[i]->sa_family == AF_INET6 && lens[i] >= sizeof(struct sockaddr_in6))
            v6[n6++] = i;
        else if (addrs[i]->sa_family == AF_INET && lens[i] >= sizeof(struct sockaddr_in))
            v4[n4++] = i;
    }
    size_t i6 = 0, i4 = 0;
    while (i6 < n6 || i4 < n4) {
        size_t src;
        if (i6 < n6 && (c->n % 2 == 0 || i4 >= n4))
            src = v6[i6++];
        else
            src = v4[i4++];
        socklen_t l = addrs[src]->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                         : sizeof(struct sockaddr_in);
        memcpy(&c->addr[c->n], addrs[src], l);
        c->len[c->n] = l;
        c->n++;
    }
    for (size_t i = 0; i < MAX_ADDRS; i++)
        c->fds[i] = -1;
    c->last_fd = -1;
    c->deadline = now + (uint64_t)t->connect_timeout_ms;
    c->next_at = now;
    t->conn = c;
    if (c->n == 0) {
        conn_free(t, -1);
        return mailproto__tp_fail(t, MAILPROTO_E_INVALID, "no usable IPv4 or IPv6 address");
    }
    return MAILPROTO_OK;
}

int mailproto__sock_start(mailproto_transport *t, const void *const *addrs, const unsigned *lens,
                          size_t n, uint64_t now)
{
    const struct sockaddr *sa[MAX_ADDRS];
    socklen_t sl[MAX_ADDRS];
    size_t m = 0;
    for (size_t i = 0; i < n && m < MAX_ADDRS; i++) {
        sa[m] = addrs[i];
        sl[m] = (socklen_t)lens[i];
        m++;
    }
    int rc = conn_new(t, sa, sl, m, now);
    if (rc != MAILPROTO_OK)
        return rc;
    return mailproto__sock_step(t, now, 0);
}

int mailproto__sock_resolve_start(mailproto_transport *t, int family, uint64_t now)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = family == 4 ? AF_INET : family == 6 ? AF_INET6 : AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    char port[8];
    mailproto__fmt(port, sizeof port, "%u", (unsigned)t->port);
    mailproto__trace_note(&t->trace, "resolving %s", t->host);
    int g = getaddrinfo(t->host, port, &hints, &res);
    if (g != 0) {
        int e = errno;
        int rc = mailproto__tp_fail(t, MAILPROTO_E_RESOLVE, "cannot resolve %s: %s", t->host,
                                    gai_strerror(g));
        if (g == EAI_SYSTEM)
            t->err.pub.sys_errno = e;
        return rc;
    }
    const struct sockaddr *sa[MAX_ADDRS];
    socklen_t sl[MAX_ADDRS];
    size_t m = 0;
    for (struct addrinfo *ai = res; ai && m < MAX_ADDRS; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        /* skip duplicates (one per socktype/protocol on some systems) */
        int dup = 0;
        for (size_t j = 0; j < m; j++)
            if (sl[j] == ai->ai_addrlen && memcmp(sa[j], ai->ai_addr, sl[j]) == 0)
                dup = 1;
        if (dup)
            continue;
        sa[m] = ai->ai_addr;
        sl[m] = ai->ai_addrlen;
        m++;
    }
    int rc = conn_new(t, sa, sl, m, now);
    freeaddrinfo(res);
    if (rc != MAILPROTO_OK)
        return rc == MAILPROTO_E_INVALID
                   ? mailproto__tp_fail(t, MAILPROTO_E_RESOLVE, "%s has no IPv4 or IPv6 address",
                                        t->host)
                   : rc;
    return mailproto__sock_step(t, now, 0);
}

/* Start the next attempt; returns 1 when one is in flight or connected at
 * once (*won set), 0 when it failed at once. */
static int start_one(mailproto_transport *t, uint64_t now, int *won)
{
    struct mailproto__sock_conn *c = t->conn;
    size_t i = c->next++;
    char where[80];
    addr_text(&c->addr[i], where, sizeof where);
    mailproto__trace_note(&t->trace, "connecting to %s", where);
    int fd = socket(c->addr[i].ss_family, SOCK_STREAM, 0);
    if (fd < 0 || set_flags(fd) != 0) {
        c->last_errno = errno;
        if (fd >= 0)
            close(fd);
        mailproto__trace_note(&t->trace, "socket for %s failed: %s", where,
                              strerror(c->last_errno));
        return 0;
    }
    int r;
    do {
        r = connect(fd, (const struct sockaddr *)&c->addr[i], c->len[i]);
    } while (r != 0 && errno == EINTR);
    if (r == 0) {
        c->fds[i] = fd;
        *won = fd;
        return 1;
    }
    if (errno != EINPROGRESS) {
        c->last_errno = errno;
        close(fd);
        mailproto__trace_note(&t->trace, "connect to %s failed: %s", where,
                              strerror(c->last_errno));
        return 0;
    }
    c->fds[i] = fd;
    c->last_fd = fd;
    c->next_at = now + RACE_DELAY_MS;
    return 1;
}

static size_t in_flight(const struct mailproto__sock_conn *c)
{
    size_t k = 0;
    for (size_t i = 0; i < c->n; i++)
        if (c->fds[i] >= 0)
            k++;
    return k;
}

static int won_fd(mailproto_transport *t, int fd)
{
    struct mailproto__sock_conn *c = t->conn;
    char where[80] = "?";
    for (size_t i = 0; i < c->n; i++)
        if (c->fds[i] == fd)
            addr_text(&c->addr[i], where, sizeof where);
    conn_free(t, fd);
    t->fd = fd;
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    mailproto__trace_note(&t->trace, "connected to %s", where);
    return MAILPROTO_OK;
}

static int race_failed(mailproto_transport *t)
{
    int e = t->conn->last_errno;
    conn_free(t, -1);
    int rc;
    if (e == ETIMEDOUT)
        rc = mailproto__tp_fail(t, MAILPROTO_E_TIMEOUT, "connecting to %s port %u timed out",
                                t->host ? t->host : "the server", (unsigned)t->port);
    else
        rc = mailproto__tp_fail(t, MAILPROTO_E_CONNECT, "cannot connect to %s port %u: %s",
                                t->host ? t->host : "the server", (unsigned)t->port,
                                e ? strerror(e) : "no address worked");
    t->err.pub.sys_errno = e;
    return rc;
}

int mailproto__sock_step(mailproto_transport *t, uint64_t now, int wait_ms)
{
    struct mailproto__sock_conn *c = t->conn;
    if (!c)
        return t->fd >= 0 ? MAILPROTO_OK : MAILPROTO_E_STATE;
    if (now >= c->deadline) {
        conn_free(t, -1);
        return mailproto__tp_fail(t, MAILPROTO_E_TIMEOUT,
                                  "connecting to %s port %u timed out after %d ms",
                                  t->host ? t->host : "the server", (unsigned)t->port,
                                  t->connect_timeout_ms);
    }
    /* Start attempts: the first at once, the next after the race delay or
     * as soon as nothing else is in flight. */
    while (c->next < c->n && (in_flight(c) == 0 || now >= c->next_at)) {
        int won = -1;
        if (start_one(t, now, &won) && won >= 0)
            return won_fd(t, won);
        if (in_flight(c) > 0 && now < c->next_at)
            break;
    }
    if (in_flight(c) == 0)
        return race_failed(t);

    struct pollfd pfd[MAX_ADDRS];
    size_t idx[MAX_ADDRS], np = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (c->fds[i] < 0)
            continue;
        pfd[np].fd = c->fds[i];
        pfd[np].events = POLLOUT;
        pfd[np].revents = 0;
        idx[np++] = i;
    }
    int ms = wait_ms;
    if (ms > 0) {
        int lim = mailproto__sock_timeout(t, now);
        if (lim >= 0 && lim < ms)
            ms = lim;
    }
    int r = poll(pfd, (nfds_t)np, ms < 0 ? 0 : ms);
    if (r < 0 && errno != EINTR) {
        c->last_errno = errno;
        return race_failed(t);
    }
    for (size_t k = 0; r > 0 && k < np; k++) {
        if (!pfd[k].revents)
            continue;
        size_t i = idx[k];
        int err = 0;
        socklen_t el = sizeof err;
        if (getsockopt(c->fds[i], SOL_SOCKET, SO_ERROR, &err, &el) != 0)
            err = errno;
        if (err == 0)
            return won_fd(t, c->fds[i]);
        char where[80];
        addr_text(&c->addr[i], where, sizeof where);
        mailproto__trace_note(&t->trace, "connect to %s failed: %s", where, strerror(err));
        c->last_errno = err;
        if (c->last_fd == c->fds[i])
            c->last_fd = -1;
        close(c->fds[i]);
        c->fds[i] = -1;
        c->next_at = now; /* a failure starts the next address at once */
    }
    if (in_flight(c) == 0 && c->next >= c->n)
        return race_failed(t);
    if (in_flight(c) == 0 || (c->next < c->n && c->next_at <= now))
        return mailproto__sock_step(t, now, 0); /* bounded: each pass starts an attempt */
    t->interest = MAILPROTO_IO_WRITE;
    return MAILPROTO_AGAIN;
}

int mailproto__sock_timeout(const mailproto_transport *t, uint64_t now)
{
    const struct mailproto__sock_conn *c = t->conn;
    if (!c)
        return -1;
    if (now >= c->deadline)
        return 0;
    uint64_t at = c->deadline;
    if (c->next < c->n && c->next_at < at)
        at = c->next_at;
    uint64_t left = at > now ? at - now : 0;
    if (in_flight(c) > 1 && left > MULTI_POLL_MS)
        left = MULTI_POLL_MS; /* the caller polls one fd; look at the others too */
    return left > INT_MAX ? INT_MAX : (int)left;
}

int mailproto__sock_fd(const mailproto_transport *t)
{
    const struct mailproto__sock_conn *c = t->conn;
    if (!c)
        return t->fd;
    if (c->last_fd >= 0)
        return c->last_fd;
    for (size_t i = 0; i < c->n; i++)
        if (c->fds[i] >= 0)
            return c->fds[i];
    return -1;
}

static int io_errno(mailproto_transport *t, int e, const char *what)
{
    int rc;
    if (e == ECONNRESET || e == EPIPE || e == ENOTCONN)
        rc = mailproto__tp_fail(t, MAILPROTO_E_CLOSED, "the connection was reset while %s: %s",
                                what, strerror(e));
    else if (e == ETIMEDOUT)
        rc = mailproto__tp_fail(t, MAILPROTO_E_TIMEOUT, "the connection timed out while %s", what);
    else
        rc = mailproto__tp_fail(t, MAILPROTO_E_IO, "%s failed: %s", what, strerror(e));
    t->err.pub.sys_errno = e;
    return rc;
}

int mailproto__sock_send(mailproto_transport *t, const void *buf, size_t len, size_t *done)
{
    *done = 0;
    if (t->fd < 0)
        return MAILPROTO_E_STATE;
    for (;;) {
        ssize_t r = send(t->fd, buf, len, MSG_NOSIGNAL);
        if (r >= 0) {
            *done = (size_t)r;
            return MAILPROTO_OK;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            t->interest = MAILPROTO_IO_WRITE;
            return MAILPROTO_AGAIN;
        }
        return io_errno(t, errno, "sending");
    }
}

int mailproto__sock_recv(mailproto_transport *t, void *buf, size_t cap, size_t *done)
{
    *done = 0;
    if (t->fd < 0)
        return MAILPROTO_E_STATE;
    for (;;) {
        ssize_t r = recv(t->fd, buf, cap, 0);
        if (r >= 0) {
            *done = (size_t)r;
            return MAILPROTO_OK;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            t->interest = MAILPROTO_IO_READ;
            return MAILPROTO_AGAIN;
        }
        return io_errno(t, errno, "receiving");
    }
}

int mailproto__sock_peek(mailproto_transport *t)
{
    if (t->fd < 0)
        return MAILPROTO_E_STATE;
    unsigned char b;
    for (;;) {
        ssize_t r = recv(t->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
        if (r > 0)
            return 1;
        if (r == 0)
            return mailproto__tp_fail(t, MAILPROTO_E_CLOSED,
                                      "the server closed the connection before TLS started");
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        return io_errno(t, errno, "checking for plaintext before TLS");
    }
}

int mailproto__sock_peek_fd(int fd)
{
    unsigned char b;
    ssize_t r;
    do {
        r = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    } while (r < 0 && errno == EINTR);
    return r > 0 ? 1 : 0;
}

int mailproto__sock_wait(mailproto_transport *t, int fd, int interest, int timeout_ms)
{
    if (fd < 0)
        return MAILPROTO_E_STATE;
    struct pollfd p;
    p.fd = fd;
    p.events = (short)(((interest & MAILPROTO_IO_READ) ? POLLIN : 0) |
                       ((interest & MAILPROTO_IO_WRITE) ? POLLOUT : 0));
    p.revents = 0;
    for (;;) {
        int r = poll(&p, 1, timeout_ms);
        if (r > 0)
            return MAILPROTO_OK; /* errors and hangups show up on the next call */
        if (r == 0)
            return MAILPROTO_E_TIMEOUT;
        if (errno != EINTR)
            return io_errno(t, errno, "waiting");
    }
}

void mailproto__sock_close(mailproto_transport *t)
{
    conn_free(t, -1);
    if (t->fd >= 0) {
        close(t->fd);
        t->fd = -1;
    }
}
