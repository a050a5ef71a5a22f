/*
 * IMAP response parser, stage 2: typed events from stage-1 tokens.
 *
 * An explicit state machine: every state looks at the next token and
 * either emits an event, moves to another state, or asks for more input.
 * Nested data (ENVELOPE, BODYSTRUCTURE, THREAD, ...) goes through one
 * iterative walker with a fixed path stack; nothing recurses.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "imap_int.h"

enum {
    S_START = 0,
    S_TAGGED,
    S_UNTAGGED,
    S_NUMRESP,
    S_EXPECT_END,
    S_RESPTEXT,
    S_CODE_NAME,
    S_CODE_CLOSE,
    S_CODE_TEXT,
    S_CODE_NUM,
    S_CODE_SET,
    S_CODE_SET2,
    S_CODE_ATOMS,
    S_TEXT,
    S_ATOMLIST,
    S_FLAGS_OPEN,
    S_FLAGS,
    S_LIST_DELIM,
    S_LIST_MBX,
    S_LIST_EXT0,
    S_LIST_EXTTAG,
    S_STATUS_MBX,
    S_STATUS_OPEN,
    S_STATUS_ATT,
    S_STATUS_VAL,
    S_SEARCH,
    S_SEARCH_M1,
    S_SEARCH_M2,
    S_SEARCH_M3,
    S_ESEARCH,
    S_ES_TAG1,
    S_ES_TAG2,
    S_ES_TAG3,
    S_ES_VAL,
    S_ES_SET,
    S_VANISHED,
    S_VAN_E1,
    S_VAN_E2,
    S_VAN_SET,
    S_FETCH_OPEN,
    S_FETCH_ITEM,
    S_FETCH_NUM,
    S_FETCH_STR,
    S_FETCH_BODYVAL,
    S_FETCH_MODSEQ1,
    S_FETCH_MODSEQ2,
    S_FETCH_MODSEQ3,
    S_BODYLIT,
    S_STRLIT,
    S_WALK,
    S_SKIP,
    S_END_EMIT
};

#define R_NEED 0
#define R_EVENT 1
#define R_CONT 2

#define U32MAX ((uint64_t)UINT32_MAX)
#define MODSEQ_MAX ((uint64_t)INT64_MAX)

/* ---- helpers ---- */

static int garble(mailproto_imap_parser *p, const char *why)
{
    mailproto__fmt(p->errmsg, sizeof p->errmsg, "garbled response skipped: %s", why);
    p->unparsed_err = MAILPROTO_E_PROTOCOL;
    p->w_active = 0;
    p->st = S_SKIP;
    return R_CONT;
}

static int lexr(mailproto_imap_parser *p, int r)
{
    if (r == LEX_NEED)
        return R_NEED;
    if (r == LEX_GARBLED)
        return garble(p, "malformed token");
    return p->fatal;
}

static mailproto_imap_event *ev_new(mailproto_imap_parser *p, int type)
{
    /* field by field: a memset of the whole event costs more than the parse */
    mailproto_imap_event *e = &p->ev;
    e->type = type;
    e->resp = p->resp;
    e->status = p->status;
    e->item = p->item;
    e->flags = 0;
    e->error = 0;
    e->tag.ptr = p->tag;
    e->tag.len = p->tag_len;
    e->data.ptr = NULL;
    e->data.len = 0;
    e->name.ptr = NULL;
    e->name.len = 0;
    e->seq = p->seq;
    e->number = 0;
    e->number2 = 0;
    if (p->w_active) {
        e->path = p->wpath;
        e->path_len = p->w_depth;
    } else {
        e->path = NULL;
        e->path_len = 0;
    }
    return e;
}

/* An event carrying the bytes of token t (a piece, when t is partial). */
static mailproto_imap_event *ev_tok(mailproto_imap_parser *p, int type, const imap_tok *t)
{
    mailproto_imap_event *e = ev_new(p, type);
    e->data.ptr = t->ptr;
    e->data.len = t->len;
    if (t->partial)
        e->flags |= MAILPROTO_IMAP_EVF_PARTIAL;
    return e;
}

static void copy_name(mailproto_imap_parser *p, const char *s, size_t n)
{
    if (n > sizeof p->name)
        n = sizeof p->name;
    memcpy(p->name, s, n);
    p->name_len = n;
}

static int tok_num(const imap_tok *t, uint64_t max, uint64_t *v)
{
    if (t->type != T_ATOM || t->partial)
        return -1;
    return mailproto__parse_u64(t->ptr ? t->ptr : NULL, t->len, max, v);
}

/* Parse a number from a peeked (not yet taken) atom. */
static int peek_num(mailproto_imap_parser *p, const imap_tok *t, uint64_t max, uint64_t *v)
{
    if (t->type != T_ATOM || t->partial)
        return -1;
    return mailproto__parse_u64(p->buf + p->start + t->off, t->len, max, v);
}

#define peek_is(p, t, word) \
    ((t)->type == T_ATOM && !(t)->partial && IMAP_KW((p)->buf + (p)->start + (t)->off, (t)->len, word))

static int take(mailproto_imap_parser *p, imap_tok *t)
{
    return mailproto__imap_take(p, t);
}

static int depth_push(mailproto_imap_parser *p)
{
    unsigned lim = p->authed ? p->max_depth : p->max_depth_pre;
    if (p->depth >= lim) {
        mailproto__imap_fail(p, MAILPROTO_E_LIMIT, "nesting deeper than %u", lim);
        return -1;
    }
    p->depth++;
    return 0;
}

static int count_item(mailproto_imap_parser *p)
{
    if (++p->nitems > p->max_items) {
        mailproto__imap_fail(p, MAILPROTO_E_LIMIT, "more than %lu items in a list", (unsigned long)p->max_items);
        return -1;
    }
    return 0;
}

/* One item of a list (an atom, a flag): counted against the list limit
 * (once per token, not per piece), taken, and handed out. */
static int item_event(mailproto_imap_parser *p, imap_tok *t, int type)
{
    if (!p->acont && count_item(p))
        return p->fatal;
    if (take(p, t))
        return p->fatal;
    ev_tok(p, type, t);
    return R_EVENT;
}

/* Emit a string-ish value from a taken token (atom, quoted); literals go
 * through S_STRLIT.  nil: an atom NIL means NIL. */
static void emit_str(mailproto_imap_parser *p, const imap_tok *t, int nil)
{
    mailproto_imap_event *e = ev_new(p, MAILPROTO_IMAP_EV_STRING);
    if (nil && t->type == T_ATOM && !t->partial && imap_is_nil(t->ptr, t->len)) {
        e->flags |= MAILPROTO_IMAP_EVF_NIL;
        return;
    }
    e->data.ptr = t->ptr;
    e->data.len = t->len;
    if (t->partial)
        e->flags |= MAILPROTO_IMAP_EVF_PARTIAL;
}

static void walk_after_value(mailproto_imap_parser *p);

/* A string value (astring / nstring) in state p->st; next is the state
 * after the complete value. */
static int value_string(mailproto_imap_parser *p, imap_tok *t, int nil, int next)
{
    if (t->type == T_LITERAL) {
        if (t->num > p->max_string)
            return mailproto__imap_fail(p, MAILPROTO_E_LIMIT, "literal of %llu bytes exceeds the string limit",
                                        (unsigned long long)t->num),
                   p->fatal;
        if (take(p, t))
            return p->fatal;
        p->lret = next;
        p->evflags = t->lit8 ? MAILPROTO_IMAP_EVF_LITERAL8 : 0;
        p->st = S_STRLIT;
        return R_CONT;
    }
    if (t->type != T_ATOM && t->type != T_QUOTED)
        return garble(p, "string expected");
    int was_cont = p->acont || p->qcont;
    if (take(p, t))
        return p->fatal;
    if (was_cont)
        nil = 0;
    emit_str(p, t, nil);
    if (!t->partial)
        p->st = next;
    return R_EVENT;
}

/* ---- the walker for nested token data ---- */

static void walk_start(mailproto_imap_parser *p, int item, int emit, int top, int ret)
{
    p->w_active = 1;
    p->item = item;
    p->w_emit = emit;
    p->w_top = top;
    p->ret = ret;
    p->w_pending = 0;
    if (top) {
        p->w_depth = 1;
        p->w_base = 1;
        p->wpath[0] = 0;
    } else {
        p->w_depth = 0;
        p->w_base = 0;
    }
    p->st = S_WALK;
}

static void walk_after_value(mailproto_imap_parser *p)
{
    if (p->w_depth == 0) {
        p->w_active = 0;
        p->st = p->ret;
        p->item = 0;
    } else {
        p->w_pending = 1;
        p->st = S_WALK;
    }
}

static int walk_step(mailproto_imap_parser *p)
{
    imap_tok *t;
    int r;
    if (p->w_pending) {
        p->w_pending = 0;
        if (++p->wpath[p->w_depth - 1] > p->max_items)
            return mailproto__imap_fail(p, MAILPROTO_E_LIMIT, "more than %lu items in a list",
                                        (unsigned long)p->max_items),
                   p->fatal;
    }
    if ((r = mailproto__imap_peek(p, M_NORMAL, &t)) != LEX_OK)
        return lexr(p, r);
    int emit = p->w_emit;
    switch (t->type) {
    case T_LPAREN:
        if (p->w_depth >= MAILPROTO_IMAP_MAX_DEPTH || depth_push(p))
            return p->fatal ? p->fatal
                            : (mailproto__imap_fail(p, MAILPROTO_E_LIMIT, "nesting too deep"), p->fatal);
        if (take(p, t))
            return p->fatal;
        if (emit)
            ev_new(p, MAILPROTO_IMAP_EV_OPEN);
        p->wpath[p->w_depth++] = 0;
        return emit ? R_EVENT : R_CONT;
    case T_RPAREN:
        if (p->w_depth <= p->w_base)
            return garble(p, "unbalanced parenthesis");
        if (take(p, t))
            return p->fatal;
        p->depth--;
        p->w_depth--;
        if (emit)
            ev_new(p, MAILPROTO_IMAP_EV_CLOSE);
        walk_after_value(p);
        return emit ? R_EVENT : R_CONT;
    case T_CRLF:
        if (p->w_top && p->w_depth == 1) {
            p->w_active = 0;
            p->item = 0;
            p->st = p->ret;
            return R_CONT;
        }
        return garble(p, "line ended inside a list");
    case T_LITERAL:
        if (!emit) {
            if (take(p, t))
                return p->fatal;
            p->lret = S_WALK;
            p->st = S_STRLIT;
            return R_CONT;
        }
        return value_string(p, t, 0, S_WALK);
    case T_QUOTED:
    case T_ATOM: {
        int cont = p->acont || p->qcont;
        if (take(p, t))
            return p->fatal;
        if (emit) {
            uint64_t v;
            if (t->type == T_QUOTED || (!cont && imap_is_nil(t->ptr, t->len))) {
                emit_str(p, t, t->type == T_ATOM);
            } else if (!cont && !t->partial && tok_num(t, UINT64_MAX, &v) == 0) {
                mailproto_imap_event *e = ev_new(p, MAILPROTO_IMAP_EV_NUMBER);
                e->number = v;
            } else {
                mailproto_imap_event *e = ev_new(p, MAILPROTO_IMAP_EV_ATOM);
                e->data.ptr = t->ptr;
                e->data.len = t->len;
                if (t->partial)
                    e->flags |= MAILPROTO_IMAP_EVF_PARTIAL;
            }
        }
        if (!t->partial)
            walk_after_value(p);
        return emit ? R_EVENT : R_CONT;
    }
    default:
        return garble(p, "unexpected token");
    }
}

/* ---- string literal outside bodies ---- */

static int strlit_step(mailproto_imap_parser *p)
{
    size_t avail = p->end - p->start;
    int emit = !p->w_active || p->w_emit;
    const char *d = p->buf + p->start;
    size_t k;
    int last;
    if (!p->lit_chunked && p->lit_left <= p->cap) {
        if (avail < p->lit_left)
            return R_NEED;
        k = (size_t)p->lit_left;
        last = 1;
    } else {
        if (avail == 0)
            return R_NEED;
        p->lit_chunked = 1;
        k = avail < p->lit_left ? avail : (size_t)p->lit_left;
        last = k == p->lit_left;
    }
    p->start += k;
    p->lit_left -= k;
    if (emit) {
        mailproto_imap_event *e = ev_new(p, MAILPROTO_IMAP_EV_STRING);
        e->data.ptr = d;
        e->data.len = k;
        e->flags = p->evflags | MAILPROTO_IMAP_EVF_LITERAL | (last ? 0 : MAILPROTO_IMAP_EVF_PARTIAL);
    }
    if (last) {
        p->lit_chunked = 0;
        p->st = p->lret;
        if (p->w_active && p->st == S_WALK)
            walk_after_value(p);
    }
    return emit ? R_EVENT : R_CONT;
}

/* ---- response codes ---- */

static const struct {
    const char *name;
    int code;
} code_names[] = {
    {"ALERT", MAILPROTO_IMAP_CODE_ALERT},
    {"CAPABILITY", MAILPROTO_IMAP_CODE_CAPABILITY},
    {"PERMANENTFLAGS", MAILPROTO_IMAP_CODE_PERMANENTFLAGS},
    {"UIDVALIDITY", MAILPROTO_IMAP_CODE_UIDVALIDITY},
    {"UIDNEXT", MAILPROTO_IMAP_CODE_UIDNEXT},
    {"UNSEEN", MAILPROTO_IMAP_CODE_UNSEEN},
    {"HIGHESTMODSEQ", MAILPROTO_IMAP_CODE_HIGHESTMODSEQ},
    {"NOMODSEQ", MAILPROTO_IMAP_CODE_NOMODSEQ},
    {"READ-ONLY", MAILPROTO_IMAP_CODE_READ_ONLY},
    {"READ-WRITE", MAILPROTO_IMAP_CODE_READ_WRITE},
    {"TRYCREATE", MAILPROTO_IMAP_CODE_TRYCREATE},
    {"APPENDUID", MAILPROTO_IMAP_CODE_APPENDUID},
    {"COPYUID", MAILPROTO_IMAP_CODE_COPYUID},
    {"UIDNOTSTICKY", MAILPROTO_IMAP_CODE_UIDNOTSTICKY},
    {"CLOSED", MAILPROTO_IMAP_CODE_CLOSED},
    {"MODIFIED", MAILPROTO_IMAP_CODE_MODIFIED},
    {"PARSE", MAILPROTO_IMAP_CODE_PARSE},
    {"AUTHENTICATIONFAILED", MAILPROTO_IMAP_CODE_AUTHENTICATIONFAILED},
    {"UNAVAILABLE", MAILPROTO_IMAP_CODE_UNAVAILABLE},
    {"REFERRAL", MAILPROTO_IMAP_CODE_REFERRAL},
};

static int code_step(mailproto_imap_parser *p, imap_tok *t)
{
    /* S_CODE_NAME: t is an atom in M_CODE */
    if (t->type != T_ATOM || t->partial)
        return garble(p, "response code expected");
    if (take(p, t))
        return p->fatal;
    copy_name(p, t->ptr, t->len);
    int code = MAILPROTO_IMAP_CODE_OTHER;
    for (size_t i = 0; i < MAILPROTO__ARRAY_LEN(code_names); i++)
        if (t->len == strlen(code_names[i].name) && mailproto__span_ieq(t->ptr, t->len, code_names[i].name)) {
            code = code_names[i].code;
            break;
        }
    p->code = code;
    p->item = code;
    p->nitems = 0;
    switch (code) {
    case MAILPROTO_IMAP_CODE_UIDVALIDITY:
    case MAILPROTO_IMAP_CODE_UIDNEXT:
    case MAILPROTO_IMAP_CODE_UNSEEN:
    case MAILPROTO_IMAP_CODE_HIGHESTMODSEQ:
    case MAILPROTO_IMAP_CODE_APPENDUID:
    case MAILPROTO_IMAP_CODE_COPYUID:
        p->st = S_CODE_NUM;
        return R_CONT;
    case MAILPROTO_IMAP_CODE_CAPABILITY:
        p->st = S_CODE_ATOMS;
        break;
    case MAILPROTO_IMAP_CODE_PERMANENTFLAGS:
        p->ret = S_CODE_CLOSE;
        p->st = S_FLAGS_OPEN;
        break;
    case MAILPROTO_IMAP_CODE_MODIFIED:
        p->evflags = 0;
        p->st = S_CODE_SET;
        break;
    case MAILPROTO_IMAP_CODE_OTHER:
    case MAILPROTO_IMAP_CODE_REFERRAL: /* its URL comes as the text */
        p->st = S_CODE_TEXT;
        return R_CONT; /* EV_CODE is emitted with its text */
    default:
        p->st = S_CODE_CLOSE;
        break;
    }
    mailproto_imap_event *e = ev_new(p, MAILPROTO_IMAP_EV_CODE);
    e->name.ptr = p->name;
    e->name.len = p->name_len;
    return R_EVENT;
}

/* ---- FETCH item names ---- */

static int fetch_item(mailproto_imap_parser *p, imap_tok *t)
{
    if (t->type == T_RPAREN) {
        if (take(p, t))
            return p->fatal;
        p->depth--;
        p->st = S_EXPECT_END;
        return R_CONT;
    }
    if (t->type != T_ATOM || t->partial)
        return garble(p, "FETCH item expected");
    if (take(p, t))
        return p->fatal;
    const char *s = t->ptr;
    size_t n = t->len;
    const char *br = memchr(s, '[', n);
    p->has_origin = 0;
    p->sect_len = 0;
    if (br) {
        size_t pre = (size_t)(br - s);
        size_t close = n;
        while (close > pre && s[close - 1] != ']')
            close--;
        if (close <= pre + 1)
            return garble(p, "malformed section");
        close--; /* index of ']' */
        size_t sl = close - pre - 1;
        if (sl > sizeof p->sect)
            return garble(p, "section too long");
        memcpy(p->sect, br + 1, sl);
        p->sect_len = sl;
        size_t rest = close + 1;
        if (rest < n) {
            if (s[rest] != '<' || s[n - 1] != '>' || n - rest < 3)
                return garble(p, "malformed origin");
            if (mailproto__parse_u64(s + rest + 1, n - rest - 2, UINT64_MAX, &p->origin))
                return garble(p, "malformed origin");
            p->has_origin = 1;
        }
        if (IMAP_KW(s, pre, "BODY"))
            p->item = MAILPROTO_IMAP_ITEM_BODY_SECTION;
        else if (IMAP_KW(s, pre, "BINARY"))
            p->item = MAILPROTO_IMAP_ITEM_BINARY;
        else if (IMAP_KW(s, pre, "BINARY.SIZE") && !p->has_origin) {
            p->item = MAILPROTO_IMAP_ITEM_BINARY_SIZE;
            p->st = S_FETCH_NUM;
            return R_CONT;
        } else {
            walk_start(p, 0, 0, 0, S_FETCH_ITEM);
            return R_CONT;
        }
        p->st = S_FETCH_BODYVAL;
        return R_CONT;
    }
    copy_name(p, s, n);
    if (IMAP_KW(s, n, "UID") || IMAP_KW(s, n, "RFC822.SIZE")) {
        p->item = n == 3 ? MAILPROTO_IMAP_ITEM_UID : MAILPROTO_IMAP_ITEM_RFC822_SIZE;
        p->st = S_FETCH_NUM;
    } else if (IMAP_KW(s, n, "FLAGS")) {
        p->item = MAILPROTO_IMAP_ITEM_FLAGS;
        p->ret = S_FETCH_ITEM;
        p->st = S_FLAGS_OPEN;
    } else if (IMAP_KW(s, n, "INTERNALDATE")) {
        p->item = MAILPROTO_IMAP_ITEM_INTERNALDATE;
        p->st = S_FETCH_STR;
    } else if (IMAP_KW(s, n, "ENVELOPE")) {
        walk_start(p, MAILPROTO_IMAP_ITEM_ENVELOPE, 1, 0, S_FETCH_ITEM);
    } else if (IMAP_KW(s, n, "BODYSTRUCTURE")) {
        walk_start(p, MAILPROTO_IMAP_ITEM_BODYSTRUCTURE, 1, 0, S_FETCH_ITEM);
    } else if (IMAP_KW(s, n, "BODY")) {
        walk_start(p, MAILPROTO_IMAP_ITEM_BODY, 1, 0, S_FETCH_ITEM);
    } else if (IMAP_KW(s, n, "MODSEQ")) {
        p->item = MAILPROTO_IMAP_ITEM_MODSEQ;
        p->st = S_FETCH_MODSEQ1;
    } else if (IMAP_KW(s, n, "RFC822")) {
        p->item = MAILPROTO_IMAP_ITEM_RFC822;
        p->st = S_FETCH_BODYVAL;
    } else if (IMAP_KW(s, n, "RFC822.HEADER")) {
        p->item = MAILPROTO_IMAP_ITEM_RFC822_HEADER;
        p->st = S_FETCH_BODYVAL;
    } else if (IMAP_KW(s, n, "RFC822.TEXT")) {
        p->item = MAILPROTO_IMAP_ITEM_RFC822_TEXT;
        p->st = S_FETCH_BODYVAL;
    } else {
        walk_start(p, 0, 0, 0, S_FETCH_ITEM); /* unknown item: skip its value */
    }
    return R_CONT;
}

/* ---- untagged response names ---- */

static int untagged_name(mailproto_imap_parser *p, imap_tok *t)
{
    const char *s = p->buf + p->start + t->off;
    size_t n = t->len;
    uint64_t v;
    if (t->type != T_ATOM || t->partial)
        return garble(p, "response name expected");
    if (mailproto__is_digit((unsigned char)s[0])) {
        if (peek_num(p, t, U32MAX, &v))
            return garble(p, "message number out of range");
        if (take(p, t))
            return p->fatal;
        p->num = v;
        p->st = S_NUMRESP;
        return R_CONT;
    }
    static const struct {
        const char *name;
        int type;
    } names[] = {
        {"OK", MAILPROTO_IMAP_OK},          {"NO", MAILPROTO_IMAP_NO},
        {"BAD", MAILPROTO_IMAP_BAD},        {"BYE", MAILPROTO_IMAP_BYE},
        {"PREAUTH", MAILPROTO_IMAP_PREAUTH},
    };
    for (size_t i = 0; i < MAILPROTO__ARRAY_LEN(names); i++)
        if (n <= 7 && mailproto__span_ieq(s, n, names[i].name)) {
            if (take(p, t))
                return p->fatal;
            p->status = names[i].type;
            p->resp = MAILPROTO_IMAP_EV_STATUS;
            p->st = S_RESPTEXT;
            ev_new(p, MAILPROTO_IMAP_EV_STATUS);
            return R_EVENT;
        }
    static const struct {
        const char *name;
        int resp, st;
    } resps[] = {
        {"CAPABILITY", MAILPROTO_IMAP_EV_CAPABILITY, S_ATOMLIST},
        {"ENABLED", MAILPROTO_IMAP_EV_ENABLED, S_ATOMLIST},
        {"LIST", MAILPROTO_IMAP_EV_LIST, S_FLAGS_OPEN},
        {"LSUB", MAILPROTO_IMAP_EV_LSUB, S_FLAGS_OPEN},
        {"STATUS", MAILPROTO_IMAP_EV_MBSTATUS, S_STATUS_MBX},
        {"SEARCH", MAILPROTO_IMAP_EV_SEARCH, S_SEARCH},
        {"SORT", MAILPROTO_IMAP_EV_SORT, S_SEARCH},
        {"ESEARCH", MAILPROTO_IMAP_EV_ESEARCH, S_ESEARCH},
        {"THREAD", MAILPROTO_IMAP_EV_THREAD, S_WALK},
        {"FLAGS", MAILPROTO_IMAP_EV_FLAGS, S_FLAGS_OPEN},
        {"VANISHED", MAILPROTO_IMAP_EV_VANISHED, S_VANISHED},
        {"NAMESPACE", MAILPROTO_IMAP_EV_NAMESPACE, S_WALK},
        {"ID", MAILPROTO_IMAP_EV_ID, S_WALK},
        {"QUOTA", MAILPROTO_IMAP_EV_QUOTA, S_WALK},
        {"QUOTAROOT", MAILPROTO_IMAP_EV_QUOTAROOT, S_WALK},
        {"METADATA", MAILPROTO_IMAP_EV_METADATA, S_WALK},
    };
    for (size_t i = 0; i < MAILPROTO__ARRAY_LEN(resps); i++)
        if (n <= 10 && mailproto__span_ieq(s, n, resps[i].name)) {
            if (take(p, t))
                return p->fatal;
            p->resp = resps[i].resp;
            p->nitems = 0;
            if (resps[i].st == S_WALK) {
                ev_new(p, resps[i].resp);
                walk_start(p, 0, 1, 1, S_EXPECT_END);
                return R_EVENT;
            } else {
                p->st = resps[i].st;
                if (resps[i].st == S_FLAGS_OPEN) {
                    p->item = resps[i].resp == MAILPROTO_IMAP_EV_FLAGS ? MAILPROTO_IMAP_ITEM_FLAGS
                                                                       : MAILPROTO_IMAP_ITEM_MBX_ATTR;
                    p->ret = resps[i].resp == MAILPROTO_IMAP_EV_FLAGS ? S_EXPECT_END : S_LIST_DELIM;
                }
            }
            if (resps[i].resp == MAILPROTO_IMAP_EV_VANISHED)
                return R_CONT; /* begin event once (EARLIER) is known */
            ev_new(p, resps[i].resp);
            return R_EVENT;
        }
    /* unknown: skip it whole */
    copy_name(p, s, n);
    p->unparsed_err = 0;
    p->errmsg[0] = '\0';
    p->st = S_SKIP;
    return R_CONT;
}

static int emit_text(mailproto_imap_parser *p, imap_tok *t)
{
    if (t->type != T_TEXT)
        return garble(p, "text expected");
    if (take(p, t))
        return p->fatal;
    p->item = 0;
    mailproto_imap_event *e = ev_new(p, MAILPROTO_IMAP_EV_TEXT);
    e->data.ptr = t->ptr;
    e->data.len = t->len;
    if (t->partial) {
        e->flags |= MAILPROTO_IMAP_EVF_PARTIAL;
        p->st = S_TEXT;
    } else {
        p->st = S_EXPECT_END;
    }
    return R_EVENT;
}

/* ---- the state machine ---- */

static int step(mailproto_imap_parser *p)
{
    imap_tok *t;
    int r;
    uint64_t v;
    mailproto_imap_event *e;

    switch (p->st) {
    case S_START:
        if ((r = mailproto__imap_peek(p, M_NORMAL, &t)) != LEX_OK)
            return lexr(p, r);
        p->line = 0;
        p->depth = 0;
        p->tag_len = 0;
        p->status = 0;
        p->resp = 0;
        p->item = 0;
        p->code = 0;
        p->seq = 0;
        p->name_len = 0;
        p->unparsed_err = 0;
        p->w_active = 0;
        if (t->type != T_ATOM || t->partial)
            return garble(p, "response must start with a tag, * or +");
        if (t->len == 1 && p->buf[p->start + t->off] == '*') {
            if (take(p, t))
                return p->fatal;
            p->st = S_UNTAGGED;
            return R_CONT;
        }
        if (t->len == 1 && p->buf[p->start + t->off] == '+') {
            if (take(p, t))
                return p->fatal;
            p->resp = MAILPROTO_IMAP_EV_CONTINUE;
            p->st = S_RESPTEXT;
            ev_new(p, MAILPROTO_IMAP_EV_CONTINUE);
            return R_EVENT;
        }
        if (t->len > sizeof p->tag || memchr(p->buf + p->start + t->off, '+', t->len))
            return garble(p, "invalid tag");
        if (take(p, t))
            return p->fatal;
        memcpy(p->tag, t->ptr, t->len);
        p->tag_len = t->len;
        p->st = S_TAGGED;
        return R_CONT;

    case S_TAGGED:
        if ((r = mailproto__imap_peek(p, M_NORMAL, &t)) != LEX_OK)
            return lexr(p, r);
        if (peek_is(p, t, "OK"))
            p->status = MAILPROTO_IMAP_OK;
        else if (peek_is(p, t, "NO"))
            p->status = MAILPROTO_IMAP_NO;
        else if (peek_is(p, t, "BAD"))
            p->status = MAILPROTO_IMAP_BAD;
        else
            return garble(p, "tagged response without OK, NO or BAD");
        if (take(p, t))
            return p->fatal;
        p->resp = MAILPROTO_IMAP_EV_STATUS;
        p->st = S_RESPTEXT;
        ev_new(p, MAILPROTO_IMAP_EV_STATUS);
        return R_EVENT;

    case S_UNTAGGED:
        if ((r = mailproto__imap_peek(p, M_NORMAL, &t)) != LEX_OK)
            return lexr(p, r);
        return untagged_name(p, t);

    case S_NUMRESP:
        if ((r = mailproto__imap_peek(p, M_NORMAL, &t)) != LEX_OK)
            return lexr(p, r);
        if (peek_is(p, t, "EXISTS"))
            p->resp = MAILPROTO_IMAP_EV_EXISTS;
        else if (peek_is(p, t, "RECENT"))
            p->resp = MAILPROTO_IMAP_EV_RECENT;
        else if (peek_is(p, t, "EXPUNGE"))
            p->resp = MAILPROTO_IMAP_EV_EXPUNGE;
        else if (peek_is(p, t, "FETCH"))
            p->resp = MAILPROTO_IMAP_EV_FETCH;
        else {
            if (t->type == T_ATOM && !t->partial)
                copy_name(p, p->buf + p->start + t->off, t->len);
            p->unparsed_err = 0;
            p->errmsg[0] = '\0';
            p->st = S_SKIP;
            return R_CONT;
        }
        if (p->num == 0 && p->resp != MAILPROTO_IMAP_EV_EXISTS && p->resp != MAILPROTO_IMAP_EV_RECENT) {
            p->resp = 0;
            return garble(p, "message number 0");
        }
        if (take(p, t))
            return p->fatal;
        if (p->resp == MAILPROTO_IMAP_EV_FETCH) {
            p->seq = (uint32_t)p->num;
            p->st = S_FETCH_OPEN;
            ev_new(p, MAILPROTO_IMAP_EV_FETCH);
        } else {
            p->st = S_EXPECT_END;
            e = ev_new(p, p->resp);
            e->number = p->num;
        }
        return R_EVENT;

    case S_EXPECT_END:
        if ((r = mailproto__imap_peek(p, M_NORMAL, &t)) != LEX_OK)
            return lexr(p, r);
        if (t->type != T_CRLF)
            return garble(p, "unexpected data at the end of the response");
        if (take(p, t))
            return p->fatal;
        p->item = 0;
        p->st = S_START;
        ev_new(p, MAILPROTO_IMAP_EV_END);
        return R_EVENT;

    case S_RESPTEXT:
        if ((r = mailproto__imap_peek(p, M_TEXTSTART, &t)) != LEX_OK)
            return lexr(p, r);
        if (t->type == T_LBRACKET) {
            if (take(p, t))
                return p->fatal;
            p->st = S_CODE_NAME;
            return R_CONT;
        }
        return emit_text(p, t);

    case S_TEXT:
        if ((r = mailproto__imap_peek(p, M_TEXT, &t)) != LEX_OK)
            return lexr(p, r);
        return emit_text(p, t);

    case S_CODE_NAME:
        if ((r = mailproto__imap_peek(p, M_CODE, &t)) != LEX_OK)
            return lexr(p, r);
        return code_step(p, t);

    case S_CODE_TEXT:
        /* arguments of an unknown code: one piece of text up to ']' */
        if ((r = mailproto__imap_peek(p, M_CODETEXT, &t)) != LEX_OK)
            return lexr(p, r);
        if (t->type != T_TEXT || t->partial)
            return garble(p, "response code arguments too long");
        if (take(p, t))
            return p->fatal;
        e = ev_new(p, MAILPROTO_IMAP_EV_CODE);
        e->data.ptr = t->ptr;
        e->data.len = t->len;
        e->name.ptr = p->name;
        e->name.len = p->name_len;
        p->st = S_CODE_CLOSE;
        return R_EVENT;

    case S_CODE_NUM: {
        if ((r = mailproto__imap_peek(p, M_CODE, &t)) != LEX_OK)
            return lexr(p, r);
        uint64_t max = p->code == MAILPROTO_IMAP_CODE_HIGHESTMODSEQ ? MODSEQ_MAX : U32MAX;
        if (peek_num(p, t, max, &v))
            return garble(p, "bad number in response code");
        if (v == 0 && p->code != MAILPROTO_IMAP_CODE_HIGHESTMODSEQ && p->code != MAILPROTO_IMAP_CODE_UNSEEN &&
            p->code != MAILPROTO_IMAP_CODE_UIDNEXT)
            return garble(p, "zero in response code");
        if (take(p, t))
            return p->fatal;
        e = ev_new(p, MAILPROTO_IMAP_EV_CODE);
        e->name.ptr = p->name;
        e->name.len = p->name_len;
        e->number = v;
        p->evflags = 0;
        p->st = (p->code == MAILPROTO_IMAP_CODE_APPENDUID || p->code == MAILPROTO_IMAP_CODE_COPYUID)
                    ? S_CODE_SET
                    : S_CODE_CLOSE;
        return R_EVENT;
    }

    case S_CODE_SET:
    case S_ES_SET:
    case S_VAN_SET:
        if ((r = mailproto__imap_peek(p, M_SET, &t)) != LEX_OK)
            return lexr(p, r);
        p->nocount = p->st != S_CODE_SET; /* ESEARCH ALL and VANISHED stream */
        r = take(p, t);
        p->nocount = 0;
        if (r)
            return p->fatal;
        e = ev_new(p, MAILPROTO_IMAP_EV_RANGE);
        e->number = t->num;
        e->number2 = t->num2;
        e->flags = p->evflags | ((t->star & 1) ? MAILPROTO_IMAP_EVF_STAR1 : 0) |
                   ((t->star & 2) ? MAILPROTO_IMAP_EVF_STAR2 : 0);
        if (!t->more) {
            if (p->st == S_CODE_SET) {
                if (p->code == MAILPROTO_IMAP_CODE_COPYUID && !(p->evflags & MAILPROTO_IMAP_EVF_SECOND)) {
                    p->evflags = MAILPROTO_IMAP_EVF_SECOND;
                } else {
                    p->st = S_CODE_CLOSE;
                }
            } else if (p->st == S_ES_SET) {
                p->item = 0;
                p->st = S_ESEARCH;
            } else {
                p->st = S_EXPECT_END;
            }
        }
        return R_EVENT;

    case S_CODE_ATOMS:
        if ((r = mailproto__imap_peek(p, M_CODE, &t)) != LEX_OK)
            return lexr(p, r);
        if (t->type == T_RBRACKET) {
            p->st = S_CODE_CLOSE;
            return R_CONT;
        }
        if (t->type != T_ATOM)
            return garble(p, "capability expected");
        return item_event(p, t, MAILPROTO_IMAP_EV_ATOM);

    case S_CODE_CLOSE:
        if ((r = mailproto__imap_peek(p, M_CODE, &t)) != LEX_OK)
            return lexr(p, r);
        if (t->type != T_RBRACKET)
            return garble(p, "] expected after response code");
        if (take(p, t))
            return p->fatal;
        p->item = 0;
        p->st = S_TEXT;
        return R_CONT;

    case S_ATOMLIST:
        if ((r = mailproto__imap_peek(p, M_NORMAL, &t)) != LEX_OK)
            return lexr(p, r);
        if (t->type == T_CRLF) {
            p->st = S_EXPECT_END;
            return R_CONT;
        }
        if (t->type != T_ATOM)
            return garble(p, "atom expected");
        return item_event(p, t, MAILPROTO_IMAP_EV_ATOM);

    case S_FLAGS_OPEN:
        if ((r = mailproto__imap_peek(p, M_CODE, &t)) != LEX_OK)
            return lexr(p, r);
        if (t->type != T_LPAREN)
            return garble(p, "( expected");
        if (depth_push(p))
            return p->fatal;
        if (take(p, t))
            return p->fatal;
        p->nitems = 0;
        p->st = S_FLAGS;
        ev_new(p, MAILPROTO_IMAP_EV_OPEN);
        return R_EVENT;

    case S_FLAGS:
        if ((r = mailproto__imap_peek(p, M_CODE, &t)) != LEX_OK)
            return lexr(p, r);
        if (t->type == T_RPAREN) {
            if (take(p, t))
                return p->fatal;
            p->depth--;
            ev_new(p, MAILPROTO_IMAP_EV_CLOSE);
            p->st = p->ret;
            return R_EVENT;
        }
        if (t->type != T_ATOM)
            return garble(p, "flag expected");
        return item_event(p, t, MAILPROTO_IMAP_EV_FLAG);

    case S_LIST_DELIM:
        if ((r = mailproto__imap_peek(p, M_NORMAL, &t)) != LEX_OK)
            return lexr(p, r);
        p->item = MAILPROTO_IMAP_ITEM_DELIM;
        if (t->type == T_QUOTED && !t->partial && !p->qcont) {
            if (take(p, t))
                return p->fatal;
            if (t->len != 1)
                return garble(p, "hierarchy delimiter must be one character");
            emit_str(p, t, 0);
            p->st = S_LIST_MBX;
            return R_EVENT;
        }
        if (peek_is(p, t, "NIL")) {
            if (take(p, t))
                return p->fatal;
            emit_str(p, t, 1);
            p->st = S_LIST_MBX;
            return R_EVENT;
        }
        return garble(p, "hierarchy delimiter expected");

    case S_LIST_MBX:
        if ((r = mailproto__imap_peek(p, M_NORMAL, &t)) != LEX_OK)
            return lexr(p, r);
        p->item = MAILPROTO_IMAP_ITEM_MAILBOX;
        return value_string(p, t, 0, S_LIST_EXT0);

    case S_LIST_EXT0:
        if ((r = mailproto__imap_peek(p, M_NORMAL, &t)) != LEX_OK)
            return lexr(p, r);
        p->item = 0;
        if (t->type == T_CRLF) {
            p->st = S_EXPECT_END;
            return R_CONT;
        }
        if (t->type != T_LPAREN)
            return garble(p, "extended data expected");
        if (depth_push(p))
            return p->fatal;
        if (take(p, t))
            return p->fatal;
        p->st = S_LIST_EXTTAG;
        return R_CONT;

    case S_LIST_EXTTAG:
        if ((r = mailproto__imap_peek(p, M_NORMAL, &t)) != LEX_OK)
            return lexr(p, r);
        if (t->type == T_RPAREN) {
            if (take(p, t))
                return p->fatal;
            p->depth--;
            p->st = S_EXPECT_END;
            return R_CONT;
        }
        if ((t->type != T_ATOM && t->type != T_QUOTED) || t->partial || p->qcont || p->acont)
            return garble(p, "extended data tag expected");
        if (take(p, t))
            return p->fatal;
        if (IMAP_KW(t->ptr, t->len, "CHILDINFO")) {
            walk_start(p, MAILPROTO_IMAP_ITEM_CHILDINFO, 1, 0, S_LIST_EXTTAG);
            return R_CONT;
        }
        if (IMAP_KW(t->ptr, t->len, "OLDNAME")) {
            walk_start(p, MAILPROTO_IMAP_ITEM_OLDNAME, 1, 0, S_LIST_EXTTAG);
            return R_CONT;
        }
        p->item = MAILPROTO_IMAP_ITEM_LIST_EXT;
        e = ev_new(p, MAILPROTO_IMAP_EV_ATOM);
        e->data.ptr = t->ptr;
        e->data.len = t->len;
        walk_start(p, MAILPROTO_IMAP_ITEM_LIST_EXT, 1, 0, S_LIST_EXTTAG);
        return R_EVENT;

    case S_STATUS_MBX:
        if ((r = mailproto__imap_peek(p, M_NORMAL, &t)) != LEX_OK)
            return lexr(p, r);
        p->item = MAILPROTO_IMAP_ITEM_MAILBOX;
        return value_string(p, t, 0, S_STATUS_OPEN);

    case S_STATUS_OPEN:
        if ((r = mailproto__imap_peek(p, M_NORMAL, &t)) != LEX_OK)
            return lexr(p, r);
        p->item = 0;
        if (t->type != T_LPAREN)
            return garble(p, "( expected");
        if (depth_push(p))
            return p->fatal;
        if (take(p, t))
            return p->fatal;
        p->st = S_STATUS_ATT;
        return R_CONT;

    case S_STATUS_ATT: {
        if ((r = mailproto__imap_peek(p, M_NORMAL, &t)) != LEX_OK)
            return lexr(p, r);
        if (t->type == T_RPAREN) {
            if (take(p, t))
                return p->fatal;
            p->depth--;
            p->st = S_EXPECT_END;
            return R_CONT;
        }
        if (t->type != T_ATOM || t->partial)
            return garble(p, "status attribute expected");
        if (take(p, t))
            return p->fatal;
        static const struct {
            const char *n;
            int item;
        } atts[] = {
            {"MESSAGES", MAILPROTO_IMAP_ITEM_MESSAGES},       {"RECENT", MAILPROTO_IMAP_ITEM_RECENT},
            {"UIDNEXT", MAILPROTO_IMAP_ITEM_UIDNEXT},         {"UIDVALIDITY", MAILPROTO_IMAP_ITEM_UIDVALIDITY},
            {"UNSEEN", MAILPROTO_IMAP_ITEM_UNSEEN},           {"DELETED", MAILPROTO_IMAP_ITEM_DELETED},
            {"SIZE", MAILPROTO_IMAP_ITEM_SIZE},               {"HIGHESTMODSEQ", MAILPROTO_IMAP_ITEM_HIGHESTMODSEQ},
        };
        p->item = MAILPROTO_IMAP_ITEM_OTHER;
        for (size_t i = 0; i < MAILPROTO__ARRAY_LEN(atts); i++)
            if (mailproto__span_ieq(t->ptr, t->len, atts[i].n))
                p->item = atts[i].item;
        copy_name(p, t->ptr, t->len);
        p->st = S_STATUS_VAL;
        return R_CONT;
    }

    case S_STATUS_VAL: {
        if ((r = mailproto__imap_peek(p, M_NORMAL, &t)) != LEX_OK)
            return lexr(p, r);
        uint64_t max = U32MAX;
        if (p->item == MAILPROTO_IMAP_ITEM_HIGHESTMODSEQ)
            max = MODSEQ_MAX;
        else if (p->item == MAILPROTO_IMAP_ITEM_SIZE || p->item == MAILPROTO_IMAP_ITEM_OTHER)
            max = UINT64_MAX;
        if (peek_num(p, t, max, &v))
            return garble(p, "status value out of range");
        if (take(p, t))
            return p->fatal;
        e = ev_new(p, MAILPROTO_IMAP_EV_NUMBER);
        e->number = v;
        e->name.ptr = p->name;
        e->name.len = p->name_len;
        p->st = S_STATUS_ATT;
        return R_EVENT;
    }

    case S_SEARCH:
        if ((r = mailproto__imap_peek(p, M_NORMAL, &t)) != LEX_OK)
            return lexr(p, r);
        if (t->type == T_CRLF) {
            p->st = S_EXPECT_END;
            return R_CONT;
        }
        if (t->type == T_LPAREN) {
            if (depth_push(p))
                return p->fatal;
            if (take(p, t))
                return p->fatal;
            p->st = S_SEARCH_M1;
            return R_CONT;
        }
        if (peek_num(p, t, U32MAX, &v) || v == 0)
            return garble(p, "number out of range");
        p->nocount = 1; /* SEARCH and SORT results stream: not counted */
        r = take(p, t);
        p->nocount = 0;
        if (r)
            return p->fatal;
        e = ev_new(p, MAILPROTO_IMAP_EV_NUMBER);
        e->number = v;
        return R_EVENT;

    case S_SEARCH_M1:
        if ((r = mailproto__imap_peek(p, M_NORMAL, &t)) != LEX_OK)
            return lexr(p, r);
        if (!peek_is(p, t, "MODSEQ"))
            return garble(p, "MODSEQ expected");
        if (take(p, t))
            return p->fatal;
        p->st = S_SEARCH_M2;
        return R_CONT;

    case S_SEARCH_M2:
    case S_FETCH_MODSEQ2:
        if ((r = mailproto__imap_peek(p, M_NORMAL, &t)) != LEX_OK)
            return lexr(p, r);
        if (peek_num(p, t, MODSEQ_MAX, &v))
            return garble(p, "mod-sequence out of range");
        if (take(p, t))
            return p->fatal;
        p->item = MAILPROTO_IMAP_ITEM_MODSEQ;
        e = ev_new(p, MAILPROTO_IMAP_EV_NUMBER);
        e->number = v;
        p->st = p->st == S_SEARCH_M2 ? S_SEARCH_M3 : S_FETCH_MODSEQ3;
        return R_EVENT;

    case S_SEARCH_M3:
    case S_FETCH_MODSEQ3:
    case S_ES_TAG3:
    case S_VAN_E2:
        if ((r = mailproto__imap_peek(p, M_NORMAL, &t)) != LEX_OK)
            return lexr(p, r);
        if (t->type != T_RPAREN)
            return garble(p, ") expected");
        if (take(p, t))
            return p->fatal;
        p->depth--;
        p->item = 0;
        if (p->st == S_VAN_E2) {
            p->st = S_VAN_SET;
            e = ev_new(p, MAILPROTO_IMAP_EV_VANISHED);
            e->flags = MAILPROTO_IMAP_EVF_EARLIER;
            return R_EVENT;
        }
        p->st = p->st == S_SEARCH_M3 ? S_SEARCH : p->st == S_ES_TAG3 ? S_ESEARCH : S_FETCH_ITEM;
        return R_CONT;

    case S_ESEARCH: {
        if ((r = mailproto__imap_peek(p, M_NORMAL, &t)) != LEX_OK)
            return lexr(p, r);
        p->item = 0;
        if (t->type == T_CRLF) {
            p->st = S_EXPECT_END;
            return R_CONT;
        }
        if (t->type == T_LPAREN) {
            if (depth_push(p))
                return p->fatal;
            if (take(p, t))
                return p->fatal;
            p->st = S_ES_TAG1;
            return R_CONT;
        }
        if (t->type != T_ATOM || t->partial)
            return garble(p, "search return data expected");
        if (take(p, t))
            return p->fatal;
        if (IMAP_KW(t->ptr, t->len, "UID")) {
            p->item = MAILPROTO_IMAP_ITEM_UID;
            e = ev_new(p, MAILPROTO_IMAP_EV_ATOM);
            e->data.ptr = t->ptr;
            e->data.len = t->len;
            p->item = 0;
            return R_EVENT;
        }
        copy_name(p, t->ptr, t->len);
        if (IMAP_KW(t->ptr, t->len, "MIN"))
            p->item = MAILPROTO_IMAP_ITEM_MIN;
        else if (IMAP_KW(t->ptr, t->len, "MAX"))
            p->item = MAILPROTO_IMAP_ITEM_MAX;
        else if (IMAP_KW(t->ptr, t->len, "COUNT"))
            p->item = MAILPROTO_IMAP_ITEM_COUNT;
        else if (IMAP_KW(t->ptr, t->len, "MODSEQ"))
            p->item = MAILPROTO_IMAP_ITEM_MODSEQ;
        else if (IMAP_KW(t->ptr, t->len, "ALL")) {
            p->item = MAILPROTO_IMAP_ITEM_ALL;
            p->evflags = 0;
            p->st = S_ES_SET;
            return R_CONT;
        } else {
            walk_start(p, 0, 0, 0, S_ESEARCH); /* unknown return data: skip its value */
            return R_CONT;
        }
        p->st = S_ES_VAL;
        return R_CONT;
    }

    case S_ES_VAL:
        if ((r = mailproto__imap_peek(p, M_NORMAL, &t)) != LEX_OK)
            return lexr(p, r);
        if (peek_num(p, t, p->item == MAILPROTO_IMAP_ITEM_MODSEQ ? MODSEQ_MAX : U32MAX, &v))
            return garble(p, "search return value out of range");
        if (take(p, t))
            return p->fatal;
        e = ev_new(p, MAILPROTO_IMAP_EV_NUMBER);
        e->number = v;
        e->name.ptr = p->name;
        e->name.len = p->name_len;
        p->item = 0;
        p->st = S_ESEARCH;
        return R_EVENT;

    case S_ES_TAG1:
        if ((r = mailproto__imap_peek(p, M_NORMAL, &t)) != LEX_OK)
            return lexr(p, r);
        if (!peek_is(p, t, "TAG"))
            return garble(p, "TAG expected");
        if (take(p, t))
            return p->fatal;
        p->st = S_ES_TAG2;
        return R_CONT;

    case S_ES_TAG2:
        if ((r = mailproto__imap_peek(p, M_NORMAL, &t)) != LEX_OK)
            return lexr(p, r);
        p->item = MAILPROTO_IMAP_ITEM_TAG;
        return value_string(p, t, 0, S_ES_TAG3);

    case S_VANISHED:
        if ((r = mailproto__imap_peek(p, M_NORMAL, &t)) != LEX_OK)
            return lexr(p, r);
        if (t->type == T_LPAREN) {
            if (depth_push(p))
                return p->fatal;
            if (take(p, t))
                return p->fatal;
            p->st = S_VAN_E1;
            return R_CONT;
        }
        p->st = S_VAN_SET;
        p->evflags = 0;
        ev_new(p, MAILPROTO_IMAP_EV_VANISHED);
        return R_EVENT;

    case S_VAN_E1:
        if ((r = mailproto__imap_peek(p, M_NORMAL, &t)) != LEX_OK)
            return lexr(p, r);
        if (!peek_is(p, t, "EARLIER"))
            return garble(p, "EARLIER expected");
        if (take(p, t))
            return p->fatal;
        p->evflags = 0;
        p->st = S_VAN_E2;
        return R_CONT;

    case S_FETCH_OPEN:
        if ((r = mailproto__imap_peek(p, M_NORMAL, &t)) != LEX_OK)
            return lexr(p, r);
        if (t->type != T_LPAREN)
            return garble(p, "( expected after FETCH");
        if (depth_push(p))
            return p->fatal;
        if (take(p, t))
            return p->fatal;
        p->st = S_FETCH_ITEM;
        return R_CONT;

    case S_FETCH_ITEM:
        if ((r = mailproto__imap_peek(p, M_NORMAL, &t)) != LEX_OK)
            return lexr(p, r);
        p->item = 0;
        return fetch_item(p, t);

    case S_FETCH_NUM: {
        if ((r = mailproto__imap_peek(p, M_NORMAL, &t)) != LEX_OK)
            return lexr(p, r);
        uint64_t max = p->item == MAILPROTO_IMAP_ITEM_UID ? U32MAX : UINT64_MAX;
        if (peek_num(p, t, max, &v) || (v == 0 && p->item == MAILPROTO_IMAP_ITEM_UID))
            return garble(p, "number out of range");
        if (take(p, t))
            return p->fatal;
        e = ev_new(p, MAILPROTO_IMAP_EV_NUMBER);
        e->number = v;
        if (p->item == MAILPROTO_IMAP_ITEM_BINARY_SIZE) {
            e->name.ptr = p->sect;
            e->name.len = p->sect_len;
        }
        p->st = S_FETCH_ITEM;
        return R_EVENT;
    }

    case S_FETCH_STR:
        if ((r = mailproto__imap_peek(p, M_NORMAL, &t)) != LEX_OK)
            return lexr(p, r);
        if (t->type != T_QUOTED)
            return garble(p, "quoted date expected");
        return value_string(p, t, 0, S_FETCH_ITEM);

    case S_FETCH_MODSEQ1:
        if ((r = mailproto__imap_peek(p, M_NORMAL, &t)) != LEX_OK)
            return lexr(p, r);
        if (t->type != T_LPAREN)
            return garble(p, "( expected after MODSEQ");
        if (depth_push(p))
            return p->fatal;
        if (take(p, t))
            return p->fatal;
        p->st = S_FETCH_MODSEQ2;
        return R_CONT;

    case S_FETCH_BODYVAL:
        if ((r = mailproto__imap_peek(p, M_NORMAL, &t)) != LEX_OK)
            return lexr(p, r);
        if (t->type == T_LITERAL) {
            if (t->num > p->max_literal)
                return mailproto__imap_fail(p, MAILPROTO_E_LIMIT, "literal of %llu bytes exceeds the limit",
                                            (unsigned long long)t->num),
                       p->fatal;
            if (take(p, t))
                return p->fatal;
            e = ev_new(p, MAILPROTO_IMAP_EV_LITERAL_BEGIN);
            e->number = t->num;
            e->name.ptr = p->sect;
            e->name.len = p->sect_len;
            e->number2 = p->origin;
            e->flags = (p->has_origin ? MAILPROTO_IMAP_EVF_ORIGIN : 0) | (t->lit8 ? MAILPROTO_IMAP_EVF_LITERAL8 : 0);
            p->st = S_BODYLIT;
            return R_EVENT;
        }
        if (t->type != T_QUOTED && !peek_is(p, t, "NIL"))
            return garble(p, "message data expected");
        r = value_string(p, t, 1, S_FETCH_ITEM);
        if (r == R_EVENT) {
            p->ev.name.ptr = p->sect;
            p->ev.name.len = p->sect_len;
            if (p->has_origin) {
                p->ev.number2 = p->origin;
                p->ev.flags |= MAILPROTO_IMAP_EVF_ORIGIN;
            }
        }
        return r;

    case S_BODYLIT: {
        if (p->lit_left == 0) {
            e = ev_new(p, MAILPROTO_IMAP_EV_LITERAL_END);
            e->name.ptr = p->sect;
            e->name.len = p->sect_len;
            p->st = S_FETCH_ITEM;
            return R_EVENT;
        }
        size_t avail = p->end - p->start;
        if (avail == 0)
            return R_NEED;
        size_t k = avail < p->lit_left ? avail : (size_t)p->lit_left;
        e = ev_new(p, MAILPROTO_IMAP_EV_LITERAL_CHUNK);
        e->data.ptr = p->buf + p->start;
        e->data.len = k;
        p->start += k;
        p->lit_left -= k;
        return R_EVENT;
    }

    case S_STRLIT:
        return strlit_step(p);

    case S_WALK:
        return walk_step(p);

    case S_SKIP:
        r = mailproto__imap_skip(p);
        if (r == LEX_NEED)
            return R_NEED;
        if (r != LEX_OK)
            return p->fatal;
        p->st = S_START;
        p->item = 0;
        e = ev_new(p, MAILPROTO_IMAP_EV_UNPARSED);
        e->error = p->unparsed_err;
        e->name.ptr = p->name;
        e->name.len = p->name_len;
        return R_EVENT;

    default:
        return garble(p, "internal state");
    }
}

/* ---- public API ---- */

int mailproto_imap_parser_next(mailproto_imap_parser *p, const mailproto_imap_event **ev)
{
    if (!p || !ev)
        return MAILPROTO_E_INVALID;
    *ev = NULL;
    if (p->fatal)
        return p->fatal;
    for (;;) {
        int r = step(p);
        if (r == R_EVENT) {
            *ev = &p->ev;
            return MAILPROTO_EVENT;
        }
        if (r == R_CONT)
            continue;
        if (r == R_NEED) {
            if (!p->eof)
                return MAILPROTO_AGAIN;
            if (p->st == S_START && p->start == p->end)
                return MAILPROTO_E_CLOSED;
            mailproto__imap_fail(p, MAILPROTO_E_PROTOCOL, "connection closed in the middle of a response");
            return p->fatal;
        }
        if (!p->fatal)
            mailproto__imap_fail(p, MAILPROTO_E_PROTOCOL, "parser error");
        return p->fatal;
    }
}

int mailproto_imap_parser_drain_literal(mailproto_imap_parser *p, const mailproto_sink *sink)
{
    if (!p || !sink || !sink->write)
        return MAILPROTO_E_INVALID;
    if (p->st != S_BODYLIT)
        return MAILPROTO_E_STATE;
    for (;;) {
        const mailproto_imap_event *ev;
        int r = mailproto_imap_parser_next(p, &ev);
        if (r != MAILPROTO_EVENT)
            return r;
        if (ev->type == MAILPROTO_IMAP_EV_LITERAL_END)
            return MAILPROTO_OK;
        r = sink->write(sink->ctx, ev->data.ptr, ev->data.len);
        if (r < 0)
            return r;
    }
}

const char *mailproto_imap_parser_last_error(const mailproto_imap_parser *p)
{
    return p ? p->errmsg : "";
}

#define DEF(v, d) ((v) ? (v) : (d))

/* The config as this library knows it: a shorter (older) struct reads as
 * zero-filled; a longer one must have zeros beyond what we know. */
static int read_config(mailproto_imap_parser_config *c, const mailproto_imap_parser_config *cfg, size_t size)
{
    memset(c, 0, sizeof *c);
    if (!cfg)
        return MAILPROTO_OK;
    const unsigned char *raw = (const unsigned char *)cfg;
    for (size_t i = sizeof *c; i < size; i++)
        if (raw[i])
            return MAILPROTO_E_INVALID;
    memcpy(c, cfg, size < sizeof *c ? size : sizeof *c);
    return MAILPROTO_OK;
}

static int config_ok(const mailproto_imap_parser_config *c)
{
    size_t cap = DEF(c->input_size, 4096);
    return cap >= 512 && c->max_depth <= MAILPROTO_IMAP_MAX_DEPTH &&
           c->max_depth_preauth <= MAILPROTO_IMAP_MAX_DEPTH && cap <= SIZE_MAX - sizeof(struct mailproto_imap_parser);
}

size_t mailproto_imap_parser_memory_needed_sz(const mailproto_imap_parser_config *cfg, size_t cfg_size)
{
    mailproto_imap_parser_config c;
    if (read_config(&c, cfg, cfg_size) || !config_ok(&c))
        return 0;
    size_t cap = DEF(c.input_size, 4096);
    return sizeof(struct mailproto_imap_parser) + cap;
}

int mailproto_imap_parser_new(mailproto_imap_parser **out, const mailproto_imap_parser_config *cfg,
                              const mailproto_mem *mem)
{
    return mailproto_imap_parser_new_sz(out, cfg, sizeof *cfg, mem);
}

int mailproto_imap_parser_new_sz(mailproto_imap_parser **out, const mailproto_imap_parser_config *cfg,
                                 size_t cfg_size, const mailproto_mem *mem)
{
    if (!out)
        return MAILPROTO_E_INVALID;
    *out = NULL;
    mailproto_imap_parser_config c;
    if (read_config(&c, cfg, cfg_size))
        return MAILPROTO_E_INVALID;
    if (!config_ok(&c))
        return MAILPROTO_E_INVALID;
    size_t cap = DEF(c.input_size, 4096);
    mailproto_imap_parser *p = mailproto__calloc(mem, 1, sizeof *p);
    if (!p)
        return MAILPROTO_E_NOMEM;
    if (mem) {
        p->mem = *mem;
        p->has_mem = 1;
    }
    p->buf = mailproto__alloc(mem, cap);
    if (!p->buf) {
        mailproto__free(mem, p, sizeof *p);
        return MAILPROTO_E_NOMEM;
    }
    p->cap = cap;
    p->max_line = DEF(c.max_line, (uint64_t)1 << 20);
    p->max_depth = DEF(c.max_depth, 64);
    p->max_depth_pre = DEF(c.max_depth_preauth, 4);
    p->max_items = DEF(c.max_items, 4096);
    p->max_string = DEF(c.max_string, (uint64_t)1 << 20);
    p->max_literal = DEF(c.max_literal, UINT64_MAX);
    *out = p;
    return MAILPROTO_OK;
}

void mailproto_imap_parser_free(mailproto_imap_parser *p)
{
    if (!p)
        return;
    mailproto_mem m = p->mem;
    const mailproto_mem *mem = p->has_mem ? &m : NULL;
    mailproto__free(mem, p->buf, p->cap);
    mailproto__free(mem, p, sizeof *p);
}

void mailproto_imap_parser_reset(mailproto_imap_parser *p)
{
    if (!p)
        return;
    p->start = p->end = 0;
    p->eof = 0;
    p->fatal = 0;
    p->errmsg[0] = '\0';
    p->lit_left = 0;
    p->st = S_START;
    p->w_active = 0;
    mailproto__imap_lex_reset(p);
}

static void compact(mailproto_imap_parser *p)
{
    if (p->start > 0) {
        memmove(p->buf, p->buf + p->start, p->end - p->start);
        p->end -= p->start;
        p->start = 0;
    }
}

int mailproto_imap_parser_input_buf(mailproto_imap_parser *p, char **buf, size_t *cap)
{
    if (!p || !buf || !cap)
        return MAILPROTO_E_INVALID;
    if (p->eof)
        return MAILPROTO_E_STATE;
    compact(p);
    *buf = p->buf + p->end;
    *cap = p->cap - p->end;
    return MAILPROTO_OK;
}

int mailproto_imap_parser_input_done(mailproto_imap_parser *p, size_t n)
{
    if (!p || n > p->cap - p->end)
        return MAILPROTO_E_INVALID;
    p->end += n;
    return MAILPROTO_OK;
}

int mailproto_imap_parser_feed(mailproto_imap_parser *p, const void *data, size_t len, size_t *used)
{
    if (used)
        *used = 0;
    if (!p || (!data && len))
        return MAILPROTO_E_INVALID;
    if (p->eof)
        return MAILPROTO_E_STATE;
    if (p->end == p->cap)
        compact(p);
    size_t room = p->cap - p->end;
    if (room < len && p->start > 0) {
        compact(p);
        room = p->cap - p->end;
    }
    size_t k = len < room ? len : room;
    if (k)
        memcpy(p->buf + p->end, data, k);
    p->end += k;
    if (used)
        *used = k;
    return MAILPROTO_OK;
}

void mailproto_imap_parser_eof(mailproto_imap_parser *p)
{
    if (p)
        p->eof = 1;
}

void mailproto_imap_parser_set_authenticated(mailproto_imap_parser *p, int authenticated)
{
    if (p)
        p->authed = authenticated != 0;
}

size_t mailproto_imap_parser_memory(const mailproto_imap_parser *p)
{
    return p ? sizeof *p + p->cap : 0;
}

size_t mailproto_imap_parser_buffered(const mailproto_imap_parser *p)
{
    return p ? p->end - p->start : 0;
}
