/*
 * Helpers shared by the integration tests (see it_util.h).
 *
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#include "it_util.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int it_failures;
static mailproto_tls_config *tls_cfg;

void it_fail_msg(const char *file, int line, const char *cond, const char *fmt, ...)
{
    fprintf(stderr, "FAIL %s:%d: %s: ", file, line, cond);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void it_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

int it_done(const char *name)
{
    mailproto_tls_config_free(tls_cfg);
    tls_cfg = NULL;
    printf("%s: %s (%d failed checks)\n", name, it_failures ? "FAILED" : "passed", it_failures);
    return it_failures ? 1 : 0;
}

void it_require_stack(void)
{
    if (!getenv("SMTP_PORT")) {
        fprintf(stderr, "no server stack (run through tests/servers/with-servers): skipped\n");
        exit(77);
    }
}

const char *it_env(const char *name)
{
    const char *v = getenv(name);
    if (!v) {
        fprintf(stderr, "the stack's env has no %s\n", name);
        exit(1);
    }
    return v;
}

uint16_t it_port(const char *name)
{
    return (uint16_t)atoi(it_env(name));
}

mailproto_tls_config *it_tls(void)
{
    if (!tls_cfg) {
        mailproto_tls_options opt;
        memset(&opt, 0, sizeof opt);
        opt.ca_file = it_env("CA_FILE");
        char err[256] = "";
        if (mailproto_tls_config_new(&tls_cfg, &opt, NULL, err, sizeof err) != MAILPROTO_OK) {
            fprintf(stderr, "TLS config: %s\n", err);
            exit(1);
        }
    }
    return tls_cfg;
}

mailproto_smtp_config it_smtp_config(int implicit_tls, const char *user, const char *pass)
{
    mailproto_smtp_config c;
    memset(&c, 0, sizeof c);
    c.host = it_env("HOST");
    c.port = it_port(implicit_tls ? "SMTPS_PORT" : "SMTP_PORT");
    c.security = implicit_tls ? MAILPROTO_SEC_TLS : MAILPROTO_SEC_STARTTLS;
    c.tls = it_tls();
    c.username = user;
    c.password = pass;
    c.timeout_ms = 60000;
    c.inactivity_timeout_ms = 60000;
    return c;
}

int it_buf_add(it_buf *b, const void *data, size_t len)
{
    if (len > b->cap - b->len) {
        size_t ncap = b->cap ? b->cap : 4096;
        while (ncap - b->len < len)
            ncap *= 2;
        unsigned char *nd = realloc(b->data, ncap);
        if (!nd)
            return MAILPROTO_E_NOMEM;
        b->data = nd;
        b->cap = ncap;
    }
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    return MAILPROTO_OK;
}

static int buf_write(void *ctx, const void *data, size_t len)
{
    return it_buf_add(ctx, data, len);
}

mailproto_sink it_buf_sink(it_buf *b)
{
    mailproto_sink s = {buf_write, b};
    return s;
}

void it_buf_free(it_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

void it_message_id(char *out, size_t cap, const char *tag)
{
    static unsigned counter;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(out, cap, "<%s.%ld.%u.%lx%lx@mailproto.test>", tag, (long)getpid(), ++counter,
             (unsigned long)ts.tv_sec, (unsigned long)ts.tv_nsec);
}

const char *it_local(const char *addr)
{
    static char local[128];
    size_t n = strcspn(addr, "@");
    if (n >= sizeof local)
        n = sizeof local - 1;
    memcpy(local, addr, n);
    local[n] = '\0';
    return local;
}

/* Does the file's header block name this Message-ID?  Reads at most the
 * first 64 KiB. */
static int file_has_id(const char *path, const char *id)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    static char head[65537];
    size_t n = fread(head, 1, sizeof head - 1, f);
    fclose(f);
    head[n] = '\0';
    char *end = strstr(head, "\n\n");
    if (!end)
        end = strstr(head, "\r\n\r\n");
    if (end)
        *end = '\0';
    char want[512];
    snprintf(want, sizeof want, "\nMessage-ID: %s", id);
    return strcasestr(head, want) != NULL;
}

static int read_whole(const char *path, it_buf *out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    unsigned char chunk[65536];
    size_t n;
    out->len = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        it_buf_add(out, chunk, n);
    fclose(f);
    return 0;
}

/* Look once through new/ and cur/; path gets the file found. */
static int scan(const char *user_local, const char *id, char *path, size_t cap)
{
    static const char *const subs[] = {"new", "cur"};
    for (int s = 0; s < 2; s++) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/%s/%s/Maildir/%s", it_env("MAILDIR_ROOT"), it_env("DOMAIN"),
                 user_local, subs[s]);
        DIR *d = opendir(dir);
        if (!d)
            continue;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            snprintf(path, cap, "%s/%s", dir, e->d_name);
            if (file_has_id(path, id)) {
                closedir(d);
                return 0;
            }
        }
        closedir(d);
    }
    return -1;
}

static uint64_t now_ms(void)
{
    return mailproto_clock_monotonic_ms(NULL);
}

int it_find_delivered(const char *user_local, const char *message_id, int timeout_ms, it_buf *out)
{
    uint64_t end = now_ms() + (uint64_t)timeout_ms;
    char path[2048];
    for (;;) {
        if (scan(user_local, message_id, path, sizeof path) == 0)
            return read_whole(path, out);
        if (now_ms() >= end)
            return -1;
        usleep(100 * 1000);
    }
}

size_t it_count_delivered(const char *user_local, const char *const *ids, size_t n, int timeout_ms)
{
    uint64_t end = now_ms() + (uint64_t)timeout_ms;
    char *found = calloc(n ? n : 1, 1);
    size_t count = 0;
    char path[2048];
    for (;;) {
        for (size_t i = 0; i < n; i++)
            if (!found[i] && scan(user_local, ids[i], path, sizeof path) == 0) {
                found[i] = 1;
                count++;
            }
        if (count == n || now_ms() >= end)
            break;
        usleep(200 * 1000);
    }
    free(found);
    return count;
}

void it_lf_to_crlf(const it_buf *in, it_buf *out)
{
    out->len = 0;
    if (in->len && memmem(in->data, in->len, "\r\n", 2)) {
        it_buf_add(out, in->data, in->len);
        return;
    }
    size_t start = 0;
    for (size_t i = 0; i < in->len; i++) {
        if (in->data[i] == '\n') {
            it_buf_add(out, in->data + start, i - start);
            it_buf_add(out, "\r\n", 2);
            start = i + 1;
        }
    }
    it_buf_add(out, in->data + start, in->len - start);
}

void it_fill(unsigned char *p, size_t n, uint64_t seed)
{
    uint64_t x = seed ? seed : 88172645463325252ull;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (unsigned char)(x >> 24);
    }
}
