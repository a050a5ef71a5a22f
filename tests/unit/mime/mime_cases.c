/* Writes every case of cases.h to DIR/<name>.eml and DIR/manifest.json for
 * the Python referee (referee.py).  Usage: mime_cases DIR [small] */
#include "cases.h"

static void json_str(FILE *f, const char *s, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 32)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void json_cstr(FILE *f, const char *s)
{
    if (s)
        json_str(f, s, strlen(s));
    else
        fputs("null", f);
}

static void json_addrs(FILE *f, const char *key, const case_addr *a)
{
    fprintf(f, ", \"%s\": [", key);
    for (int i = 0; i < CASE_MAX_ADDRS && a[i].addr; i++) {
        fputs(i ? ", [" : "[", f);
        json_cstr(f, a[i].name);
        fputs(", ", f);
        json_cstr(f, a[i].addr);
        fputs("]", f);
    }
    fputs("]", f);
}

static int sink_file(void *ctx, const void *d, size_t n)
{
    return fwrite(d, 1, n, (FILE *)ctx) == n ? 0 : MAILPROTO_E_IO;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: mime_cases DIR [small]\n");
        return 2;
    }
    int big = argc < 3;
    char path[4096];
    snprintf(path, sizeof path, "%s/manifest.json", argv[1]);
    FILE *man = fopen(path, "w");
    if (!man)
        return 1;
    fputs("[\n", man);
    for (int k = 0; k < N_CASES; k++) {
        case_ctx c;
        case_expect e;
        mailproto_mime *m;
        case_build(k, &c, &m, &e, big);
        snprintf(path, sizeof path, "%s/%s.eml", argv[1], e.name);
        FILE *f = fopen(path, "wb");
        if (!f)
            return 1;
        mailproto_sink s = {sink_file, f};
        uint64_t size = 0;
        int rc = mailproto_mime_size(m, &size);
        if (rc == 0)
            rc = mailproto_mime_write(m, &s);
        long written = ftell(f);
        fclose(f);
        if (rc != 0 || (uint64_t)written != size) {
            fprintf(stderr, "%s: rc %d (%s), size %llu, written %ld\n", e.name, rc,
                    mailproto_mime_last_error(m)->message, (unsigned long long)size, written);
            return 1;
        }
        fprintf(man, "%s{\"file\": \"%s.eml\", \"subject\": ", k ? ",\n" : "", e.name);
        json_cstr(man, e.subject);
        json_addrs(man, "from", e.from);
        json_addrs(man, "to", e.to);
        json_addrs(man, "cc", e.cc);
        fputs(", \"parts\": [", man);
        for (size_t i = 0; i < e.n_parts; i++) {
            const case_part *p = &e.parts[i];
            fprintf(man, "%s{\"type\": \"%s\", \"filename\": ", i ? ", " : "", p->type);
            json_cstr(man, p->filename);
            fputs(", \"cid\": ", man);
            json_cstr(man, p->cid);
            if (p->text) {
                fputs(", \"text\": ", man);
                json_cstr(man, p->text);
            } else if (p->data) {
                fputs(", \"hex\": \"", man);
                for (size_t j = 0; j < p->len; j++)
                    fprintf(man, "%02x", ((const unsigned char *)p->data)[j]);
                fputs("\"", man);
            } else if (p->gen_len) {
                fprintf(man, ", \"gen\": [%u, %llu]", p->gen_seed, (unsigned long long)p->gen_len);
            }
            fputs("}", man);
        }
        fputs("]}", man);
        case_free(&c, m);
    }
    fputs("\n]\n", man);
    fclose(man);
    return 0;
}
