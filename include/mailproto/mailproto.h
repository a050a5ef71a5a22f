/*
 * libmailproto: the one header applications include.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MAILPROTO_H
#define MAILPROTO_H

#include <mailproto/common.h>
#include <mailproto/codec.h>
#if MAILPROTO_HAS_MIME
#include <mailproto/mime.h>
#endif

#endif /* MAILPROTO_H */
