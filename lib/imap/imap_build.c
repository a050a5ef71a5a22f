/*
 * Builds ENVELOPE and BODYSTRUCTURE from the parser's token events into
 * caller memory (an arena, typically).  An explicit frame stack follows the
 * event paths; nothing recurses.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "imap_int.h"

enum { K_IGNORE = 0, K_BODY, K_PARAMS, K_DISP, K_LANG, K_ENV, K_ADDRLIST, K_ADDR };

#define BODY_DEPTH_MAX 32

static int berr(mailproto_imap_builder *b, int rc)
{
    if (!b->err)
        b->err = rc;
    return b->err;
}

static void *znew(mailproto_imap_builder *b, size_t size)
{
    void *p = mailproto__calloc(b->mem, 1, size);
    if (!p)
        berr(b, MAILPROTO_E_NOMEM);
    return p;
}

int mailproto_imap_build_begin(mailproto_imap_builder *b, const mailproto_mem *mem, int item, unsigned max_parts)
{
    if (!b)
        return MAILPROTO_E_INVALID;
    memset(b, 0, sizeof *b);
    if (item != MAILPROTO_IMAP_ITEM_ENVELOPE && item != MAILPROTO_IMAP_ITEM_BODYSTRUCTURE &&
        item != MAILPROTO_IMAP_ITEM_BODY)
        return MAILPROTO_E_INVALID;
    b->mem = mem;
    b->item = item;
    b->max_parts = max_parts ? max_parts : 10000;
    return MAILPROTO_OK;
}

/* The value of a scalar event as a new string (NULL for NIL); *num for numbers. */
static int take_value(mailproto_imap_builder *b, const mailproto_imap_event *ev, const char **str, uint64_t *num,
                      int *is_num)
{
    *str = NULL;
    *is_num = 0;
    if (ev->type == MAILPROTO_IMAP_EV_NUMBER) {
        char tmp[24];
        size_t k = mailproto__fmt(tmp, sizeof tmp, "%llu", (unsigned long long)ev->number);
        char *s = mailproto__alloc(b->mem, k + 1);
        if (!s)
            return berr(b, MAILPROTO_E_NOMEM);
        memcpy(s, tmp, k + 1);
        *str = s;
        *num = ev->number;
        *is_num = 1;
        return 0;
    }
    if (ev->flags & MAILPROTO_IMAP_EVF_NIL)
        return 0;
    size_t add = ev->data.len;
    if (!b->pbuf && !(ev->flags & MAILPROTO_IMAP_EVF_PARTIAL)) {
        if (add == SIZE_MAX)
            return berr(b, MAILPROTO_E_LIMIT);
        char *one = mailproto__alloc(b->mem, add + 1);
        if (!one)
            return berr(b, MAILPROTO_E_NOMEM);
        if (add)
            memcpy(one, ev->data.ptr, add);
        one[add] = '\0';
        *str = one;
        return 0;
    }
    size_t total;
    if (mailproto__add_overflow(b->plen, add, &total) || total == SIZE_MAX)
        return berr(b, MAILPROTO_E_LIMIT);
    char *nb = mailproto__realloc(b->mem, b->pbuf, b->pbuf ? b->plen + 1 : 0, total + 1);
    if (!nb)
        return berr(b, MAILPROTO_E_NOMEM);
    if (add)
        memcpy(nb + b->plen, ev->data.ptr, add);
    nb[total] = '\0';
    b->pbuf = nb;
    b->plen = total;
    if (ev->flags & MAILPROTO_IMAP_EVF_PARTIAL)
        return 1; /* more pieces follow */
    *str = nb;
    b->pbuf = NULL;
    b->plen = 0;
    return 0;
}

static int push(mailproto_imap_builder *b, int kind, void *obj)
{
    if (b->depth >= MAILPROTO_IMAP_MAX_DEPTH)
        return berr(b, MAILPROTO_E_LIMIT);
    b->depth++;
    memset(&b->st[b->depth], 0, sizeof b->st[b->depth]);
    b->st[b->depth].kind = kind;
    b->st[b->depth].obj = obj;
    return 0;
}

/* tail: where the parent's last child is remembered (NULL: walk the list) */
static mailproto_imap_body *new_body(mailproto_imap_builder *b, mailproto_imap_body *parent, void **tail)
{
    if (++b->parts > b->max_parts || b->body_depth >= BODY_DEPTH_MAX) {
        berr(b, MAILPROTO_E_LIMIT);
        return NULL;
    }
    mailproto_imap_body *n = znew(b, sizeof *n);
    if (!n)
        return NULL;
    n->parent = parent;
    if (parent) {
        mailproto_imap_body *last = tail ? *tail : NULL;
        if (last) {
            last->next = n;
        } else {
            mailproto_imap_body **pp = &parent->child;
            while (*pp)
                pp = &(*pp)->next;
            *pp = n;
        }
        if (tail)
            *tail = n;
        parent->nchildren++;
    }
    b->body_depth++;
    return n;
}

static int is_type(const mailproto_imap_body *n, const char *t, const char *st)
{
    return n->type && n->subtype && mailproto__span_ieq(n->type, strlen(n->type), t) &&
           mailproto__span_ieq(n->subtype, strlen(n->subtype), st);
}

/* Role of element f of a body list: 0 child, 1 type.., see below. */
enum { F_IGNORE, F_CHILD, F_TYPE, F_SUBTYPE, F_PARAMS, F_ID, F_DESC, F_ENC, F_OCTETS, F_LINES, F_ENV, F_BODY,
       F_MD5, F_DISP, F_LANG, F_LOC };

static int body_field(const mailproto_imap_builder *b, unsigned d, int is_open)
{
    mailproto_imap_body *n = b->st[d].obj;
    uint32_t f = b->st[d].field;
    unsigned nc = b->st[d].nchild;
    if (b->st[d].multi || (f == 0 && is_open)) {
        if (f == nc && is_open)
            return F_CHILD;
        if (f == nc)
            return F_SUBTYPE;
        static const int ext[] = {F_PARAMS, F_DISP, F_LANG, F_LOC};
        uint32_t e = f - nc - 1;
        return e < 4 ? ext[e] : F_IGNORE;
    }
    static const int base[] = {F_TYPE, F_SUBTYPE, F_PARAMS, F_ID, F_DESC, F_ENC, F_OCTETS};
    if (f < 7)
        return base[f];
    uint32_t e = f - 7;
    if (n->type && mailproto__span_ieq(n->type, strlen(n->type), "text")) {
        if (e == 0)
            return F_LINES;
        e--;
    } else if (is_type(n, "message", "rfc822") || is_type(n, "message", "global")) {
        if (e == 0)
            return F_ENV;
        if (e == 1)
            return F_BODY;
        if (e == 2)
            return F_LINES;
        e -= 3;
    }
    static const int ext[] = {F_MD5, F_DISP, F_LANG, F_LOC};
    return e < 4 ? ext[e] : F_IGNORE;
}

static int add_param(mailproto_imap_builder *b, mailproto_imap_param **list, const char *name, const char *value)
{
    mailproto_imap_param *p = znew(b, sizeof *p);
    if (!p)
        return b->err;
    p->name = name;
    p->value = value;
    while (*list)
        list = &(*list)->next;
    *list = p;
    return 0;
}

static mailproto_imap_address **env_list(mailproto_imap_envelope *e, unsigned f)
{
    switch (f) {
    case 2: return &e->from;
    case 3: return &e->sender;
    case 4: return &e->reply_to;
    case 5: return &e->to;
    case 6: return &e->cc;
    default: return &e->bcc;
    }
}

static int on_open(mailproto_imap_builder *b)
{
    unsigned d = b->depth;
    int kind = b->st[d].kind;
    if (kind == K_BODY) {
        mailproto_imap_body *n = b->st[d].obj;
        switch (body_field(b, d, 1)) {
        case F_CHILD: {
            b->st[d].multi = 1;
            b->st[d].nchild++;
            mailproto_imap_body *c = new_body(b, n, &b->st[d].aux);
            return c ? push(b, K_BODY, c) : b->err;
        }
        case F_BODY: {
            mailproto_imap_body *c = new_body(b, n, NULL);
            return c ? push(b, K_BODY, c) : b->err;
        }
        case F_PARAMS:
            push(b, K_PARAMS, &n->params);
            return b->err;
        case F_DISP:
            return push(b, K_DISP, n);
        case F_LANG:
            return push(b, K_LANG, n);
        case F_ENV: {
            n->envelope = znew(b, sizeof *n->envelope);
            return n->envelope ? push(b, K_ENV, n->envelope) : b->err;
        }
        default:
            return push(b, K_IGNORE, NULL);
        }
    }
    if (kind == K_DISP && b->st[d].field == 1) {
        mailproto_imap_body *n = b->st[d].obj;
        return push(b, K_PARAMS, &n->disp_params);
    }
    if (kind == K_ENV && b->st[d].field >= 2 && b->st[d].field <= 7) {
        push(b, K_ADDRLIST, env_list(b->st[d].obj, b->st[d].field));
        return b->err;
    }
    if (kind == K_ADDRLIST) {
        mailproto_imap_address *a = znew(b, sizeof *a);
        if (!a)
            return b->err;
        mailproto_imap_address **l = b->st[d].obj;
        while (*l)
            l = &(*l)->next;
        *l = a;
        return push(b, K_ADDR, a);
    }
    return push(b, K_IGNORE, NULL);
}

static int on_value(mailproto_imap_builder *b, const char *s, uint64_t num, int is_num)
{
    unsigned d = b->depth;
    uint32_t f = b->st[d].field;
    switch (b->st[d].kind) {
    case K_BODY: {
        mailproto_imap_body *n = b->st[d].obj;
        switch (body_field(b, d, 0)) {
        case F_TYPE: n->type = s; break;
        case F_SUBTYPE:
            n->subtype = s;
            if (b->st[d].multi)
                n->type = "multipart";
            break;
        case F_ID: n->id = s; break;
        case F_DESC: n->description = s; break;
        case F_ENC: n->encoding = s; break;
        case F_OCTETS:
            if (!is_num)
                return berr(b, MAILPROTO_E_PROTOCOL);
            n->octets = num;
            break;
        case F_LINES:
            if (!is_num)
                return berr(b, MAILPROTO_E_PROTOCOL);
            n->lines = num;
            break;
        case F_MD5: n->md5 = s; break;
        case F_LANG: n->language = s; break;
        case F_LOC: n->location = s; break;
        case F_CHILD:
            if (f == 0)
                n->type = s;  /* a single part after all */
            break;
        default: break;
        }
        break;
    }
    case K_PARAMS:
        if (f % 2 == 0)
            b->st[d].aux = (void *)(uintptr_t)s;
        else
            add_param(b, b->st[d].obj, b->st[d].aux, s);
        break;
    case K_DISP:
        if (f == 0)
            ((mailproto_imap_body *)b->st[d].obj)->disposition = s;
        break;
    case K_LANG: {
        mailproto_imap_body *n = b->st[d].obj;
        if (!n->language)
            n->language = s;
        break;
    }
    case K_ENV: {
        mailproto_imap_envelope *e = b->st[d].obj;
        if (f == 0) e->date = s;
        else if (f == 1) e->subject = s;
        else if (f == 8) e->in_reply_to = s;
        else if (f == 9) e->message_id = s;
        break;
    }
    case K_ADDR: {
        mailproto_imap_address *a = b->st[d].obj;
        if (f == 0) a->name = s;
        else if (f == 1) a->adl = s;
        else if (f == 2) a->mailbox = s;
        else if (f == 3) a->host = s;
        break;
    }
    default:
        break;
    }
    b->st[d].field++;
    return b->err;
}

static int on_close(mailproto_imap_builder *b)
{
    unsigned d = b->depth;
    if (b->st[d].kind == K_BODY) {
        mailproto_imap_body *n = b->st[d].obj;
        if (!n->subtype || !n->type)
            return berr(b, MAILPROTO_E_PROTOCOL);
        b->body_depth--;
    } else if (b->st[d].kind == K_ADDR) {
        mailproto_imap_address *a = b->st[d].obj;
        if (!a->host)
            a->group = a->mailbox ? 1 : 2;
    }
    if (d == 1) {
        b->depth = 0;
        b->done = 1;
        return MAILPROTO_EVENT;
    }
    b->depth--;
    b->st[b->depth].field++;
    return b->err;
}

int mailproto_imap_build_feed(mailproto_imap_builder *b, const mailproto_imap_event *ev)
{
    if (!b || !ev)
        return MAILPROTO_E_INVALID;
    if (b->err)
        return b->err;
    if (b->done)
        return MAILPROTO_EVENT;
    if (ev->item != b->item)
        return MAILPROTO_OK;
    if (b->depth == 0) {
        if (ev->type != MAILPROTO_IMAP_EV_OPEN || ev->path_len != 0) {
            if (ev->type == MAILPROTO_IMAP_EV_STRING && (ev->flags & MAILPROTO_IMAP_EVF_NIL) &&
                b->item == MAILPROTO_IMAP_ITEM_ENVELOPE) {
                b->done = 1; /* ENVELOPE NIL */
                return MAILPROTO_EVENT;
            }
            return berr(b, MAILPROTO_E_PROTOCOL);
        }
        if (b->item == MAILPROTO_IMAP_ITEM_ENVELOPE) {
            b->env = znew(b, sizeof *b->env);
            return b->env ? push(b, K_ENV, b->env) : b->err;
        }
        b->root = new_body(b, NULL, NULL);
        return b->root ? push(b, K_BODY, b->root) : b->err;
    }
    switch (ev->type) {
    case MAILPROTO_IMAP_EV_OPEN:
        return on_open(b);
    case MAILPROTO_IMAP_EV_CLOSE:
        return on_close(b);
    case MAILPROTO_IMAP_EV_STRING:
    case MAILPROTO_IMAP_EV_ATOM:
    case MAILPROTO_IMAP_EV_NUMBER: {
        const char *s;
        uint64_t num = 0;
        int is_num;
        int r = take_value(b, ev, &s, &num, &is_num);
        if (r == 1)
            return MAILPROTO_OK;
        if (r)
            return r;
        return on_value(b, s, num, is_num);
    }
    default:
        return MAILPROTO_OK;
    }
}

const mailproto_imap_envelope *mailproto_imap_build_envelope(const mailproto_imap_builder *b)
{
    return b && b->done && !b->err ? b->env : NULL;
}

const mailproto_imap_body *mailproto_imap_build_body(const mailproto_imap_builder *b)
{
    return b && b->done && !b->err ? b->root : NULL;
}
