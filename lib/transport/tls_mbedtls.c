/*
 * TLS through Mbed TLS.  Every Mbed TLS call of the transport lives in this
 * file (hashes go through lib/core/crypto.h); supporting Mbed TLS 3.x is a
 * change to this file only (see the MBEDTLS_VERSION_NUMBER guards).
 *
 * Mbed TLS runs over our own send/recv callbacks (mailproto__raw_send/recv),
 * so it wraps any transport: the OS socket or the caller's callbacks.
 *
 * Threading: a mailproto_tls_config holds the parsed CA chain, the client
 * certificate, the random generator and the session cache (per host:port).
 * The random generator and the cache are updated by every handshake, so a
 * config may be shared by many transports of ONE thread (or by several
 * threads that serialise their handshakes); it must outlive them.
 *
 * SPDX-License-Identifier: MIT
 */
#include <limits.h>
#include <string.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>

#if MBEDTLS_VERSION_NUMBER < 0x03000000
#include <mbedtls/ssl_internal.h> /* mbedtls_ssl_flush_output */
#define SSL_FIELD(ssl, f) ((ssl)->f)
#else
#include <psa/crypto.h>
#define SSL_FIELD(ssl, f) ((ssl)->MBEDTLS_PRIVATE(f))
/* Exported by libmbedtls 3.x but declared only in its private ssl_misc.h. */
int mbedtls_ssl_flush_output(mbedtls_ssl_context *ssl);
#endif

#include "../core/crypto.h"
#include "transport_int.h"

#define DEFAULT_CA_FILE "/etc/ssl/certs/ca-certificates.crt"
#define CACHE_SLOTS 16
#define CACHE_KEY_MAX 272 /* host (255) + ":" + port */

struct cache_slot {
    char key[CACHE_KEY_MAX];
    mbedtls_ssl_session sess;
    int used;
};

struct cache {
    struct cache_slot slot[CACHE_SLOTS];
    size_t next_victim;
};

struct mailproto_tls_config {
    mailproto_mem mem;
    const mailproto_mem *memp;
    mbedtls_ssl_config conf;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_x509_crt ca;
    mbedtls_x509_crt cert;
    mbedtls_pk_context key;
    int have_ca, have_cert;
    unsigned char pin_cert[32], pin_key[32];
    int has_pin_cert, has_pin_key;
    int insecure;
    struct cache *cache; /* mutable through a const config: see the threading note */
};

struct mailproto__tls {
    mbedtls_ssl_context ssl;
    const mailproto_tls_config *cfg;
    mailproto_tls_config *own_cfg; /* defaults made for tls == NULL */
    char key[CACHE_KEY_MAX];
    int offered; /* a cached session was offered */
    int saw_cert; /* the server sent a Certificate message (full handshake) */
    int resumed;
    int bio_status; /* the library status behind a failed send/recv callback */
    int bio_blocked; /* the layer below said would-block during the last read */
};

/* ------------------------------------------------------------------ */
/* Configuration                                                       */
/* ------------------------------------------------------------------ */

static void errbuf_set(char *errbuf, size_t len, const char *what, const char *name, int code)
{
    if (!errbuf || !len)
        return;
    char m[128] = "";
#if defined(MBEDTLS_ERROR_C)
    if (code)
        mbedtls_strerror(code, m, sizeof m);
#endif
    mailproto__fmt(errbuf, len, "%s%s%s%s%s", what, name ? " " : "", name ? name : "",
                   m[0] ? ": " : "", m);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = mailproto__lower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* "sha256:HEX" (64 hex digits, colons between bytes allowed). */
static int parse_pin(const char *s, unsigned char out[32])
{
    if (mailproto__strncasecmp(s, "sha256:", 7) != 0)
        return -1;
    s += 7;
    size_t n = 0;
    while (*s) {
        if (*s == ':') {
            s++;
            continue;
        }
        int hi = hexval((unsigned char)s[0]);
        int lo = s[1] ? hexval((unsigned char)s[1]) : -1;
        if (hi < 0 || lo < 0 || n >= 32)
            return -1;
        out[n++] = (unsigned char)(hi << 4 | lo);
        s += 2;
    }
    return n == 32 ? 0 : -1;
}

static void cache_free(mailproto_tls_config *c)
{
    if (!c->cache)
        return;
    for (size_t i = 0; i < CACHE_SLOTS; i++)
        mbedtls_ssl_session_free(&c->cache->slot[i].sess);
    mailproto__free(c->memp, c->cache, sizeof *c->cache);
    c->cache = NULL;
}

void mailproto_tls_config_free(mailproto_tls_config *c)
{
    if (!c)
        return;
    cache_free(c);
    mbedtls_ssl_config_free(&c->conf);
    mbedtls_x509_crt_free(&c->ca);
    mbedtls_x509_crt_free(&c->cert);
    mbedtls_pk_free(&c->key);
    mbedtls_ctr_drbg_free(&c->drbg);
    mbedtls_entropy_free(&c->entropy);
    mailproto_mem mem = c->mem;
    mailproto__free(c->memp ? &mem : NULL, c, sizeof *c);
}

static int load_ca(mailproto_tls_config *c, const mailproto_tls_options *o, char *errbuf,
                   size_t errlen)
{
    int r;
    if (o->ca_file) {
        r = mbedtls_x509_crt_parse_file(&c->ca, o->ca_file);
        if (r < 0 || c->ca.version == 0) {
            errbuf_set(errbuf, errlen, "cannot read CA file", o->ca_file, r < 0 ? r : 0);
            return MAILPROTO_E_INVALID;
        }
    }
    if (o->ca_dir) {
        r = mbedtls_x509_crt_parse_path(&c->ca, o->ca_dir);
        if (r < 0 || c->ca.version == 0) {
            errbuf_set(errbuf, errlen, "cannot read CA directory", o->ca_dir, r < 0 ? r : 0);
            return MAILPROTO_E_INVALID;
        }
    }
    if (o->ca_pem) {
        size_t len = o->ca_pem_len ? o->ca_pem_len : strlen(o->ca_pem);
        size_t n;
        if (mailproto__add_overflow(len, 1, &n))
            return MAILPROTO_E_INVALID;
        unsigned char *p = mailproto__alloc(c->memp, n);
        if (!p)
            return MAILPROTO_E_NOMEM;
        memcpy(p, o->ca_pem, len);
        p[len] = '\0'; /* Mbed TLS wants PEM NUL terminated, counted in the length */
        r = mbedtls_x509_crt_parse(&c->ca, p, n);
        mailproto__free(c->memp, p, n);
        if (r < 0 || c->ca.version == 0) {
            errbuf_set(errbuf, errlen, "cannot parse the CA PEM buffer", NULL, r < 0 ? r : 0);
            return MAILPROTO_E_INVALID;
        }
    }
    if (!o->ca_file && !o->ca_dir && !o->ca_pem && !o->insecure_skip_verify &&
        !o->pin_cert_sha256 && !o->pin_pubkey_sha256) {
        r = mbedtls_x509_crt_parse_file(&c->ca, DEFAULT_CA_FILE);
        if (r < 0 || c->ca.version == 0) {
            errbuf_set(errbuf, errlen, "cannot read the system CA bundle", DEFAULT_CA_FILE,
                       r < 0 ? r : 0);
            return MAILPROTO_E_INVALID;
        }
    }
    c->have_ca = c->ca.version != 0;
    return MAILPROTO_OK;
}

int mailproto_tls_config_new(mailproto_tls_config **out, const mailproto_tls_options *opt,
                             const mailproto_mem *mem, char *errbuf, size_t errbuf_len)
{
    static const mailproto_tls_options defaults = {0};
    if (errbuf && errbuf_len)
        errbuf[0] = '\0';
    if (!out)
        return MAILPROTO_E_INVALID;
    *out = NULL;
    const mailproto_tls_options *o = opt ? opt : &defaults;
    if (o->min_version != 0 && o->min_version != MAILPROTO_TLS_1_2 &&
        o->min_version != MAILPROTO_TLS_1_3) {
        errbuf_set(errbuf, errbuf_len, "unknown minimum TLS version", NULL, 0);
        return MAILPROTO_E_INVALID;
    }
#if !defined(MBEDTLS_SSL_PROTO_TLS1_3) && !defined(MBEDTLS_SSL_PROTO_TLS1_3_EXPERIMENTAL)
    if (o->min_version == MAILPROTO_TLS_1_3) {
        errbuf_set(errbuf, errbuf_len, "this Mbed TLS has no TLS 1.3", NULL, 0);
        return MAILPROTO_E_UNSUPPORTED;
    }
#endif
    if ((o->cert_file != NULL) != (o->key_file != NULL)) {
        errbuf_set(errbuf, errbuf_len, "a client certificate needs both cert_file and key_file",
                   NULL, 0);
        return MAILPROTO_E_INVALID;
    }
    mailproto_tls_config *c = mailproto__calloc(mem, 1, sizeof *c);
    if (!c)
        return MAILPROTO_E_NOMEM;
    if (mem) {
        c->mem = *mem;
        c->memp = &c->mem;
    }
    mbedtls_ssl_config_init(&c->conf);
    mbedtls_entropy_init(&c->entropy);
    mbedtls_ctr_drbg_init(&c->drbg);
    mbedtls_x509_crt_init(&c->ca);
    mbedtls_x509_crt_init(&c->cert);
    mbedtls_pk_init(&c->key);
    c->insecure = o->insecure_skip_verify != 0;

    int rc = MAILPROTO_E_INVALID;
    if (o->pin_cert_sha256) {
        if (parse_pin(o->pin_cert_sha256, c->pin_cert) != 0) {
            errbuf_set(errbuf, errbuf_len, "pin_cert_sha256 is not \"sha256:\" and 64 hex digits",
                       NULL, 0);
            goto fail;
        }
        c->has_pin_cert = 1;
    }
    if (o->pin_pubkey_sha256) {
        if (parse_pin(o->pin_pubkey_sha256, c->pin_key) != 0) {
            errbuf_set(errbuf, errbuf_len,
                       "pin_pubkey_sha256 is not \"sha256:\" and 64 hex digits", NULL, 0);
            goto fail;
        }
        c->has_pin_key = 1;
    }
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    /* 3.x runs TLS 1.3 (and, when configured, all crypto) through PSA,
     * which must be initialised; it is idempotent. */
    if (psa_crypto_init() != PSA_SUCCESS) {
        errbuf_set(errbuf, errbuf_len, "cannot initialise PSA crypto", NULL, 0);
        rc = MAILPROTO_E_TLS;
        goto fail;
    }
#endif
    static const unsigned char pers[] = "libmailproto tls";
    int r = mbedtls_ctr_drbg_seed(&c->drbg, mbedtls_entropy_func, &c->entropy, pers,
                                  sizeof pers - 1);
    if (r != 0) {
        errbuf_set(errbuf, errbuf_len, "cannot seed the random generator", NULL, r);
        rc = MAILPROTO_E_TLS;
        goto fail;
    }
    rc = load_ca(c, o, errbuf, errbuf_len);
    if (rc != MAILPROTO_OK)
        goto fail;
    rc = MAILPROTO_E_INVALID;
    if (o->cert_file) {
        r = mbedtls_x509_crt_parse_file(&c->cert, o->cert_file);
        if (r != 0) {
            errbuf_set(errbuf, errbuf_len, "cannot read client certificate", o->cert_file, r);
            goto fail;
        }
#if MBEDTLS_VERSION_NUMBER < 0x03000000
        r = mbedtls_pk_parse_keyfile(&c->key, o->key_file, o->key_password);
#else
        r = mbedtls_pk_parse_keyfile(&c->key, o->key_file, o->key_password,
                                     mbedtls_ctr_drbg_random, &c->drbg);
#endif
        if (r != 0) {
            errbuf_set(errbuf, errbuf_len, "cannot read client key", o->key_file, r);
            goto fail;
        }
        c->have_cert = 1;
    }
    r = mbedtls_ssl_config_defaults(&c->conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                    MBEDTLS_SSL_PRESET_DEFAULT);
    if (r != 0) {
        errbuf_set(errbuf, errbuf_len, "cannot set up TLS", NULL, r);
        rc = MAILPROTO_E_TLS;
        goto fail;
    }
    mbedtls_ssl_conf_rng(&c->conf, mbedtls_ctr_drbg_random, &c->drbg);
    /* A pin decides after the handshake (OPTIONAL keeps the verify result
     * without aborting); otherwise the chain and name are REQUIRED. */
    int authmode = c->insecure ? MBEDTLS_SSL_VERIFY_NONE
                   : (c->has_pin_cert || c->has_pin_key) ? MBEDTLS_SSL_VERIFY_OPTIONAL
                                                         : MBEDTLS_SSL_VERIFY_REQUIRED;
    mbedtls_ssl_conf_authmode(&c->conf, authmode);
    if (c->have_ca)
        mbedtls_ssl_conf_ca_chain(&c->conf, &c->ca, NULL);
#if MBEDTLS_VERSION_NUMBER < 0x03020000
    mbedtls_ssl_conf_min_version(&c->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 o->min_version == MAILPROTO_TLS_1_3 ? MBEDTLS_SSL_MINOR_VERSION_4
                                                                     : MBEDTLS_SSL_MINOR_VERSION_3);
#else
    mbedtls_ssl_conf_min_tls_version(&c->conf, o->min_version == MAILPROTO_TLS_1_3
                                                   ? MBEDTLS_SSL_VERSION_TLS1_3
                                                   : MBEDTLS_SSL_VERSION_TLS1_2);
#endif
#if defined(MBEDTLS_SSL_RENEGOTIATION)
    mbedtls_ssl_conf_renegotiation(&c->conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
#endif
#if defined(MBEDTLS_SSL_SESSION_TICKETS)
    mbedtls_ssl_conf_session_tickets(&c->conf, o->no_session_cache
                                                   ? MBEDTLS_SSL_SESSION_TICKETS_DISABLED
                                                   : MBEDTLS_SSL_SESSION_TICKETS_ENABLED);
#endif
    if (c->have_cert) {
        r = mbedtls_ssl_conf_own_cert(&c->conf, &c->cert, &c->key);
        if (r != 0) {
            errbuf_set(errbuf, errbuf_len, "client certificate and key do not fit", NULL, r);
            goto fail;
        }
    }
    if (!o->no_session_cache) {
        c->cache = mailproto__calloc(c->memp, 1, sizeof *c->cache);
        if (!c->cache) {
            rc = MAILPROTO_E_NOMEM;
            goto fail;
        }
        for (size_t i = 0; i < CACHE_SLOTS; i++)
            mbedtls_ssl_session_init(&c->cache->slot[i].sess);
    }
    *out = c;
    return MAILPROTO_OK;
fail:
    mailproto_tls_config_free(c);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Session cache                                                       */
/* ------------------------------------------------------------------ */

static struct cache_slot *cache_find(const mailproto_tls_config *c, const char *key)
{
    if (!c->cache)
        return NULL;
    for (size_t i = 0; i < CACHE_SLOTS; i++)
        if (c->cache->slot[i].used && strcmp(c->cache->slot[i].key, key) == 0)
            return &c->cache->slot[i];
    return NULL;
}

static void cache_store(const mailproto_tls_config *c, const char *key, mbedtls_ssl_context *ssl)
{
    if (!c->cache)
        return;
    struct cache_slot *s = cache_find(c, key);
    if (!s) {
        s = &c->cache->slot[c->cache->next_victim];
        c->cache->next_victim = (c->cache->next_victim + 1) % CACHE_SLOTS;
    }
    mbedtls_ssl_session_free(&s->sess);
    mbedtls_ssl_session_init(&s->sess);
    s->used = 0;
    if (mbedtls_ssl_get_session(ssl, &s->sess) != 0) {
        mbedtls_ssl_session_free(&s->sess);
        mbedtls_ssl_session_init(&s->sess);
        return;
    }
    mailproto__fmt(s->key, sizeof s->key, "%s", key);
    s->used = 1;
}

static void cache_drop(const mailproto_tls_config *c, const char *key)
{
    struct cache_slot *s = cache_find(c, key);
    if (s) {
        mbedtls_ssl_session_free(&s->sess);
        mbedtls_ssl_session_init(&s->sess);
        s->used = 0;
    }
}

/* ------------------------------------------------------------------ */
/* Our BIO                                                             */
/* ------------------------------------------------------------------ */

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    mailproto_transport *t = ctx;
    size_t done = 0;
    if (len > INT_MAX)
        len = INT_MAX;
    int rc = mailproto__raw_send(t, buf, len, &done);
    if (rc == MAILPROTO_OK)
        return (int)done;
    if (rc == MAILPROTO_AGAIN)
        return MBEDTLS_ERR_SSL_WANT_WRITE;
    t->tls->bio_status = rc;
    return MBEDTLS_ERR_NET_SEND_FAILED;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    mailproto_transport *t = ctx;
    size_t done = 0;
    if (len > INT_MAX)
        len = INT_MAX;
    int rc = mailproto__raw_recv(t, buf, len, &done);
    if (rc == MAILPROTO_OK)
        return (int)done; /* 0: end of stream */
    if (rc == MAILPROTO_AGAIN) {
        t->tls->bio_blocked = 1;
        return MBEDTLS_ERR_SSL_WANT_READ;
    }
    t->tls->bio_status = rc;
    return MBEDTLS_ERR_NET_RECV_FAILED;
}

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

static int tls_fail(mailproto_transport *t, int status, int code, const char *what)
{
    char m[128] = "";
#if defined(MBEDTLS_ERROR_C)
    mbedtls_strerror(code, m, sizeof m);
#endif
    int rc = mailproto__tp_fail(t, status, "%s (%s)", what, m[0] ? m : "Mbed TLS error");
    t->err.pub.tls_error = code;
    return rc;
}

/* Map an Mbed TLS error of a handshake, read or write. */
static int map_err(mailproto_transport *t, int r, const char *what)
{
    struct mailproto__tls *s = t->tls;
    if ((r == MBEDTLS_ERR_NET_SEND_FAILED || r == MBEDTLS_ERR_NET_RECV_FAILED) && s->bio_status) {
        t->err.pub.tls_error = r;
        return s->bio_status; /* the sentence is already recorded */
    }
    if (r == MBEDTLS_ERR_SSL_CONN_EOF)
        return tls_fail(t, MAILPROTO_E_CLOSED, r, "the server closed the connection during TLS");
    return tls_fail(t, MAILPROTO_E_TLS, r, what);
}

/* A certificate the verification refused: its own status and a sentence. */
static int cert_fail(mailproto_transport *t, uint32_t flags, int code)
{
    int status;
    const char *why;
    if (flags & (MBEDTLS_X509_BADCERT_NOT_TRUSTED | MBEDTLS_X509_BADCERT_MISSING |
                 MBEDTLS_X509_BADCERT_SKIP_VERIFY)) {
        status = MAILPROTO_E_CERT_UNTRUSTED;
        why = "is not signed by a trusted authority (or is self-signed)";
    } else if (flags & MBEDTLS_X509_BADCERT_EXPIRED) {
        status = MAILPROTO_E_CERT_EXPIRED;
        why = "has expired";
    } else if (flags & MBEDTLS_X509_BADCERT_FUTURE) {
        status = MAILPROTO_E_CERT_EXPIRED;
        why = "is not valid yet";
    } else if (flags & MBEDTLS_X509_BADCERT_CN_MISMATCH) {
        status = MAILPROTO_E_CERT_NAME;
        why = "does not name";
    } else {
        status = MAILPROTO_E_CERT_UNTRUSTED;
        why = "was refused";
    }
    char detail[160] = "";
    mbedtls_x509_crt_verify_info(detail, sizeof detail, "", flags);
    for (char *p = detail; *p; p++)
        if (*p == '\n')
            *p = ';';
    int rc;
    if (status == MAILPROTO_E_CERT_NAME)
        rc = mailproto__tp_fail(t, status, "the server's certificate does not name %s (%s)",
                                t->host, detail);
    else
        rc = mailproto__tp_fail(t, status, "the certificate of %s %s (%s)", t->host, why, detail);
    t->err.pub.tls_error = code ? code : MBEDTLS_ERR_X509_CERT_VERIFY_FAILED;
    return rc;
}

static int pin_check(mailproto_transport *t)
{
    const mailproto_tls_config *c = t->tls->cfg;
    const mbedtls_x509_crt *crt = mbedtls_ssl_get_peer_cert(&t->tls->ssl);
    if (!crt)
        return mailproto__tp_fail(t, MAILPROTO_E_CERT_PIN,
                                  "the server's certificate is not available to check the pin");
    unsigned char h[MAILPROTO__HASH_MAX];
    if (c->has_pin_cert) {
        if (mailproto__hash(MAILPROTO__SHA256, crt->raw.p, crt->raw.len, h) == MAILPROTO_OK &&
            mailproto__ct_memcmp(h, c->pin_cert, 32) == 0)
            return MAILPROTO_OK;
    }
    if (c->has_pin_key) {
        unsigned char der[2048];
        /* mbedtls_pk_write_pubkey_der writes at the end of the buffer */
        int n = mbedtls_pk_write_pubkey_der((mbedtls_pk_context *)&crt->pk, der, sizeof der);
        if (n > 0 &&
            mailproto__hash(MAILPROTO__SHA256, der + sizeof der - (size_t)n, (size_t)n, h) ==
                MAILPROTO_OK &&
            mailproto__ct_memcmp(h, c->pin_key, 32) == 0)
            return MAILPROTO_OK;
    }
    int rc = mailproto__tp_fail(t, MAILPROTO_E_CERT_PIN,
                                "the certificate of %s does not match the configured pin",
                                t->host);
    t->err.pub.tls_error = MBEDTLS_ERR_X509_CERT_VERIFY_FAILED;
    return rc;
}

/* ------------------------------------------------------------------ */
/* Sessions                                                            */
/* ------------------------------------------------------------------ */

int mailproto__tls_begin(mailproto_transport *t, const mailproto_tls_config *cfg, const char *host)
{
    struct mailproto__tls *s = mailproto__calloc(t->memp, 1, sizeof *s);
    if (!s)
        return mailproto__tp_fail(t, MAILPROTO_E_NOMEM, "out of memory");
    mbedtls_ssl_init(&s->ssl);
    t->tls = s;
    if (!cfg) {
        char eb[200];
        int rc = mailproto_tls_config_new(&s->own_cfg, NULL, t->memp, eb, sizeof eb);
        if (rc != MAILPROTO_OK)
            return mailproto__tp_fail(t, rc == MAILPROTO_E_NOMEM ? rc : MAILPROTO_E_TLS, "%s",
                                      eb[0] ? eb : "cannot set up TLS");
        cfg = s->own_cfg;
    }
    s->cfg = cfg;
    int r = mbedtls_ssl_setup(&s->ssl, &cfg->conf);
    if (r != 0)
        return tls_fail(t, r == MBEDTLS_ERR_SSL_ALLOC_FAILED ? MAILPROTO_E_NOMEM : MAILPROTO_E_TLS,
                        r, "cannot set up the TLS session");
    /* Always: Mbed TLS 2.28 before 2.28.10 skips the name check without it. */
    r = mbedtls_ssl_set_hostname(&s->ssl, host);
    if (r != 0)
        return tls_fail(t, MAILPROTO_E_INVALID, r, "bad host name for TLS");
    mbedtls_ssl_set_bio(&s->ssl, t, bio_send, bio_recv, NULL);
    mailproto__fmt(s->key, sizeof s->key, "%s:%u", host, (unsigned)t->port);
    struct cache_slot *slot = cache_find(cfg, s->key);
    if (slot && mbedtls_ssl_set_session(&s->ssl, &slot->sess) == 0)
        s->offered = 1;
    if (cfg->insecure)
        mailproto__trace_note(&t->trace,
                              "TLS certificate verification is DISABLED (insecure_skip_verify): "
                              "this connection to %s is not authenticated",
                              host);
    else if (cfg->has_pin_cert || cfg->has_pin_key)
        mailproto__trace_note(&t->trace, "TLS to %s: the certificate must match the pin", host);
    mailproto__trace_note(&t->trace, "TLS handshake with %s%s", host,
                          s->offered ? " (offering a cached session)" : "");
    return MAILPROTO_OK;
}

int mailproto__tls_handshake(mailproto_transport *t)
{
    struct mailproto__tls *s = t->tls;
    mbedtls_ssl_context *ssl = &s->ssl;
    int r = 0;
    while (SSL_FIELD(ssl, state) != MBEDTLS_SSL_HANDSHAKE_OVER) {
        if (SSL_FIELD(ssl, state) == MBEDTLS_SSL_SERVER_CERTIFICATE)
            s->saw_cert = 1;
        r = mbedtls_ssl_handshake_step(ssl);
        if (r != 0)
            break;
    }
    if (r == MBEDTLS_ERR_SSL_WANT_READ) {
        t->interest = MAILPROTO_IO_READ;
        return MAILPROTO_AGAIN;
    }
    if (r == MBEDTLS_ERR_SSL_WANT_WRITE) {
        t->interest = MAILPROTO_IO_WRITE;
        return MAILPROTO_AGAIN;
    }
    const mailproto_tls_config *c = s->cfg;
    int pinned = c->has_pin_cert || c->has_pin_key;
    if (r != 0) {
        cache_drop(c, s->key);
        uint32_t flags = mbedtls_ssl_get_verify_result(ssl);
        if (r == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED && flags && flags != (uint32_t)-1)
            return cert_fail(t, flags, r);
        return map_err(t, r, "the TLS handshake failed");
    }
    if (pinned) {
        int rc = pin_check(t);
        if (rc != MAILPROTO_OK) {
            cache_drop(c, s->key);
            return rc;
        }
    }
    s->resumed = s->offered && !s->saw_cert;
    cache_store(c, s->key, ssl); /* also after a resumption: a fresh ticket may have come */
    mailproto__trace_note(&t->trace, "TLS established with %s: %s, %s%s", t->host,
                          mbedtls_ssl_get_version(ssl), mbedtls_ssl_get_ciphersuite(ssl),
                          s->resumed ? ", session resumed" : "");
    return MAILPROTO_OK;
}

/* Push out a record Mbed TLS holds after an earlier WANT_WRITE. */
static int flush_pending(mailproto_transport *t)
{
    mbedtls_ssl_context *ssl = &t->tls->ssl;
    if (SSL_FIELD(ssl, out_left) == 0)
        return MAILPROTO_OK;
    int r = mbedtls_ssl_flush_output(ssl);
    if (r == 0)
        return MAILPROTO_OK;
    if (r == MBEDTLS_ERR_SSL_WANT_WRITE) {
        t->interest = MAILPROTO_IO_WRITE;
        return MAILPROTO_AGAIN;
    }
    return map_err(t, r, "sending over TLS failed");
}

int mailproto__tls_send(mailproto_transport *t, const void *buf, size_t len, size_t *done)
{
    *done = 0;
    mbedtls_ssl_context *ssl = &t->tls->ssl;
    int rc = flush_pending(t);
    if (rc != MAILPROTO_OK)
        return rc;
    int max = mbedtls_ssl_get_max_out_record_payload(ssl);
    if (max > 0 && len > (size_t)max)
        len = (size_t)max;
    int r = mbedtls_ssl_write(ssl, buf, len);
    if (r >= 0) {
        *done = (size_t)r;
        return MAILPROTO_OK;
    }
    if (r == MBEDTLS_ERR_SSL_WANT_WRITE && SSL_FIELD(ssl, out_left) > 0) {
        /* The record holding these bytes is built; the rest of it goes out
         * on the next call (send, recv or wait).  Like a kernel buffer. */
        *done = len;
        return MAILPROTO_OK;
    }
    if (r == MBEDTLS_ERR_SSL_WANT_WRITE || r == MBEDTLS_ERR_SSL_WANT_READ) {
        t->interest = r == MBEDTLS_ERR_SSL_WANT_WRITE ? MAILPROTO_IO_WRITE : MAILPROTO_IO_READ;
        return MAILPROTO_AGAIN;
    }
    return map_err(t, r, "sending over TLS failed");
}

int mailproto__tls_recv(mailproto_transport *t, void *buf, size_t cap, size_t *done)
{
    *done = 0;
    mbedtls_ssl_context *ssl = &t->tls->ssl;
    int want_write = 0;
    int rc = flush_pending(t);
    if (rc == MAILPROTO_AGAIN)
        want_write = MAILPROTO_IO_WRITE;
    else if (rc != MAILPROTO_OK)
        return rc;
    if (cap > INT_MAX)
        cap = INT_MAX;
    /* AGAIN only when the layer below really would block (edge-triggered
     * epoll): a record without application data (an ignored HelloRequest,
     * an empty record) makes Mbed TLS say WANT_READ with more bytes ready. */
    for (int spins = 0;; spins++) {
        t->tls->bio_blocked = 0;
        int r = mbedtls_ssl_read(ssl, buf, cap);
        if (r == MBEDTLS_ERR_SSL_WANT_READ && !t->tls->bio_blocked && spins < 64)
            continue;
        if (r > 0) {
            *done = (size_t)r;
            return MAILPROTO_OK;
        }
        if (r == 0 || r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
            return MAILPROTO_OK; /* the peer closed */
        if (r == MBEDTLS_ERR_SSL_WANT_READ) {
            t->interest = MAILPROTO_IO_READ | want_write;
            return MAILPROTO_AGAIN;
        }
        if (r == MBEDTLS_ERR_SSL_WANT_WRITE) {
            t->interest = MAILPROTO_IO_WRITE;
            return MAILPROTO_AGAIN;
        }
#if defined(MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
        if (r == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
            continue;
#endif
        if (r == MBEDTLS_ERR_SSL_CONN_EOF)
            return MAILPROTO_OK; /* closed without close_notify: the protocol judges */
        return map_err(t, r, "receiving over TLS failed");
    }
}

size_t mailproto__tls_pending(const mailproto_transport *t)
{
    return mbedtls_ssl_get_bytes_avail(&t->tls->ssl);
}

int mailproto__tls_resumed(const mailproto_transport *t)
{
    return t->tls->resumed;
}

void mailproto__tls_free(mailproto_transport *t)
{
    struct mailproto__tls *s = t->tls;
    if (!s)
        return;
    if (t->tls_up && t->state != MAILPROTO__ST_DEAD)
        (void)mbedtls_ssl_close_notify(&s->ssl); /* non-blocking, best effort */
    mbedtls_ssl_free(&s->ssl);
    mailproto_tls_config_free(s->own_cfg);
    t->tls = NULL;
    mailproto__free(t->memp, s, sizeof *s);
}
