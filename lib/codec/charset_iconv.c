/*
 * The iconv shim: the only file of the codecs that includes <iconv.h>.
 * Without MAILPROTO_HAS_ICONV every call reports MAILPROTO_E_UNSUPPORTED and
 * only the built-in charsets (UTF-8, US-ASCII, ISO-8859-1) work.
 *
 * SPDX-License-Identifier: MIT
 */
#include <mailproto/common.h>

#include "codec_internal.h"

#if MAILPROTO_HAS_ICONV
#include <errno.h>
#include <iconv.h>

int mailproto__iconv_open(void **cd, const char *to, const char *from)
{
    iconv_t h = iconv_open(to, from);
    if (h == (iconv_t)-1)
        return MAILPROTO_E_UNSUPPORTED;
    *cd = (void *)h;
    return MAILPROTO_OK;
}

int mailproto__iconv_run(void *cd, const char *in, size_t n, size_t *in_used, char *out,
                         size_t cap, size_t *out_used)
{
    char *ip = (char *)in, *op = out;
    size_t il = n, ol = cap;
    size_t r = in ? iconv((iconv_t)cd, &ip, &il, &op, &ol) : iconv((iconv_t)cd, NULL, NULL, &op, &ol);
    int e = errno;
    if (in_used)
        *in_used = n - il;
    *out_used = cap - ol;
    if (r != (size_t)-1)
        return 0;
    if (e == EILSEQ)
        return -1;
    if (e == EINVAL)
        return -2;
    return -3;
}

void mailproto__iconv_close(void *cd) { iconv_close((iconv_t)cd); }

#else

int mailproto__iconv_open(void **cd, const char *to, const char *from)
{
    (void)to;
    (void)from;
    *cd = NULL;
    return MAILPROTO_E_UNSUPPORTED;
}

int mailproto__iconv_run(void *cd, const char *in, size_t n, size_t *in_used, char *out,
                         size_t cap, size_t *out_used)
{
    (void)cd; (void)in; (void)n; (void)out; (void)cap;
    if (in_used)
        *in_used = 0;
    *out_used = 0;
    return -1;
}

void mailproto__iconv_close(void *cd) { (void)cd; }

#endif
