/*
 * mailproto-send: send a message over SMTP submission (or LMTP).
 *
 *   mailproto-send --server smtp://mail.example.org --user bot@example.org \
 *                  --from bot@example.org --to ops@example.org \
 *                  --subject "Nightly report" --text report.txt
 *   mailproto-send --server smtps://mail.example.org --user bot --from bot@example.org \
 *                  --to a@example.org --raw message.eml
 *
 * The password comes from MAILPROTO_PASSWORD or --password-file, never from
 * the command line.  One line per recipient on stdout; exit 0 success,
 * 1 failure, 2 usage, 3 partial success.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <mailproto/mailproto.h>
#include <mailproto/transport.h>

static const char *prog = "mailproto-send";

static void usage(FILE *f)
{
    fprintf(f,
            "usage: %s --server URL [--user NAME] --from ADDR --to ADDR [--to ADDR]...\n"
            "          [--cc ADDR]... [--bcc ADDR]... [--subject TEXT] [--text FILE|-]\n"
            "          [--html FILE] [--attach FILE[;type=TYPE][;name=NAME][;charset=CS]]...\n"
            "          [--inline FILE;cid=ID[;type=TYPE]]... [--header \"Name: value\"]...\n"
            "          [--charset CHARSET] [--raw FILE|-] [--dsn-notify LIST]\n"
            "          [--dsn-ret full|hdrs] [--require-all] [--progress] [--auth MECH]\n"
            "          [--cafile FILE] [--pin sha256:HEX] [--timeout SECONDS] [--trace]\n"
            "          [--allow-plaintext] [--password-file FILE] [--oauth-token-file FILE]\n"
            "          [--helo NAME]\n"
            "\n"
            "URL: smtps://host[:port] (implicit TLS, 465), smtp://host[:port] (STARTTLS\n"
            "required, 587), lmtp://host:port; smtp+plain:// and lmtp+plain:// use no TLS\n"
            "at all and need --allow-plaintext.\n"
            "--raw sends an RFC 5322 message as it is.  Otherwise the message is composed\n"
            "with the MIME builder: From, To, Cc, Subject (RFC 2047 when not ASCII), Date,\n"
            "Message-ID; --text and --html become the body (both: multipart/alternative);\n"
            "--attach adds an attachment (type guessed from the file name unless given,\n"
            "name defaults to the file's base name); --inline adds a part with a\n"
            "Content-ID for the HTML to refer to (cid:ID); --header sets a header (also\n"
            "Message-ID, Date, Reply-To, ...; repeated, it adds another of that name);\n"
            "--charset names the charset the --text and --html files are written in\n"
            "(default UTF-8), which is also the charset the message declares;\n"
            "FILE;charset=CS labels a text file given to --attach or --inline (its bytes\n"
            "are sent as they are; without it such a file must be UTF-8).\n"
            "--dsn-notify takes never, or a comma list of success, failure, delay.\n"
            "--pin takes the SHA-256 of the server's public key (SubjectPublicKeyInfo).\n"
            "The password is read from MAILPROTO_PASSWORD or --password-file, an OAuth\n"
            "token from --oauth-token-file.\n"
            "Output: one line per recipient, \"ADDR accepted CODE ENHANCED\" or\n"
            "\"ADDR refused CODE ENHANCED TEXT\".\n"
            "Exit: 0 sent, 1 failed, 2 usage, 3 sent to some recipients only.\n",
            prog);
}

static int fail_usage(const char *what)
{
    fprintf(stderr, "%s: %s\n", prog, what);
    usage(stderr);
    return 2;
}

/* ---- the message source: headers from memory, then a file ---- */
typedef struct msg_src {
    const char *head;
    size_t head_len, head_off;
    FILE *f;
    int text;           /* composing: the file is the body */
} msg_src;

static int msg_read(void *ctx, void *buf, size_t cap, size_t *got)
{
    msg_src *m = ctx;
    *got = 0;
    if (m->head_off < m->head_len) {
        size_t n = m->head_len - m->head_off;
        if (n > cap)
            n = cap;
        memcpy(buf, m->head + m->head_off, n);
        m->head_off += n;
        *got = n;
        return MAILPROTO_OK;
    }
    if (!m->f)
        return MAILPROTO_OK;
    size_t n = fread(buf, 1, cap, m->f);
    if (n == 0 && ferror(m->f))
        return MAILPROTO_E_IO;
    *got = n;
    return MAILPROTO_OK;
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

static int progress_fn(void *ctx, uint64_t done, uint64_t total)
{
    uint64_t *last = ctx;
    if (done - *last < (1u << 20) && done != total)
        return 0; /* about once per MiB */
    *last = done;
    if (total == MAILPROTO_SIZE_UNKNOWN)
        fprintf(stderr, "\rsent %llu bytes", (unsigned long long)done);
    else
        fprintf(stderr, "\rsent %llu of %llu bytes", (unsigned long long)done, (unsigned long long)total);
    return 0;
}

#if !MAILPROTO_HAS_MIME
/* Append s to the header buffer. */
static int add(char *buf, size_t cap, size_t *len, const char *s)
{
    size_t n = strlen(s);
    if (*len + n + 1 > cap)
        return -1;
    memcpy(buf + *len, s, n + 1);
    *len += n;
    return 0;
}

static int has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 && *s != '\t')
            return 1;
    return 0;
}

/* Subject: plain ASCII as is; otherwise RFC 2047 B words of UTF-8, never
 * splitting a character, each word within 75 octets. */
static int add_subject(char *buf, size_t cap, size_t *len, const char *subj)
{
    int ascii = 1;
    for (const unsigned char *p = (const unsigned char *)subj; *p; p++)
        if (*p >= 0x80)
            ascii = 0;
    if (add(buf, cap, len, "Subject: ") != 0)
        return -1;
    if (ascii)
        return add(buf, cap, len, subj);
    size_t n = strlen(subj), i = 0;
    while (i < n) {
        size_t take = n - i < 45 ? n - i : 45;
        while (take < n - i && ((unsigned char)subj[i + take] & 0xc0) == 0x80)
            take--; /* do not cut a UTF-8 sequence */
        char word[80], b64[64];
        size_t bl;
        if (mailproto_base64_encode(subj + i, take, b64, sizeof b64, &bl) != MAILPROTO_OK)
            return -1;
        snprintf(word, sizeof word, "%s=?UTF-8?B?%s?=", i ? "\r\n " : "", b64);
        if (add(buf, cap, len, word) != 0)
            return -1;
        i += take;
    }
    return 0;
}
#endif

#if MAILPROTO_HAS_MIME
/* ---- composing with the MIME builder ---- */

/* Read a whole file (or stdin for "-") into a malloc'd buffer, at most
 * 64 MiB: text and HTML bodies are held in memory, attachments are not. */
static int read_all(const char *path, char **data, size_t *len)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
        return -1;
    }
    size_t cap = 0, n = 0;
    char *buf = NULL;
    int bad = 0;
    for (;;) {
        if (n == cap) {
            if (cap >= ((size_t)64 << 20)) {
                fprintf(stderr, "%s: %s: larger than 64 MiB (attach it instead)\n", prog, path);
                bad = 1;
                break;
            }
            size_t ncap = cap ? cap * 2 : 65536;
            char *nb = realloc(buf, ncap);
            if (!nb) {
                fprintf(stderr, "%s: %s: out of memory\n", prog, path);
                bad = 1;
                break;
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                fprintf(stderr, "%s: %s: read error\n", prog, path);
                bad = 1;
            }
            break;
        }
    }
    if (f != stdin)
        fclose(f);
    if (bad) {
        free(buf);
        return -1;
    }
    *data = buf;
    *len = n;
    return 0;
}

/* "FILE;type=TYPE;name=NAME;cid=ID": the path runs up to the first ";key="
 * of a known key, each value up to the next one.  buf receives the pieces.
 * Returns 0, or -1 for an empty path or an unknown or repeated key. */
static int parse_spec(const char *spec, char *buf, size_t cap, const char **path,
                      const char **type, const char **name, const char **cid, const char **cs)
{
    static const char *const keys[] = {";type=", ";name=", ";cid=", ";charset="};
    size_t n = strlen(spec);
    if (n + 1 > cap)
        return -1;
    memcpy(buf, spec, n + 1);
    *path = buf;
    *type = *name = *cid = *cs = NULL;
    char *p = buf;
    for (;;) {
        char *best = NULL;
        int which = -1;
        for (int k = 0; k < 4; k++) {
            char *hit = strstr(p, keys[k]);
            if (hit && (!best || hit < best)) {
                best = hit;
                which = k;
            }
        }
        if (!best)
            break;
        *best = '\0';
        char *v = best + strlen(keys[which]);
        const char **slot = which == 0 ? type : which == 1 ? name : which == 2 ? cid : cs;
        if (*slot)
            return -1;
        *slot = v;
        p = v;
    }
    return buf[0] ? 0 : -1;
}

/* A content type from the file name's extension (application/octet-stream
 * when unknown). */
static const char *guess_type(const char *path)
{
    static const char *const map[][2] = {
        {".txt", "text/plain"},          {".html", "text/html"},
        {".htm", "text/html"},           {".csv", "text/csv"},
        {".pdf", "application/pdf"},     {".zip", "application/zip"},
        {".gz", "application/gzip"},     {".json", "application/json"},
        {".xml", "application/xml"},     {".png", "image/png"},
        {".jpg", "image/jpeg"},          {".jpeg", "image/jpeg"},
        {".gif", "image/gif"},           {".svg", "image/svg+xml"},
        {".webp", "image/webp"},         {".ics", "text/calendar"},
        {".eml", "message/rfc822"},
    };
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (dot && (!slash || dot > slash))
        for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
            if (!strcasecmp(dot, map[i][0]))
                return map[i][1];
    return "application/octet-stream";
}

/* Report a builder error: "mailproto-send: what: reason". */
static int mime_fail(mailproto_mime *m, const char *what, int rc)
{
    const mailproto_reply *r = mailproto_mime_last_error(m);
    fprintf(stderr, "%s: %s: %s (%s)\n", prog, what,
            r && r->message && r->message[0] ? r->message : mailproto_strerror(rc),
            mailproto_errname(rc));
    return 1;
}

typedef struct compose_opts {
    const char *from, *subject, *text, *html, *charset;
    const char *const *to, *const *cc;
    size_t n_to, n_cc;
    const char *const *attach, *const *inl, *const *hdr;
    size_t n_attach, n_inline, n_hdr;
} compose_opts;

/* Build the message.  Returns 0, or the exit code (1 failure, 2 usage). */
static int compose(mailproto_mime *m, const compose_opts *o)
{
    int rc;
    char *data = NULL;
    size_t len = 0;
    if ((rc = mailproto_mime_set_header(m, "From", o->from)) != MAILPROTO_OK)
        return mime_fail(m, "--from", rc);
    for (size_t i = 0; i < o->n_to; i++)
        if ((rc = mailproto_mime_add_address(m, "To", NULL, o->to[i])) != MAILPROTO_OK)
            return mime_fail(m, o->to[i], rc);
    for (size_t i = 0; i < o->n_cc; i++)
        if ((rc = mailproto_mime_add_address(m, "Cc", NULL, o->cc[i])) != MAILPROTO_OK)
            return mime_fail(m, o->cc[i], rc);
    if (o->subject && (rc = mailproto_mime_set_subject(m, o->subject)) != MAILPROTO_OK)
        return mime_fail(m, "--subject", rc);
    for (size_t i = 0; i < o->n_hdr; i++) {
        char name[128];
        const char *colon = strchr(o->hdr[i], ':');
        size_t nl = colon ? (size_t)(colon - o->hdr[i]) : 0;
        if (!colon || nl == 0 || nl >= sizeof name) {
            fprintf(stderr, "%s: --header takes \"Name: value\"\n", prog);
            return 2;
        }
        memcpy(name, o->hdr[i], nl);
        name[nl] = '\0';
        const char *value = colon + 1;
        while (*value == ' ' || *value == '\t')
            value++;
        /* the first --header of a name sets it (replacing Message-ID, Date,
         * ... that the builder would write), later ones add to it */
        int again = 0;
        for (size_t j = 0; j < i; j++)
            again |= !strncasecmp(o->hdr[j], name, nl) && o->hdr[j][nl] == ':';
        rc = again ? mailproto_mime_add_header(m, name, value)
                   : mailproto_mime_set_header(m, name, value);
        if (rc != MAILPROTO_OK)
            return mime_fail(m, o->hdr[i], rc);
    }
    if (o->charset && (rc = mailproto_mime_set_text_charset(m, o->charset)) != MAILPROTO_OK)
        return mime_fail(m, "--charset", rc);
    const char *bodies[2] = {o->text, o->html};
    const char *types[2] = {"text/plain", "text/html"};
    for (int b = 0; b < 2; b++) {
        if (!bodies[b])
            continue;
        if (read_all(bodies[b], &data, &len) != 0)
            return 1;
        rc = mailproto_mime_text(m, NULL, types[b], data, len, o->charset, NULL);
        free(data);
        if (rc != MAILPROTO_OK)
            return mime_fail(m, bodies[b], rc);
    }
    if (!o->text && !o->html && (rc = mailproto_mime_add_text(m, "text/plain", "")) != MAILPROTO_OK)
        return mime_fail(m, "empty body", rc);
    for (int kind = 0; kind < 2; kind++) {
        const char *const *list = kind ? o->inl : o->attach;
        size_t n = kind ? o->n_inline : o->n_attach;
        for (size_t i = 0; i < n; i++) {
            char buf[4096];
            const char *path, *type, *name, *cid, *cs;
            if (parse_spec(list[i], buf, sizeof buf, &path, &type, &name, &cid, &cs) != 0 ||
                (kind == 0 && cid) || (kind == 1 && !cid)) {
                fprintf(stderr, "%s: %s takes %s\n", prog, kind ? "--inline" : "--attach",
                        kind ? "FILE;cid=ID[;type=TYPE][;name=NAME][;charset=CS]"
                             : "FILE[;type=TYPE][;name=NAME][;charset=CS]");
                return 2;
            }
            mailproto_mime_part *part = NULL;
            rc = mailproto_mime_file(m, NULL, type ? type : guess_type(path), name, path, &part);
            if (rc == MAILPROTO_OK && cs) /* a text file that is not UTF-8 */
                rc = mailproto_mime_part_set_charset(part, cs);
            if (rc == MAILPROTO_OK && cid)
                rc = mailproto_mime_part_set_cid(part, cid);
            if (rc == MAILPROTO_OK && kind == 1)
                rc = mailproto_mime_part_set_disposition(part, "inline");
            if (rc != MAILPROTO_OK)
                return mime_fail(m, path, rc);
        }
    }
    return 0;
}
#endif /* MAILPROTO_HAS_MIME */

#define MAX_ADDRS 256

int main(int argc, char **argv)
{
    const char *server = NULL, *user = NULL, *from = NULL, *subject = NULL, *text = NULL,
               *raw = NULL, *cafile = NULL, *pin = NULL, *auth = NULL, *dsn_notify = NULL,
               *dsn_ret = NULL, *pwfile = NULL, *tokfile = NULL, *helo = NULL;
    const char *html = NULL, *charset = NULL;
    const char *to[MAX_ADDRS], *cc[MAX_ADDRS], *bcc[MAX_ADDRS];
    const char *attach[MAX_ADDRS], *inl[MAX_ADDRS], *hdr[MAX_ADDRS];
    size_t n_to = 0, n_cc = 0, n_bcc = 0, n_attach = 0, n_inline = 0, n_hdr = 0;
    int require_all = 0, progress = 0, trace = 0, allow_plain = 0, timeout = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--require-all")) {
            require_all = 1;
            continue;
        }
        if (!strcmp(a, "--progress")) {
            progress = 1;
            continue;
        }
        if (!strcmp(a, "--trace")) {
            trace = 1;
            continue;
        }
        if (!strcmp(a, "--allow-plaintext")) {
            allow_plain = 1;
            continue;
        }
        if (!strcmp(a, "--password") || !strncmp(a, "--password=", 11))
            return fail_usage("never put a password on the command line: use MAILPROTO_PASSWORD "
                              "or --password-file");
#if !MAILPROTO_HAS_MIME
        if (!strcmp(a, "--html") || !strcmp(a, "--attach") || !strcmp(a, "--inline") ||
            !strcmp(a, "--header") || !strcmp(a, "--charset"))
            return fail_usage("this option needs the MIME builder, which this build lacks");
#endif
        if (i + 1 >= argc)
            return fail_usage("option without a value");
        const char *v = argv[++i];
        if (!strcmp(a, "--server"))
            server = v;
        else if (!strcmp(a, "--user"))
            user = v;
        else if (!strcmp(a, "--from"))
            from = v;
        else if (!strcmp(a, "--to") || !strcmp(a, "--cc") || !strcmp(a, "--bcc") ||
                 !strcmp(a, "--attach") || !strcmp(a, "--inline") || !strcmp(a, "--header")) {
            const char **list = a[2] == 't' ? to : a[2] == 'c' ? cc : a[3] == 'c' ? bcc
                              : a[2] == 'a' ? attach : a[2] == 'i' ? inl : hdr;
            size_t *n = a[2] == 't' ? &n_to : a[2] == 'c' ? &n_cc : a[3] == 'c' ? &n_bcc
                      : a[2] == 'a' ? &n_attach : a[2] == 'i' ? &n_inline : &n_hdr;
            if (*n >= MAX_ADDRS)
                return fail_usage("too many of one option (at most 256)");
            list[(*n)++] = v;
        } else if (!strcmp(a, "--html"))
            html = v;
        else if (!strcmp(a, "--charset"))
            charset = v;
        else if (!strcmp(a, "--subject"))
            subject = v;
        else if (!strcmp(a, "--text"))
            text = v;
        else if (!strcmp(a, "--raw"))
            raw = v;
        else if (!strcmp(a, "--cafile"))
            cafile = v;
        else if (!strcmp(a, "--pin"))
            pin = v;
        else if (!strcmp(a, "--auth"))
            auth = v;
        else if (!strcmp(a, "--timeout"))
            timeout = atoi(v);
        else if (!strcmp(a, "--dsn-notify"))
            dsn_notify = v;
        else if (!strcmp(a, "--dsn-ret"))
            dsn_ret = v;
        else if (!strcmp(a, "--password-file"))
            pwfile = v;
        else if (!strcmp(a, "--oauth-token-file"))
            tokfile = v;
        else if (!strcmp(a, "--helo"))
            helo = v;
        else
            return fail_usage("unknown option");
    }
    if (!server || !from || n_to + n_cc + n_bcc == 0)
        return fail_usage("--server, --from and at least one recipient are needed");
    int composing = subject || text || html || charset || n_attach || n_inline || n_hdr;
    if ((raw != NULL) == (composing != 0))
        return fail_usage("give either --raw, or what to compose (--subject, --text, --html, "
                          "--attach, ...)");
    if (text && html && !strcmp(text, "-") && !strcmp(html, "-"))
        return fail_usage("only one of --text and --html may read stdin");

    /* ---- the URL ---- */
    mailproto_smtp_config cfg;
    memset(&cfg, 0, sizeof cfg);
    char host[256];
    const char *rest;
    int plain = 0;
    if (!strncmp(server, "smtps://", 8)) {
        cfg.security = MAILPROTO_SEC_TLS;
        cfg.port = 465;
        rest = server + 8;
    } else if (!strncmp(server, "smtp://", 7)) {
        cfg.security = MAILPROTO_SEC_STARTTLS;
        cfg.port = 587;
        rest = server + 7;
    } else if (!strncmp(server, "smtp+plain://", 13)) {
        plain = 1;
        cfg.port = 587;
        rest = server + 13;
    } else if (!strncmp(server, "lmtp://", 7)) {
        cfg.security = MAILPROTO_SEC_STARTTLS;
        cfg.lmtp = 1;
        cfg.port = 24;
        rest = server + 7;
    } else if (!strncmp(server, "lmtp+plain://", 13)) {
        plain = 1;
        cfg.lmtp = 1;
        cfg.port = 24;
        rest = server + 13;
    } else {
        return fail_usage("the URL must start with smtps://, smtp://, lmtp:// or a +plain form");
    }
    if (plain) {
        if (!allow_plain)
            return fail_usage("a URL without TLS needs --allow-plaintext");
        cfg.security = MAILPROTO_SEC_PLAIN;
    }
    cfg.allow_plaintext_auth = allow_plain;
    size_t hl = strcspn(rest, "/");
    if (hl == 0 || hl >= sizeof host)
        return fail_usage("bad host in the URL");
    memcpy(host, rest, hl);
    host[hl] = '\0';
    char *colon = strrchr(host, ':');
    if (host[0] == '[') { /* [v6]:port */
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
        long port = strtol(colon + 1, NULL, 10);
        if (port <= 0 || port > 65535)
            return fail_usage("bad port in the URL");
        cfg.port = (uint16_t)port;
    }
    cfg.host = host;
    cfg.helo_name = helo;

    /* ---- credentials ---- */
    char secret[4096];
    secret[0] = '\0';
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
    if (trace) {
        cfg.trace = trace_fn;
    }
    uint64_t progress_last = 0;
    if (progress) {
        cfg.progress = progress_fn;
        cfg.progress_ctx = &progress_last;
    }

    /* ---- envelope ---- */
    const char *rcpt[3 * MAX_ADDRS];
    size_t n_rcpt = 0;
    for (size_t i = 0; i < n_to; i++)
        rcpt[n_rcpt++] = to[i];
    for (size_t i = 0; i < n_cc; i++)
        rcpt[n_rcpt++] = cc[i];
    for (size_t i = 0; i < n_bcc; i++)
        rcpt[n_rcpt++] = bcc[i];
    if (n_rcpt > 100)
        cfg.max_rcpt = n_rcpt;
    mailproto_envelope env;
    memset(&env, 0, sizeof env);
    env.from = from;
    env.rcpt = rcpt;
    env.n_rcpt = n_rcpt;
    env.require_all = require_all;
    if (dsn_notify) {
        char list[128];
        snprintf(list, sizeof list, "%s", dsn_notify);
        for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
            if (!strcasecmp(tok, "never"))
                env.dsn_notify |= MAILPROTO_DSN_NOTIFY_NEVER;
            else if (!strcasecmp(tok, "success"))
                env.dsn_notify |= MAILPROTO_DSN_NOTIFY_SUCCESS;
            else if (!strcasecmp(tok, "failure"))
                env.dsn_notify |= MAILPROTO_DSN_NOTIFY_FAILURE;
            else if (!strcasecmp(tok, "delay"))
                env.dsn_notify |= MAILPROTO_DSN_NOTIFY_DELAY;
            else
                return fail_usage("--dsn-notify takes never or success,failure,delay");
        }
    }
    if (dsn_ret) {
        if (!strcasecmp(dsn_ret, "full"))
            env.dsn_ret = MAILPROTO_DSN_RET_FULL;
        else if (!strcasecmp(dsn_ret, "hdrs"))
            env.dsn_ret = MAILPROTO_DSN_RET_HDRS;
        else
            return fail_usage("--dsn-ret takes full or hdrs");
    }

    /* ---- the message ---- */
    msg_src m;
    memset(&m, 0, sizeof m);
    mailproto_source src = {msg_read, NULL, &m, MAILPROTO_SIZE_UNKNOWN, NULL, 0, 0};
    mailproto_source *body = &src;
#if MAILPROTO_HAS_MIME
    mailproto_mime *mime = NULL;
    if (!raw) {
        const compose_opts co = {from, subject, text, html, charset, to, cc, n_to, n_cc,
                                 attach, inl, hdr, n_attach, n_inline, n_hdr};
        int rc = mailproto_mime_new(&mime, NULL);
        if (rc != MAILPROTO_OK) {
            fprintf(stderr, "%s: %s\n", prog, mailproto_strerror(rc));
            return 1;
        }
        int ec = compose(mime, &co);
        uint64_t size = 0;
        if (ec == 0 && (rc = mailproto_mime_size(mime, &size)) != MAILPROTO_OK)
            ec = mime_fail(mime, "building the message", rc);
        if (ec != 0) {
            mailproto_mime_free(mime);
            return ec;
        }
        unsigned needs = mailproto_mime_needs(mime);
        env.size = size; /* SIZE= from the measuring pass */
        env.smtputf8 = (needs & MAILPROTO_MIME_NEEDS_SMTPUTF8) != 0;
        env.body = (needs & MAILPROTO_MIME_NEEDS_BINARYMIME) ? MAILPROTO_BODY_BINARYMIME
                 : (needs & MAILPROTO_MIME_NEEDS_8BITMIME)   ? MAILPROTO_BODY_8BITMIME
                                                             : MAILPROTO_BODY_AUTO;
        body = mailproto_mime_source(mime);
    }
    const char *file = raw;
#else
    static char head[16384];
    size_t head_len = 0;
    const char *file = raw ? raw : text;
#endif
    if (file) {
        m.f = strcmp(file, "-") ? fopen(file, "rb") : stdin;
        if (!m.f) {
            fprintf(stderr, "%s: %s: %s\n", prog, file, strerror(errno));
            return 1;
        }
    }
#if !MAILPROTO_HAS_MIME
    if (!raw) {
        if (has_ctl(from) || (subject && has_ctl(subject)))
            return fail_usage("control characters in a header");
        char line[1024];
        int bad = 0;
        snprintf(line, sizeof line, "From: <%s>\r\n", from);
        bad |= add(head, sizeof head, &head_len, line);
        const char *const *lists[2] = {to, cc};
        size_t counts[2] = {n_to, n_cc};
        const char *names[2] = {"To: ", "Cc: "};
        for (int l = 0; l < 2; l++) {
            for (size_t i = 0; i < counts[l]; i++) {
                if (has_ctl(lists[l][i]))
                    return fail_usage("control characters in an address");
                snprintf(line, sizeof line, "%s<%s>%s", i ? " " : names[l], lists[l][i],
                         i + 1 < counts[l] ? ",\r\n" : "\r\n");
                bad |= add(head, sizeof head, &head_len, line);
            }
        }
        if (subject) {
            bad |= add_subject(head, sizeof head, &head_len, subject);
            bad |= add(head, sizeof head, &head_len, "\r\n");
        }
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        char date[64];
        strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
        snprintf(line, sizeof line, "Date: %s\r\n", date);
        bad |= add(head, sizeof head, &head_len, line);
        unsigned char rnd[12];
        char id[24];
        FILE *ur = fopen("/dev/urandom", "rb");
        size_t idl = 0;
        if (!ur || fread(rnd, 1, sizeof rnd, ur) != sizeof rnd) {
            for (size_t i = 0; i < sizeof rnd; i++)
                rnd[i] = (unsigned char)(rand() ^ (int)now);
        }
        if (ur)
            fclose(ur);
        mailproto_base64_encode(rnd, sizeof rnd, id, sizeof id, &idl);
        for (size_t i = 0; i < idl; i++)
            if (id[i] == '/' || id[i] == '+')
                id[i] = id[i] == '/' ? '_' : '-';
        const char *dom = strrchr(from, '@');
        snprintf(line, sizeof line, "Message-ID: <%s.%lld@%s>\r\n", id, (long long)now,
                 dom && dom[1] ? dom + 1 : "localhost");
        bad |= add(head, sizeof head, &head_len, line);
        bad |= add(head, sizeof head, &head_len,
                   "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                   "Content-Transfer-Encoding: 8bit\r\n\r\n");
        if (bad)
            return fail_usage("headers too long");
        env.body = MAILPROTO_BODY_AUTO;
    }
    m.head = head;
    m.head_len = head_len;
#endif

    /* ---- TLS ---- */
    mailproto_tls_config *tls = NULL;
    if (cafile || pin) {
        mailproto_tls_options opt;
        memset(&opt, 0, sizeof opt);
        opt.ca_file = cafile;
        opt.pin_pubkey_sha256 = pin;
        char err[256] = "";
        int rc = mailproto_tls_config_new(&tls, &opt, NULL, err, sizeof err);
        if (rc != MAILPROTO_OK) {
            fprintf(stderr, "%s: TLS settings: %s (%s)\n", prog, err[0] ? err : mailproto_strerror(rc),
                    mailproto_errname(rc));
#if MAILPROTO_HAS_MIME
            mailproto_mime_free(mime);
#endif
            return 1;
        }
        cfg.tls = tls;
    }

    /* ---- send ---- */
    mailproto_smtp *s = NULL;
    int rc = mailproto_smtp_new(&s, &cfg, NULL);
    if (rc == MAILPROTO_OK)
        rc = mailproto_smtp_connect(s);
    mailproto_smtp_result res;
    memset(&res, 0, sizeof res);
    if (rc == MAILPROTO_OK)
        rc = mailproto_smtp_send(s, &env, body, &res);
    if (progress)
        fputc('\n', stderr);
    for (size_t i = 0; s && i < res.n_rcpt; i++) {
        const mailproto_smtp_rcpt *r = mailproto_smtp_rcpt_result(s, i);
        if (!r)
            continue;
        if (r->accepted && rc == MAILPROTO_OK)
            printf("%s accepted %d %s\n", rcpt[i], r->code, r->enhanced[0] ? r->enhanced : "-");
        else if (r->accepted)
            printf("%s refused %d %s (the message was not sent)\n", rcpt[i], r->code,
                   r->enhanced[0] ? r->enhanced : "-");
        else
            printf("%s refused %d %s %s\n", rcpt[i], r->code, r->enhanced[0] ? r->enhanced : "-",
                   r->text);
    }
    int exit_code = 0;
    if (rc < 0) {
        const mailproto_reply *r = mailproto_smtp_last_reply(s);
        if (r->code)
            fprintf(stderr, "%s: %s (server: %d %s %s)\n", prog, r->message[0] ? r->message : mailproto_strerror(rc),
                    r->code, r->enhanced[0] ? r->enhanced : "-", r->text);
        else
            fprintf(stderr, "%s: %s (%s)\n", prog, r->message[0] ? r->message : mailproto_strerror(rc),
                    mailproto_errname(rc));
        exit_code = 1;
    } else {
        if (res.n_rejected > 0)
            exit_code = 3;
        mailproto_smtp_quit(s);
    }
    mailproto_smtp_free(s);
    mailproto_tls_config_free(tls);
    if (m.f && m.f != stdin)
        fclose(m.f);
#if MAILPROTO_HAS_MIME
    mailproto_mime_free(mime);
#endif
    memset(secret, 0, sizeof secret);
    return exit_code;
}
