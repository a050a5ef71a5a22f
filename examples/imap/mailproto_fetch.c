/*
 * mailproto-fetch: read and manage a mailbox over IMAP.
 *
 *   MAILPROTO_PASSWORD=... mailproto-fetch --server imaps://mail.example.org --user alice list
 *   mailproto-fetch --server imap://mail.example.org --user alice --password-file pw \
 *                   headers INBOX --limit 20
 *
 * The password comes from MAILPROTO_PASSWORD or --password-file, never from
 * the command line.  Exit 0 success, 1 failure (one line "mailproto-fetch:
 * reason" on stderr with the server's status, code and text), 2 usage.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <mailproto/mailproto.h>
#include <mailproto/transport.h>
#if MAILPROTO_HAS_MIME
#include <mailproto/mime.h>
#if MAILPROTO_FETCH_POP3
#include "fetch_pop3.h"
#endif
#endif

static const char *prog = "mailproto-fetch";

static void usage(FILE *f)
{
    fprintf(f,
            "usage: %s --server URL --user NAME [options] COMMAND [ARGS]\n"
            "  list                                  mailboxes (UTF-8) with special-use flags\n"
            "  status MAILBOX                        MESSAGES, UNSEEN, UIDNEXT, UIDVALIDITY\n"
            "  headers MAILBOX [--limit N]           UID, date, from, subject (tab-separated)\n"
            "  fetch MAILBOX UID [--raw | --part N | --save DIR]\n"
            "                                        raw message, one decoded part (N counts the\n"
            "                                        parts in order, 0 is the whole message), or\n"
            "                                        the attachments saved under DIR\n"
            "  search MAILBOX CRITERIA...            matching UIDs, one per line\n"
            "  append MAILBOX FILE|-                 prints the new UID when reported\n"
            "  copy|move MAILBOX UID DEST\n"
            "  flag MAILBOX UID (+|-)FLAG...         e.g. +\\Seen -\\Flagged\n"
            "  delete MAILBOX UID                    \\Deleted, then UID EXPUNGE (or EXPUNGE)\n"
            "  mkdir|rmdir NAME ; rename OLD NEW\n"
            "  idle MAILBOX [--count N] [--timeout SECONDS]\n"
            "options: --auth MECH --cafile FILE --pin sha256:HEX --timeout SECONDS --trace\n"
            "         --allow-plaintext --password-file FILE --oauth-token-file FILE\n"
            "URL: imaps://host[:port] (993), imap://host[:port] (STARTTLS required, 143),\n"
            "imap+plain://host[:port] (no TLS; needs --allow-plaintext).\n"
            "POP3: pop3s://host[:port] (995), pop3://host[:port] (STLS required, 110), one mailbox:\n"
            "  list | fetch ID [--raw | --part N | --save DIR] | delete ID | fetch-new MAILDIR [--delete]\n"
            "  (ID is a message number or a UIDL; see --server pop3s://... --help)\n"
            "The password is read from MAILPROTO_PASSWORD or --password-file.\n"
            "Exit: 0 success, 1 failure, 2 usage.\n",
            prog);
}

static int fail_usage(const char *what)
{
    fprintf(stderr, "%s: %s\n", prog, what);
    usage(stderr);
    return 2;
}

static mailproto_imap *H;

/* One line on stderr with what the server said. */
static int fail(int rc, const char *what)
{
    const mailproto_reply *r = mailproto_imap_last_reply(H);
    static const char *const st[] = {"", "OK", "NO", "BAD", "BYE", "PREAUTH"};
    fprintf(stderr, "%s: %s: %s", prog, what, mailproto_strerror(rc));
    if (r->message && r->message[0] && strcmp(r->message, mailproto_strerror(rc)))
        fprintf(stderr, " (%s)", r->message);
    if (r->imap_status > 0 && r->imap_status <= 5)
        fprintf(stderr, " (server: %s%s%s%s %.*s)", st[r->imap_status], r->resp_code[0] ? " [" : "", r->resp_code,
                r->resp_code[0] ? "]" : "", (int)r->text_len, r->text);
    else if (r->text_len)
        fprintf(stderr, " (server: %.*s)", (int)r->text_len, r->text);
    fprintf(stderr, "\n");
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
        fprintf(stderr, "C: <%zu bytes of message data>\n", len);
        return;
    }
    const char *p = dir == MAILPROTO_TRACE_SENT ? "C: " : dir == MAILPROTO_TRACE_RECEIVED ? "S: " : "* ";
    while (len && (data[len - 1] == '\n' || data[len - 1] == '\r'))
        len--;
    fprintf(stderr, "%s%.*s\n", p, (int)len, data);
}

/* ---- a growing buffer (the program may allocate; the library does not) ---- */
typedef struct gbuf {
    char *p;
    size_t len, cap;
    size_t max;
    int over;
} gbuf;

static int gbuf_put(gbuf *b, const void *d, size_t n)
{
    if (b->max && b->len + n > b->max) {
        b->over = 1;
        return MAILPROTO_OK;
    }
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 4096;
        while (nc < b->len + n + 1)
            nc *= 2;
        char *q = realloc(b->p, nc);
        if (!q)
            return MAILPROTO_E_NOMEM;
        b->p = q;
        b->cap = nc;
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
    b->p[b->len] = '\0';
    return MAILPROTO_OK;
}

static int gbuf_sink(void *ctx, const void *d, size_t n) { return gbuf_put(ctx, d, n); }

static int stdout_sink(void *ctx, const void *d, size_t n)
{
    uint64_t *count = ctx;
    *count += n;
    return fwrite(d, 1, n, stdout) == n ? MAILPROTO_OK : MAILPROTO_E_IO;
}

/* ---- URL ---- */
static int parse_url(const char *url, char *host, size_t hcap, uint16_t *port, int *security)
{
    const char *rest;
    if (!strncasecmp(url, "imaps://", 8)) {
        *security = MAILPROTO_SEC_TLS;
        rest = url + 8;
    } else if (!strncasecmp(url, "imap+plain://", 13)) {
        *security = MAILPROTO_SEC_PLAIN;
        rest = url + 13;
    } else if (!strncasecmp(url, "imap://", 7)) {
        *security = MAILPROTO_SEC_STARTTLS;
        rest = url + 7;
    } else {
        return -1;
    }
    size_t n;
    const char *colon;
    if (*rest == '[') {
        const char *end = strchr(rest, ']');
        if (!end)
            return -1;
        n = (size_t)(end - rest - 1);
        if (n + 1 > hcap)
            return -1;
        memcpy(host, rest + 1, n);
        host[n] = '\0';
        colon = end[1] == ':' ? end + 1 : NULL;
        if (end[1] && end[1] != ':' && end[1] != '/')
            return -1;
    } else {
        n = strcspn(rest, ":/");
        if (n == 0 || n + 1 > hcap)
            return -1;
        memcpy(host, rest, n);
        host[n] = '\0';
        colon = rest[n] == ':' ? rest + n : NULL;
    }
    *port = 0;
    if (colon) {
        char *e;
        long p = strtol(colon + 1, &e, 10);
        if (p <= 0 || p > 65535 || (*e && *e != '/'))
            return -1;
        *port = (uint16_t)p;
    }
    return 0;
}

/* ---- list ---- */
static const char *const mbx_attr_names[] = {"\\Noselect", "\\NoInferiors", "\\HasChildren", "\\HasNoChildren",
                                             "\\Marked",   "\\Unmarked",    "\\NonExistent", "\\Subscribed",
                                             "\\Remote",   "\\All",         "\\Archive",     "\\Drafts",
                                             "\\Flagged",  "\\Junk",        "\\Sent",        "\\Trash"};

static int list_cb(void *ctx, const mailproto_imap_list_entry *e)
{
    (void)ctx;
    if (e->is_status)
        return 0;
    printf("%s", e->name);
    const char *sep = "\t";
    for (unsigned i = 9; i < 16; i++) /* special use */
        if (e->attrs & (1u << i)) {
            printf("%s%s", sep, mbx_attr_names[i]);
            sep = " ";
        }
    printf("\n");
    return 0;
}

/* ---- headers ---- */
typedef struct hdr_state {
    uint32_t uid;
    char date[64];
    gbuf head;
    int in_fetch;
} hdr_state;

static void print_header_line(hdr_state *hs)
{
    const char *from = "", *subj = "";
    char date[64];
    snprintf(date, sizeof date, "%s", hs->date);
#if MAILPROTO_HAS_MIME
    mailproto_mime_reader *r = NULL;
    if (mailproto_mime_reader_new(&r, NULL, NULL) == MAILPROTO_OK &&
        mailproto_mime_reader_parse(r, hs->head.p ? hs->head.p : "", hs->head.len) == MAILPROTO_OK) {
        const mailproto_mime_address *a;
        size_t n = 0;
        if (mailproto_mime_reader_addresses(r, "From", &a, &n) == MAILPROTO_OK && n)
            from = a[0].address;
        subj = mailproto_mime_reader_header(r, "Subject");
        int64_t when;
        int tz;
        if (mailproto_mime_reader_date(r, &when, &tz) == MAILPROTO_OK) {
            time_t t = (time_t)(when + tz * 60);
            struct tm tmv;
            gmtime_r(&t, &tmv);
            strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S", &tmv);
            size_t l = strlen(date);
            snprintf(date + l, sizeof date - l, " %c%02d%02d", tz < 0 ? '-' : '+', abs(tz) / 60, abs(tz) % 60);
        }
    }
    char fbuf[512], sbuf[1024];
    snprintf(fbuf, sizeof fbuf, "%s", from);
    snprintf(sbuf, sizeof sbuf, "%s", subj);
    for (char *c = sbuf; *c; c++)
        if (*c == '\t' || *c == '\n' || *c == '\r')
            *c = ' ';
    mailproto_mime_reader_free(r);
    printf("%u\t%s\t%s\t%s\n", (unsigned)hs->uid, date, fbuf, sbuf);
#else
    (void)from;
    (void)subj;
    printf("%u\t%s\t\t(headers need the MIME reader)\n", (unsigned)hs->uid, date);
#endif
}

static void headers_event(void *ctx, const mailproto_imap_event *ev)
{
    hdr_state *hs = ctx;
    if (ev->type == MAILPROTO_IMAP_EV_FETCH) {
        hs->in_fetch = 1;
        hs->uid = 0;
        hs->date[0] = '\0';
        hs->head.len = 0;
        hs->head.over = 0;
        return;
    }
    if (!hs->in_fetch || ev->resp != MAILPROTO_IMAP_EV_FETCH)
        return;
    if (ev->type == MAILPROTO_IMAP_EV_NUMBER && ev->item == MAILPROTO_IMAP_ITEM_UID)
        hs->uid = (uint32_t)ev->number;
    else if (ev->type == MAILPROTO_IMAP_EV_STRING && ev->item == MAILPROTO_IMAP_ITEM_INTERNALDATE)
        snprintf(hs->date, sizeof hs->date, "%.*s", (int)ev->data.len, ev->data.ptr);
    else if (ev->type == MAILPROTO_IMAP_EV_LITERAL_CHUNK ||
             (ev->type == MAILPROTO_IMAP_EV_STRING && ev->item == MAILPROTO_IMAP_ITEM_BODY_SECTION))
        gbuf_put(&hs->head, ev->data.ptr, ev->data.len);
    else if (ev->type == MAILPROTO_IMAP_EV_END) {
        hs->in_fetch = 0;
        if (hs->uid)
            print_header_line(hs);
    }
}

/* ---- idle ---- */
typedef struct idle_state {
    int active;             /* IDLE runs: print (not the SELECT's own data) */
    long printed;
    char flags[512];
    size_t flen;
    uint32_t seq;
    int in_fetch;
} idle_state;

static void idle_print(idle_state *is, const mailproto_imap_event *ev)
{
    if (ev->type == MAILPROTO_IMAP_EV_EXISTS) {
        printf("EXISTS %llu\n", (unsigned long long)ev->number);
        is->printed++;
    } else if (ev->type == MAILPROTO_IMAP_EV_EXPUNGE) {
        printf("EXPUNGE %llu\n", (unsigned long long)ev->number);
        is->printed++;
    } else if (ev->type == MAILPROTO_IMAP_EV_VANISHED) {
        printf("VANISHED\n");
        is->printed++;
    } else if (ev->type == MAILPROTO_IMAP_EV_FETCH) {
        is->in_fetch = 1;
        is->seq = ev->seq;
        is->flen = 0;
        is->flags[0] = '\0';
    } else if (is->in_fetch && ev->type == MAILPROTO_IMAP_EV_FLAG && ev->resp == MAILPROTO_IMAP_EV_FETCH) {
        int n = snprintf(is->flags + is->flen, sizeof is->flags - is->flen, "%s%.*s", is->flen ? " " : "",
                         (int)ev->data.len, ev->data.ptr);
        if (n > 0 && (size_t)n < sizeof is->flags - is->flen)
            is->flen += (size_t)n;
    } else if (is->in_fetch && ev->type == MAILPROTO_IMAP_EV_END) {
        is->in_fetch = 0;
        printf("FETCH %u FLAGS (%s)\n", (unsigned)is->seq, is->flags);
        is->printed++;
    } else if (ev->type == MAILPROTO_IMAP_EV_ALERT) {
        fprintf(stderr, "%s: server alert: %.*s\n", prog, (int)ev->data.len, ev->data.ptr);
    }
    fflush(stdout);
}

static void idle_event(void *ctx, const mailproto_imap_event *ev)
{
    idle_state *is = ctx;
    if (is->active)
        idle_print(is, ev);
}

/* ---- search criteria from IMAP SEARCH syntax words ---- */
static int month_of(const char *m)
{
    static const char *const names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (int i = 0; i < 12; i++)
        if (!strncasecmp(m, names[i], 3))
            return i + 1;
    return 0;
}

static int build_criteria(mailproto_imap_criteria *c, int argc, char **argv)
{
    static const char *const string_keys[] = {"BCC", "BODY", "CC", "FROM", "KEYWORD", "SUBJECT", "TEXT", "TO",
                                              "UNKEYWORD"};
    static const char *const date_keys[] = {"BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE"};
    mailproto_imap_criteria_init(c);
    for (int i = 0; i < argc; i++) {
        const char *k = argv[i];
        int done = 0;
        for (size_t j = 0; j < sizeof string_keys / sizeof *string_keys && !done; j++)
            if (!strcasecmp(k, string_keys[j])) {
                if (i + 1 >= argc)
                    return -1;
                mailproto_imap_criteria_string(c, string_keys[j], argv[++i]);
                done = 1;
            }
        for (size_t j = 0; j < sizeof date_keys / sizeof *date_keys && !done; j++)
            if (!strcasecmp(k, date_keys[j])) {
                int d, y;
                char mon[8];
                if (i + 1 >= argc || sscanf(argv[i + 1], "%d-%3s-%d", &d, mon, &y) != 3 || !month_of(mon))
                    return -1;
                mailproto_imap_criteria_date(c, date_keys[j], y, month_of(mon), d);
                i++;
                done = 1;
            }
        if (done)
            continue;
        if (!strcasecmp(k, "LARGER") || !strcasecmp(k, "SMALLER")) {
            if (i + 1 >= argc)
                return -1;
            mailproto_imap_criteria_number(c, k, strtoull(argv[++i], NULL, 10));
        } else if (!strcasecmp(k, "HEADER")) {
            if (i + 2 >= argc)
                return -1;
            mailproto_imap_criteria_header(c, argv[i + 1], argv[i + 2]);
            i += 2;
        } else {
            mailproto_imap_criteria_key(c, k);
        }
    }
    return c->err ? -1 : 0;
}

static int uid_arg(const char *s, uint32_t *uid)
{
    char *e;
    unsigned long v = strtoul(s, &e, 10);
    if (!*s || *e || v == 0 || v > UINT32_MAX)
        return -1;
    *uid = (uint32_t)v;
    return 0;
}

#if MAILPROTO_HAS_MIME
static void safe_name(const char *in, char *out, size_t cap, size_t idx)
{
    const char *base = strrchr(in, '/');
    base = base ? base + 1 : in;
    size_t o = 0;
    for (; *base && o + 1 < cap; base++) {
        unsigned char ch = (unsigned char)*base;
        out[o++] = (ch < 0x20 || ch == '\\' || ch == '/') ? '_' : (char)ch;
    }
    out[o] = '\0';
    if (!o || out[0] == '.')
        snprintf(out, cap, "part-%zu", idx);
}

static int file_sink(void *ctx, const void *d, size_t n)
{
    return fwrite(d, 1, n, (FILE *)ctx) == n ? MAILPROTO_OK : MAILPROTO_E_IO;
}
#endif

int main(int argc, char **argv)
{
    const char *server = NULL, *user = NULL, *auth = NULL, *cafile = NULL, *pin = NULL, *pwfile = NULL,
               *tokfile = NULL;
    int trace = 0, allow_plain = 0, timeout = 0, i;
    for (i = 1; i < argc; i++) {
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
        if (strncmp(a, "--", 2) != 0)
            break;
        if (i + 1 >= argc)
            return fail_usage("option needs a value");
        const char *v = argv[++i];
        if (!strcmp(a, "--server"))
            server = v;
        else if (!strcmp(a, "--user"))
            user = v;
        else if (!strcmp(a, "--auth"))
            auth = v;
        else if (!strcmp(a, "--cafile"))
            cafile = v;
        else if (!strcmp(a, "--pin"))
            pin = v;
        else if (!strcmp(a, "--password-file"))
            pwfile = v;
        else if (!strcmp(a, "--oauth-token-file"))
            tokfile = v;
        else if (!strcmp(a, "--timeout"))
            timeout = atoi(v);
        else if (!strcmp(a, "--password"))
            return fail_usage("passwords are never taken on the command line (MAILPROTO_PASSWORD, --password-file)");
        else
            return fail_usage("unknown option");
    }
    if (!server)
        return fail_usage("--server is required");
#if MAILPROTO_FETCH_POP3
    /* POP3 has one mailbox and its own commands: fetch_pop3.c */
    if (!strncasecmp(server, "pop3", 4))
        return fetch_pop3_main(argc, argv, server);
#endif
    if (i >= argc)
        return fail_usage("no command");
    const char *cmd = argv[i++];
    int nargs = argc - i;
    char **args = argv + i;

    /* options after the command */
    long limit = 0, count = 0;
    int raw = 0, idle_timeout = 0;
    const char *part = NULL, *save = NULL;
    char *pos[64];
    int npos = 0;
    for (int k = 0; k < nargs; k++) {
        if (!strcmp(args[k], "--limit") && k + 1 < nargs)
            limit = atol(args[++k]);
        else if (!strcmp(args[k], "--count") && k + 1 < nargs)
            count = atol(args[++k]);
        else if (!strcmp(args[k], "--timeout") && k + 1 < nargs)
            idle_timeout = atoi(args[++k]);
        else if (!strcmp(args[k], "--raw"))
            raw = 1;
        else if (!strcmp(args[k], "--part") && k + 1 < nargs)
            part = args[++k];
        else if (!strcmp(args[k], "--save") && k + 1 < nargs)
            save = args[++k];
        else if (npos < 64)
            pos[npos++] = args[k];
    }

    char host[256];
    mailproto_imap_config cfg;
    memset(&cfg, 0, sizeof cfg);
    if (parse_url(server, host, sizeof host, &cfg.port, &cfg.security) != 0)
        return fail_usage("bad --server URL (imaps://, imap://, imap+plain://)");
    if (cfg.security == MAILPROTO_SEC_PLAIN && !allow_plain)
        return fail_usage("a URL without TLS needs --allow-plaintext");
    cfg.host = host;
    cfg.allow_plaintext_auth = allow_plain && cfg.security == MAILPROTO_SEC_PLAIN;
    static char secret[4096];
    if (user) {
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
    }
    if (auth) {
        static const char *const names[] = {"", "LOGIN", "PLAIN", "CRAM-MD5", "XOAUTH2",
                                            "OAUTHBEARER", "SCRAM-SHA-1", "SCRAM-SHA-256"};
        for (int m = 1; m < 8; m++)
            if (!strcasecmp(auth, names[m]))
                cfg.auth_mech = m;
        if (!cfg.auth_mech)
            return fail_usage("unknown --auth mechanism");
    }
    if (timeout > 0) {
        cfg.timeout_ms = timeout * 1000;
        cfg.inactivity_timeout_ms = timeout * 1000;
    }
    if (trace)
        cfg.trace = trace_fn;
    mailproto_tls_config *tls = NULL;
    if (cafile || pin || getenv("MAILPROTO_CAFILE")) {
        mailproto_tls_options o;
        memset(&o, 0, sizeof o);
        o.ca_file = cafile ? cafile : getenv("MAILPROTO_CAFILE");
        if (pin) {
            if (strncmp(pin, "sha256:", 7) != 0)
                return fail_usage("--pin takes sha256:HEX");
            o.pin_pubkey_sha256 = pin;
        }
        char eb[256] = "";
        int rc = mailproto_tls_config_new(&tls, &o, NULL, eb, sizeof eb);
        if (rc != MAILPROTO_OK) {
            fprintf(stderr, "%s: TLS setup: %s %s\n", prog, mailproto_strerror(rc), eb);
            return 1;
        }
        cfg.tls = tls;
    }

    /* ---- check the command's arguments before connecting ---- */
    int need = -1;
    if (!strcmp(cmd, "list"))
        need = 0;
    else if (!strcmp(cmd, "status") || !strcmp(cmd, "headers") || !strcmp(cmd, "mkdir") || !strcmp(cmd, "rmdir") ||
             !strcmp(cmd, "idle"))
        need = 1;
    else if (!strcmp(cmd, "fetch") || !strcmp(cmd, "append") || !strcmp(cmd, "delete") || !strcmp(cmd, "rename"))
        need = 2;
    else if (!strcmp(cmd, "copy") || !strcmp(cmd, "move") || !strcmp(cmd, "flag"))
        need = 3;
    else if (!strcmp(cmd, "search"))
        need = 2;
    else
        return fail_usage("unknown command");
    if (npos < need || ((!strcmp(cmd, "list")) && npos) ||
        (need < 3 && strcmp(cmd, "search") && npos > need) || (!strcmp(cmd, "copy") && npos != 3) ||
        (!strcmp(cmd, "move") && npos != 3))
        return fail_usage("wrong number of arguments");
    uint32_t uid = 0;
    if ((!strcmp(cmd, "fetch") || !strcmp(cmd, "delete") || !strcmp(cmd, "copy") || !strcmp(cmd, "move") ||
         !strcmp(cmd, "flag")) &&
        uid_arg(pos[1], &uid) != 0)
        return fail_usage("UID must be a positive number");
    if (!strcmp(cmd, "fetch") && raw + (part != NULL) + (save != NULL) > 1)
        return fail_usage("use one of --raw, --part, --save");
    mailproto_imap_criteria crit;
    if (!strcmp(cmd, "search") && build_criteria(&crit, npos - 1, pos + 1) != 0)
        return fail_usage("bad search criteria");

    hdr_state hs;
    memset(&hs, 0, sizeof hs);
    hs.head.max = 1 << 20;
    idle_state is;
    memset(&is, 0, sizeof is);
    if (!strcmp(cmd, "headers")) {
        cfg.on_event = headers_event;
        cfg.event_ctx = &hs;
    } else if (!strcmp(cmd, "idle")) {
        cfg.on_event = idle_event;
        cfg.event_ctx = &is;
    }

    int rc = mailproto_imap_new(&H, &cfg, NULL);
    if (rc != MAILPROTO_OK) {
        fprintf(stderr, "%s: %s\n", prog, mailproto_strerror(rc));
        return 1;
    }
    int ex = 0;
    rc = mailproto_imap_connect(H);
    if (rc != MAILPROTO_OK) {
        ex = fail(rc, "connect");
        goto out;
    }

    if (!strcmp(cmd, "list")) {
        rc = mailproto_imap_list(H, "", "*", MAILPROTO_IMAP_LIST_SPECIAL_USE, list_cb, NULL);
        if (rc)
            ex = fail(rc, "LIST");
    } else if (!strcmp(cmd, "status")) {
        mailproto_imap_status_items st;
        rc = mailproto_imap_status(H, pos[0],
                                   MAILPROTO_IMAP_STATUS_MESSAGES | MAILPROTO_IMAP_STATUS_UNSEEN |
                                       MAILPROTO_IMAP_STATUS_UIDNEXT | MAILPROTO_IMAP_STATUS_UIDVALIDITY,
                                   &st);
        if (rc)
            ex = fail(rc, "STATUS");
        else
            printf("MESSAGES %llu\nUNSEEN %llu\nUIDNEXT %llu\nUIDVALIDITY %llu\n", (unsigned long long)st.messages,
                   (unsigned long long)st.unseen, (unsigned long long)st.uidnext,
                   (unsigned long long)st.uidvalidity);
    } else if (!strcmp(cmd, "headers")) {
        rc = mailproto_imap_select(H, pos[0], MAILPROTO_IMAP_EXAMINE);
        uint32_t n = mailproto_imap_mailbox_state(H)->exists;
        if (rc)
            ex = fail(rc, "EXAMINE");
        else if (n) {
            uint32_t first = limit > 0 && (uint32_t)limit < n ? n - (uint32_t)limit + 1 : 1;
            rc = mailproto_imap_fetch(H, 0, first, n,
                                      "(UID INTERNALDATE BODY.PEEK[HEADER.FIELDS (DATE FROM SUBJECT)])");
            if (rc)
                ex = fail(rc, "FETCH");
        }
    } else if (!strcmp(cmd, "fetch")) {
        rc = mailproto_imap_select(H, pos[0], MAILPROTO_IMAP_EXAMINE);
        if (rc) {
            ex = fail(rc, "EXAMINE");
        } else if (!part && !save) {
            uint64_t bytes = 0;
            mailproto_sink sink = {stdout_sink, &bytes};
            rc = mailproto_imap_fetch_body(H, 1, uid, "", 0, 0, &sink);
            if (rc)
                ex = fail(rc, "FETCH");
            else if (!bytes) {
                fprintf(stderr, "%s: no message with UID %u\n", prog, (unsigned)uid);
                ex = 1;
            }
        } else {
#if MAILPROTO_HAS_MIME
            gbuf msg;
            memset(&msg, 0, sizeof msg);
            mailproto_sink sink = {gbuf_sink, &msg};
            rc = mailproto_imap_fetch_body(H, 1, uid, "", 0, 0, &sink);
            mailproto_mime_reader *r = NULL;
            if (rc)
                ex = fail(rc, "FETCH");
            else if (!msg.len) {
                fprintf(stderr, "%s: no message with UID %u\n", prog, (unsigned)uid);
                ex = 1;
            } else if (mailproto_mime_reader_new(&r, NULL, NULL) != MAILPROTO_OK ||
                       mailproto_mime_reader_parse(r, msg.p, msg.len) != MAILPROTO_OK) {
                fprintf(stderr, "%s: cannot parse the message\n", prog);
                ex = 1;
            } else if (part) {
                char *e;
                unsigned long pi = strtoul(part, &e, 10);
                const mailproto_mime_info *inf = *e ? NULL : mailproto_mime_reader_part(r, pi);
                FILE *o = stdout;
                mailproto_sink fs = {file_sink, o};
                if (!inf || inf->multipart) {
                    fprintf(stderr, "%s: no leaf part %s (the message has %zu parts)\n", prog, part,
                            mailproto_mime_reader_count(r));
                    ex = 1;
                } else if (mailproto_mime_reader_decode(r, pi, msg.p, msg.len, 0, &fs) != MAILPROTO_OK) {
                    fprintf(stderr, "%s: cannot decode part %s\n", prog, part);
                    ex = 1;
                }
            } else {
                if (mkdir(save, 0700) != 0 && errno != EEXIST) {
                    fprintf(stderr, "%s: %s: %s\n", prog, save, strerror(errno));
                    ex = 1;
                }
                size_t saved = 0;
                for (size_t pi = 0; !ex && pi < mailproto_mime_reader_count(r); pi++) {
                    const mailproto_mime_info *inf = mailproto_mime_reader_part(r, pi);
                    if (inf->multipart || (!inf->filename[0] && strcmp(inf->disposition, "attachment")))
                        continue;
                    char name[256], path[4096];
                    safe_name(inf->filename, name, sizeof name, pi);
                    snprintf(path, sizeof path, "%s/%s", save, name);
                    FILE *o = fopen(path, "wb");
                    if (!o) {
                        fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
                        ex = 1;
                        break;
                    }
                    mailproto_sink fs = {file_sink, o};
                    if (mailproto_mime_reader_decode(r, pi, msg.p, msg.len, MAILPROTO_MIME_DECODE_RAW, &fs) != 0)
                        ex = 1;
                    if (fclose(o) != 0)
                        ex = 1;
                    printf("%s\n", path);
                    saved++;
                }
                if (!ex && !saved)
                    fprintf(stderr, "%s: no attachments\n", prog);
            }
            mailproto_mime_reader_free(r);
            free(msg.p);
#else
            fprintf(stderr, "%s: --part and --save need the MIME reader (not in this build)\n", prog);
            ex = 1;
#endif
        }
    } else if (!strcmp(cmd, "search")) {
        static mailproto_imap_range ranges[65536];
        mailproto_imap_uidset set;
        memset(&set, 0, sizeof set);
        set.ranges = ranges;
        set.cap = sizeof ranges / sizeof *ranges;
        rc = mailproto_imap_select(H, pos[0], MAILPROTO_IMAP_EXAMINE);
        if (rc)
            ex = fail(rc, "EXAMINE");
        else if ((rc = mailproto_imap_search(H, 1, &crit, 0, &set)) != MAILPROTO_OK)
            ex = fail(rc, "SEARCH");
        else {
            for (size_t k = 0; k < set.n; k++)
                for (uint64_t u = ranges[k].first; u <= ranges[k].last; u++)
                    printf("%llu\n", (unsigned long long)u);
            if (set.truncated) {
                fprintf(stderr, "%s: more results than shown\n", prog);
                ex = 1;
            }
        }
    } else if (!strcmp(cmd, "append")) {
        gbuf msg;
        memset(&msg, 0, sizeof msg);
        FILE *f = strcmp(pos[1], "-") ? fopen(pos[1], "rb") : stdin;
        if (!f) {
            fprintf(stderr, "%s: %s: %s\n", prog, pos[1], strerror(errno));
            ex = 1;
        } else {
            char b[65536];
            size_t n;
            while ((n = fread(b, 1, sizeof b, f)) > 0)
                gbuf_put(&msg, b, n);
            if (f != stdin)
                fclose(f);
            mailproto_source src;
            mailproto_source_mem(&src, msg.p ? msg.p : "", msg.len);
            rc = mailproto_imap_append(H, pos[0], NULL, 0, 0, &src);
            if (rc)
                ex = fail(rc, "APPEND");
            else if (mailproto_imap_last_result(H)->append_uid)
                printf("%u\n", (unsigned)mailproto_imap_last_result(H)->append_uid);
            free(msg.p);
        }
    } else if (!strcmp(cmd, "copy") || !strcmp(cmd, "move") || !strcmp(cmd, "flag") || !strcmp(cmd, "delete")) {
        mailproto_imap_range r = {uid, uid};
        rc = mailproto_imap_select(H, pos[0], 0);
        if (rc) {
            ex = fail(rc, "SELECT");
        } else if (!strcmp(cmd, "copy")) {
            if ((rc = mailproto_imap_copy(H, 1, &r, 1, pos[2])) != 0)
                ex = fail(rc, "COPY");
            else if (mailproto_imap_last_result(H)->n_copy_dst)
                printf("%u\n", (unsigned)mailproto_imap_last_result(H)->copy_dst[0].first);
        } else if (!strcmp(cmd, "move")) {
            if ((rc = mailproto_imap_move(H, 1, &r, 1, pos[2])) != 0)
                ex = fail(rc, "MOVE");
            else if (mailproto_imap_last_result(H)->n_copy_dst)
                printf("%u\n", (unsigned)mailproto_imap_last_result(H)->copy_dst[0].first);
        } else if (!strcmp(cmd, "flag")) {
            char add[1024] = "", del[1024] = "";
            for (int k = 2; k < npos; k++) {
                char *dst = pos[k][0] == '+' ? add : pos[k][0] == '-' ? del : NULL;
                if (!dst || !pos[k][1]) {
                    ex = fail_usage("flags are +FLAG or -FLAG");
                    goto out;
                }
                size_t l = strlen(dst);
                snprintf(dst + l, sizeof add - l, "%s%s", l ? " " : "", pos[k] + 1);
            }
            if (add[0] && (rc = mailproto_imap_store(H, 1, &r, 1, MAILPROTO_IMAP_STORE_ADD, add, 0)) != 0)
                ex = fail(rc, "STORE");
            else if (del[0] && (rc = mailproto_imap_store(H, 1, &r, 1, MAILPROTO_IMAP_STORE_REMOVE, del, 0)) != 0)
                ex = fail(rc, "STORE");
        } else {
            rc = mailproto_imap_store(H, 1, &r, 1, MAILPROTO_IMAP_STORE_ADD | MAILPROTO_IMAP_STORE_SILENT,
                                      "\\Deleted", 0);
            if (rc)
                ex = fail(rc, "STORE");
            else if (mailproto_imap_caps(H) & MAILPROTO_IMAP_CAP_UIDPLUS)
                rc = mailproto_imap_uid_expunge(H, &r, 1);
            else
                rc = mailproto_imap_expunge(H);
            if (!ex && rc)
                ex = fail(rc, "EXPUNGE");
        }
    } else if (!strcmp(cmd, "mkdir")) {
        if ((rc = mailproto_imap_create(H, pos[0])) != 0)
            ex = fail(rc, "CREATE");
    } else if (!strcmp(cmd, "rmdir")) {
        if ((rc = mailproto_imap_delete(H, pos[0])) != 0)
            ex = fail(rc, "DELETE");
    } else if (!strcmp(cmd, "rename")) {
        if ((rc = mailproto_imap_rename(H, pos[0], pos[1])) != 0)
            ex = fail(rc, "RENAME");
    } else if (!strcmp(cmd, "idle")) {
        rc = mailproto_imap_select(H, pos[0], 0);
        if (rc) {
            ex = fail(rc, "SELECT");
        } else if ((rc = mailproto_imap_idle(H)) != MAILPROTO_OK) {
            ex = fail(rc, "IDLE");
        } else {
            is.active = 1;
            struct timespec t0, t1;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            for (;;) {
                if (count > 0 && is.printed >= count)
                    break;
                int left = -1;
                if (idle_timeout > 0) {
                    clock_gettime(CLOCK_MONOTONIC, &t1);
                    long el = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
                    if (el >= idle_timeout * 1000L)
                        break;
                    left = (int)(idle_timeout * 1000L - el);
                }
                const mailproto_imap_event *ev;
                rc = mailproto_imap_wait(H, left, &ev);
                if (rc == MAILPROTO_EVENT) {
                    idle_print(&is, ev);
                    if (ev->type == MAILPROTO_IMAP_EV_CLOSED) {
                        ex = fail(MAILPROTO_E_CLOSED, "IDLE");
                        goto out;
                    }
                    continue;
                }
                if (rc == MAILPROTO_AGAIN)
                    continue;
                ex = fail(rc, "IDLE");
                goto out;
            }
            rc = mailproto_imap_idle_done(H);
            if (rc)
                ex = fail(rc, "DONE");
        }
    }
    if (!ex)
        mailproto_imap_logout(H);
out:
    mailproto_imap_free(H);
    mailproto_tls_config_free(tls);
    free(hs.head.p);
    fflush(stdout);
    return ex;
}
