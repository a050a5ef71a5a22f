/*
 * Hashes, HMAC, PBKDF2 and random bytes over Mbed TLS's crypto library.
 * With tls_mbedtls.c, the only file that includes Mbed TLS headers; the
 * 2.x/3.x differences are guarded here on MBEDTLS_VERSION_NUMBER.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "crypto.h"
#include "internal.h"

#if MAILPROTO_HAS_SOCKETS
#include <errno.h>
#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>
#endif

#if MAILPROTO_HAS_TLS
#include <mbedtls/md.h>
#include <mbedtls/pkcs5.h>
#include <mbedtls/version.h>

static const mbedtls_md_info_t *md_info(int alg)
{
    switch (alg) {
    case MAILPROTO__MD5:
        return mbedtls_md_info_from_type(MBEDTLS_MD_MD5);
    case MAILPROTO__SHA1:
        return mbedtls_md_info_from_type(MBEDTLS_MD_SHA1);
    case MAILPROTO__SHA256:
        return mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    default:
        return NULL;
    }
}
#endif

size_t mailproto__hash_len(int alg)
{
    switch (alg) {
    case MAILPROTO__MD5:
        return 16;
    case MAILPROTO__SHA1:
        return 20;
    case MAILPROTO__SHA256:
        return 32;
    default:
        return 0;
    }
}

int mailproto__hash(int alg, const void *data, size_t len, unsigned char *out)
{
#if MAILPROTO_HAS_TLS
    const mbedtls_md_info_t *md = md_info(alg);
    if (!md)
        return MAILPROTO_E_INVALID;
    return mbedtls_md(md, data, len, out) == 0 ? MAILPROTO_OK : MAILPROTO_E_UNSUPPORTED;
#else
    (void)alg, (void)data, (void)len, (void)out;
    return MAILPROTO_E_UNSUPPORTED;
#endif
}

int mailproto__hmac(int alg, const void *key, size_t key_len, const void *data, size_t len,
                    unsigned char *out)
{
#if MAILPROTO_HAS_TLS
    const mbedtls_md_info_t *md = md_info(alg);
    if (!md)
        return MAILPROTO_E_INVALID;
    return mbedtls_md_hmac(md, key, key_len, data, len, out) == 0 ? MAILPROTO_OK
                                                                  : MAILPROTO_E_UNSUPPORTED;
#else
    (void)alg, (void)key, (void)key_len, (void)data, (void)len, (void)out;
    return MAILPROTO_E_UNSUPPORTED;
#endif
}

int mailproto__pbkdf2(int alg, const void *pass, size_t pass_len, const void *salt,
                      size_t salt_len, uint32_t iterations, unsigned char *out, size_t out_len)
{
#if MAILPROTO_HAS_TLS
    const mbedtls_md_info_t *md = md_info(alg);
    if (!md || iterations == 0 || out_len > UINT32_MAX)
        return MAILPROTO_E_INVALID;
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    int r = mbedtls_pkcs5_pbkdf2_hmac_ext(mbedtls_md_get_type(md), pass, pass_len, salt, salt_len,
                                          iterations, (uint32_t)out_len, out);
#else
    mbedtls_md_context_t ctx;
    mbedtls_md_init(&ctx);
    int r = mbedtls_md_setup(&ctx, md, 1);
    if (r == 0)
        r = mbedtls_pkcs5_pbkdf2_hmac(&ctx, pass, pass_len, salt, salt_len, iterations,
                                      (uint32_t)out_len, out);
    mbedtls_md_free(&ctx);
#endif
    return r == 0 ? MAILPROTO_OK : MAILPROTO_E_UNSUPPORTED;
#else
    (void)alg, (void)pass, (void)pass_len, (void)salt, (void)salt_len, (void)iterations,
        (void)out, (void)out_len;
    return MAILPROTO_E_UNSUPPORTED;
#endif
}

int mailproto__random(void *ctx, void *buf, size_t n)
{
    (void)ctx;
#if MAILPROTO_HAS_SOCKETS
    unsigned char *p = buf;
    while (n) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return MAILPROTO_E_IO;
        }
        p += r;
        n -= (size_t)r;
    }
    return MAILPROTO_OK;
#else
    (void)buf, (void)n;
    return MAILPROTO_E_UNSUPPORTED; /* firmware supplies a random hook */
#endif
}

int mailproto__ct_memcmp(const void *a, const void *b, size_t n)
{
    const volatile unsigned char *x = a, *y = b;
    unsigned char d = 0;
    for (size_t i = 0; i < n; i++)
        d |= (unsigned char)(x[i] ^ y[i]);
    return d;
}
