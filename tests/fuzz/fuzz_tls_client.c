/* Fuzz target: the TLS client over a callback transport, the input being
 * everything the server says.  Byte 0 picks how the bytes are cut (1 to 64
 * per recv, with would-block between calls) and whether a pin is checked;
 * the handshake must end in a clean status, never a crash, hang or leak.
 * (Mbed TLS parses the records and certificates; this target checks our
 * BIO, the would-block handling, error mapping, pin and cache code.) */
#include <stdint.h>
#include <string.h>

#include <mailproto/transport.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct feed {
    const uint8_t *p;
    size_t len, off, chunk;
    unsigned calls;
    size_t sent;
};

static int f_send(void *u, const void *buf, size_t len, size_t *done)
{
    struct feed *f = u;
    (void)buf;
    if (f->calls++ % 3 == 1)
        return MAILPROTO_AGAIN;
    f->sent += len;
    *done = len;
    return MAILPROTO_OK;
}

static int f_recv(void *u, void *buf, size_t cap, size_t *done)
{
    struct feed *f = u;
    if (f->calls++ % 2 == 1)
        return MAILPROTO_AGAIN;
    size_t n = f->len - f->off;
    if (n > cap)
        n = cap;
    if (n > f->chunk)
        n = f->chunk;
    memcpy(buf, f->p + f->off, n);
    f->off += n;
    *done = n; /* 0 at the end: the server closed */
    return MAILPROTO_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct feed f;
    memset(&f, 0, sizeof f);
    f.chunk = (size_t)(data[0] & 63) + 1;
    f.p = data + 1;
    f.len = size - 1;
    mailproto_tls_options o;
    memset(&o, 0, sizeof o);
    if (data[0] & 64)
        o.pin_pubkey_sha256 =
            "sha256:0000000000000000000000000000000000000000000000000000000000000000";
    else
        o.insecure_skip_verify = 1; /* go as far as the bytes allow */
    mailproto_tls_config *cfg = NULL;
    if (mailproto_tls_config_new(&cfg, &o, NULL, NULL, 0) != MAILPROTO_OK)
        return 0;
    mailproto_io io;
    memset(&io, 0, sizeof io);
    io.version = MAILPROTO_IO_VERSION;
    io.user = &f;
    io.send = f_send;
    io.recv = f_recv;
    mailproto_transport *t = NULL;
    if (mailproto_transport_io(&t, &io, NULL) == MAILPROTO_OK) {
        int rc = mailproto_transport_start_tls(t, cfg, "mail.example");
        /* every step either moves a byte or is one of the would-blocks */
        size_t limit = 4 * size + 1000;
        for (size_t i = 0; rc == MAILPROTO_AGAIN && i < limit; i++)
            rc = mailproto_transport_step(t, 0);
        if (rc == MAILPROTO_AGAIN)
            __builtin_trap(); /* a hang */
        if (rc == MAILPROTO_OK) {
            unsigned char buf[256];
            size_t d = 0;
            for (size_t i = 0; i < limit; i++) {
                rc = mailproto_transport_recv(t, buf, sizeof buf, &d);
                if (rc < 0 || (rc == MAILPROTO_OK && d == 0))
                    break;
            }
        }
        const mailproto_reply *e = mailproto_transport_last_error(t);
        if (rc < 0 && (e->status != rc || !e->message[0]))
            __builtin_trap(); /* every failure is explained */
        mailproto_transport_free(t);
    }
    mailproto_tls_config_free(cfg);
    return 0;
}
