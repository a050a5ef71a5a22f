/*
 * libmailproto: the one header applications include.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MAILPROTO_H
#define MAILPROTO_H

#include <mailproto/common.h>
#include <mailproto/codec.h>
#include <mailproto/transport.h>
#include <mailproto/sasl.h>
#if MAILPROTO_HAS_SMTP
#include <mailproto/smtp.h>
#endif
#if MAILPROTO_HAS_IMAP
#include <mailproto/imap.h>
#endif
#if MAILPROTO_HAS_POP3
#include <mailproto/pop3.h>
#endif
#if MAILPROTO_HAS_MIME
#include <mailproto/mime.h>
#endif

#endif /* MAILPROTO_H */
