/*
 * mailproto-fetch over POP3: the commands a POP3 mailbox has
 * (DESIGN.md section 17).
 *
 *   list                     NUMBER SIZE UIDL per message
 *   fetch ID [--raw | --part N | --save DIR]
 *                            the raw message on stdout, one decoded part
 *                            (IMAP numbering: 1, 2, 1.2, ...), or the
 *                            attachments saved under DIR by their names
 *   delete ID                DELE, then QUIT (the deletion is committed)
 *   fetch-new MAILDIR [--delete]
 *                            messages whose UIDL was not seen before go into
 *                            MAILDIR/new; the UIDLs seen are remembered in
 *                            MAILDIR/.mailproto-pop3-uidl
 *
 * ID is a message number, or a UIDL (any ID that is not all digits; write
 * uidl:ID for a UIDL made of digits).  URLs: pop3s://host[:port] (implicit
 * TLS, 995), pop3://host[:port] (STLS required, 110), pop3+plain://
 * (no TLS; needs --allow-plaintext).
 *
 * SPDX-License-Identifier: MIT
 */
#include "fetch_pop3.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mailproto/mailproto.h>
#include <mailproto/transport.h>

static const char *prog = "mailproto-fetch";

static void usage(FILE *f)
{
    fprintf(f,
            "usage: %s --server pop3s://host[:port] --user NAME COMMAND [ARGS]\n"
            "  list                          NUMBER SIZE UIDL per message\n"
            "  fetch ID [--raw | --part N | --save DIR]\n"
            "                                the raw message, one decoded part (1, 2, 1.2, ...)\n"
            "                                or the attachments saved under DIR\n"
            "  delete ID                     delete the message (committed by QUIT)\n"
            "  fetch-new MAILDIR [--delete]  new messages (by UIDL) into a maildir\n"
            "ID: a message number or a UIDL (uidl:ID for a UIDL of digits).\n"
            "Options: --auth MECH|USER|APOP --cafile FILE --pin sha256:HEX --timeout SECONDS\n"
            "         --trace --allow-plaintext --password-file FILE --oauth-token-file FILE\n"
            "URL: pop3s:// (implicit TLS, 995), pop3:// (STLS required, 110), pop3+plain://\n"
            "(no TLS, needs --allow-plaintext).  The password comes from MAILPROTO_PASSWORD\n"
            "or --password-file.\n",
            prog);
}

static int fail_usage(const char *what)
{
    fprintf(stderr, "%s: %s\n", prog, what);
    usage(stderr);
    return 2;
}

static int fail(mailproto_pop3 *p, int rc, const char *what)
{
    const mailproto_reply *r = mailproto_pop3_last_reply(p);
    const char *msg = r->message && r->message[0] ? r->message : mailproto_strerror(rc);
    if (r->text && r->text[0])
        fprintf(stderr, "%s: %s: %s (server: %s%s%s%s)\n", prog, what, msg,
                r->resp_code[0] ? "[" : "", r->resp_code, r->resp_code[0] ? "] " : "", r->text);
    else
        fprintf(stderr, "%s: %s: %s (%s)\n", prog, what, msg, mailproto_errname(rc));
    return 1;
}

static int read_secret_file(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
        return -1;
    }
    if (!fgets(buf, (int)cap, f))
        buf[0] = '\0';
    fclose(f);
    buf[strcspn(buf, "\r\n")] = '\0';
    return 0;
}

static void trace_fn(void *ctx, int dir, int kind, const char *data, size_t len)
{
    (void)ctx;
    if (kind == MAILPROTO_TRACE_DATA) {
        fprintf(stderr, "S: <%zu bytes of message data>\n", len);
        return;
    }
    const char *pre = dir == MAILPROTO_TRACE_SENT       ? "C: "
                      : dir == MAILPROTO_TRACE_RECEIVED ? "S: "
                                                        : "* ";
    while (len && (data[len - 1] == '\n' || data[len - 1] == '\r'))
        len--;
    fprintf(stderr, "%s%.*s\n", pre, (int)len, data);
}

static int file_write(void *ctx, const void *data, size_t len)
{
    return fwrite(data, 1, len, (FILE *)ctx) == len ? MAILPROTO_OK : MAILPROTO_E_IO;
}

/* ---- the UIDL table (the program's own memory) ---- */

typedef struct uid_entry {
    uint32_t msg;
    uint64_t size;
    char uid[72];
} uid_entry;

typedef struct table {
    uid_entry *v;
    size_t n, cap;
} table;

static int table_add(table *t, uint32_t msg, const char *uid, size_t ul)
{
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 64;
        uid_entry *nv = realloc(t->v, nc * sizeof *nv);
        if (!nv)
            return -1;
        t->v = nv;
        t->cap = nc;
    }
    uid_entry *e = &t->v[t->n++];
    memset(e, 0, sizeof *e);
    e->msg = msg;
    if (ul >= sizeof e->uid)
        ul = sizeof e->uid - 1;
    memcpy(e->uid, uid, ul);
    return 0;
}

static int on_uidl(void *ctx, const mailproto_pop3_event *ev)
{
    return table_add(ctx, ev->msg, ev->uid.ptr, ev->uid.len) != 0;
}

static int on_list(void *ctx, const mailproto_pop3_event *ev)
{
    table *t = ctx;
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i].msg == ev->msg) {
            t->v[i].size = ev->size;
            return 0;
        }
    if (table_add(t, ev->msg, "-", 1) != 0)
        return 1;
    t->v[t->n - 1].size = ev->size;
    return 0;
}

/* A message number for ID: digits, or a UIDL looked up with UIDL. */
static int resolve_id(mailproto_pop3 *p, const char *id, uint32_t *msg)
{
    int digits = *id != '\0';
    for (const char *c = id; *c; c++)
        if (*c < '0' || *c > '9')
            digits = 0;
    if (digits) {
        unsigned long v = strtoul(id, NULL, 10);
        if (v == 0 || v > UINT32_MAX) {
            fprintf(stderr, "%s: bad message number %s\n", prog, id);
            return 1;
        }
        *msg = (uint32_t)v;
        return 0;
    }
    if (!strncmp(id, "uidl:", 5))
        id += 5;
    table t = {NULL, 0, 0};
    int rc = mailproto_pop3_uidl(p, 0, on_uidl, &t);
    if (rc != MAILPROTO_OK) {
        free(t.v);
        return fail(p, rc, "UIDL");
    }
    *msg = 0;
    for (size_t i = 0; i < t.n; i++)
        if (!strcmp(t.v[i].uid, id))
            *msg = t.v[i].msg;
    free(t.v);
    if (!*msg) {
        fprintf(stderr, "%s: no message with UIDL %s\n", prog, id);
        return 1;
    }
    return 0;
}

#if MAILPROTO_HAS_MIME
/* ---- --part and --save: the message spooled to a file and parsed ---- */

typedef struct spool {
    FILE *f;
    mailproto_mime_reader *r;
} spool;

static int spool_write(void *ctx, const void *data, size_t len)
{
    spool *s = ctx;
    if (fwrite(data, 1, len, s->f) != len)
        return MAILPROTO_E_IO;
    return mailproto_mime_reader_feed(s->r, data, len);
}

/* The reader's index of the IMAP part number spec ("1", "2.1"), or -1. */
static long find_part(const mailproto_mime_reader *r, const char *spec)
{
    size_t cur = 0, n = mailproto_mime_reader_count(r);
    while (*spec) {
        char *end;
        unsigned long k = strtoul(spec, &end, 10);
        if (k == 0 || (*end && *end != '.'))
            return -1;
        const mailproto_mime_info *pi = mailproto_mime_reader_part(r, cur);
        if (!pi)
            return -1;
        if (pi->multipart || pi->n_children) {
            size_t seen = 0, hit = (size_t)-1;
            for (size_t i = cur + 1; i < n && hit == (size_t)-1; i++)
                if (mailproto_mime_reader_part(r, i)->parent == cur && ++seen == k)
                    hit = i;
            if (hit == (size_t)-1)
                return -1;
            cur = hit;
            /* an embedded message: its parts are numbered below it */
            const mailproto_mime_info *ci = mailproto_mime_reader_part(r, cur);
            if (!ci->multipart && ci->n_children == 1 && *end == '.')
                cur++;
        } else if (k != 1) {
            return -1; /* a single-part body has only part 1 */
        }
        spec = *end ? end + 1 : end;
    }
    return (long)cur;
}

static int decode_to(FILE *in, const mailproto_mime_reader *r, size_t i, FILE *out)
{
    const mailproto_mime_info *pi = mailproto_mime_reader_part(r, i);
    mailproto_sink sink = {file_write, out};
    mailproto_mime_decoder d;
    int rc = mailproto_mime_decoder_init(&d, r, i, 0, &sink);
    if (rc == MAILPROTO_E_UNSUPPORTED)
        rc = mailproto_mime_decoder_init(&d, r, i, MAILPROTO_MIME_DECODE_RAW, &sink);
    if (rc != MAILPROTO_OK)
        return rc;
    if (fseeko(in, (off_t)pi->body_off, SEEK_SET) != 0)
        return MAILPROTO_E_IO;
    uint64_t left = pi->body_end - pi->body_off;
    char buf[16384];
    while (left && rc == MAILPROTO_OK) {
        size_t n = fread(buf, 1, left < sizeof buf ? (size_t)left : sizeof buf, in);
        if (n == 0)
            return MAILPROTO_E_IO;
        rc = mailproto_mime_decoder_update(&d, buf, n);
        left -= n;
    }
    return rc == MAILPROTO_OK ? mailproto_mime_decoder_final(&d) : rc;
}

/* A file name from a message, made safe: the last path component, no
 * control characters, never "", "." or "..". */
static void safe_name(const char *in, char *out, size_t cap)
{
    const char *b = in;
    for (const char *c = in; *c; c++)
        if (*c == '/' || *c == '\\')
            b = c + 1;
    size_t o = 0;
    for (; *b && o + 1 < cap; b++)
        out[o++] = ((unsigned char)*b < 0x20 || *b == 0x7f) ? '_' : *b;
    out[o] = '\0';
    if (!strcmp(out, "") || !strcmp(out, ".") || !strcmp(out, ".."))
        snprintf(out, cap, "part");
}

static int fetch_parts(mailproto_pop3 *p, uint32_t msg, const char *part, const char *dir)
{
    spool s;
    s.f = tmpfile();
    if (!s.f || mailproto_mime_reader_new(&s.r, NULL, NULL) != MAILPROTO_OK) {
        fprintf(stderr, "%s: cannot spool the message: %s\n", prog, strerror(errno));
        if (s.f)
            fclose(s.f);
        return 1;
    }
    mailproto_sink sink = {spool_write, &s};
    int rc = mailproto_pop3_retr(p, msg, &sink, NULL);
    int exit_code = 0;
    if (rc != MAILPROTO_OK) {
        exit_code = fail(p, rc, "RETR");
    } else if (mailproto_mime_reader_finish(s.r) != MAILPROTO_OK || fflush(s.f) != 0) {
        fprintf(stderr, "%s: cannot parse the message\n", prog);
        exit_code = 1;
    } else if (part) {
        long i = find_part(s.r, part);
        if (i < 0 || mailproto_mime_reader_part(s.r, (size_t)i)->multipart) {
            fprintf(stderr, "%s: no part %s (or it is a multipart)\n", prog, part);
            exit_code = 1;
        } else if ((rc = decode_to(s.f, s.r, (size_t)i, stdout)) != MAILPROTO_OK) {
            fprintf(stderr, "%s: part %s: %s\n", prog, part, mailproto_strerror(rc));
            exit_code = 1;
        }
    } else {
        size_t n = mailproto_mime_reader_count(s.r), saved = 0;
        for (size_t i = 0; i < n && exit_code == 0; i++) {
            const mailproto_mime_info *pi = mailproto_mime_reader_part(s.r, i);
            if (pi->multipart || pi->n_children ||
                (!pi->filename[0] && strcmp(pi->disposition, "attachment") != 0))
                continue;
            char name[256], path[4096];
            safe_name(pi->filename, name, sizeof name);
            FILE *out = NULL;
            for (int k = 0; k < 1000 && !out; k++) {
                if (k)
                    snprintf(path, sizeof path, "%s/%s.%d", dir, name, k);
                else
                    snprintf(path, sizeof path, "%s/%s", dir, name);
                out = fopen(path, "wbx");
                if (!out && errno != EEXIST)
                    break;
            }
            if (!out) {
                fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
                exit_code = 1;
                break;
            }
            rc = decode_to(s.f, s.r, i, out);
            if (fclose(out) != 0 && rc == MAILPROTO_OK)
                rc = MAILPROTO_E_IO;
            if (rc != MAILPROTO_OK) {
                fprintf(stderr, "%s: %s: %s\n", prog, path, mailproto_strerror(rc));
                exit_code = 1;
            } else {
                printf("%s\n", path);
                saved++;
            }
        }
        if (exit_code == 0 && saved == 0)
            fprintf(stderr, "%s: the message has no attachments\n", prog);
    }
    mailproto_mime_reader_free(s.r);
    fclose(s.f);
    return exit_code;
}
#endif

/* ---- fetch-new into a maildir ---- */

typedef struct maildir {
    const char *dir;
    char **seen;        /* UIDLs from the state file */
    int64_t *seen_at;
    size_t n_seen, cap_seen;
    FILE *state;        /* appended to as messages arrive */
    FILE *cur;          /* the message being written (tmp/) */
    char tmp_path[4096];
    char new_path[4096];
    unsigned long serial;
    int failed;
} maildir;

static int seen_add(maildir *m, const char *uid, int64_t at)
{
    if (m->n_seen == m->cap_seen) {
        size_t nc = m->cap_seen ? m->cap_seen * 2 : 64;
        char **ns = realloc(m->seen, nc * sizeof *ns);
        if (!ns)
            return -1;
        m->seen = ns;
        int64_t *na = realloc(m->seen_at, nc * sizeof *na);
        if (!na)
            return -1;
        m->seen_at = na;
        m->cap_seen = nc;
    }
    m->seen[m->n_seen] = strdup(uid);
    if (!m->seen[m->n_seen])
        return -1;
    m->seen_at[m->n_seen++] = at;
    return 0;
}

static int md_known(void *ctx, const char *uid, int64_t *at)
{
    maildir *m = ctx;
    for (size_t i = 0; i < m->n_seen; i++)
        if (!strcmp(m->seen[i], uid)) {
            *at = m->seen_at[i];
            return 1;
        }
    return 0;
}

static int md_open(void *ctx, uint32_t msg, const char *uid, mailproto_sink *sink)
{
    maildir *m = ctx;
    char host[128] = "localhost";
    gethostname(host, sizeof host - 1);
    host[strcspn(host, "/:")] = '\0';
    snprintf(m->tmp_path, sizeof m->tmp_path, "%s/tmp/%lld.P%ldQ%lu.%s", m->dir,
             (long long)time(NULL), (long)getpid(), ++m->serial, host);
    snprintf(m->new_path, sizeof m->new_path, "%s/new/%s", m->dir,
             m->tmp_path + strlen(m->dir) + 5);
    m->cur = fopen(m->tmp_path, "wbx");
    if (!m->cur) {
        fprintf(stderr, "%s: %s: %s\n", prog, m->tmp_path, strerror(errno));
        return -1;
    }
    (void)msg;
    (void)uid;
    sink->write = file_write;
    sink->ctx = m->cur;
    return 0;
}

static int md_done(void *ctx, uint32_t msg, const char *uid, int status)
{
    maildir *m = ctx;
    int ok = status == MAILPROTO_OK;
    if (fclose(m->cur) != 0)
        ok = 0;
    m->cur = NULL;
    if (ok && rename(m->tmp_path, m->new_path) != 0) {
        fprintf(stderr, "%s: %s: %s\n", prog, m->new_path, strerror(errno));
        ok = 0;
    }
    if (!ok) {
        unlink(m->tmp_path);
        m->failed++;
        fprintf(stderr, "%s: message %lu (%s) not stored: %s\n", prog, (unsigned long)msg, uid,
                mailproto_strerror(status));
        return 0;
    }
    int64_t now = (int64_t)time(NULL);
    if (fprintf(m->state, "%s %lld\n", uid, (long long)now) < 0 || fflush(m->state) != 0)
        return 1; /* cannot remember it: stop before fetching it again next time */
    seen_add(m, uid, now);
    printf("%lu %s %s\n", (unsigned long)msg, uid, m->new_path + strlen(m->dir) + 1);
    return 0;
}

static int fetch_new(mailproto_pop3 *p, const char *dir, int del)
{
    maildir m;
    memset(&m, 0, sizeof m);
    m.dir = dir;
    char path[4096];
    static const char *const sub[] = {"", "/tmp", "/new", "/cur"};
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s%s", dir, sub[i]);
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
            return 1;
        }
    }
    snprintf(path, sizeof path, "%s/.mailproto-pop3-uidl", dir);
    FILE *f = fopen(path, "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f)) {
            char uid[128];
            long long at = -1;
            if (sscanf(line, "%127s %lld", uid, &at) >= 1 && seen_add(&m, uid, at) != 0) {
                fclose(f);
                fprintf(stderr, "%s: out of memory\n", prog);
                return 1;
            }
        }
        fclose(f);
    }
    m.state = fopen(path, "a");
    if (!m.state) {
        fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
        return 1;
    }
    mailproto_pop3_sync_config sc;
    memset(&sc, 0, sizeof sc);
    sc.ctx = &m;
    sc.known = md_known;
    sc.open = md_open;
    sc.done = md_done;
    sc.delete_after_fetch = del;
    mailproto_pop3_sync_result res;
    int rc = mailproto_pop3_sync(p, &sc, &res);
    fclose(m.state);
    for (size_t i = 0; i < m.n_seen; i++)
        free(m.seen[i]);
    free(m.seen);
    free(m.seen_at);
    if (rc != MAILPROTO_OK)
        return fail(p, rc, "fetch-new");
    if (del) {
        rc = mailproto_pop3_quit(p);
        if (rc != MAILPROTO_OK)
            return fail(p, rc, "QUIT (deletions)");
    }
    fprintf(stderr, "%s: %lu new, %lu fetched, %lu failed, %lu deleted\n", prog,
            (unsigned long)res.new_msgs, (unsigned long)res.fetched, (unsigned long)res.failed,
            (unsigned long)res.deleted);
    return res.failed || m.failed ? 1 : 0;
}

/* ---- main ---- */

int fetch_pop3_main(int argc, char **argv, const char *url)
{
    const char *user = NULL, *cafile = NULL, *pin = NULL, *auth = NULL, *pwfile = NULL,
               *tokfile = NULL, *part = NULL, *save = NULL;
    const char *args[8];
    size_t n_args = 0;
    int trace = 0, allow_plain = 0, timeout = 0, raw = 0, del = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--trace")) {
            trace = 1;
            continue;
        }
        if (!strcmp(a, "--allow-plaintext")) {
            allow_plain = 1;
            continue;
        }
        if (!strcmp(a, "--raw")) {
            raw = 1;
            continue;
        }
        if (!strcmp(a, "--delete")) {
            del = 1;
            continue;
        }
        if (!strcmp(a, "--password") || !strncmp(a, "--password=", 11))
            return fail_usage("never put a password on the command line: use MAILPROTO_PASSWORD "
                              "or --password-file");
        if (!strncmp(a, "--", 2)) {
            if (i + 1 >= argc)
                return fail_usage("option without a value");
            const char *v = argv[++i];
            if (!strcmp(a, "--server"))
                ; /* the caller passed it as url */
            else if (!strcmp(a, "--user"))
                user = v;
            else if (!strcmp(a, "--cafile"))
                cafile = v;
            else if (!strcmp(a, "--pin"))
                pin = v;
            else if (!strcmp(a, "--auth"))
                auth = v;
            else if (!strcmp(a, "--timeout"))
                timeout = atoi(v);
            else if (!strcmp(a, "--password-file"))
                pwfile = v;
            else if (!strcmp(a, "--oauth-token-file"))
                tokfile = v;
            else if (!strcmp(a, "--part"))
                part = v;
            else if (!strcmp(a, "--save"))
                save = v;
            else
                return fail_usage("unknown option");
            continue;
        }
        if (n_args == sizeof args / sizeof args[0])
            return fail_usage("too many arguments");
        args[n_args++] = a;
    }
    if (!url || n_args == 0)
        return fail_usage("--server and a command are needed");
    if (raw + (part != NULL) + (save != NULL) > 1)
        return fail_usage("give one of --raw, --part and --save");
#if !MAILPROTO_HAS_MIME
    if (part || save)
        return fail_usage("--part and --save need the MIME reader, which this build lacks");
#endif
    const char *cmd = args[0];
    int c_list = !strcmp(cmd, "list"), c_fetch = !strcmp(cmd, "fetch"),
        c_delete = !strcmp(cmd, "delete"), c_new = !strcmp(cmd, "fetch-new");
    if (!c_list && !c_fetch && !c_delete && !c_new)
        return fail_usage("unknown command (POP3 has list, fetch, delete, fetch-new)");
    if ((c_list && n_args != 1) || (!c_list && n_args != 2))
        return fail_usage("wrong number of arguments for the command");

    /* ---- the URL ---- */
    mailproto_pop3_config cfg;
    memset(&cfg, 0, sizeof cfg);
    const char *rest;
    int plain = 0;
    if (!strncmp(url, "pop3s://", 8)) {
        cfg.security = MAILPROTO_SEC_TLS;
        cfg.port = 995;
        rest = url + 8;
    } else if (!strncmp(url, "pop3://", 7)) {
        cfg.security = MAILPROTO_SEC_STARTTLS;
        cfg.port = 110;
        rest = url + 7;
    } else if (!strncmp(url, "pop3+plain://", 13)) {
        plain = 1;
        cfg.port = 110;
        rest = url + 13;
    } else {
        return fail_usage("a POP3 URL starts with pop3s://, pop3:// or pop3+plain://");
    }
    if (plain) {
        if (!allow_plain)
            return fail_usage("a URL without TLS needs --allow-plaintext");
        cfg.security = MAILPROTO_SEC_PLAIN;
    }
    cfg.allow_plaintext_auth = allow_plain;
    char host[256];
    size_t hl = strcspn(rest, "/");
    if (hl == 0 || hl >= sizeof host)
        return fail_usage("bad host in the URL");
    memcpy(host, rest, hl);
    host[hl] = '\0';
    char *colon = strrchr(host, ':');
    if (host[0] == '[') {
        char *end = strchr(host, ']');
        if (!end)
            return fail_usage("bad IPv6 address in the URL");
        colon = end[1] == ':' ? end + 1 : NULL;
        *end = '\0';
        memmove(host, host + 1, strlen(host));
        if (colon)
            colon--;
    }
    if (colon) {
        *colon = '\0';
        char *endp;
        long port = strtol(colon + 1, &endp, 10);
        if (port <= 0 || port > 65535 || *endp)
            return fail_usage("bad port in the URL");
        cfg.port = (uint16_t)port;
    }
    cfg.host = host;

    /* ---- credentials ---- */
    char secret[4096];
    secret[0] = '\0';
    if (!user)
        return fail_usage("--user is needed");
    cfg.username = user;
    if (tokfile) {
        if (read_secret_file(tokfile, secret, sizeof secret) != 0)
            return 1;
        cfg.oauth_token = secret;
    } else if (pwfile) {
        if (read_secret_file(pwfile, secret, sizeof secret) != 0)
            return 1;
        cfg.password = secret;
    } else if (getenv("MAILPROTO_PASSWORD")) {
        cfg.password = getenv("MAILPROTO_PASSWORD");
    } else {
        return fail_usage("--user needs MAILPROTO_PASSWORD, --password-file or --oauth-token-file");
    }
    if (auth) {
        static const char *const names[] = {"", "LOGIN", "PLAIN", "CRAM-MD5", "XOAUTH2",
                                            "OAUTHBEARER", "SCRAM-SHA-1", "SCRAM-SHA-256"};
        if (!strcasecmp(auth, "USER")) {
            cfg.login = MAILPROTO_POP3_LOGIN_USER;
        } else if (!strcasecmp(auth, "APOP")) {
            cfg.login = MAILPROTO_POP3_LOGIN_APOP;
        } else {
            for (int m = 1; m < 8; m++)
                if (!strcasecmp(auth, names[m]))
                    cfg.auth_mech = m;
            if (!cfg.auth_mech)
                return fail_usage("unknown --auth mechanism");
            cfg.login = MAILPROTO_POP3_LOGIN_SASL;
        }
    }
    if (timeout > 0) {
        cfg.timeout_ms = timeout * 1000;
        cfg.inactivity_timeout_ms = timeout * 1000;
    }
    if (trace)
        cfg.trace = trace_fn;

    mailproto_tls_config *tls = NULL;
    if (cafile || pin) {
        mailproto_tls_options opt;
        memset(&opt, 0, sizeof opt);
        opt.ca_file = cafile;
        opt.pin_pubkey_sha256 = pin;
        char err[256] = "";
        int rc = mailproto_tls_config_new(&tls, &opt, NULL, err, sizeof err);
        if (rc != MAILPROTO_OK) {
            fprintf(stderr, "%s: TLS settings: %s (%s)\n", prog,
                    err[0] ? err : mailproto_strerror(rc), mailproto_errname(rc));
            return 1;
        }
        cfg.tls = tls;
    }

    /* ---- the session ---- */
    mailproto_pop3 *p = NULL;
    int exit_code = 0;
    int rc = mailproto_pop3_new(&p, &cfg, NULL);
    if (rc != MAILPROTO_OK) {
        fprintf(stderr, "%s: %s\n", prog, mailproto_strerror(rc));
        exit_code = 1;
        goto out;
    }
    rc = mailproto_pop3_connect(p);
    if (rc != MAILPROTO_OK) {
        exit_code = fail(p, rc, "login");
        goto out;
    }
    if (c_list) {
        table t = {NULL, 0, 0};
        if ((mailproto_pop3_caps(p) & MAILPROTO_POP3_CAP_UIDL) ||
            !(mailproto_pop3_caps(p) & MAILPROTO_POP3_CAP_CAPA))
            rc = mailproto_pop3_uidl(p, 0, on_uidl, &t);
        if (rc == MAILPROTO_OK || rc == MAILPROTO_E_REJECTED || rc == MAILPROTO_E_UNSUPPORTED)
            rc = mailproto_pop3_list(p, 0, on_list, &t);
        if (rc != MAILPROTO_OK) {
            exit_code = fail(p, rc, "LIST");
        } else {
            for (size_t i = 0; i < t.n; i++)
                printf("%lu %llu %s\n", (unsigned long)t.v[i].msg,
                       (unsigned long long)t.v[i].size, t.v[i].uid);
        }
        free(t.v);
    } else if (c_fetch || c_delete) {
        uint32_t msg = 0;
        exit_code = resolve_id(p, args[1], &msg);
        if (exit_code == 0 && c_fetch && (part || save)) {
#if MAILPROTO_HAS_MIME
            exit_code = fetch_parts(p, msg, part, save);
#endif
        } else if (exit_code == 0 && c_fetch) {
            mailproto_sink sink = {file_write, stdout};
            rc = mailproto_pop3_retr(p, msg, &sink, NULL);
            if (rc != MAILPROTO_OK)
                exit_code = fail(p, rc, "RETR");
            else if (fflush(stdout) != 0)
                exit_code = 1;
        } else if (exit_code == 0) {
            rc = mailproto_pop3_dele(p, msg);
            if (rc != MAILPROTO_OK)
                exit_code = fail(p, rc, "DELE");
            else if ((rc = mailproto_pop3_quit(p)) != MAILPROTO_OK)
                exit_code = fail(p, rc, "QUIT");
        }
    } else {
        exit_code = fetch_new(p, args[1], del);
    }
    if (mailproto_pop3_outcome(p) == MAILPROTO_POP3_OUTCOME_NONE && !mailproto_is_fatal(rc))
        mailproto_pop3_quit(p);
out:
    mailproto_pop3_free(p);
    mailproto_tls_config_free(tls);
    memset(secret, 0, sizeof secret);
    return exit_code;
}
