/*
 * OS glue for the MIME builder: the default wall clock and random source,
 * and files as sources.  The builder's other files include no time, stdio
 * or system header; firmware builds (-Dsockets=disabled) get stubs and
 * inject their own clock and random source.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "mime_internal.h"

const char *mailproto__basename(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

#if MAILPROTO_HAS_SOCKETS
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

int64_t mailproto__mime_os_time(void *ctx, int *tz_minutes)
{
    (void)ctx;
    time_t t = time(NULL);
    struct tm tm;
    *tz_minutes = 0;
    if (localtime_r(&t, &tm))
        *tz_minutes = (int)(tm.tm_gmtoff / 60);
    return (int64_t)t;
}


static int file_read(void *ctx, void *buf, size_t cap, size_t *got)
{
    FILE *f = ctx;
    *got = fread(buf, 1, cap, f);
    if (*got == 0 && ferror(f))
        return MAILPROTO_E_IO;
    return MAILPROTO_OK;
}

static int file_rewind(void *ctx)
{
    FILE *f = ctx;
    clearerr(f);
    return fseek(f, 0, SEEK_SET) == 0 ? MAILPROTO_OK : MAILPROTO_E_IO;
}

int mailproto__file_open(const char *path, mailproto_source *src, uint64_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return MAILPROTO_E_IO;
    memset(src, 0, sizeof *src);
    src->read = file_read;
    src->rewind = file_rewind;
    src->ctx = f;
    src->size = MAILPROTO_SIZE_UNKNOWN;
    if (fseek(f, 0, SEEK_END) == 0) {
        long l = ftell(f);
        if (l >= 0)
            src->size = (uint64_t)l;
        (void)fseek(f, 0, SEEK_SET);
    }
    if (size)
        *size = src->size;
    return MAILPROTO_OK;
}

void mailproto__file_close(mailproto_source *src)
{
    if (src->ctx)
        fclose((FILE *)src->ctx);
    src->ctx = NULL;
}

#else

int64_t mailproto__mime_os_time(void *ctx, int *tz_minutes)
{
    (void)ctx;
    *tz_minutes = 0;
    return 0;
}


int mailproto__file_open(const char *path, mailproto_source *src, uint64_t *size)
{
    (void)path; (void)src; (void)size;
    return MAILPROTO_E_UNSUPPORTED;
}

void mailproto__file_close(mailproto_source *src) { (void)src; }

#endif
