/*
 * Test side: a small, independent parser of IMAP client commands, as a
 * server would read them.  It takes the bytes the encoder produced (its
 * fragments concatenated, caller literals inserted) and gives back the
 * tag, the command words and the arguments, checking that the command is
 * exactly one line-with-literals: no CR or LF outside literals, literal
 * counts that match, nothing after the final CRLF.
 */
#ifndef CMD_PARSE_H
#define CMD_PARSE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CP_MAX_ARGS 64

typedef struct cp_arg {
    int kind;              /* 'a' atom, 'q' quoted, 'l' literal, '(' or ')' */
    int nonsync;           /* literal was {n+} */
    char *data;            /* unescaped bytes (malloc'd) */
    size_t len;
} cp_arg;

typedef struct cp_cmd {
    cp_arg arg[CP_MAX_ARGS];
    size_t n;
} cp_cmd;

static inline void cp_free(cp_cmd *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->arg[i].data);
    c->n = 0;
}

static inline int cp_add(cp_cmd *c, int kind, const char *p, size_t len)
{
    if (c->n == CP_MAX_ARGS)
        return -1;
    cp_arg *a = &c->arg[c->n++];
    a->kind = kind;
    a->nonsync = 0;
    a->data = malloc(len + 1);
    if (len)
        memcpy(a->data, p, len);
    a->data[len] = '\0';
    a->len = len;
    return 0;
}

/* Returns 0 when s[0..len) is exactly one well-formed command. */
static inline int cp_parse(const char *s, size_t len, cp_cmd *c)
{
    size_t i = 0;
    c->n = 0;
    int need_sep = 0;
    while (i < len) {
        char ch = s[i];
        if (ch == '\r') {
            if (i + 2 != len || s[i + 1] != '\n')
                return -1;
            return 0;
        }
        if (ch == ' ') {
            if (!need_sep)
                return -1; /* double space or leading space */
            need_sep = 0;
            i++;
            continue;
        }
        if (ch == ')') {
            if (cp_add(c, ')', ")", 1))
                return -1;
            i++;
            need_sep = 1;
            continue;
        }
        if (need_sep)
            return -1;
        if (ch == '(') {
            if (cp_add(c, '(', "(", 1))
                return -1;
            i++;
            continue; /* no space after "(" */
        }
        if (ch == '"') {
            char *tmp = malloc(len);
            size_t k = 0;
            i++;
            for (;;) {
                if (i >= len || s[i] == '\r' || s[i] == '\n' || s[i] == 0) {
                    free(tmp);
                    return -1;
                }
                if (s[i] == '"')
                    break;
                if (s[i] == '\\') {
                    if (i + 1 >= len || (s[i + 1] != '"' && s[i + 1] != '\\')) {
                        free(tmp);
                        return -1;
                    }
                    i++;
                }
                tmp[k++] = s[i++];
            }
            i++;
            int r = cp_add(c, 'q', tmp, k);
            free(tmp);
            if (r)
                return -1;
            need_sep = 1;
            continue;
        }
        if (ch == '{') {
            size_t j = i + 1;
            uint64_t n = 0;
            if (j >= len || s[j] < '0' || s[j] > '9')
                return -1;
            while (j < len && s[j] >= '0' && s[j] <= '9') {
                n = n * 10 + (uint64_t)(s[j] - '0');
                if (n > len)
                    return -1;
                j++;
            }
            int ns = 0;
            if (j < len && s[j] == '+') {
                ns = 1;
                j++;
            }
            if (j + 3 > len || s[j] != '}' || s[j + 1] != '\r' || s[j + 2] != '\n')
                return -1;
            j += 3;
            if (n > len - j)
                return -1;
            if (cp_add(c, 'l', s + j, (size_t)n))
                return -1;
            c->arg[c->n - 1].nonsync = ns;
            i = j + (size_t)n;
            need_sep = 1;
            continue;
        }
        /* atom-ish: anything up to SP, ( ) or CR; brackets of BODY[...] may hold
         * spaces (when no ']' closes them, it was a plain astring after all) */
        size_t j = i;
        int br = 0, nobr = 0;
    rescan:
        j = i;
        br = 0;
        while (j < len) {
            unsigned char u = (unsigned char)s[j];
            if (u == '[' && !br && !nobr) {
                /* only a FETCH section ("BODY[...]") may hold spaces */
                static const char *pre[] = {"BODY", "BODY.PEEK", "BINARY", "BINARY.PEEK", "BINARY.SIZE"};
                for (size_t q = 0; q < sizeof pre / sizeof pre[0]; q++)
                    if (j - i == strlen(pre[q]) && strncasecmp(s + i, pre[q], j - i) == 0)
                        br = 1;
                j++;
                continue;
            }
            if (u == ']' && br)
                br--;
            if (!br && (u == ' ' || u == '(' || u == ')' || u == '\r'))
                break;
            if (u < 0x20 || u == 0x7f || u == '"' || u == '{') {
                if (br) {
                    nobr = 1;
                    goto rescan;
                }
                return -1;
            }
            j++;
        }
        if (br && !nobr) {
            nobr = 1;
            goto rescan;
        }
        if (cp_add(c, 'a', s + i, j - i))
            return -1;
        i = j;
        need_sep = 1;
    }
    return -1; /* no CRLF */
}

#endif
