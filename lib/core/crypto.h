/*
 * Internal crypto primitives: hashes, HMAC, PBKDF2 and random bytes.
 * Implemented in lib/core/crypto_mbedtls.c over Mbed TLS's crypto
 * library (the only file besides tls_mbedtls.c that includes Mbed TLS
 * headers; mbedTLS 3.x support is a change to those two files alone).
 * Builds without TLS get MAILPROTO_E_UNSUPPORTED from every function except
 * mailproto__random (getrandom/urandom when hosted).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MAILPROTO_CRYPTO_H
#define MAILPROTO_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define MAILPROTO__MD5 1
#define MAILPROTO__SHA1 2
#define MAILPROTO__SHA256 3

#define MAILPROTO__HASH_MAX 32 /* largest digest, bytes */

/* Digest length of alg in bytes (0 for an unknown alg). */
size_t mailproto__hash_len(int alg);

/* out = H(data).  Returns MAILPROTO_OK or a negative status. */
int mailproto__hash(int alg, const void *data, size_t len, unsigned char *out);

/* out = HMAC-H(key, data). */
int mailproto__hmac(int alg, const void *key, size_t key_len, const void *data, size_t len,
                    unsigned char *out);

/* PBKDF2-HMAC-H(password, salt, iterations) -> out_len bytes. */
int mailproto__pbkdf2(int alg, const void *pass, size_t pass_len, const void *salt,
                      size_t salt_len, uint32_t iterations, unsigned char *out, size_t out_len);

/* n random bytes from the OS (getrandom/urandom).  Engines never call
 * this themselves: clients pass a random hook into them so that tests can
 * inject a fixed source. */
int mailproto__random(void *ctx, void *buf, size_t n);

/* Constant-time comparison; 0 when equal. */
int mailproto__ct_memcmp(const void *a, const void *b, size_t n);

#endif /* MAILPROTO_CRYPTO_H */
