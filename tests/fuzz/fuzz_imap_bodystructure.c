/* Fuzz target: ENVELOPE and BODYSTRUCTURE through the parser's token
 * events and the arena builder.  The input is wrapped in a FETCH response;
 * the first byte picks ENVELOPE or BODYSTRUCTURE.  Checks: no crash, the
 * part limit and depth limit hold, parent/child links are consistent. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mailproto/imap.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned char space[1 << 20];

static void check_tree(const mailproto_imap_body *root, unsigned max_parts)
{
    /* iterative pre-order walk */
    const mailproto_imap_body *n = root;
    unsigned parts = 0, depth = 0;
    while (n) {
        parts++;
        if (parts > max_parts || depth > 32)
            abort();
        unsigned kids = 0;
        for (const mailproto_imap_body *c = n->child; c; c = c->next) {
            if (c->parent != n)
                abort();
            kids++;
        }
        if (kids != n->nchildren || !n->type || !n->subtype)
            abort();
        if (n->child) {
            n = n->child;
            depth++;
            continue;
        }
        while (n != root && !n->next) {
            n = n->parent;
            depth--;
        }
        if (n == root)
            break;
        n = n->next;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int env = data[0] & 1;
    unsigned max_parts = (data[0] & 2) ? 5 : 0;
    const char *head = env ? "* 1 FETCH (ENVELOPE " : "* 1 FETCH (UID 1 BODYSTRUCTURE ";
    size_t hl = strlen(head);
    char *in = malloc(hl + size + 3);
    if (!in)
        return 0;
    memcpy(in, head, hl);
    memcpy(in + hl, data + 1, size - 1);
    memcpy(in + hl + size - 1, ")\r\n", 3);
    size_t len = hl + size + 2;

    mailproto_arena arena;
    mailproto_mem mem;
    mailproto_arena_init(&arena, space, sizeof space, &mem);
    mailproto_imap_builder b;
    int item = env ? MAILPROTO_IMAP_ITEM_ENVELOPE : MAILPROTO_IMAP_ITEM_BODYSTRUCTURE;
    mailproto_imap_build_begin(&b, &mem, item, max_parts);
    mailproto_imap_parser *p;
    if (mailproto_imap_parser_new(&p, NULL, NULL) != MAILPROTO_OK) {
        free(in);
        return 0;
    }
    mailproto_imap_parser_set_authenticated(p, 1);
    size_t off = 0;
    int brc = MAILPROTO_OK;
    for (;;) {
        const mailproto_imap_event *e;
        int r = mailproto_imap_parser_next(p, &e);
        if (r == MAILPROTO_EVENT) {
            if (e->type == MAILPROTO_IMAP_EV_UNPARSED)
                brc = MAILPROTO_E_PROTOCOL;
            if (brc == MAILPROTO_OK)
                brc = mailproto_imap_build_feed(&b, e);
            continue;
        }
        if (r != MAILPROTO_AGAIN)
            break;
        if (off == len) {
            mailproto_imap_parser_eof(p);
            continue;
        }
        size_t used;
        mailproto_imap_parser_feed(p, in + off, len - off, &used);
        off += used;
    }
    if (brc == MAILPROTO_EVENT && !env) {
        const mailproto_imap_body *root = mailproto_imap_build_body(&b);
        if (!root)
            abort();
        check_tree(root, max_parts ? max_parts : 10000);
    }
    mailproto_imap_parser_free(p);
    free(in);
    return 0;
}
