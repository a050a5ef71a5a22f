/*
 * libmailproto: SASL mechanism identifiers shared by the SMTP, IMAP and
 * POP3 clients (the mechanisms themselves are internal).
 *
 * Use them in a client config's auth_mech field to pick one mechanism, or
 * leave 0 for "the strongest the server advertises that the credentials
 * can serve": with a token OAUTHBEARER, then XOAUTH2; with a password
 * SCRAM-SHA-256, SCRAM-SHA-1, CRAM-MD5, PLAIN, LOGIN.  A mask of
 * mechanisms has bit (1u << id) set for each.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MAILPROTO_SASL_PUBLIC_H
#define MAILPROTO_SASL_PUBLIC_H

#include <mailproto/common.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MAILPROTO_AUTH_DEFAULT 0       /* strongest advertised */
#define MAILPROTO_AUTH_LOGIN 1
#define MAILPROTO_AUTH_PLAIN 2         /* RFC 4616 */
#define MAILPROTO_AUTH_CRAM_MD5 3      /* RFC 2195 */
#define MAILPROTO_AUTH_XOAUTH2 4       /* Google/Microsoft OAuth 2.0 */
#define MAILPROTO_AUTH_OAUTHBEARER 5   /* RFC 7628 */
#define MAILPROTO_AUTH_SCRAM_SHA1 6    /* RFC 5802 */
#define MAILPROTO_AUTH_SCRAM_SHA256 7  /* RFC 7677 */

/* Bit of mechanism id in a mask. */
#define MAILPROTO_AUTH_BIT(id) (1u << (id))

#ifdef __cplusplus
}
#endif

#endif /* MAILPROTO_SASL_PUBLIC_H */
