/*
 * SASL client mechanisms shared by SMTP, IMAP and POP3 (internal).
 *
 * Mechanisms: PLAIN (RFC 4616), LOGIN, CRAM-MD5 (RFC 2195), XOAUTH2,
 * OAUTHBEARER (RFC 7628), SCRAM-SHA-1 and SCRAM-SHA-256 (RFC 5802, 7677;
 * no channel binding, gs2 flag "n").
 *
 * Division of work with the protocols:
 *   - base64 is THIS layer's job.  The protocol hands over the challenge
 *     text exactly as it came after "334 " (SMTP), "+ " (IMAP, POP3) with
 *     the line ending removed, and puts the base64 text this layer returns
 *     on the wire followed by CRLF.  An initial response (SMTP
 *     "AUTH mech ir", IMAP SASL-IR, POP3 "AUTH mech ir") is also base64;
 *     an empty one is the protocol's "=".
 *   - The protocol does the framing: the command, "*" to cancel, the final
 *     success/failure reply, and trace redaction (every line this layer
 *     produces is a secret: trace it with mailproto__trace_secret()).
 *   - This layer counts challenges (at most MAILPROTO__SASL_MAX_ROUNDS)
 *     and refuses challenges over MAILPROTO__SASL_MAX_CHALLENGE bytes.
 *
 * Use:
 *     mailproto__sasl s;
 *     mech = mailproto__sasl_choose(advertised_mask, wanted, &cred);
 *     mailproto__sasl_start(&s, mech, &cred, random_fn, random_ctx, work, work_cap);
 *     if (mailproto__sasl_has_ir(mech)) mailproto__sasl_initial(&s, out, cap, &n);
 *     for each challenge: mailproto__sasl_step(&s, chal, chal_len, out, cap, &n);
 *       (an error: send "*" to cancel and report it)
 *     on the success reply: mailproto__sasl_finish(&s) must return OK
 *       (SCRAM: the server signature was verified; an OAuth error
 *       challenge seen earlier makes it MAILPROTO_E_AUTH).
 *     mailproto__sasl_clear(&s) wipes the secrets derived on the way.
 *
 * The credentials are borrowed (they must outlive the exchange).  The work
 * buffer is scratch memory the protocol client allocated once when its
 * handle was created (MAILPROTO__SASL_WORK_MIN bytes at least); nothing here
 * allocates.  Random bytes (the SCRAM client nonce) come from an injectable
 * hook so that tests can replay the RFC examples.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MAILPROTO_SASL_H
#define MAILPROTO_SASL_H

#include <stddef.h>
#include <stdint.h>

#include <mailproto/common.h>

/* Mechanism ids; also bit numbers in an advertised mask (1u << id). */
#define MAILPROTO__SASL_NONE 0
#define MAILPROTO__SASL_LOGIN 1
#define MAILPROTO__SASL_PLAIN 2
#define MAILPROTO__SASL_CRAM_MD5 3
#define MAILPROTO__SASL_XOAUTH2 4
#define MAILPROTO__SASL_OAUTHBEARER 5
#define MAILPROTO__SASL_SCRAM_SHA1 6
#define MAILPROTO__SASL_SCRAM_SHA256 7
#define MAILPROTO__SASL_MECH_MAX 7

#define MAILPROTO__SASL_MAX_ROUNDS 5
#define MAILPROTO__SASL_MAX_CHALLENGE 16384 /* base64 characters */
#define MAILPROTO__SASL_WORK_MIN 1024

/* What the caller knows about the user.  NULL fields are absent. */
typedef struct mailproto__sasl_cred {
    const char *authzid;  /* optional authorization identity */
    const char *user;
    const char *password;
    const char *token;    /* OAuth 2.0 bearer token (XOAUTH2, OAUTHBEARER) */
    const char *host;     /* OAUTHBEARER host= (optional) */
    unsigned port;        /* OAUTHBEARER port= (0: absent) */
} mailproto__sasl_cred;

typedef int (*mailproto__random_fn)(void *ctx, void *buf, size_t n);

typedef struct mailproto__sasl {
    int mech;
    int step;          /* responses produced so far */
    int rounds;        /* challenges seen */
    int server_error;  /* an OAuth error challenge was answered */
    int verified;      /* SCRAM: server signature checked */
    const mailproto__sasl_cred *cred;
    mailproto__random_fn random;
    void *random_ctx;
    unsigned char *work;
    size_t work_cap;
    size_t first_bare_len;        /* SCRAM client-first-message-bare, kept in work */
    size_t nonce_raw;             /* random bytes in the nonce (18; tests may change it
                                     after start to replay an RFC example) */
    char nonce[48];               /* SCRAM client nonce (base64 of the random bytes) */
    size_t nonce_len;
    unsigned char server_sig[32]; /* SCRAM expected ServerSignature */
} mailproto__sasl;

/* The IANA name ("SCRAM-SHA-256") of a mechanism id, or "" for none. */
const char *mailproto__sasl_name(int mech);

/* The id of a mechanism name (case-insensitive), or MAILPROTO__SASL_NONE. */
int mailproto__sasl_from_name(const char *name, size_t len);

/* Parse a space separated list of names ("PLAIN LOGIN XOAUTH2") and return
 * the mask of the known ones (1u << id). */
unsigned mailproto__sasl_parse_list(const char *p, size_t len);

/* The mechanism to use: wanted (a MAILPROTO__SASL_* id) when it is
 * advertised, else the strongest advertised one the credentials can serve:
 * with a token OAUTHBEARER then XOAUTH2; with a password SCRAM-SHA-256,
 * SCRAM-SHA-1, CRAM-MD5, PLAIN, LOGIN.  Returns the id (> 0), or
 * MAILPROTO_E_UNSUPPORTED when none fits (or wanted is not advertised),
 * MAILPROTO_E_INVALID when the credentials are missing for wanted. */
int mailproto__sasl_choose(unsigned advertised, int wanted, const mailproto__sasl_cred *cred);

/* Nonzero when the mechanism starts with a client response (usable as the
 * SASL-IR initial response).  LOGIN and CRAM-MD5 do not. */
int mailproto__sasl_has_ir(int mech);

/* Prepare an exchange.  Returns MAILPROTO_OK, MAILPROTO_E_INVALID
 * (credentials missing, CR/LF/NUL in them, work buffer too small), or
 * MAILPROTO_E_UNSUPPORTED (SCRAM with non-ASCII credentials in a build
 * without SASLprep). */
int mailproto__sasl_start(mailproto__sasl *s, int mech, const mailproto__sasl_cred *cred,
                          mailproto__random_fn rnd, void *rnd_ctx, unsigned char *work,
                          size_t work_cap);

/* The initial response, base64 encoded, in out (NUL terminated); *len is
 * its length (0 is an empty response).  MAILPROTO_E_LIMIT when cap is too
 * small, MAILPROTO_E_STATE when the mechanism has none or it was taken. */
int mailproto__sasl_initial(mailproto__sasl *s, char *out, size_t cap, size_t *len);

/* Answer one challenge (base64 text, CRLF removed).  out receives the
 * base64 response (NUL terminated, possibly empty).  Errors (send "*"):
 * MAILPROTO_E_PROTOCOL (bad base64 or a malformed challenge),
 * MAILPROTO_E_LIMIT (more than 5 rounds, challenge too long, cap or work
 * too small), MAILPROTO_E_AUTH (SCRAM server signature wrong, server
 * error attribute). */
int mailproto__sasl_step(mailproto__sasl *s, const char *chal, size_t chal_len, char *out,
                         size_t cap, size_t *len);

/* Called on the server's success reply: MAILPROTO_OK, or MAILPROTO_E_AUTH
 * when the mechanism has not finished (SCRAM without a verified server
 * signature, an OAuth error was reported). */
int mailproto__sasl_finish(const mailproto__sasl *s);

/* Wipe derived secrets and the work buffer. */
void mailproto__sasl_clear(mailproto__sasl *s);

/* SASLprep (RFC 4013) of a NUL-terminated string into out (cap bytes incl.
 * NUL).  Pure printable ASCII is copied unchanged in every build; anything
 * else needs libidn (MAILPROTO_HAS_SASLPREP) or gives
 * MAILPROTO_E_UNSUPPORTED.  MAILPROTO_E_INVALID for prohibited output,
 * MAILPROTO_E_LIMIT when it does not fit. */
int mailproto__saslprep(const char *in, char *out, size_t cap, size_t *len);

#endif /* MAILPROTO_SASL_H */
