/*
 * The MIME reader: a byte-at-a-time state machine that turns a message,
 * fed in any pieces, into a table of parts with offsets, keeping only the
 * headers it exposes.  Nesting uses a fixed stack (no recursion); every
 * buffer is bounded; the input is never stored.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "mime_internal.h"

#define NONE ((size_t)-1)
#define BMAX 256          /* longest line we look at as a delimiter */
#define POOL_LIMIT (16u << 20) /* decoded header text kept, in total */

enum { R_HEAD, R_BODY };

/* top-level headers the reader keeps */
static const char *const kept[] = {
    "subject", "from", "to", "cc", "reply-to", "sender", "date", "message-id",
    "in-reply-to", "references", "disposition-notification-to", "mime-version",
};
#define N_KEPT (sizeof kept / sizeof kept[0])

/* part headers */
enum { PH_TYPE, PH_CTE, PH_DISP, PH_ID, PH_DESC, N_PH };
static const char *const part_hdrs[N_PH] = {"content-type", "content-transfer-encoding",
                                            "content-disposition", "content-id",
                                            "content-description"};

typedef struct pool_block {
    struct pool_block *next;
    size_t cap, used;
} pool_block;

typedef struct rpart {
    mailproto_mime_info info;
    int open;
    int is_multi_container; /* on the stack (has a boundary we follow) */
    int digest;
    char *boundary;
    size_t blen;
    size_t last_child;
} rpart;

struct mailproto_mime_reader {
    const mailproto_mem *mem;
    mailproto_mem mem_copy;
    mailproto_mime_limits lim;
    uint64_t off;
    int finished;
    int state;
    /* parts */
    rpart *parts;
    size_t n_parts, cap_parts;
    size_t dropped;
    size_t cur;           /* deepest open part (NONE while a dropped part is open) */
    size_t cur_parent;    /* the multipart a dropped part belongs to */
    /* stack of multiparts we follow */
    size_t *stack;
    size_t depth;
    /* header field being assembled */
    char *fb;
    size_t fb_len, fb_cap;
    int fb_active;
    int line_start;       /* at the start of a header line */
    int head_cr;          /* a CR is pending in the header line */
    char *ph[N_PH];       /* raw part headers of the part being read */
    size_t ph_len[N_PH];
    /* body line tracking */
    char lb[BMAX];
    size_t lb_len;
    int lb_over;
    uint64_t line_off;    /* offset of the current line's first byte */
    unsigned prev_eol;    /* length of the line break before it */
    int body_cr;
    /* kept top headers (raw, unfolded) and their decoded forms */
    char *top_raw[N_KEPT];
    size_t top_raw_len[N_KEPT];
    const char *top_dec[N_KEPT];
    mailproto_mime_address *addrs[N_KEPT];
    size_t n_addrs[N_KEPT];
    /* string pool */
    pool_block *pool;
    size_t pool_total;
    int nomem;
};

/* ---- pool ---- */

static void *pool_alloc(mailproto_mime_reader *r, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    if (r->pool && r->pool->cap - r->pool->used >= n) {
        void *p = (char *)(r->pool + 1) + r->pool->used;
        r->pool->used += n;
        return p;
    }
    if (r->pool_total > POOL_LIMIT)
        return NULL;
    size_t cap = n > 16384 ? n : 16384;
    pool_block *b = mailproto__alloc(r->mem, sizeof *b + cap);
    if (!b) {
        r->nomem = 1;
        return NULL;
    }
    b->next = r->pool;
    b->cap = cap;
    b->used = n;
    r->pool = b;
    r->pool_total += cap;
    return b + 1;
}

static const char *pool_str(mailproto_mime_reader *r, const char *s, size_t n)
{
    char *p = pool_alloc(r, n + 1);
    if (!p)
        return "";
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/* ---- life cycle ---- */

int mailproto_mime_reader_new(mailproto_mime_reader **out, const mailproto_mem *mem,
                              const mailproto_mime_limits *lim)
{
    if (!out)
        return MAILPROTO_E_INVALID;
    *out = NULL;
    mailproto_mime_reader *r = mailproto__calloc(mem, 1, sizeof *r);
    if (!r)
        return MAILPROTO_E_NOMEM;
    if (mem) {
        r->mem_copy = *mem;
        r->mem = &r->mem_copy;
    }
    if (lim)
        r->lim = *lim;
    if (!r->lim.max_depth)
        r->lim.max_depth = 32;
    if (!r->lim.max_parts)
        r->lim.max_parts = 10000;
    if (!r->lim.max_header_bytes)
        r->lim.max_header_bytes = 64 * 1024;
    if (r->lim.max_depth > 4096)
        r->lim.max_depth = 4096;
    r->stack = mailproto__calloc(r->mem, r->lim.max_depth + 1, sizeof *r->stack);
    r->fb_cap = r->lim.max_header_bytes + 1;
    r->fb = mailproto__alloc(r->mem, r->fb_cap);
    if (!r->stack || !r->fb) {
        mailproto_mime_reader_free(r);
        return MAILPROTO_E_NOMEM;
    }
    r->cur = NONE;
    r->cur_parent = NONE;
    r->state = R_HEAD;
    r->line_start = 1;
    *out = r;
    return MAILPROTO_OK;
}

void mailproto_mime_reader_free(mailproto_mime_reader *r)
{
    if (!r)
        return;
    const mailproto_mem *mem = r->mem;
    pool_block *b = r->pool;
    while (b) {
        pool_block *n = b->next;
        mailproto__free(mem, b, sizeof *b + b->cap);
        b = n;
    }
    if (r->parts)
        mailproto__free(mem, r->parts, r->cap_parts * sizeof *r->parts);
    if (r->stack)
        mailproto__free(mem, r->stack, (r->lim.max_depth + 1) * sizeof *r->stack);
    if (r->fb)
        mailproto__free(mem, r->fb, r->fb_cap);
    mailproto__free(mem, r, sizeof *r);
}

/* ---- parts ---- */

static size_t new_part(mailproto_mime_reader *r, size_t parent, uint64_t off)
{
    if (r->n_parts >= r->lim.max_parts) {
        r->dropped++;
        return NONE;
    }
    if (r->n_parts == r->cap_parts) {
        size_t nc = r->cap_parts ? r->cap_parts * 2 : 16;
        if (nc > r->lim.max_parts)
            nc = r->lim.max_parts;
        rpart *np = mailproto__realloc(r->mem, r->parts, r->cap_parts * sizeof *np, nc * sizeof *np);
        if (!np) {
            r->nomem = 1;
            return NONE;
        }
        r->parts = np;
        r->cap_parts = nc;
    }
    size_t i = r->n_parts++;
    rpart *p = &r->parts[i];
    memset(p, 0, sizeof *p);
    p->info.type = p->info.charset = p->info.disposition = p->info.filename = "";
    p->info.content_id = p->info.encoding = p->info.description = "";
    p->info.header_off = off;
    p->info.body_off = off;
    p->info.body_end = off;
    p->info.parent = parent;
    p->info.depth = parent == NONE ? 0 : r->parts[parent].info.depth + 1;
    p->open = 1;
    p->last_child = NONE;
    if (parent != NONE)
        r->parts[parent].info.n_children++;
    return i;
}

/* ---- header fields ---- */

static void trim(const char **s, size_t *n)
{
    while (*n && ((*s)[0] == ' ' || (*s)[0] == '\t'))
        (*s)++, (*n)--;
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t' || (*s)[*n - 1] == '\r'))
        (*n)--;
}

static void field_end(mailproto_mime_reader *r)
{
    if (!r->fb_active)
        return;
    r->fb_active = 0;
    const char *colon = memchr(r->fb, ':', r->fb_len);
    if (!colon)
        return;
    const char *name = r->fb;
    size_t nl = (size_t)(colon - r->fb);
    trim(&name, &nl);
    const char *v = colon + 1;
    size_t vl = r->fb_len - (size_t)(v - r->fb);
    trim(&v, &vl);
    for (size_t k = 0; k < N_PH; k++) {
        if (mailproto__span_ieq(name, nl, part_hdrs[k]) && !r->ph[k]) {
            r->ph[k] = (char *)pool_str(r, v, vl);
            r->ph_len[k] = vl;
        }
    }
    if (r->n_parts && r->cur == 0 && r->depth == 0) {
        for (size_t k = 0; k < N_KEPT; k++) {
            if (mailproto__span_ieq(name, nl, kept[k]) && !r->top_raw[k]) {
                r->top_raw[k] = (char *)pool_str(r, v, vl);
                r->top_raw_len[k] = vl;
            }
        }
    }
}

static const char *lower_dup(mailproto_mime_reader *r, const char *s, size_t n)
{
    char *p = pool_alloc(r, n + 1);
    if (!p)
        return "";
    for (size_t i = 0; i < n; i++)
        p[i] = (char)mailproto__lower((unsigned char)s[i]);
    p[n] = '\0';
    return p;
}

static const char *param(mailproto_mime_reader *r, const char *hv, size_t n, const char *name)
{
    if (!hv)
        return "";
    size_t need = 0;
    char small[256];
    int rc = mailproto_param_get(hv, n, name, small, sizeof small, &need);
    if (rc == MAILPROTO_OK)
        return pool_str(r, small, need);
    if (rc != MAILPROTO_E_LIMIT)
        return "";
    char *big = pool_alloc(r, need + 1);
    if (!big)
        return "";
    if (mailproto_param_get(hv, n, name, big, need + 1, &need) != MAILPROTO_OK)
        return "";
    return big;
}

static const char *decode_words(mailproto_mime_reader *r, const char *s, size_t n)
{
    size_t cap = n * 3 + 8;
    char *p = pool_alloc(r, cap);
    size_t got;
    if (!p)
        return "";
    if (mailproto_rfc2047_decode(s, n, p, cap, &got) != MAILPROTO_OK)
        return "";
    return p;
}

/* The headers of the part being read are complete: fill in its info and
 * decide how to read its body. */
static void headers_done(mailproto_mime_reader *r, uint64_t body_off)
{
    field_end(r);
    size_t i = r->cur;
    if (i != NONE) {
        rpart *p = &r->parts[i];
        mailproto_mime_info *in = &p->info;
        in->body_off = body_off;
        in->body_end = body_off;
        /* Content-Type */
        const char *t = r->ph[PH_TYPE];
        size_t tl = 0;
        if (t) {
            const char *semi = memchr(t, ';', r->ph_len[PH_TYPE]);
            tl = semi ? (size_t)(semi - t) : r->ph_len[PH_TYPE];
            trim(&t, &tl);
        }
        const char *slash = t ? memchr(t, '/', tl) : NULL;
        int valid = t && slash && slash != t && slash + 1 < t + tl;
        for (size_t k = 0; valid && k < tl; k++)
            if ((unsigned char)t[k] <= 32 || (unsigned char)t[k] >= 127)
                valid = 0;
        int parent_digest = in->parent != NONE && r->parts[in->parent].digest;
        if (valid)
            in->type = lower_dup(r, t, tl);
        else
            in->type = parent_digest ? "message/rfc822" : "text/plain";
        const char *ctv = r->ph[PH_TYPE];
        size_t ctl = r->ph_len[PH_TYPE];
        if (strncmp(in->type, "text/", 5) == 0) {
            const char *cs = param(r, ctv, ctl, "charset");
            in->charset = lower_dup(r, cs, strlen(cs));
            if (!in->charset[0])
                in->charset = "us-ascii";
        } else {
            const char *cs = param(r, ctv, ctl, "charset");
            in->charset = lower_dup(r, cs, strlen(cs));
        }
        if (r->ph[PH_CTE]) {
            const char *e = r->ph[PH_CTE];
            size_t el = r->ph_len[PH_CTE];
            trim(&e, &el);
            in->encoding = lower_dup(r, e, el);
        }
        if (r->ph[PH_DISP]) {
            const char *d = r->ph[PH_DISP];
            const char *semi = memchr(d, ';', r->ph_len[PH_DISP]);
            size_t dl = semi ? (size_t)(semi - d) : r->ph_len[PH_DISP];
            trim(&d, &dl);
            in->disposition = lower_dup(r, d, dl);
            in->filename = param(r, r->ph[PH_DISP], r->ph_len[PH_DISP], "filename");
        }
        if (!in->filename[0])
            in->filename = param(r, ctv, ctl, "name");
        if (r->ph[PH_ID]) {
            const char *c = r->ph[PH_ID];
            size_t cl = r->ph_len[PH_ID];
            trim(&c, &cl);
            if (cl >= 2 && c[0] == '<' && c[cl - 1] == '>') {
                c++;
                cl -= 2;
            }
            in->content_id = pool_str(r, c, cl);
        }
        if (r->ph[PH_DESC])
            in->description = decode_words(r, r->ph[PH_DESC], r->ph_len[PH_DESC]);
        /* an embedded message we can follow? */
        int identity = !in->encoding[0] || strcmp(in->encoding, "7bit") == 0 ||
                       strcmp(in->encoding, "8bit") == 0 || strcmp(in->encoding, "binary") == 0;
        if ((strcmp(in->type, "message/rfc822") == 0 || strcmp(in->type, "message/global") == 0) &&
            identity && in->depth < r->lim.max_depth) {
            for (size_t k = 0; k < N_PH; k++) {
                r->ph[k] = NULL;
                r->ph_len[k] = 0;
            }
            size_t c = new_part(r, i, body_off);
            if (c != NONE) {
                r->cur = c;
                r->state = R_HEAD;
                r->line_start = 1;
                r->fb_active = 0;
                return;
            }
        }
        /* multipart we can follow? */
        if (strncmp(in->type, "multipart/", 10) == 0) {
            in->multipart = 1;
            const char *b = param(r, ctv, ctl, "boundary");
            size_t bl = strlen(b);
            if (bl && bl <= 200 && r->depth < r->lim.max_depth) {
                p->boundary = (char *)b;
                p->blen = bl;
                p->is_multi_container = 1;
                p->digest = strcmp(in->type, "multipart/digest") == 0;
                r->stack[r->depth++] = i;
            } else {
                in->multipart = 0; /* not followed: read as a leaf */
            }
        }
    }
    for (size_t k = 0; k < N_PH; k++) {
        r->ph[k] = NULL;
        r->ph_len[k] = 0;
    }
    r->state = R_BODY;
}

/* ---- delimiters ---- */

/* Close parts from the deepest open one up to (not including) part stop. */
static void close_up_to(mailproto_mime_reader *r, size_t stop, uint64_t end, int truncated)
{
    size_t i = r->cur;
    while (i != NONE && i != stop) {
        rpart *p = &r->parts[i];
        if (p->open) {
            p->info.body_end = end < p->info.body_off ? p->info.body_off : end;
            p->open = 0;
            if (truncated && p->is_multi_container)
                p->info.truncated = 1;
        }
        i = p->info.parent;
    }
    r->cur = stop;
}

static void on_delimiter(mailproto_mime_reader *r, size_t level, int closing, uint64_t line_end)
{
    size_t mi = r->stack[level];
    rpart *m = &r->parts[mi];
    uint64_t end = r->line_off >= r->prev_eol ? r->line_off - r->prev_eol : 0;
    /* inner multiparts left open are cut here */
    while (r->depth > level + 1) {
        size_t inner = r->stack[--r->depth];
        r->parts[inner].info.truncated = 1;
    }
    if (r->cur != NONE && r->cur != mi)
        close_up_to(r, mi, end, 1);
    r->cur = mi;
    r->cur_parent = NONE;
    if (closing) {
        r->depth = level;   /* m is closed; its epilogue follows */
        m->is_multi_container = 0;
        m->info.body_end = line_end;
        r->state = R_BODY;
        return;
    }
    size_t c = new_part(r, mi, line_end);
    if (c == NONE) {
        r->cur = NONE;
        r->cur_parent = mi;
        r->state = R_BODY; /* a part we do not record: skip to the next delimiter */
        return;
    }
    r->cur = c;
    r->state = R_HEAD;
    r->line_start = 1;
    r->fb_active = 0;
}

/* A whole body line is in lb (without its line break): a delimiter? */
static int check_line(mailproto_mime_reader *r, uint64_t line_end)
{
    if (r->lb_over || r->lb_len < 3 || r->lb[0] != '-' || r->lb[1] != '-' || r->depth == 0)
        return 0;
    size_t n = r->lb_len;
    while (n > 2 && (r->lb[n - 1] == ' ' || r->lb[n - 1] == '\t' || r->lb[n - 1] == '\r'))
        n--;
    for (size_t k = r->depth; k-- > 0;) {
        const rpart *m = &r->parts[r->stack[k]];
        if (n == 2 + m->blen && memcmp(r->lb + 2, m->boundary, m->blen) == 0) {
            on_delimiter(r, k, 0, line_end);
            return 1;
        }
        if (n == 4 + m->blen && memcmp(r->lb + 2, m->boundary, m->blen) == 0 &&
            r->lb[n - 1] == '-' && r->lb[n - 2] == '-') {
            on_delimiter(r, k, 1, line_end);
            return 1;
        }
    }
    return 0;
}

/* ---- feeding ---- */

static void head_byte(mailproto_mime_reader *r, unsigned char c)
{
    if (c == '\n') {
        /* end of a header line */
        if (r->line_start) {
            /* empty line: end of the headers */
            headers_done(r, r->off + 1);
            r->line_off = r->off + 1;
            r->prev_eol = 0;
            r->lb_len = 0;
            r->lb_over = 0;
            r->body_cr = 0;
            return;
        }
        r->line_start = 1;
        r->head_cr = 0;
        return;
    }
    if (c == '\r') {
        if (r->line_start) {
            r->head_cr = 1; /* maybe the CR of an empty line */
            return;
        }
        if (r->head_cr && r->fb_active && r->fb_len < r->fb_cap - 1)
            r->fb[r->fb_len++] = '\r';
        r->head_cr = 1;
        return;
    }
    if (r->head_cr && !r->line_start) {
        /* a lone CR inside a line: keep it as data */
        if (r->fb_active && r->fb_len < r->fb_cap - 1)
            r->fb[r->fb_len++] = '\r';
    }
    r->head_cr = 0;
    if (r->line_start) {
        r->line_start = 0;
        if (c == ' ' || c == '\t') {
            /* continuation: unfold (the line break is removed) */
            if (r->fb_active && r->fb_len < r->fb_cap - 1)
                r->fb[r->fb_len++] = (char)c;
            return;
        }
        field_end(r);
        r->fb_active = 1;
        r->fb_len = 0;
    }
    if (r->fb_active && r->fb_len < r->fb_cap - 1)
        r->fb[r->fb_len++] = (char)c;
}

static void body_byte(mailproto_mime_reader *r, unsigned char c)
{
    if (c == '\n') {
        uint64_t line_end = r->off + 1;
        if (r->lb_len && r->lb[r->lb_len - 1] == '\r' && !r->lb_over)
            r->lb_len--;
        int eol = r->body_cr ? 2 : 1;
        int was = check_line(r, line_end);
        r->line_off = line_end;
        r->prev_eol = was ? 0 : (unsigned)eol;
        r->lb_len = 0;
        r->lb_over = 0;
        r->body_cr = 0;
        return;
    }
    r->body_cr = c == '\r';
    if (r->lb_len < BMAX)
        r->lb[r->lb_len++] = (char)c;
    else
        r->lb_over = 1;
}

int mailproto_mime_reader_feed(mailproto_mime_reader *r, const void *data, size_t len)
{
    if (!r || (!data && len))
        return MAILPROTO_E_INVALID;
    if (r->finished)
        return MAILPROTO_E_STATE;
    if (r->n_parts == 0) {
        r->cur = new_part(r, NONE, 0);
        if (r->cur == NONE)
            return MAILPROTO_E_NOMEM;
    }
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        if (r->state == R_HEAD)
            head_byte(r, p[i]);
        else
            body_byte(r, p[i]);
        r->off++;
    }
    return r->nomem ? MAILPROTO_E_NOMEM : MAILPROTO_OK;
}

static void decode_top(mailproto_mime_reader *r)
{
    for (size_t k = 0; k < N_KEPT; k++) {
        r->top_dec[k] = "";
        r->addrs[k] = NULL;
        r->n_addrs[k] = 0;
        if (!r->top_raw[k])
            continue;
        r->top_dec[k] = decode_words(r, r->top_raw[k], r->top_raw_len[k]);
        int is_addr = k >= 1 && k <= 5;
        if (k == 10)
            is_addr = 1;
        if (!is_addr)
            continue;
        mailproto__addr *list = NULL;
        if (mailproto__addr_parse(r->mem, r->top_raw[k], r->top_raw_len[k], 1, &list) != MAILPROTO_OK) {
            r->nomem = 1;
            continue;
        }
        size_t n = 0;
        for (mailproto__addr *a = list; a; a = a->next)
            n++;
        mailproto_mime_address *arr = n ? pool_alloc(r, n * sizeof *arr) : NULL;
        if (arr) {
            size_t i = 0;
            const char *group = "";
            for (mailproto__addr *a = list; a; a = a->next, i++) {
                if (a->group)
                    group = pool_str(r, a->group, strlen(a->group));
                arr[i].name = a->name ? pool_str(r, a->name, strlen(a->name)) : "";
                arr[i].group = group;
                if (a->empty_group || !a->local) {
                    arr[i].address = "";
                } else {
                    size_t ll = strlen(a->local), dl = a->domain ? strlen(a->domain) : 0;
                    char *s = pool_alloc(r, ll + dl + 2);
                    if (s) {
                        memcpy(s, a->local, ll);
                        if (dl) {
                            s[ll] = '@';
                            memcpy(s + ll + 1, a->domain, dl);
                            s[ll + 1 + dl] = '\0';
                        } else {
                            s[ll] = '\0';
                        }
                    }
                    arr[i].address = s ? s : "";
                }
                if (a->group_end)
                    group = "";
            }
            r->addrs[k] = arr;
            r->n_addrs[k] = n;
        }
        mailproto__addr_free(r->mem, list);
    }
}

int mailproto_mime_reader_finish(mailproto_mime_reader *r)
{
    if (!r)
        return MAILPROTO_E_INVALID;
    if (r->finished)
        return MAILPROTO_OK;
    if (r->n_parts == 0) {
        r->cur = new_part(r, NONE, 0);
        if (r->cur == NONE)
            return MAILPROTO_E_NOMEM;
    }
    if (r->state == R_HEAD) {
        headers_done(r, r->off);
    } else if (r->lb_len) {
        /* a last line without a line break may be a delimiter */
        if (r->lb[r->lb_len - 1] == '\r' && !r->lb_over)
            r->lb_len--;
        check_line(r, r->off);
    }
    /* close what is open */
    for (size_t k = 0; k < r->depth; k++)
        r->parts[r->stack[k]].info.truncated = 1;
    int unclosed = r->depth > 0;
    size_t i = r->cur != NONE ? r->cur : r->cur_parent;
    while (i != NONE) {
        rpart *p = &r->parts[i];
        if (p->open) {
            p->info.body_end = r->off;
            if (p->info.body_end < p->info.body_off)
                p->info.body_end = p->info.body_off;
            if (unclosed && p->info.depth > 0)
                p->info.truncated = 1;
            p->open = 0;
        }
        i = p->info.parent;
    }
    /* the message itself and closed multiparts extend to the end */
    r->parts[0].info.body_end = r->off;
    r->depth = 0;
    decode_top(r);
    r->finished = 1;
    return r->nomem ? MAILPROTO_E_NOMEM : MAILPROTO_OK;
}

int mailproto_mime_reader_parse(mailproto_mime_reader *r, const void *data, size_t len)
{
    int rc = mailproto_mime_reader_feed(r, data, len);
    if (rc == MAILPROTO_OK)
        rc = mailproto_mime_reader_finish(r);
    return rc;
}

size_t mailproto_mime_reader_count(const mailproto_mime_reader *r)
{
    return r && r->finished ? r->n_parts : 0;
}

const mailproto_mime_info *mailproto_mime_reader_part(const mailproto_mime_reader *r, size_t i)
{
    if (!r || !r->finished || i >= r->n_parts)
        return NULL;
    return &r->parts[i].info;
}

static size_t kept_index(const char *name)
{
    if (!name)
        return NONE;
    for (size_t k = 0; k < N_KEPT; k++)
        if (mailproto__span_ieq(name, strlen(name), kept[k]))
            return k;
    return NONE;
}

const char *mailproto_mime_reader_header(const mailproto_mime_reader *r, const char *name)
{
    size_t k = kept_index(name);
    if (!r || !r->finished || k == NONE)
        return "";
    return r->top_dec[k];
}

int mailproto_mime_reader_addresses(const mailproto_mime_reader *r, const char *name,
                                    const mailproto_mime_address **list, size_t *n)
{
    size_t k = kept_index(name);
    if (!r || !list || !n || k == NONE || !r->finished)
        return MAILPROTO_E_INVALID;
    *list = r->addrs[k];
    *n = r->n_addrs[k];
    return MAILPROTO_OK;
}

int mailproto_mime_reader_date(const mailproto_mime_reader *r, int64_t *when, int *tz_minutes)
{
    size_t k = kept_index("date");
    if (!r || !when || !tz_minutes || !r->finished || !r->top_raw[k])
        return MAILPROTO_E_INVALID;
    return mailproto__parse_date(r->top_raw[k], r->top_raw_len[k], when, tz_minutes) == 0
               ? MAILPROTO_OK
               : MAILPROTO_E_INVALID;
}

/* ---- content decoding ---- */

enum { DC_ID, DC_B64, DC_QP };

typedef struct dstate {
    mailproto_b64_dec b64;
    mailproto_qp_dec qp;
    mailproto__conv conv;
} dstate;

_Static_assert(sizeof(dstate) <= sizeof(((mailproto_mime_decoder *)0)->state),
               "decoder state does not fit");

int mailproto_mime_decoder_init(mailproto_mime_decoder *d, const mailproto_mime_reader *r, size_t i,
                                int flags, const mailproto_sink *sink)
{
    if (!d || !sink || !sink->write)
        return MAILPROTO_E_INVALID;
    memset(d, 0, sizeof *d);
    const mailproto_mime_info *in = mailproto_mime_reader_part(r, i);
    if (!in || in->multipart)
        return MAILPROTO_E_INVALID;
    dstate *s = (dstate *)(void *)&d->state;
    d->sink = sink;
    if (strcmp(in->encoding, "base64") == 0)
        d->cte = DC_B64;
    else if (strcmp(in->encoding, "quoted-printable") == 0)
        d->cte = DC_QP;
    else
        d->cte = DC_ID;
    mailproto_b64_dec_init(&s->b64);
    mailproto_qp_dec_init(&s->qp);
    if (strncmp(in->type, "text/", 5) == 0 && !(flags & MAILPROTO_MIME_DECODE_RAW)) {
        const char *cs = in->charset[0] ? in->charset : "us-ascii";
        /* US-ASCII labels on 8-bit text are common: read them as UTF-8 */
        if (mailproto__charset_lookup(cs, strlen(cs), NULL) == MAILPROTO__CS_ASCII)
            cs = "utf-8";
        if (mailproto__conv_open(&s->conv, cs, strlen(cs), MAILPROTO__CONV_TO_UTF8, 1) != MAILPROTO_OK)
            return MAILPROTO_E_UNSUPPORTED;
        d->convert = 1;
    }
    return MAILPROTO_OK;
}

static int push(mailproto_mime_decoder *d, const void *p, size_t n, int final)
{
    dstate *s = (dstate *)(void *)&d->state;
    if (!n && !final)
        return MAILPROTO_OK;
    if (d->convert) {
        const unsigned char *q = p;
        do {
            char out[MAILPROTO__CONV_BOUND(512)];
            size_t take = MAILPROTO__MIN(n, (size_t)512), got = 0;
            (void)mailproto__conv_feed(&s->conv, q, take, out, &got, final && take == n);
            if (got) {
                int rc = d->sink->write(d->sink->ctx, out, got);
                if (rc != MAILPROTO_OK)
                    return rc < 0 ? rc : MAILPROTO_E_CALLBACK;
            }
            q += take;
            n -= take;
        } while (n);
        return MAILPROTO_OK;
    }
    if (!n)
        return MAILPROTO_OK;
    int rc = d->sink->write(d->sink->ctx, p, n);
    return rc == MAILPROTO_OK ? rc : (rc < 0 ? rc : MAILPROTO_E_CALLBACK);
}

static int is_b64(unsigned char c)
{
    return mailproto__is_alpha(c) || mailproto__is_digit(c) || c == '+' || c == '/';
}

int mailproto_mime_decoder_update(mailproto_mime_decoder *d, const void *raw, size_t n)
{
    if (!d || !d->sink || (!raw && n))
        return MAILPROTO_E_INVALID;
    if (d->fail)
        return d->fail;
    dstate *s = (dstate *)(void *)&d->state;
    const unsigned char *p = raw;
    while (n) {
        size_t take = MAILPROTO__MIN(n, (size_t)1024), got = 0;
        unsigned char out[1024 + 64];
        if (d->cte == DC_B64) {
            char clean[1024];
            size_t k = 0;
            for (size_t i = 0; i < take; i++)
                if (is_b64(p[i]))
                    clean[k++] = (char)p[i]; /* junk and padding skipped */
            (void)mailproto_b64_dec_update(&s->b64, clean, k, out, &got);
        } else if (d->cte == DC_QP) {
            (void)mailproto_qp_dec_update(&s->qp, (const char *)p, take, out, &got);
        } else {
            memcpy(out, p, take);
            got = take;
        }
        int rc = push(d, out, got, 0);
        if (rc != MAILPROTO_OK) {
            d->fail = rc;
            return rc;
        }
        p += take;
        n -= take;
    }
    return MAILPROTO_OK;
}

int mailproto_mime_decoder_final(mailproto_mime_decoder *d)
{
    if (!d || !d->sink)
        return MAILPROTO_E_INVALID;
    dstate *s = (dstate *)(void *)&d->state;
    int rc = d->fail;
    if (!rc) {
        unsigned char out[64];
        size_t got = 0;
        if (d->cte == DC_QP)
            (void)mailproto_qp_dec_final(&s->qp, out, &got);
        rc = push(d, out, got, 1);
    }
    if (d->convert)
        mailproto__conv_close(&s->conv);
    d->convert = 0;
    d->fail = rc ? rc : 0;
    return rc;
}

int mailproto_mime_reader_decode(const mailproto_mime_reader *r, size_t i, const void *msg,
                                 size_t len, int flags, const mailproto_sink *sink)
{
    const mailproto_mime_info *in = mailproto_mime_reader_part(r, i);
    if (!in || (!msg && len) || in->body_end > len || in->body_off > in->body_end)
        return MAILPROTO_E_INVALID;
    mailproto_mime_decoder d;
    int rc = mailproto_mime_decoder_init(&d, r, i, flags, sink);
    if (rc != MAILPROTO_OK)
        return rc;
    rc = mailproto_mime_decoder_update(&d, (const char *)msg + in->body_off,
                                       (size_t)(in->body_end - in->body_off));
    int rc2 = mailproto_mime_decoder_final(&d);
    return rc != MAILPROTO_OK ? rc : rc2;
}
