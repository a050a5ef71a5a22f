/*
 * Builds without Mbed TLS: the TLS functions exist (the ABI is the same in
 * every build) and answer MAILPROTO_E_UNSUPPORTED.  A callback transport
 * with its own start_tls still gets TLS from the caller's stack.
 *
 * SPDX-License-Identifier: MIT
 */
#include "transport_int.h"

int mailproto_tls_config_new(mailproto_tls_config **out, const mailproto_tls_options *opt,
                             const mailproto_mem *mem, char *errbuf, size_t errbuf_len)
{
    (void)opt;
    (void)mem;
    if (out)
        *out = NULL;
    if (errbuf && errbuf_len)
        mailproto__fmt(errbuf, errbuf_len, "this build of libmailproto has no TLS");
    return MAILPROTO_E_UNSUPPORTED;
}

void mailproto_tls_config_free(mailproto_tls_config *cfg)
{
    (void)cfg;
}

int mailproto__tls_begin(mailproto_transport *t, const mailproto_tls_config *cfg, const char *host)
{
    (void)cfg;
    (void)host;
    return mailproto__err_set(&t->err, MAILPROTO_E_UNSUPPORTED,
                              "this build of libmailproto has no TLS");
}

int mailproto__tls_handshake(mailproto_transport *t)
{
    (void)t;
    return MAILPROTO_E_UNSUPPORTED;
}

int mailproto__tls_send(mailproto_transport *t, const void *buf, size_t len, size_t *done)
{
    (void)t;
    (void)buf;
    (void)len;
    *done = 0;
    return MAILPROTO_E_UNSUPPORTED;
}

int mailproto__tls_recv(mailproto_transport *t, void *buf, size_t cap, size_t *done)
{
    (void)t;
    (void)buf;
    (void)cap;
    *done = 0;
    return MAILPROTO_E_UNSUPPORTED;
}

size_t mailproto__tls_pending(const mailproto_transport *t)
{
    (void)t;
    return 0;
}

int mailproto__tls_resumed(const mailproto_transport *t)
{
    (void)t;
    return 0;
}

void mailproto__tls_free(mailproto_transport *t)
{
    t->tls = NULL;
}
