/*
 * SASL client mechanisms (see sasl.h for the contract).
 *
 * SPDX-License-Identifier: MIT
 */
#include "sasl.h"

#include <string.h>

#include <mailproto/codec.h>

#include "../core/crypto.h"
#include "../core/internal.h"

#if MAILPROTO_HAS_SASLPREP
#include <stringprep.h>
#endif

/* SCRAM iteration counts above this are refused (PBKDF2 cost bound). */
#define SCRAM_MAX_ITER 1000000u

static const char *const mech_names[] = {
    "", "LOGIN", "PLAIN", "CRAM-MD5", "XOAUTH2", "OAUTHBEARER", "SCRAM-SHA-1", "SCRAM-SHA-256",
};

const char *mailproto__sasl_name(int mech)
{
    if (mech <= 0 || mech > MAILPROTO__SASL_MECH_MAX)
        return "";
    return mech_names[mech];
}

int mailproto__sasl_from_name(const char *name, size_t len)
{
    for (int i = 1; i <= MAILPROTO__SASL_MECH_MAX; i++)
        if (mailproto__span_ieq(name, len, mech_names[i]))
            return i;
    return MAILPROTO__SASL_NONE;
}

unsigned mailproto__sasl_parse_list(const char *p, size_t len)
{
    unsigned mask = 0;
    size_t i = 0;
    while (i < len) {
        while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '='))
            i++;
        size_t st = i;
        while (i < len && p[i] != ' ' && p[i] != '\t')
            i++;
        int m = mailproto__sasl_from_name(p + st, i - st);
        if (m)
            mask |= 1u << m;
    }
    return mask;
}

static int has(const char *s) { return s && *s; }

static int cred_fits(int mech, const mailproto__sasl_cred *c)
{
    if (!c)
        return 0;
    switch (mech) {
    case MAILPROTO__SASL_XOAUTH2:
    case MAILPROTO__SASL_OAUTHBEARER:
        return has(c->user) && has(c->token);
    case MAILPROTO__SASL_PLAIN:
    case MAILPROTO__SASL_LOGIN:
    case MAILPROTO__SASL_CRAM_MD5:
    case MAILPROTO__SASL_SCRAM_SHA1:
    case MAILPROTO__SASL_SCRAM_SHA256:
        return has(c->user) && c->password;
    default:
        return 0;
    }
}

int mailproto__sasl_choose(unsigned advertised, int wanted, const mailproto__sasl_cred *cred)
{
    static const int order[] = {
        MAILPROTO__SASL_OAUTHBEARER, MAILPROTO__SASL_XOAUTH2,   MAILPROTO__SASL_SCRAM_SHA256,
        MAILPROTO__SASL_SCRAM_SHA1,  MAILPROTO__SASL_CRAM_MD5,  MAILPROTO__SASL_PLAIN,
        MAILPROTO__SASL_LOGIN,
    };
    if (wanted > 0) {
        if (wanted > MAILPROTO__SASL_MECH_MAX || !(advertised & (1u << wanted)))
            return MAILPROTO_E_UNSUPPORTED;
        return cred_fits(wanted, cred) ? wanted : MAILPROTO_E_INVALID;
    }
    for (size_t i = 0; i < MAILPROTO__ARRAY_LEN(order); i++)
        if ((advertised & (1u << order[i])) && cred_fits(order[i], cred))
            return order[i];
    return MAILPROTO_E_UNSUPPORTED;
}

int mailproto__sasl_has_ir(int mech)
{
    return mech == MAILPROTO__SASL_PLAIN || mech == MAILPROTO__SASL_XOAUTH2 ||
           mech == MAILPROTO__SASL_OAUTHBEARER || mech == MAILPROTO__SASL_SCRAM_SHA1 ||
           mech == MAILPROTO__SASL_SCRAM_SHA256;
}

static int is_scram(int mech)
{
    return mech == MAILPROTO__SASL_SCRAM_SHA1 || mech == MAILPROTO__SASL_SCRAM_SHA256;
}

static int scram_alg(int mech)
{
    return mech == MAILPROTO__SASL_SCRAM_SHA1 ? MAILPROTO__SHA1 : MAILPROTO__SHA256;
}

/* No CR, LF or NUL can be in a C string we put on the wire (NUL ends it). */
static int clean(const char *s)
{
    if (!s)
        return 1;
    for (; *s; s++)
        if (*s == '\r' || *s == '\n')
            return 0;
    return 1;
}

static int no_controls(const char *s)
{
    if (!s)
        return 1;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 0;
    return 1;
}

int mailproto__saslprep(const char *in, char *out, size_t cap, size_t *len)
{
    size_t n = strlen(in);
    int ascii = 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c >= 0x80)
            ascii = 0;
        else if (c < 0x20 || c == 0x7f)
            return MAILPROTO_E_INVALID; /* prohibited (RFC 4013 C.2.1) */
    }
    if (n + 1 > cap)
        return MAILPROTO_E_LIMIT;
    memcpy(out, in, n + 1);
    if (ascii) {
        *len = n;
        return MAILPROTO_OK;
    }
#if MAILPROTO_HAS_SASLPREP
    int rc = stringprep(out, cap, STRINGPREP_NO_UNASSIGNED, stringprep_saslprep);
    if (rc == STRINGPREP_TOO_SMALL_BUFFER)
        return MAILPROTO_E_LIMIT;
    if (rc != STRINGPREP_OK)
        return MAILPROTO_E_INVALID;
    *len = strlen(out);
    return MAILPROTO_OK;
#else
    return MAILPROTO_E_UNSUPPORTED;
#endif
}

int mailproto__sasl_start(mailproto__sasl *s, int mech, const mailproto__sasl_cred *cred,
                          mailproto__random_fn rnd, void *rnd_ctx, unsigned char *work,
                          size_t work_cap)
{
    if (!s || !cred || mech <= 0 || mech > MAILPROTO__SASL_MECH_MAX)
        return MAILPROTO_E_INVALID;
    memset(s, 0, sizeof *s);
    if (!cred_fits(mech, cred) || !work || work_cap < MAILPROTO__SASL_WORK_MIN)
        return MAILPROTO_E_INVALID;
    if (!clean(cred->authzid) || !clean(cred->user) || !clean(cred->password) ||
        !clean(cred->token) || !clean(cred->host))
        return MAILPROTO_E_INVALID;
    /* XOAUTH2/OAUTHBEARER separate their fields with %x01: a control
     * character in the user, host or token could add or replace a field
     * (a bearer token is b64token, RFC 6750 2.1) */
    if ((mech == MAILPROTO__SASL_XOAUTH2 || mech == MAILPROTO__SASL_OAUTHBEARER) &&
        (!no_controls(cred->user) || !no_controls(cred->token) || !no_controls(cred->host)))
        return MAILPROTO_E_INVALID;
    s->mech = mech;
    s->cred = cred;
    s->random = rnd ? rnd : mailproto__random;
    s->random_ctx = rnd_ctx;
    s->work = work;
    s->work_cap = work_cap;
    s->nonce_raw = 18;
    if (is_scram(mech)) {
        /* Refuse early what cannot be prepared (non-ASCII without SASLprep). */
        size_t n;
        int rc = mailproto__saslprep(cred->user, (char *)work, work_cap, &n);
        if (rc == MAILPROTO_OK)
            rc = mailproto__saslprep(cred->password, (char *)work, work_cap, &n);
        if (rc == MAILPROTO_OK && cred->authzid)
            rc = mailproto__saslprep(cred->authzid, (char *)work, work_cap, &n);
        memset(work, 0, work_cap);
        if (rc != MAILPROTO_OK)
            return rc;
    }
    return MAILPROTO_OK;
}

/* ---- output helpers: build plaintext in a bounded buffer ---- */
typedef struct wbuf {
    unsigned char *p;
    size_t cap;
    size_t len;
    int over;
} wbuf;

static void put(wbuf *w, const void *d, size_t n)
{
    if (w->over || n > w->cap - w->len) {
        w->over = 1;
        return;
    }
    memcpy(w->p + w->len, d, n);
    w->len += n;
}

static void puts_(wbuf *w, const char *s) { put(w, s, strlen(s)); }

/* SCRAM saslname: ',' -> "=2C", '=' -> "=3D" (also used for gs2 a=). */
static void put_saslname(wbuf *w, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ',')
            puts_(w, "=2C");
        else if (s[i] == '=')
            puts_(w, "=3D");
        else
            put(w, s + i, 1);
    }
}

/* base64 of w into out. */
static int emit(const wbuf *w, char *out, size_t cap, size_t *len)
{
    if (w->over)
        return MAILPROTO_E_LIMIT;
    int rc = mailproto_base64_encode(w->p, w->len, out, cap, len);
    return rc == MAILPROTO_OK ? MAILPROTO_OK : MAILPROTO_E_LIMIT;
}

static int emit_raw(const void *d, size_t n, char *out, size_t cap, size_t *len)
{
    int rc = mailproto_base64_encode(d, n, out, cap, len);
    return rc == MAILPROTO_OK ? MAILPROTO_OK : MAILPROTO_E_LIMIT;
}

static void put_gs2(wbuf *w, const mailproto__sasl_cred *c)
{
    puts_(w, "n,");
    if (c->authzid && *c->authzid) {
        puts_(w, "a=");
        put_saslname(w, c->authzid, strlen(c->authzid));
    }
    puts_(w, ",");
}

static int scram_first(mailproto__sasl *s, char *out, size_t cap, size_t *len)
{
    unsigned char raw[33];
    if (s->nonce_raw == 0 || s->nonce_raw > sizeof raw)
        return MAILPROTO_E_INVALID;
    int rc = s->random(s->random_ctx, raw, s->nonce_raw);
    if (rc != MAILPROTO_OK)
        return rc < 0 ? rc : MAILPROTO_E_CALLBACK;
    size_t n;
    if (mailproto_base64_encode(raw, s->nonce_raw, s->nonce, sizeof s->nonce, &n) != MAILPROTO_OK)
        return MAILPROTO_E_LIMIT;
    s->nonce_len = n;
    /* work = [client-first-bare][user prep scratch] */
    size_t half = s->work_cap / 2;
    size_t ulen;
    rc = mailproto__saslprep(s->cred->user, (char *)s->work + half, s->work_cap - half, &ulen);
    if (rc != MAILPROTO_OK)
        return rc;
    wbuf w = {s->work, half, 0, 0};
    puts_(&w, "n=");
    put_saslname(&w, (const char *)s->work + half, ulen);
    puts_(&w, ",r=");
    put(&w, s->nonce, s->nonce_len);
    if (w.over)
        return MAILPROTO_E_LIMIT;
    s->first_bare_len = w.len;
    memset(s->work + half, 0, s->work_cap - half);
    /* The message itself: gs2 header + bare, built after the bare copy. */
    wbuf m = {s->work + w.len, half - w.len, 0, 0};
    put_gs2(&m, s->cred);
    put(&m, s->work, s->first_bare_len);
    return emit(&m, out, cap, len);
}

int mailproto__sasl_initial(mailproto__sasl *s, char *out, size_t cap, size_t *len)
{
    if (!s || !out || !len || !mailproto__sasl_has_ir(s->mech) || s->step != 0)
        return MAILPROTO_E_STATE;
    const mailproto__sasl_cred *c = s->cred;
    wbuf w = {s->work, s->work_cap, 0, 0};
    int rc;
    switch (s->mech) {
    case MAILPROTO__SASL_PLAIN:
        if (c->authzid)
            puts_(&w, c->authzid);
        put(&w, "", 1);
        puts_(&w, c->user);
        put(&w, "", 1);
        puts_(&w, c->password);
        rc = emit(&w, out, cap, len);
        break;
    case MAILPROTO__SASL_XOAUTH2:
        puts_(&w, "user=");
        puts_(&w, c->user);
        puts_(&w, "\001auth=Bearer ");
        puts_(&w, c->token);
        puts_(&w, "\001\001");
        rc = emit(&w, out, cap, len);
        break;
    case MAILPROTO__SASL_OAUTHBEARER: {
        puts_(&w, "n,a=");
        put_saslname(&w, c->user, strlen(c->user));
        puts_(&w, ",\001");
        if (has(c->host)) {
            puts_(&w, "host=");
            puts_(&w, c->host);
            puts_(&w, "\001");
        }
        if (c->port) {
            char num[16];
            size_t k = mailproto__fmt(num, sizeof num, "port=%u\001", c->port);
            put(&w, num, k);
        }
        puts_(&w, "auth=Bearer ");
        puts_(&w, c->token);
        puts_(&w, "\001\001");
        rc = emit(&w, out, cap, len);
        break;
    }
    default:
        rc = scram_first(s, out, cap, len);
        break;
    }
    if (!is_scram(s->mech))
        memset(s->work, 0, w.len < s->work_cap ? w.len : s->work_cap);
    if (rc == MAILPROTO_OK)
        s->step = 1;
    return rc;
}

static void hex(const unsigned char *d, size_t n, char *out)
{
    static const char h[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = h[d[i] >> 4];
        out[2 * i + 1] = h[d[i] & 15];
    }
}

/* Find attribute "k=" at the start of the message or after a comma. */
static int attr(const unsigned char *p, size_t n, char k, const unsigned char **v, size_t *vlen)
{
    size_t i = 0;
    while (i < n) {
        size_t st = i;
        while (i < n && p[i] != ',')
            i++;
        if (i - st >= 2 && p[st] == (unsigned char)k && p[st + 1] == '=') {
            *v = p + st + 2;
            *vlen = i - st - 2;
            return 1;
        }
        i++;
    }
    return 0;
}

static int scram_final(mailproto__sasl *s, size_t chal_off, size_t chal_len, char *out,
                       size_t cap, size_t *len)
{
    const unsigned char *sf = s->work + chal_off;
    int alg = scram_alg(s->mech);
    size_t hl = mailproto__hash_len(alg);
    /* A mandatory extension we do not know (m=) must fail (RFC 5802 5.1). */
    if (chal_len >= 2 && sf[0] == 'm' && sf[1] == '=')
        return MAILPROTO_E_AUTH;
    if (chal_len >= 2 && sf[0] == 'e' && sf[1] == '=')
        return MAILPROTO_E_AUTH;
    for (size_t i = 0; i < chal_len; i++)
        if (sf[i] < 0x21 || sf[i] > 0x7e)
            return MAILPROTO_E_PROTOCOL;
    if (chal_len < 2 || sf[0] != 'r' || sf[1] != '=')
        return MAILPROTO_E_PROTOCOL;
    const unsigned char *rn;
    size_t rnl;
    if (!attr(sf, chal_len, 'r', &rn, &rnl) || rnl <= s->nonce_len ||
        memcmp(rn, s->nonce, s->nonce_len) != 0)
        return MAILPROTO_E_PROTOCOL;
    const unsigned char *sb;
    size_t sbl;
    if (!attr(sf, chal_len, 's', &sb, &sbl) || sbl == 0)
        return MAILPROTO_E_PROTOCOL;
    const unsigned char *it;
    size_t itl;
    uint64_t iter;
    if (!attr(sf, chal_len, 'i', &it, &itl) ||
        mailproto__parse_u64((const char *)it, itl, UINT64_MAX, &iter) != 0 || iter == 0)
        return MAILPROTO_E_PROTOCOL;
    if (iter > SCRAM_MAX_ITER)
        return MAILPROTO_E_LIMIT;

    /* Layout after the challenge: [',' client-final-without-proof][salt]
     * [prepped password][final message]. */
    size_t off = chal_off + chal_len;
    wbuf w = {s->work + off, s->work_cap - off, 0, 0};
    puts_(&w, ",c=");
    {
        unsigned char gs2[300];
        wbuf g = {gs2, sizeof gs2, 0, 0};
        put_gs2(&g, s->cred);
        if (g.over)
            return MAILPROTO_E_LIMIT;
        char b64[404];
        size_t bl;
        if (mailproto_base64_encode(gs2, g.len, b64, sizeof b64, &bl) != MAILPROTO_OK)
            return MAILPROTO_E_LIMIT;
        put(&w, b64, bl);
    }
    puts_(&w, ",r=");
    put(&w, rn, rnl);
    if (w.over)
        return MAILPROTO_E_LIMIT;
    size_t am_len = off + w.len; /* AuthMessage = work[0 .. am_len) */
    size_t rest = am_len;
    unsigned char *salt = s->work + rest;
    size_t salt_len;
    if (sbl / 4 * 3 + 3 > s->work_cap - rest)
        return MAILPROTO_E_LIMIT;
    if (mailproto_base64_decode((const char *)sb, sbl, salt, s->work_cap - rest, &salt_len) !=
        MAILPROTO_OK)
        return MAILPROTO_E_PROTOCOL;
    rest += salt_len;
    char *pw = (char *)s->work + rest;
    size_t pwl;
    int rc = mailproto__saslprep(s->cred->password, pw, s->work_cap - rest, &pwl);
    if (rc != MAILPROTO_OK)
        return rc;
    unsigned char salted[MAILPROTO__HASH_MAX], ckey[MAILPROTO__HASH_MAX],
        stored[MAILPROTO__HASH_MAX], csig[MAILPROTO__HASH_MAX], skey[MAILPROTO__HASH_MAX];
    rc = mailproto__pbkdf2(alg, pw, pwl, salt, salt_len, (uint32_t)iter, salted, hl);
    memset(pw, 0, pwl);
    if (rc == MAILPROTO_OK)
        rc = mailproto__hmac(alg, salted, hl, "Client Key", 10, ckey);
    if (rc == MAILPROTO_OK)
        rc = mailproto__hash(alg, ckey, hl, stored);
    if (rc == MAILPROTO_OK)
        rc = mailproto__hmac(alg, stored, hl, s->work, am_len, csig);
    if (rc == MAILPROTO_OK)
        rc = mailproto__hmac(alg, salted, hl, "Server Key", 10, skey);
    if (rc == MAILPROTO_OK)
        rc = mailproto__hmac(alg, skey, hl, s->work, am_len, s->server_sig);
    for (size_t i = 0; i < hl; i++)
        ckey[i] ^= csig[i];
    if (rc == MAILPROTO_OK) {
        /* client-final = client-final-without-proof ",p=" base64(proof) */
        size_t cf_off = off + 1; /* skip the ',' joining it into AuthMessage */
        wbuf m = {s->work + am_len, s->work_cap - am_len, 0, 0};
        put(&m, s->work + cf_off, am_len - cf_off);
        puts_(&m, ",p=");
        char b64[64];
        size_t bl;
        mailproto_base64_encode(ckey, hl, b64, sizeof b64, &bl);
        put(&m, b64, bl);
        rc = emit(&m, out, cap, len);
    }
    memset(salted, 0, sizeof salted);
    memset(ckey, 0, sizeof ckey);
    memset(stored, 0, sizeof stored);
    memset(csig, 0, sizeof csig);
    memset(skey, 0, sizeof skey);
    memset(s->work + s->first_bare_len, 0, s->work_cap - s->first_bare_len);
    return rc;
}

static int scram_verify(mailproto__sasl *s, const unsigned char *p, size_t n)
{
    const unsigned char *v;
    size_t vl;
    if (n >= 2 && p[0] == 'e' && p[1] == '=')
        return MAILPROTO_E_AUTH;
    if (!attr(p, n, 'v', &v, &vl) || p[0] != 'v')
        return MAILPROTO_E_PROTOCOL;
    unsigned char sig[MAILPROTO__HASH_MAX + 3];
    size_t sl;
    if (mailproto_base64_decode((const char *)v, vl, sig, sizeof sig, &sl) != MAILPROTO_OK)
        return MAILPROTO_E_AUTH;
    size_t hl = mailproto__hash_len(scram_alg(s->mech));
    if (sl != hl || mailproto__ct_memcmp(sig, s->server_sig, hl) != 0)
        return MAILPROTO_E_AUTH;
    s->verified = 1;
    return MAILPROTO_OK;
}

int mailproto__sasl_step(mailproto__sasl *s, const char *chal, size_t chal_len, char *out,
                         size_t cap, size_t *len)
{
    if (!s || !out || !len || s->mech == MAILPROTO__SASL_NONE || (!chal && chal_len))
        return MAILPROTO_E_STATE;
    if (++s->rounds > MAILPROTO__SASL_MAX_ROUNDS)
        return MAILPROTO_E_LIMIT;
    if (chal_len > MAILPROTO__SASL_MAX_CHALLENGE)
        return MAILPROTO_E_LIMIT;
    if (cap == 0)
        return MAILPROTO_E_LIMIT;
    *len = 0;
    out[0] = '\0';
    /* Decode the challenge into work, after what SCRAM keeps there. */
    size_t keep = is_scram(s->mech) ? s->first_bare_len + 1 : 0;
    if (keep > s->work_cap || chal_len / 4 * 3 + 3 > s->work_cap - keep)
        return MAILPROTO_E_LIMIT;
    unsigned char *d = s->work + keep;
    size_t dl = 0;
    if (chal_len &&
        mailproto_base64_decode(chal, chal_len, d, s->work_cap - keep, &dl) != MAILPROTO_OK)
        return MAILPROTO_E_PROTOCOL;
    const mailproto__sasl_cred *c = s->cred;
    int rc = MAILPROTO_OK;
    switch (s->mech) {
    case MAILPROTO__SASL_LOGIN:
        if (s->step == 0)
            rc = emit_raw(c->user, strlen(c->user), out, cap, len);
        else if (s->step == 1)
            rc = emit_raw(c->password, strlen(c->password), out, cap, len);
        else
            rc = MAILPROTO_E_PROTOCOL;
        break;
    case MAILPROTO__SASL_CRAM_MD5: {
        if (s->step != 0 || dl == 0)
            return MAILPROTO_E_PROTOCOL;
        unsigned char mac[16];
        rc = mailproto__hmac(MAILPROTO__MD5, c->password, strlen(c->password), d, dl, mac);
        if (rc != MAILPROTO_OK)
            break;
        size_t ul = strlen(c->user);
        if (ul + 1 + 32 > s->work_cap)
            return MAILPROTO_E_LIMIT;
        memcpy(s->work, c->user, ul);
        s->work[ul] = ' ';
        hex(mac, sizeof mac, (char *)s->work + ul + 1);
        rc = emit_raw(s->work, ul + 33, out, cap, len);
        memset(mac, 0, sizeof mac);
        break;
    }
    case MAILPROTO__SASL_PLAIN:
        /* A challenge after PLAIN: only the empty one asking for the
         * response (no SASL-IR); afterwards none is allowed. */
        if (s->step != 0 || dl != 0)
            return MAILPROTO_E_PROTOCOL;
        s->step = 0;
        rc = mailproto__sasl_initial(s, out, cap, len);
        return rc;
    case MAILPROTO__SASL_XOAUTH2:
    case MAILPROTO__SASL_OAUTHBEARER:
        if (s->step == 0 && dl == 0)
            return mailproto__sasl_initial(s, out, cap, len);
        /* The JSON error challenge (RFC 7628 3.2.2): acknowledge it so that
         * the server sends its failure reply. */
        if (s->step != 1 || s->server_error)
            return MAILPROTO_E_PROTOCOL;
        s->server_error = 1;
        if (s->mech == MAILPROTO__SASL_OAUTHBEARER)
            rc = emit_raw("\001", 1, out, cap, len);
        else
            rc = emit_raw("", 0, out, cap, len);
        break;
    default: /* SCRAM */
        if (s->step == 0 && dl == 0) {
            rc = mailproto__sasl_initial(s, out, cap, len);
            return rc;
        }
        if (s->step == 1) {
            s->work[s->first_bare_len] = ',';
            rc = scram_final(s, keep, dl, out, cap, len);
        } else if (s->step == 2) {
            rc = scram_verify(s, d, dl);
            if (rc == MAILPROTO_OK)
                rc = emit_raw("", 0, out, cap, len);
        } else {
            rc = MAILPROTO_E_PROTOCOL;
        }
        break;
    }
    if (!is_scram(s->mech))
        memset(s->work, 0, s->work_cap);
    if (rc == MAILPROTO_OK)
        s->step++;
    return rc;
}

int mailproto__sasl_finish(const mailproto__sasl *s)
{
    if (!s || s->mech == MAILPROTO__SASL_NONE)
        return MAILPROTO_E_AUTH;
    if (s->server_error)
        return MAILPROTO_E_AUTH;
    if (is_scram(s->mech) && !s->verified)
        return MAILPROTO_E_AUTH;
    return MAILPROTO_OK;
}

void mailproto__sasl_clear(mailproto__sasl *s)
{
    if (!s)
        return;
    if (s->work)
        memset(s->work, 0, s->work_cap);
    unsigned char *w = s->work;
    size_t wc = s->work_cap;
    memset(s, 0, sizeof *s);
    s->work = w;
    s->work_cap = wc;
}
