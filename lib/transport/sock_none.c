/*
 * Builds without POSIX sockets (firmware): the TCP entry points exist and
 * answer MAILPROTO_E_UNSUPPORTED; use mailproto_transport_io() instead.
 *
 * SPDX-License-Identifier: MIT
 */
#include "transport_int.h"

int mailproto__sock_start(mailproto_transport *t, const void *const *addrs, const unsigned *lens,
                          size_t n, uint64_t now)
{
    (void)addrs;
    (void)lens;
    (void)n;
    (void)now;
    return mailproto__err_set(&t->err, MAILPROTO_E_UNSUPPORTED,
                              "this build of libmailproto has no sockets");
}

int mailproto__sock_resolve_start(mailproto_transport *t, int family, uint64_t now)
{
    (void)family;
    return mailproto__sock_start(t, NULL, NULL, 0, now);
}

int mailproto__sock_step(mailproto_transport *t, uint64_t now, int wait_ms)
{
    (void)t;
    (void)now;
    (void)wait_ms;
    return MAILPROTO_E_UNSUPPORTED;
}

int mailproto__sock_timeout(const mailproto_transport *t, uint64_t now)
{
    (void)t;
    (void)now;
    return -1;
}

int mailproto__sock_fd(const mailproto_transport *t)
{
    (void)t;
    return -1;
}

int mailproto__sock_send(mailproto_transport *t, const void *buf, size_t len, size_t *done)
{
    (void)t;
    (void)buf;
    (void)len;
    *done = 0;
    return MAILPROTO_E_UNSUPPORTED;
}

int mailproto__sock_recv(mailproto_transport *t, void *buf, size_t cap, size_t *done)
{
    (void)t;
    (void)buf;
    (void)cap;
    *done = 0;
    return MAILPROTO_E_UNSUPPORTED;
}

int mailproto__sock_peek(mailproto_transport *t)
{
    (void)t;
    return 0;
}

int mailproto__sock_peek_fd(int fd)
{
    (void)fd;
    return 0;
}

int mailproto__sock_wait(mailproto_transport *t, int fd, int interest, int timeout_ms)
{
    (void)t;
    (void)fd;
    (void)interest;
    (void)timeout_ms;
    return MAILPROTO_E_UNSUPPORTED;
}

void mailproto__sock_close(mailproto_transport *t)
{
    (void)t;
}
