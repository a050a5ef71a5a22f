/*
 * The IMAP client handle over scripted server bytes (engine mode), every
 * script delivered whole, byte by byte and split at every position.
 */
#include "client_script.h"

#define CAPS_ALL "IMAP4rev1 LITERAL+ IDLE MOVE UIDPLUS CONDSTORE QRESYNC ENABLE ID NAMESPACE SPECIAL-USE " \
                 "LIST-STATUS LIST-EXTENDED ESEARCH SORT UNSELECT"
#define PREAUTH_ALL "S:* PREAUTH [CAPABILITY " CAPS_ALL "] ready\r\n"

static script base_plain(void) __attribute__((unused));
static script base_plain(void)
{
    script s;
    memset(&s, 0, sizeof s);
    s.cfg.security = MAILPROTO_SEC_PLAIN;
    return s;
}

/* ---- actions ---- */

typedef struct actx {
    mailproto_imap_uidset set;
    mailproto_imap_range ranges[8];
    mailproto_imap_status_items st;
    char names[1024];
    size_t names_len;
    mailproto_source src;
    char sink_buf[256];
    size_t sink_len;
    int rc;
} actx;

static actx A;

static int list_cb(void *ctx, const mailproto_imap_list_entry *e)
{
    actx *a = ctx;
    int n = snprintf(a->names + a->names_len, sizeof a->names - a->names_len, "%s%s|%c|%x%s;", e->is_status ? "S:" : "",
                     e->name, e->delim ? e->delim : '-', e->attrs, "");
    if (e->is_status)
        n += snprintf(a->names + a->names_len + n, sizeof a->names - a->names_len - n, "m%llu u%llu;",
                      (unsigned long long)e->status.messages, (unsigned long long)e->status.unseen);
    a->names_len += (size_t)n;
    return 0;
}

static int sink_cb(void *ctx, const void *d, size_t n)
{
    actx *a = ctx;
    if (n > sizeof a->sink_buf - a->sink_len)
        return MAILPROTO_E_LIMIT;
    memcpy(a->sink_buf + a->sink_len, d, n);
    a->sink_len += n;
    return MAILPROTO_OK;
}

static void act(mailproto_imap *h, const char *name, void *ctx)
{
    (void)ctx;
    int rc = MAILPROTO_E_INVALID;
    mailproto_imap_range r1 = {1, 3};
    mailproto_imap_range r2[2] = {{5, 5}, {7, 0}};
    if (!strcmp(name, "noop")) rc = mailproto_imap_noop(h);
    else if (!strcmp(name, "capability")) rc = mailproto_imap_capability(h);
    else if (!strcmp(name, "logout")) rc = mailproto_imap_logout(h);
    else if (!strcmp(name, "namespace")) rc = mailproto_imap_namespace(h);
    else if (!strcmp(name, "id")) {
        static const char *const kv[] = {"name", "mailproto", "version", NULL};
        rc = mailproto_imap_id(h, kv, 2);
    } else if (!strcmp(name, "idnil")) rc = mailproto_imap_id(h, NULL, 0);
    else if (!strcmp(name, "enable")) rc = mailproto_imap_enable(h, "QRESYNC UTF8=ACCEPT");
    else if (!strcmp(name, "list")) {
        A.names_len = 0;
        rc = mailproto_imap_list(h, "", "*", MAILPROTO_IMAP_LIST_SPECIAL_USE, list_cb, &A);
    } else if (!strcmp(name, "liststatus")) {
        A.names_len = 0;
        rc = mailproto_imap_list(h, "", "%", MAILPROTO_IMAP_LIST_STATUS, list_cb, &A);
    } else if (!strcmp(name, "lsub")) {
        A.names_len = 0;
        rc = mailproto_imap_lsub(h, "", "*", list_cb, &A);
    } else if (!strcmp(name, "create")) rc = mailproto_imap_create(h, "Entw\xc3\xbcrfe");
    else if (!strcmp(name, "delete")) rc = mailproto_imap_delete(h, "Old");
    else if (!strcmp(name, "rename")) rc = mailproto_imap_rename(h, "A b", "C");
    else if (!strcmp(name, "subscribe")) rc = mailproto_imap_subscribe(h, "INBOX");
    else if (!strcmp(name, "unsubscribe")) rc = mailproto_imap_unsubscribe(h, "Trash");
    else if (!strcmp(name, "select")) rc = mailproto_imap_select(h, "INBOX", 0);
    else if (!strcmp(name, "selectcs")) rc = mailproto_imap_select(h, "INBOX", MAILPROTO_IMAP_CONDSTORE);
    else if (!strcmp(name, "examine")) rc = mailproto_imap_select(h, "INBOX", MAILPROTO_IMAP_EXAMINE);
    else if (!strcmp(name, "qresync")) {
        mailproto_imap_range k = {1, 20};
        rc = mailproto_imap_select_qresync(h, "INBOX", 0, 67890007, 90060115194045000ull, &k, 1);
    } else if (!strcmp(name, "status")) {
        rc = mailproto_imap_status(h, "INBOX", MAILPROTO_IMAP_STATUS_MESSAGES | MAILPROTO_IMAP_STATUS_UNSEEN |
                                                   MAILPROTO_IMAP_STATUS_UIDNEXT | MAILPROTO_IMAP_STATUS_UIDVALIDITY,
                                   &A.st);
    } else if (!strcmp(name, "fetch")) rc = mailproto_imap_fetch(h, 0, 1, 0, "(UID FLAGS)");
    else if (!strcmp(name, "uidfetch")) rc = mailproto_imap_fetch_set(h, 1, r2, 2, "(FLAGS)", 12345, 1, NULL);
    else if (!strcmp(name, "body")) {
        static mailproto_sink sk;
        sk.write = sink_cb;
        sk.ctx = &A;
        A.sink_len = 0;
        rc = mailproto_imap_fetch_body(h, 1, 42, "1.2", 0, 0, &sk);
    } else if (!strcmp(name, "partial")) rc = mailproto_imap_fetch_body(h, 1, 42, "", 100, 50, NULL);
    else if (!strcmp(name, "search")) {
        mailproto_imap_criteria c;
        mailproto_imap_criteria_init(&c);
        mailproto_imap_criteria_key(&c, "UNSEEN");
        mailproto_imap_criteria_string(&c, "FROM", "ann@example.org");
        mailproto_imap_criteria_date(&c, "SINCE", 2024, 2, 1);
        mailproto_imap_criteria_number(&c, "LARGER", 1000);
        mailproto_imap_criteria_string(&c, "SUBJECT", "say \"hi\"");
        A.set.ranges = A.ranges;
        A.set.cap = 8;
        rc = mailproto_imap_search(h, 1, &c, 0, &A.set);
    } else if (!strcmp(name, "search8")) {
        mailproto_imap_criteria c;
        mailproto_imap_criteria_init(&c);
        mailproto_imap_criteria_string(&c, "SUBJECT", "gr\xc3\xbc\xc3\x9f");
        A.set.ranges = A.ranges;
        A.set.cap = 8;
        rc = mailproto_imap_search(h, 0, &c, 0, &A.set);
    } else if (!strcmp(name, "esearch")) {
        A.set.ranges = A.ranges;
        A.set.cap = 8;
        rc = mailproto_imap_search(h, 1, NULL, MAILPROTO_IMAP_RETURN_MIN | MAILPROTO_IMAP_RETURN_MAX |
                                                   MAILPROTO_IMAP_RETURN_COUNT | MAILPROTO_IMAP_RETURN_ALL, &A.set);
    } else if (!strcmp(name, "sort")) {
        A.set.ranges = A.ranges;
        A.set.cap = 8;
        rc = mailproto_imap_sort(h, 1, "REVERSE DATE", NULL, &A.set);
    } else if (!strcmp(name, "store")) rc = mailproto_imap_store(h, 1, &r1, 1, MAILPROTO_IMAP_STORE_ADD | MAILPROTO_IMAP_STORE_SILENT, "\\Seen \\Flagged", 0);
    else if (!strcmp(name, "storeu")) rc = mailproto_imap_store(h, 0, &r1, 1, MAILPROTO_IMAP_STORE_REMOVE, "$Junk", 320162338);
    else if (!strcmp(name, "copy")) rc = mailproto_imap_copy(h, 1, &r1, 1, "Archive");
    else if (!strcmp(name, "move")) rc = mailproto_imap_move(h, 1, &r1, 1, "Trash");
    else if (!strcmp(name, "expunge")) rc = mailproto_imap_expunge(h);
    else if (!strcmp(name, "uidexpunge")) rc = mailproto_imap_uid_expunge(h, &r1, 1);
    else if (!strcmp(name, "close")) rc = mailproto_imap_close(h);
    else if (!strcmp(name, "unselect")) rc = mailproto_imap_unselect(h);
    else if (!strcmp(name, "idle")) rc = mailproto_imap_idle(h);
    else if (!strcmp(name, "done")) rc = mailproto_imap_idle_done(h);
    else if (!strcmp(name, "raw")) rc = mailproto_imap_raw(h, "GETQUOTAROOT INBOX");
    else if (!strcmp(name, "append")) {
        mailproto_source_mem(&A.src, "Subject: x\r\n\r\nhi\r\n", 18);
        rc = mailproto_imap_append(h, "Sent", "\\Seen", 0, 0, &A.src);
    } else if (!strcmp(name, "appenddate")) {
        mailproto_source_mem(&A.src, "Subject: x\r\n\r\nhi\r\n", 18);
        rc = mailproto_imap_append(h, "Sent", NULL, 837570265, -420, &A.src);
    } else if (!strcmp(name, "fetch50")) {
        for (uint32_t i = 1; i <= 50; i++)
            assert_int_equal(mailproto_imap_fetch(h, 1, i, i, "(FLAGS)"), MAILPROTO_AGAIN);
        rc = MAILPROTO_AGAIN;
    } else
        fail_msg("unknown action %s", name);
    A.rc = rc;
}

static void run_script(script *s) { s->act = act; script_run_all(s); }

/* ---- connection phase ---- */

static void test_starttls_auth_caps_refresh(void **state)
{
    (void)state;
    script s;
    memset(&s, 0, sizeof s);
    s.cfg.username = "alice";
    s.cfg.password = "s3cret!";
    SET_STEPS(s,
        /* untagged data and capabilities before TLS: all forgotten */
        "S:* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN LOGINDISABLED] hi\r\n",
        "C:ABCD1 STARTTLS\r\n",
        "S:* 9 EXISTS\r\n* OK [ALERT] plaintext alert\r\nABCD1 OK begin\r\n",
        "TLS",
        "C:ABCD2 CAPABILITY\r\n",
        "S:* CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN AUTH=XOAUTH2\r\nABCD2 OK done\r\n",
        "C:ABCD3 AUTHENTICATE PLAIN AGFsaWNlAHMzY3JldCE=\r\n",
        "S:ABCD3 OK logged in\r\n",
        "C:ABCD4 CAPABILITY\r\n",
        "S:* CAPABILITY IMAP4rev1 IDLE MOVE\r\nABCD4 OK done\r\n",
        "DO:noop",
        "C:ABCD5 NOOP\r\n",
        "S:ABCD5 OK\r\n");
    s.expect_log = "STARTTLS;READY;DONE 1 OK;";
    run_script(&s);
    assert_null(strstr(s.trace.buf, "s3cret"));
    assert_null(strstr(s.trace.buf, "AGFsaWNlAHMzY3JldCE="));
    assert_true(s.trace.secrets >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_starttls_auth_caps_refresh),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
