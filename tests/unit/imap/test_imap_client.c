/*
 * The IMAP client handle over scripted server bytes (engine mode), every
 * script delivered whole, byte by byte and split at every position.
 */
#include "client_script.h"

#define CAPS_ALL "IMAP4rev1 LITERAL+ IDLE MOVE UIDPLUS CONDSTORE QRESYNC ENABLE ID NAMESPACE SPECIAL-USE " \
                 "LIST-STATUS LIST-EXTENDED ESEARCH SORT UNSELECT"
#define PREAUTH_ALL "S:* PREAUTH [CAPABILITY " CAPS_ALL "] ready\r\n"

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


static void test_starttls_injection(void **state)
{
    (void)state;
    script s;
    memset(&s, 0, sizeof s);
    s.cfg.username = "alice";
    s.cfg.password = "pw";
    s.whole_only = 1; /* the injected bytes must arrive with the go-ahead */
    SET_STEPS(s, "S:* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] hi\r\n", "C:ABCD1 STARTTLS\r\n",
              "S:ABCD1 OK begin\r\nABCD2 OK LOGIN done\r\n* 1 EXISTS\r\n");
    s.expect_log = "ERR MAILPROTO_E_STARTTLS_INJECTION;";
    run_script(&s);
}

/* Split anywhere after the go-ahead: the engine takes no plaintext byte
 * more (the rest goes to the TLS layer), and sends nothing. */
static void test_starttls_no_plaintext_after_go_ahead(void **state)
{
    (void)state;
    script s;
    memset(&s, 0, sizeof s);
    s.cfg.username = "alice";
    s.cfg.password = "pw";
    SET_STEPS(s, "S:* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] hi\r\n", "C:ABCD1 STARTTLS\r\n",
              "S:ABCD1 OK begin\r\n", "S:ABCD2 OK LOGIN done\r\n* 1 EXISTS\r\n");
    s.expect_log = "STARTTLS;";
    run_script(&s);
}

static void test_starttls_refused(void **state)
{
    (void)state;
    script s;
    memset(&s, 0, sizeof s);
    SET_STEPS(s, "S:* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n", "C:ABCD1 STARTTLS\r\n", "S:ABCD1 NO not now\r\n");
    s.expect_log = "ERR MAILPROTO_E_TLS_REQUIRED;";
    run_script(&s);
}

static void test_no_starttls_offered(void **state)
{
    (void)state;
    script s;
    memset(&s, 0, sizeof s);
    s.cfg.username = "alice";
    s.cfg.password = "pw";
    SET_STEPS(s, "S:* OK hi\r\n", "C:ABCD1 CAPABILITY\r\n", "S:* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\nABCD1 OK\r\n");
    s.expect_log = "ERR MAILPROTO_E_TLS_REQUIRED;";
    run_script(&s);
}

static void test_capability_fails_tls_required(void **state)
{
    (void)state;
    script s;
    memset(&s, 0, sizeof s);
    SET_STEPS(s, "S:* OK hi\r\n", "C:ABCD1 CAPABILITY\r\n", "S:ABCD1 BAD not implemented\r\n");
    s.expect_log = "ERR MAILPROTO_E_TLS_REQUIRED;";
    run_script(&s);
}

static void test_preauth_tls_required(void **state)
{
    (void)state;
    script s;
    memset(&s, 0, sizeof s);
    s.cfg.username = "alice";
    s.cfg.password = "pw";
    SET_STEPS(s, "S:* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n", "DO:select");
    s.expect_log = "ERR MAILPROTO_E_TLS_REQUIRED;";
    run_script(&s);
    assert_int_equal(A.rc, MAILPROTO_E_TLS_REQUIRED);
}

static void test_preauth_implicit_tls(void **state)
{
    (void)state;
    script s;
    memset(&s, 0, sizeof s);
    s.cfg.security = MAILPROTO_SEC_TLS;
    SET_STEPS(s, "TLS", "S:* PREAUTH [CAPABILITY IMAP4rev1] hi\r\n", "DO:noop", "C:ABCD1 NOOP\r\n", "S:ABCD1 OK\r\n");
    s.expect_log = "STARTTLS;READY;DONE 1 OK;";
    run_script(&s);
}

static void test_logindisabled(void **state)
{
    (void)state;
    script s;
    memset(&s, 0, sizeof s);
    s.cfg.username = "alice";
    s.cfg.password = "pw";
    s.cfg.auth_mech = MAILPROTO_AUTH_LOGIN;
    SET_STEPS(s, "S:* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n", "C:ABCD1 STARTTLS\r\n", "S:ABCD1 OK go\r\n", "TLS",
              "C:ABCD2 CAPABILITY\r\n", "S:* CAPABILITY IMAP4rev1 LOGINDISABLED AUTH=PLAIN\r\nABCD2 OK\r\n");
    s.expect_log = "STARTTLS;ERR MAILPROTO_E_UNSUPPORTED;";
    run_script(&s);
}

/* default mechanism choice falls back to LOGIN only when allowed */
static void test_login_and_logindisabled_fallback(void **state)
{
    (void)state;
    script s;
    memset(&s, 0, sizeof s);
    s.cfg.security = MAILPROTO_SEC_TLS;
    s.cfg.username = "al ice";
    s.cfg.password = "p\"w";
    SET_STEPS(s, "TLS", "S:* OK [CAPABILITY IMAP4rev1] hi\r\n", "C:ABCD1 LOGIN \"al ice\" \"p\\\"w\"\r\n",
              "S:ABCD1 OK [CAPABILITY IMAP4rev1 IDLE] welcome\r\n", "DO:noop", "C:ABCD2 NOOP\r\n", "S:ABCD2 OK\r\n");
    s.expect_log = "STARTTLS;READY;DONE 1 OK;";
    run_script(&s);
    assert_null(strstr(s.trace.buf, "p\"w"));
    assert_null(strstr(s.trace.buf, "p\\\"w"));
    assert_non_null(strstr(s.trace.buf, "ABCD1 LOGIN "));

    memset(&s, 0, sizeof s);
    s.cfg.security = MAILPROTO_SEC_TLS;
    s.cfg.username = "alice";
    s.cfg.password = "pw";
    SET_STEPS(s, "TLS", "S:* OK [CAPABILITY IMAP4rev1 LOGINDISABLED] hi\r\n");
    s.expect_log = "STARTTLS;ERR MAILPROTO_E_UNSUPPORTED;";
    run_script(&s);
}

static void test_auth_failure(void **state)
{
    (void)state;
    script s;
    memset(&s, 0, sizeof s);
    s.cfg.security = MAILPROTO_SEC_TLS;
    s.cfg.username = "alice";
    s.cfg.password = "wrong";
    SET_STEPS(s, "TLS", "S:* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n", "C:ABCD1 AUTHENTICATE PLAIN\r\n",
              "S:+ \r\n", "C:AGFsaWNlAHdyb25n\r\n", "S:ABCD1 NO [AUTHENTICATIONFAILED] bad\r\n");
    s.expect_log = "STARTTLS;ERR MAILPROTO_E_AUTH;";
    run_script(&s);
    assert_null(strstr(s.trace.buf, "wrong"));
    assert_null(strstr(s.trace.buf, "AGFsaWNlAHdyb25n"));
}

static void test_plaintext_auth_refused(void **state)
{
    (void)state;
    script s = base_plain();
    s.cfg.username = "alice";
    s.cfg.password = "pw";
    SET_STEPS(s, "S:* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n");
    s.expect_log = "ERR MAILPROTO_E_TLS_REQUIRED;";
    run_script(&s);
    s.cfg.allow_plaintext_auth = 1;
    SET_STEPS(s, "S:* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n", "C:ABCD1 AUTHENTICATE PLAIN\r\n", "S:+\r\n",
              "C:AGFsaWNlAHB3\r\n", "S:ABCD1 OK\r\n", "C:ABCD2 CAPABILITY\r\n",
              "S:* CAPABILITY IMAP4rev1 IDLE\r\nABCD2 OK\r\n");
    s.expect_log = "READY;";
    run_script(&s);
}

static void test_xoauth2_and_cram(void **state)
{
    (void)state;
    script s;
    memset(&s, 0, sizeof s);
    s.cfg.security = MAILPROTO_SEC_TLS;
    s.cfg.username = "u";
    s.cfg.oauth_token = "tok3n";
    SET_STEPS(s, "TLS", "S:* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2] hi\r\n",
              "C:ABCD1 AUTHENTICATE XOAUTH2 dXNlcj11AWF1dGg9QmVhcmVyIHRvazNuAQE=\r\n",
              "S:ABCD1 OK [CAPABILITY IMAP4rev1] ok\r\n");
    s.expect_log = "STARTTLS;READY;";
    run_script(&s);
    assert_null(strstr(s.trace.buf, "tok3n"));
    assert_null(strstr(s.trace.buf, "dXNlcj11"));

    memset(&s, 0, sizeof s);
    s.cfg.security = MAILPROTO_SEC_TLS;
    s.cfg.username = "tim";
    s.cfg.password = "tanstaaftanstaaf";
    /* RFC 2195 example */
    SET_STEPS(s, "TLS", "S:* OK [CAPABILITY IMAP4rev1 AUTH=CRAM-MD5] hi\r\n", "C:ABCD1 AUTHENTICATE CRAM-MD5\r\n",
              "S:+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n",
              "C:dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n", "S:ABCD1 OK\r\n", "C:ABCD2 CAPABILITY\r\n",
              "S:* CAPABILITY IMAP4rev1\r\nABCD2 OK\r\n");
    s.expect_log = "STARTTLS;READY;";
    run_script(&s);
    assert_null(strstr(s.trace.buf, "tanstaaf"));
    assert_null(strstr(s.trace.buf, "dGltIGI5"));
}

/* security.md row 3: the mechanism is chosen from what the server said
 * over TLS (SCRAM), not from the plaintext list (PLAIN only). */
static void test_no_sasl_downgrade(void **state)
{
    (void)state;
    script s;
    memset(&s, 0, sizeof s);
    s.cfg.username = "alice";
    s.cfg.password = "pw";
    SET_STEPS(s, "S:* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] hi\r\n", "C:ABCD1 STARTTLS\r\n",
              "S:ABCD1 OK go\r\n", "TLS", "C:ABCD2 CAPABILITY\r\n",
              "S:* CAPABILITY IMAP4rev1 AUTH=SCRAM-SHA-256 AUTH=PLAIN\r\nABCD2 OK\r\n",
              "C:ABCD3 AUTHENTICATE SCRAM-SHA-256\r\n", "S:+ \r\n",
              "C:biwsbj1hbGljZSxyPUFBRUNBd1FGQmdjSUNRb0xEQTBPRHhBUg==\r\n", "S:ABCD3 NO no\r\n");
    s.expect_log = "STARTTLS;ERR MAILPROTO_E_AUTH;";
    run_script(&s);
}

static void check_count(mailproto_imap *h, const char *name, void *ctx)
{
    if (strcmp(name, "count") != 0) {
        act(h, name, ctx);
        return;
    }
    assert_int_equal(mailproto_imap_mailbox_state(h)->exists, 4294967294u);
    assert_int_equal(mailproto_imap_mailbox_state(h)->expunged, 1);
}

/* security.md row 40: absurd counts */
static void test_absurd_counts(void **state)
{
    (void)state;
    script s = base_plain();
    SET_STEPS(s, PREAUTH_ALL, "DO:select", "C:ABCD1 SELECT INBOX\r\n",
              "S:* 4294967295 EXISTS\r\n* 99999999999 RECENT\r\nABCD1 OK\r\n", "DO:fetch", "C:ABCD2 FETCH 1:* (UID FLAGS)\r\n",
              "S:* 1 FETCH (UID 1 FLAGS ())\r\nABCD2 OK\r\n",
              /* "* 0 EXPUNGE" is garbled for the codec: skipped, no underflow */
              "S:* 0 EXPUNGE\r\n* 2 EXPUNGE\r\n", "DO:count");
    s.expect_log = "READY;EXISTS 4294967295;DONE 1 OK;FETCH 1;DONE 2 OK;EXPUNGE 2;";
    s.act = check_count;
    script_run_all(&s);
}

static int refresh_token(void *ctx, const char **tok)
{
    (*(int *)ctx)++;
    *tok = "n3w-t0k";
    return 0;
}

static void test_oauth_refresh(void **state)
{
    (void)state;
    static int calls;
    calls = 0;
    script s;
    memset(&s, 0, sizeof s);
    s.cfg.security = MAILPROTO_SEC_TLS;
    s.cfg.username = "u";
    s.cfg.oauth_token = "stale";
    s.cfg.auth_mech = MAILPROTO_AUTH_XOAUTH2;
    s.cfg.token_refresh = refresh_token;
    s.cfg.token_ctx = &calls;
    s.whole_only = 1;
    SET_STEPS(s, "TLS", "S:* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2] hi\r\n",
              "C:ABCD1 AUTHENTICATE XOAUTH2 dXNlcj11AWF1dGg9QmVhcmVyIHN0YWxlAQE=\r\n",
              "S:+ eyJzdGF0dXMiOiI0MDEifQ==\r\n", "C:\r\n", "S:ABCD1 NO [AUTHENTICATIONFAILED] expired\r\n",
              "C:ABCD2 AUTHENTICATE XOAUTH2 dXNlcj11AWF1dGg9QmVhcmVyIG4zdy10MGsBAQ==\r\n", "S:ABCD2 OK\r\n",
              "C:ABCD3 CAPABILITY\r\n", "S:* CAPABILITY IMAP4rev1\r\nABCD3 OK\r\n");
    s.expect_log = "STARTTLS;READY;";
    run_script(&s);
    assert_int_equal(calls, 1);
    assert_null(strstr(s.trace.buf, "n3w-t0k"));
    assert_null(strstr(s.trace.buf, "stale"));
}

/* ---- tags ---- */

static void test_unknown_tag(void **state)
{
    (void)state;
    script s = base_plain();
    SET_STEPS(s, "S:* OK hi\r\n", "C:ABCD1 CAPABILITY\r\n", "S:ABCD7 OK forged\r\n");
    s.expect_log = "ERR MAILPROTO_E_PROTOCOL;";
    run_script(&s);
}

static void test_tag_not_yet_sent(void **state)
{
    (void)state;
    script s = base_plain();
    SET_STEPS(s, PREAUTH_ALL, "HOLD", "DO:noop", "S:ABCD1 OK early\r\n");
    s.expect_log = "READY;ERR MAILPROTO_E_PROTOCOL;";
    run_script(&s);
    /* the greeting segment carrying a completion for the first command */
    SET_STEPS(s, "S:* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\nABCD1 OK begin TLS\r\n");
    s.cfg.security = MAILPROTO_SEC_STARTTLS;
    s.whole_only = 1;
    s.expect_log = "ERR MAILPROTO_E_PROTOCOL;";
    run_script(&s);
}

static void test_referral_not_followed(void **state)
{
    (void)state;
    script s = base_plain();
    SET_STEPS(s, PREAUTH_ALL, "DO:select", "C:ABCD1 SELECT INBOX\r\n",
              "S:ABCD1 NO [REFERRAL imap://;AUTH=*@attacker.example:243/] go away\r\n", "DO:noop",
              "C:ABCD2 NOOP\r\n", "S:ABCD2 OK\r\n");
    s.expect_log = "READY;DONE 1 NO REFERRAL;DONE 2 OK;";
    run_script(&s);
}

/* ---- mailbox state ---- */

static void check_state(mailproto_imap *h, const char *name, void *ctx)
{
    (void)ctx;
    const mailproto_imap_mailbox *m = mailproto_imap_mailbox_state(h);
    if (!strcmp(name, "s1")) {
        assert_int_equal(m->selected, 1);
        assert_int_equal(m->read_only, 0);
        assert_int_equal(m->exists, 172);
        assert_int_equal(m->recent, 1);
        assert_int_equal(m->uidvalidity, 3857529045u);
        assert_int_equal(m->uidnext, 4392);
        assert_int_equal(m->unseen, 12);
        assert_int_equal(m->highestmodseq, 715194045007ull);
        assert_int_equal(m->flags, MAILPROTO_IMAP_FLAG_ANSWERED | MAILPROTO_IMAP_FLAG_FLAGGED |
                                       MAILPROTO_IMAP_FLAG_DELETED | MAILPROTO_IMAP_FLAG_SEEN |
                                       MAILPROTO_IMAP_FLAG_DRAFT);
        assert_int_equal(m->permanent_flags,
                         MAILPROTO_IMAP_FLAG_DELETED | MAILPROTO_IMAP_FLAG_SEEN | MAILPROTO_IMAP_FLAG_KEYWORDS);
    } else if (!strcmp(name, "s2")) {
        assert_int_equal(m->exists, 172 - 2 - 4); /* VANISHED (EARLIER) does not count */
        assert_int_equal(m->expunged, 6);
    } else if (!strcmp(name, "s2b")) {
        assert_int_equal(m->exists, 173);
    } else if (!strcmp(name, "s3")) {
        assert_int_equal(m->selected, 0);
        assert_int_equal(m->exists, 0);
    } else if (!strcmp(name, "s4")) {
        assert_int_equal(m->selected, 1);
        assert_int_equal(m->read_only, 1);
    } else {
        act(h, name, ctx);
    }
}

static void test_mailbox_state(void **state)
{
    (void)state;
    script s = base_plain();
    s.act = check_state;
    SET_STEPS(s, PREAUTH_ALL, "DO:selectcs", "C:ABCD1 SELECT INBOX (CONDSTORE)\r\n",
              "S:* 172 EXISTS\r\n* 1 RECENT\r\n* OK [UNSEEN 12] x\r\n* OK [UIDVALIDITY 3857529045] UIDs valid\r\n"
              "* OK [UIDNEXT 4392] next\r\n* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
              "* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n* OK [HIGHESTMODSEQ 715194045007] ok\r\n"
              "ABCD1 OK [READ-WRITE] SELECT completed\r\n",
              "DO:s1", "S:* 3 EXPUNGE\r\n* 3 EXPUNGE\r\n* VANISHED 405,407:409\r\n* VANISHED (EARLIER) 1:300\r\n"
              ,
              "DO:s2", "S:* 173 EXISTS\r\n", "DO:s2b", "DO:close", "C:ABCD2 CLOSE\r\n", "S:ABCD2 OK\r\n", "DO:s3", "DO:examine",
              "C:ABCD3 EXAMINE INBOX\r\n", "S:* 2 EXISTS\r\nABCD3 OK [READ-ONLY] done\r\n", "DO:s4");
    s.expect_log = "READY;EXISTS 172;DONE 1 OK READ-WRITE;EXPUNGE 3;EXPUNGE 3;VANISHED;VANISHED;EXISTS 173;"
                   "DONE 2 OK;EXISTS 2;DONE 3 OK READ-ONLY;";
    script_run_all(&s);
}

static void test_expunge_beyond_exists(void **state)
{
    (void)state;
    script s = base_plain();
    SET_STEPS(s, PREAUTH_ALL, "DO:select", "C:ABCD1 SELECT INBOX\r\n", "S:* 2 EXISTS\r\nABCD1 OK\r\n",
              "S:* 3 EXPUNGE\r\n");
    s.expect_log = "READY;EXISTS 2;DONE 1 OK;ERR MAILPROTO_E_PROTOCOL;";
    run_script(&s);
    SET_STEPS(s, PREAUTH_ALL, "DO:select", "C:ABCD1 SELECT INBOX\r\n", "S:* 2 EXISTS\r\nABCD1 OK\r\n",
              "S:* VANISHED 1:3\r\n");
    s.expect_log = "READY;EXISTS 2;DONE 1 OK;VANISHED;ERR MAILPROTO_E_PROTOCOL;";
    run_script(&s);
}

/* ---- IDLE ---- */

static void test_idle_refresh(void **state)
{
    (void)state;
    script s = base_plain();
    s.cfg.idle_refresh_ms = 9 * 60 * 1000;
    SET_STEPS(s, PREAUTH_ALL, "DO:idle", "C:ABCD1 IDLE\r\n", "S:+ idling\r\n", "TIME:300000",
              "S:* 4 EXISTS\r\n", "TIME:239999", "C:", "TIME:1", "C:DONE\r\n", "S:ABCD1 OK IDLE terminated\r\n",
              "C:ABCD2 IDLE\r\n", "S:+ idling\r\n", "TIME:400000", "S:* 1 EXPUNGE\r\n", "DO:done", "C:DONE\r\n",
              "S:ABCD2 OK done\r\n", "DO:noop", "C:ABCD3 NOOP\r\n", "S:ABCD3 OK\r\n");
    s.expect_log = "READY;IDLING 1;EXISTS 4;EXPUNGE 1;DONE 1 OK;DONE 2 OK;";
    run_script(&s);
}

/* idling replaces the inactivity timeout; after DONE it applies again */
static void test_idle_inactivity(void **state)
{
    (void)state;
    script s = base_plain();
    SET_STEPS(s, PREAUTH_ALL, "DO:idle", "C:ABCD1 IDLE\r\n", "S:+ idling\r\n", "TIME:600000", "DO:done",
              "C:DONE\r\n", "TIME:59999", "TIME:1");
    s.expect_log = "READY;IDLING 1;ERR MAILPROTO_E_TIMEOUT;";
    run_script(&s);
}

static void test_command_while_idle(void **state)
{
    (void)state;
    script s = base_plain();
    SET_STEPS(s, PREAUTH_ALL, "DO:idle", "C:ABCD1 IDLE\r\n", "DO:noop", "C:", "S:+ idling\r\n", "C:DONE\r\nABCD2 NOOP\r\n",
              "S:ABCD1 OK\r\nABCD2 OK\r\n");
    s.expect_log = "READY;IDLING 1;DONE 1 OK;DONE 2 OK;";
    run_script(&s);
}

/* DESIGN.md section 15: on EXISTS, DONE + FETCH + IDLE again, all queued at once */
static void test_idle_fetch_idle(void **state)
{
    (void)state;
    script s = base_plain();
    SET_STEPS(s, PREAUTH_ALL, "DO:idle", "C:ABCD1 IDLE\r\n", "S:+ idling\r\n", "S:* 5 EXISTS\r\n", "DO:done",
              "DO:fetch", "DO:idle", "C:DONE\r\nABCD2 FETCH 1:* (UID FLAGS)\r\n",
              "S:ABCD1 OK\r\n", "C:ABCD3 IDLE\r\n", "S:* 5 FETCH (UID 9 FLAGS ())\r\nABCD2 OK\r\n+ idling\r\n",
              "DO:done", "C:DONE\r\n", "S:ABCD3 OK\r\n");
    s.expect_log = "READY;IDLING 1;EXISTS 5;DONE 1 OK;FETCH 5;DONE 2 OK;IDLING 3;DONE 3 OK;";
    run_script(&s);
}

/* commands queued before the session is ready wait for it (capabilities
 * unknown until then) */
static void test_queued_before_ready(void **state)
{
    (void)state;
    script s = base_plain();
    SET_STEPS(s, "DO:idle", "DO:unselect", "S:* OK hi\r\n", "C:ABCD3 CAPABILITY\r\n",
              "S:* CAPABILITY IMAP4rev1 IDLE UNSELECT\r\nABCD3 OK\r\n", "C:ABCD1 IDLE\r\n", "S:+ idling\r\n",
              "C:DONE\r\nABCD2 UNSELECT\r\n", "S:ABCD1 OK\r\nABCD2 OK\r\n");
    s.expect_log = "READY;IDLING 1;DONE 1 OK;DONE 2 OK;";
    run_script(&s);
}

static void test_bye_during_idle(void **state)
{
    (void)state;
    script s = base_plain();
    SET_STEPS(s, PREAUTH_ALL, "DO:idle", "C:ABCD1 IDLE\r\n", "S:+ idling\r\n", "S:* BYE server shutting down\r\n",
              "EOF");
    s.expect_log = "READY;IDLING 1;BYE;CLOSED server shutting down;ERR MAILPROTO_E_CLOSED;";
    run_script(&s);
    SET_STEPS(s, PREAUTH_ALL, "DO:idle", "C:ABCD1 IDLE\r\n", "S:+ idling\r\n", "EOF");
    s.expect_log = "READY;IDLING 1;CLOSED ;ERR MAILPROTO_E_CLOSED;";
    run_script(&s);
}

static void test_command_timeout(void **state)
{
    (void)state;
    script s = base_plain();
    s.cfg.command_timeout_ms = 5000;
    SET_STEPS(s, PREAUTH_ALL, "DO:noop", "C:ABCD1 NOOP\r\n", "TIME:4000", "S:* 1 EXISTS\r\n", "TIME:999", "TIME:1");
    s.expect_log = "READY;EXISTS 1;ERR MAILPROTO_E_TIMEOUT;";
    run_script(&s);
    memset(&s.cfg, 0, sizeof s.cfg);
    s.cfg.security = MAILPROTO_SEC_PLAIN;
    SET_STEPS(s, PREAUTH_ALL, "TIME:3600000", "DO:noop", "C:ABCD1 NOOP\r\n", "TIME:59999", "TIME:1");
    s.expect_log = "READY;ERR MAILPROTO_E_TIMEOUT;";
    run_script(&s);
}

/* ---- pipelining ---- */

static void test_fifty_fetches(void **state)
{
    (void)state;
    static char cmds[4096], replies[8192];
    size_t c = 0, r = 0;
    for (int i = 1; i <= 50; i++)
        c += (size_t)snprintf(cmds + c, sizeof cmds - c, "ABCD%d UID FETCH %d (FLAGS)\r\n", i, i);
    for (int i = 50; i >= 1; i--)
        r += (size_t)snprintf(replies + r, sizeof replies - r, "* %d FETCH (UID %d FLAGS ())\r\nABCD%d OK\r\n", i, i, i);
    static char cstep[4100], sstep[8200];
    snprintf(cstep, sizeof cstep, "C:%s", cmds);
    snprintf(sstep, sizeof sstep, "S:%s", replies);
    script s = base_plain();
    s.whole_only = 1;
    const char *steps[] = {PREAUTH_ALL, "DO:fetch50", cstep, sstep};
    s.steps = steps;
    s.n_steps = 4;
    static char log[8192];
    size_t l = (size_t)snprintf(log, sizeof log, "READY;");
    for (int i = 50; i >= 1; i--)
        l += (size_t)snprintf(log + l, sizeof log - l, "FETCH %d;DONE %d OK;", i, i);
    s.expect_log = log;
    run_script(&s);
    /* seeded random splits of the replies */
    s.whole_only = 0;
    script_run_once(&s, 1, 0);
    for (size_t k = 1; k < r; k += 97)
        script_run_once(&s, 2, k);
}

/* ---- every command ---- */

static void test_simple_commands(void **state)
{
    (void)state;
    script s = base_plain();
    SET_STEPS(s, PREAUTH_ALL,
              "DO:capability", "C:ABCD1 CAPABILITY\r\n", "S:* CAPABILITY IMAP4rev1 IDLE\r\nABCD1 OK\r\n",
              "DO:noop", "C:ABCD2 NOOP\r\n", "S:ABCD2 OK\r\n",
              "DO:id", "C:ABCD3 ID (\"name\" \"mailproto\" \"version\" NIL)\r\n",
              "S:* ID (\"name\" \"Dovecot\")\r\nABCD3 OK\r\n",
              "DO:idnil", "C:ABCD4 ID NIL\r\n", "S:* ID NIL\r\nABCD4 OK\r\n",
              "DO:namespace", "C:ABCD5 NAMESPACE\r\n", "S:* NAMESPACE ((\"\" \".\")) NIL NIL\r\nABCD5 OK\r\n",
              "DO:create", "C:ABCD6 CREATE Entw&APw-rfe\r\n", "S:ABCD6 OK\r\n",
              "DO:delete", "C:ABCD7 DELETE Old\r\n", "S:ABCD7 OK\r\n",
              "DO:rename", "C:ABCD8 RENAME \"A b\" C\r\n", "S:ABCD8 OK\r\n",
              "DO:subscribe", "C:ABCD9 SUBSCRIBE INBOX\r\n", "S:ABCD9 OK\r\n",
              "DO:unsubscribe", "C:ABCD10 UNSUBSCRIBE Trash\r\n", "S:ABCD10 NO [NONEXISTENT] no such\r\n",
              "DO:raw", "C:ABCD11 GETQUOTAROOT INBOX\r\n",
              "S:* QUOTAROOT INBOX \"\"\r\n* QUOTA \"\" (STORAGE 10 512)\r\nABCD11 OK\r\n",
              "DO:logout", "C:ABCD12 LOGOUT\r\n", "S:* BYE bye\r\nABCD12 OK\r\n", "EOF");
    s.expect_log = "READY;DONE 1 OK;DONE 2 OK;DONE 3 OK;DONE 4 OK;DONE 5 OK;DONE 6 OK;DONE 7 OK;DONE 8 OK;"
                   "DONE 9 OK;DONE 10 NO NONEXISTENT;DONE 11 OK;BYE;DONE 12 OK;CLOSED bye;ERR MAILPROTO_E_CLOSED;";
    run_script(&s);
}

static void check_results(mailproto_imap *h, const char *name, void *ctx)
{
    const mailproto_imap_result *res = mailproto_imap_last_result(h);
    if (!strcmp(name, "r_list")) {
        assert_string_equal(A.names, "INBOX|/|80;Entw\xc3\xbcrfe|/|804;Sent|/|4008;");
    } else if (!strcmp(name, "r_liststatus")) {
        assert_string_equal(A.names, "INBOX|.|0;S:INBOX|-|0;m17 u16;");
    } else if (!strcmp(name, "r_status")) {
        assert_int_equal(A.st.have, MAILPROTO_IMAP_STATUS_MESSAGES | MAILPROTO_IMAP_STATUS_UNSEEN |
                                        MAILPROTO_IMAP_STATUS_UIDNEXT | MAILPROTO_IMAP_STATUS_UIDVALIDITY);
        assert_int_equal(A.st.messages, 231);
        assert_int_equal(A.st.uidnext, 44292);
        assert_int_equal(A.st.uidvalidity, 7);
        assert_int_equal(A.st.unseen, 0);
    } else if (!strcmp(name, "r_search")) {
        assert_int_equal(A.set.n, 3);
        assert_int_equal(A.set.count, 6);
        assert_int_equal(A.ranges[0].first, 2);
        assert_int_equal(A.ranges[0].last, 4);
        assert_int_equal(A.ranges[1].first, 10);
        assert_int_equal(A.ranges[2].first, 12);
        assert_int_equal(A.ranges[2].last, 13);
        assert_int_equal(A.set.min, 2);
        assert_int_equal(A.set.max, 13);
    } else if (!strcmp(name, "r_esearch")) {
        assert_int_equal(A.set.min, 4);
        assert_int_equal(A.set.max, 2000);
        assert_int_equal(A.set.count, 45);
        assert_int_equal(A.set.n, 2);
        assert_int_equal(A.ranges[0].first, 4);
        assert_int_equal(A.ranges[0].last, 4);
        assert_int_equal(A.ranges[1].first, 10);
        assert_int_equal(A.ranges[1].last, 2000);
    } else if (!strcmp(name, "r_sort")) {
        assert_int_equal(A.set.n, 3);
        assert_int_equal(A.ranges[0].first, 9);
        assert_int_equal(A.ranges[1].first, 2);
        assert_int_equal(A.ranges[2].first, 5);
    } else if (!strcmp(name, "r_copy")) {
        assert_int_equal(res->copy_uidvalidity, 38505);
        assert_int_equal(res->n_copy_src, 2);
        assert_int_equal(res->copy_src[0].first, 1);
        assert_int_equal(res->copy_src[0].last, 2);
        assert_int_equal(res->copy_dst[1].first, 3);
        assert_int_equal(res->copy_dst[1].last, 3);
    } else if (!strcmp(name, "r_append")) {
        assert_int_equal(res->append_uidvalidity, 38505);
        assert_int_equal(res->append_uid, 3955);
    } else if (!strcmp(name, "r_body")) {
        assert_int_equal(A.sink_len, 5);
        assert_memory_equal(A.sink_buf, "hello", 5);
    } else if (!strcmp(name, "r_enabled")) {
        assert_int_equal(mailproto_imap_caps(h) & MAILPROTO_IMAP_CAP_QRESYNC, MAILPROTO_IMAP_CAP_QRESYNC);
    } else {
        act(h, name, ctx);
    }
}

static void test_list_status_search(void **state)
{
    (void)state;
    script s = base_plain();
    s.act = check_results;
    SET_STEPS(s, PREAUTH_ALL,
              "DO:list", "C:ABCD1 LIST \"\" \"*\" RETURN (SPECIAL-USE)\r\n",
              "S:* LIST (\\Subscribed) \"/\" INBOX\r\n* LIST (\\HasChildren \\Drafts) \"/\" Entw&APw-rfe\r\n"
              "* LIST (\\Sent \\HasNoChildren) \"/\" {4}\r\nSent\r\nABCD1 OK\r\n",
              "DO:r_list",
              "DO:liststatus", "C:ABCD2 LIST \"\" \"%\" RETURN (STATUS (MESSAGES UNSEEN UIDNEXT UIDVALIDITY))\r\n",
              "S:* LIST () \".\" INBOX\r\n* STATUS INBOX (MESSAGES 17 UNSEEN 16)\r\nABCD2 OK\r\n",
              "DO:r_liststatus",
              "DO:lsub", "C:ABCD3 LSUB \"\" \"*\"\r\n", "S:* LSUB () \"/\" INBOX\r\nABCD3 OK\r\n",
              "DO:status", "C:ABCD4 STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN)\r\n",
              "S:* STATUS INBOX (MESSAGES 231 UIDNEXT 44292 UIDVALIDITY 7 UNSEEN 0)\r\nABCD4 OK\r\n",
              "DO:r_status",
              "DO:search",
              "C:ABCD5 UID SEARCH UNSEEN FROM ann@example.org SINCE 1-Feb-2024 LARGER 1000 SUBJECT \"say \\\"hi\\\"\"\r\n",
              "S:* SEARCH 2 3 4 10 12 13\r\nABCD5 OK\r\n", "DO:r_search",
              "DO:search8", "C:ABCD6 SEARCH CHARSET UTF-8 SUBJECT {6+}\r\ngr\xc3\xbc\xc3\x9f\r\n",
              "S:* SEARCH\r\nABCD6 OK\r\n",
              "DO:esearch", "C:ABCD7 UID SEARCH RETURN (MIN MAX COUNT ALL) ALL\r\n",
              "S:* ESEARCH (TAG \"ABCD7\") UID MIN 4 MAX 2000 COUNT 45 ALL 4,10:2000\r\nABCD7 OK\r\n",
              "DO:r_esearch",
              "DO:sort", "C:ABCD8 UID SORT (REVERSE DATE) UTF-8 ALL\r\n", "S:* SORT 9 2 5\r\nABCD8 OK\r\n",
              "DO:r_sort");
    s.expect_log = "READY;DONE 1 OK;DONE 2 OK;DONE 3 OK;DONE 4 OK;DONE 5 OK;DONE 6 OK;DONE 7 OK;DONE 8 OK;";
    script_run_all(&s);
}

static void test_select_fetch_store(void **state)
{
    (void)state;
    script s = base_plain();
    s.act = check_results;
    SET_STEPS(s, PREAUTH_ALL,
              "DO:enable", "C:ABCD1 ENABLE QRESYNC UTF8=ACCEPT\r\n", "S:* ENABLED QRESYNC\r\nABCD1 OK\r\n",
              "DO:r_enabled",
              "DO:qresync", "C:ABCD2 SELECT INBOX (QRESYNC (67890007 90060115194045000 1:20))\r\n",
              "S:* 20 EXISTS\r\n* VANISHED (EARLIER) 1:5\r\n* 6 FETCH (UID 6 MODSEQ (90060115194045001) FLAGS (\\Seen))\r\n"
              "ABCD2 OK [READ-WRITE] done\r\n",
              "DO:fetch", "C:ABCD3 FETCH 1:* (UID FLAGS)\r\n",
              "S:* 1 FETCH (UID 6 FLAGS (\\Seen))\r\nABCD3 OK\r\n",
              "DO:uidfetch", "C:ABCD4 UID FETCH 5,7:* (FLAGS) (CHANGEDSINCE 12345 VANISHED)\r\n",
              "S:* VANISHED (EARLIER) 8\r\nABCD4 OK\r\n",
              "DO:body", "C:ABCD5 UID FETCH 42 (BODY.PEEK[1.2])\r\n",
              "S:* 3 FETCH (UID 42 BODY[1.2] {5}\r\nhello)\r\nABCD5 OK\r\n", "DO:r_body",
              "DO:partial", "C:ABCD6 UID FETCH 42 (BODY.PEEK[]<100.50>)\r\n",
              "S:* 3 FETCH (BODY[]<100> {3}\r\nabc)\r\nABCD6 OK\r\n",
              "DO:store", "C:ABCD7 UID STORE 1:3 +FLAGS.SILENT (\\Seen \\Flagged)\r\n", "S:ABCD7 OK\r\n",
              "DO:storeu", "C:ABCD8 STORE 1:3 (UNCHANGEDSINCE 320162338) -FLAGS ($Junk)\r\n",
              "S:* 1 FETCH (FLAGS () MODSEQ (320162339))\r\nABCD8 OK [MODIFIED 2] x\r\n",
              "DO:copy", "C:ABCD9 UID COPY 1:3 Archive\r\n", "S:ABCD9 OK [COPYUID 38505 1:2,3 1:2,3] done\r\n",
              "DO:r_copy",
              "DO:move", "C:ABCD10 UID MOVE 1:3 Trash\r\n",
              "S:* OK [COPYUID 38505 1:3 5:7] moved\r\n* 1 EXPUNGE\r\n* 1 EXPUNGE\r\n* 1 EXPUNGE\r\nABCD10 OK\r\n",
              "DO:expunge", "C:ABCD11 EXPUNGE\r\n", "S:ABCD11 OK\r\n",
              "DO:uidexpunge", "C:ABCD12 UID EXPUNGE 1:3\r\n", "S:ABCD12 OK\r\n",
              "DO:unselect", "C:ABCD13 UNSELECT\r\n", "S:ABCD13 OK\r\n");
    s.expect_log = "READY;DONE 1 OK;EXISTS 20;VANISHED;FETCH 6;DONE 2 OK READ-WRITE;FETCH 1;DONE 3 OK;VANISHED;"
                   "DONE 4 OK;FETCH 3;LIT 5;DONE 5 OK;FETCH 3;LIT 3;DONE 6 OK;DONE 7 OK;FETCH 1;DONE 8 OK MODIFIED;"
                   "DONE 9 OK COPYUID;EXPUNGE 1;EXPUNGE 1;EXPUNGE 1;DONE 10 OK;DONE 11 OK;DONE 12 OK;DONE 13 OK;";
    script_run_all(&s);
    assert_int_equal(s.body_len, 3);
    assert_memory_equal(s.body, "abc", 3);
}

static void test_append(void **state)
{
    (void)state;
    script s = base_plain();
    s.act = check_results;
    /* LITERAL+: one write */
    SET_STEPS(s, PREAUTH_ALL, "DO:append", "C:ABCD1 APPEND Sent (\\Seen) {18+}\r\nSubject: x\r\n\r\nhi\r\n\r\n",
              "S:ABCD1 OK [APPENDUID 38505 3955] done\r\n", "DO:r_append");
    s.expect_log = "READY;DONE 1 OK APPENDUID;";
    script_run_all(&s);
    /* synchronizing literal: the message waits for "+" */
    SET_STEPS(s, "S:* PREAUTH [CAPABILITY IMAP4rev1 UIDPLUS] hi\r\n", "DO:appenddate",
              "C:ABCD1 APPEND Sent \"16-Jul-1996 19:24:25 -0700\" {18}\r\n", "S:+ go\r\n",
              "C:Subject: x\r\n\r\nhi\r\n\r\n", "S:ABCD1 OK [APPENDUID 38505 3955] done\r\n", "DO:r_append");
    script_run_all(&s);
    assert_int_equal(s.trace.data_bytes, 18);
    /* refused before the literal: nothing more of it is sent */
    SET_STEPS(s, "S:* PREAUTH [CAPABILITY IMAP4rev1] hi\r\n", "DO:append", "C:ABCD1 APPEND Sent (\\Seen) {18}\r\n",
              "S:ABCD1 NO [TRYCREATE] no such mailbox\r\n", "DO:noop", "C:ABCD2 NOOP\r\n", "S:ABCD2 OK\r\n");
    s.expect_log = "READY;DONE 1 NO TRYCREATE;DONE 2 OK;";
    script_run_all(&s);
}

static void move_act(mailproto_imap *h, const char *name, void *ctx)
{
    mailproto_imap_range r = {4, 6};
    if (!strcmp(name, "refused")) {
        assert_int_equal(mailproto_imap_move(h, 1, &r, 1, "Trash"), MAILPROTO_E_UNSUPPORTED);
        assert_int_equal(mailproto_imap_last_reply(h)->status, MAILPROTO_E_UNSUPPORTED);
    } else if (!strcmp(name, "seq")) {
        assert_int_equal(mailproto_imap_move(h, 0, &r, 1, "Trash"), MAILPROTO_E_INVALID);
    } else if (!strcmp(name, "move")) {
        assert_int_equal(mailproto_imap_move(h, 1, &r, 1, "Trash"), MAILPROTO_AGAIN);
        assert_int_equal(mailproto_imap_last_id(h), 1);
    } else if (!strcmp(name, "copyuid")) {
        const mailproto_imap_result *res = mailproto_imap_last_result(h);
        assert_int_equal(res->id, 1);
        assert_int_equal(res->copy_uidvalidity, 9);
        assert_int_equal(res->copy_dst[0].first, 20);
    } else {
        act(h, name, ctx);
    }
}

/* MOVE without MOVE: refused without UIDPLUS; with it, COPY, STORE and UID
 * EXPUNGE under one id, each sent only after the previous OK; a failed
 * step stops the rest (nothing deleted) */
static void test_move_fallback(void **state)
{
    (void)state;
    script s = base_plain();
    s.act = move_act;
    SET_STEPS(s, "S:* PREAUTH [CAPABILITY IMAP4rev1] hi\r\n", "DO:refused", "DO:noop", "C:ABCD1 NOOP\r\n",
              "S:ABCD1 OK\r\n");
    s.expect_log = "READY;DONE 1 OK;";
    script_run_all(&s);

    SET_STEPS(s, "S:* PREAUTH [CAPABILITY IMAP4rev1 UIDPLUS] hi\r\n", "DO:seq", "DO:move", "DO:noop",
              "C:ABCD1 UID COPY 4:6 Trash\r\n", "S:ABCD1 OK [COPYUID 9 4:6 20:22] done\r\n",
              "C:ABCD2 UID STORE 4:6 +FLAGS.SILENT (\\Deleted)\r\n", "S:ABCD2 OK\r\n",
              "C:ABCD3 UID EXPUNGE 4:6\r\nABCD4 NOOP\r\n", "S:ABCD3 OK\r\n", "DO:copyuid", "S:ABCD4 OK\r\n");
    s.expect_log = "READY;DONE 1 OK;DONE 2 OK;";
    script_run_all(&s);

    SET_STEPS(s, "S:* PREAUTH [CAPABILITY IMAP4rev1 UIDPLUS] hi\r\n", "DO:move", "DO:noop",
              "C:ABCD1 UID COPY 4:6 Trash\r\n", "S:ABCD1 NO [OVERQUOTA] full\r\n", "C:ABCD4 NOOP\r\n",
              "S:ABCD4 OK\r\n");
    s.expect_log = "READY;DONE 1 NO OVERQUOTA;DONE 2 OK;";
    script_run_all(&s);
}

/* ---- memory: every allocation failing in turn; an arena; NULL safety ---- */

static void test_memory(void **state)
{
    (void)state;
    mailproto_imap_config c;
    memset(&c, 0, sizeof c);
    c.security = MAILPROTO_SEC_PLAIN;
    test_alloc ta;
    mailproto_mem mem = test_mem(&ta);
    mailproto_imap *h = NULL;
    assert_int_equal(mailproto_imap_new(&h, &c, &mem), MAILPROTO_OK);
    size_t n = ta.count;
    mailproto_imap_free(h);
    assert_true(n >= 1);
    for (size_t k = 1; k <= n; k++) {
        mem = test_mem(&ta);
        ta.fail_at = k;
        h = (mailproto_imap *)&ta; /* must be reset to NULL */
        assert_int_equal(mailproto_imap_new(&h, &c, &mem), MAILPROTO_E_NOMEM);
        assert_null(h);
        assert_int_equal(ta.live, 0);
    }
    /* firmware: the whole handle in a static arena */
    static unsigned char buf[256 * 1024];
    mailproto_arena ar;
    mailproto_mem am;
    assert_int_equal(mailproto_arena_init(&ar, buf, sizeof buf, &am), MAILPROTO_OK);
    assert_int_equal(mailproto_imap_new(&h, &c, &am), MAILPROTO_OK);
    assert_int_equal(mailproto_imap_start(h), MAILPROTO_OK);
    unsigned char *b;
    size_t cap;
    assert_int_equal(mailproto_imap_input_buf(h, &b, &cap), MAILPROTO_OK);
    const char *g = "* PREAUTH [CAPABILITY IMAP4rev1] hi\r\n";
    assert_true(cap >= strlen(g));
    memcpy(b, g, strlen(g));
    assert_int_equal(mailproto_imap_input_done(h, strlen(g)), MAILPROTO_OK);
    const mailproto_imap_event *ev;
    assert_int_equal(mailproto_imap_next(h, 0, &ev), MAILPROTO_EVENT);
    assert_int_equal(ev->type, MAILPROTO_IMAP_EV_READY);
    fprintf(stderr, "imap handle (default config): %zu bytes in the arena, memory_needed %zu\n",
            mailproto_arena_peak(&ar), mailproto_imap_memory_needed(&c));
    assert_true(mailproto_arena_peak(&ar) <= mailproto_imap_memory_needed(&c) + 64);
    assert_true(mailproto_arena_peak(&ar) + 256 >= mailproto_imap_memory_needed(&c));
    mailproto_imap_free(h);
    /* NULL handles and bad arguments */
    assert_int_equal(mailproto_imap_new(NULL, &c, NULL), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_imap_new_sz(&h, NULL, sizeof c, NULL), MAILPROTO_E_INVALID);
    c.security = 9;
    assert_int_equal(mailproto_imap_new(&h, &c, NULL), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_imap_connect(NULL), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_imap_noop(NULL), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_imap_select(NULL, "INBOX", 0), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_imap_poll(NULL, 0, &ev), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_imap_fd(NULL), -1);
    assert_int_equal(mailproto_imap_last_reply(NULL)->status, 0);
    assert_int_equal(mailproto_imap_mailbox_state(NULL)->exists, 0);
    assert_int_equal(mailproto_imap_last_result(NULL)->id, 0);
    mailproto_imap_free(NULL);
    /* commands before connect: a state error, nothing queued */
    c.security = MAILPROTO_SEC_PLAIN;
    assert_int_equal(mailproto_imap_new(&h, &c, NULL), MAILPROTO_OK);
    assert_int_equal(mailproto_imap_noop(h), MAILPROTO_E_STATE);
    assert_int_equal(mailproto_imap_last_id(h), 0);
    mailproto_imap_free(h);
}

/* bad arguments never reach the wire */
static void check_invalid(mailproto_imap *h, const char *name, void *ctx)
{
    (void)ctx;
    (void)name;
    mailproto_imap_range r = {1, 2};
    assert_int_equal(mailproto_imap_select(h, "INBOX\r\nX LOGOUT", 0), MAILPROTO_AGAIN); /* a literal, harmless */
    assert_int_equal(mailproto_imap_fetch(h, 0, 1, 1, "(FLAGS)\r\nX LOGOUT"), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_imap_store(h, 1, &r, 1, MAILPROTO_IMAP_STORE_ADD, "\\Seen)(", 0), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_imap_raw(h, "NOOP\r\nX LOGOUT"), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_imap_create(h, "a\0b"), MAILPROTO_AGAIN); /* C string: "a" */
    assert_int_equal(mailproto_imap_fetch_body(h, 1, 1, "1]x", 0, 0, NULL), MAILPROTO_E_INVALID);
    mailproto_imap_criteria c;
    mailproto_imap_criteria_init(&c);
    assert_int_equal(mailproto_imap_criteria_key(&c, "UN SEEN"), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_imap_search(h, 1, &c, 0, NULL), MAILPROTO_E_INVALID);
}

static void test_invalid_arguments(void **state)
{
    (void)state;
    script s = base_plain();
    s.act = check_invalid;
    /* CR/LF in a mailbox name: modified UTF-7, one command; refused commands
     * used up their tags (2 to 4) without sending anything */
    SET_STEPS(s, "S:* PREAUTH [CAPABILITY IMAP4rev1] hi\r\n", "DO:x",
              "C:ABCD1 SELECT \"INBOX&AA0ACg-X LOGOUT\"\r\nABCD5 CREATE a\r\n", "S:ABCD1 NO x\r\nABCD5 OK\r\n");
    s.expect_log = "READY;DONE 1 NO;DONE 2 OK;";
    script_run_all(&s);
}

/* CR/LF in every caller string: refused before anything is sent (atoms,
 * flags, items, sections, raw text, sort keys, search keys), or sent as a
 * literal / modified UTF-7 so it cannot end the command line early. */
static void check_injection(mailproto_imap *h, const char *name, void *ctx)
{
    if (strcmp(name, "inj") != 0) {
        act(h, name, ctx);
        return;
    }
    const char *evil = "x\r\nX LOGOUT";
    mailproto_imap_range r = {1, 2};
    mailproto_source src;
    mailproto_source_mem(&src, "Subject: x\r\n\r\nhi\r\n", 18);
    /* refused: nothing of them reaches the wire */
    assert_int_equal(mailproto_imap_store(h, 1, &r, 1, MAILPROTO_IMAP_STORE_ADD, "\\Seen\r\nX LOGOUT", 0),
                     MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_imap_append(h, "Sent", "\\Seen\r\nX", 0, 0, &src), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_imap_enable(h, "QRESYNC\r\nX LOGOUT"), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_imap_sort(h, 1, "DATE\r\nX LOGOUT", NULL, NULL), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_imap_fetch_set(h, 1, &r, 1, "(FLAGS)\nX LOGOUT", 0, 0, NULL), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_imap_fetch_body(h, 1, 1, "1\r\nX LOGOUT", 0, 0, NULL), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_imap_raw(h, "GETQUOTAROOT INBOX\r\nX LOGOUT"), MAILPROTO_E_INVALID);
    mailproto_imap_criteria c;
    mailproto_imap_criteria_init(&c);
    assert_int_equal(mailproto_imap_criteria_key(&c, "UNSEEN\r\n"), MAILPROTO_E_INVALID);
    assert_int_equal(mailproto_imap_search(h, 1, &c, 0, NULL), MAILPROTO_E_INVALID);
    /* sent, but harmless */
    assert_int_equal(mailproto_imap_rename(h, evil, "b"), MAILPROTO_AGAIN);
    assert_int_equal(mailproto_imap_copy(h, 1, &r, 1, evil), MAILPROTO_AGAIN);
    mailproto_imap_criteria_init(&c);
    assert_int_equal(mailproto_imap_criteria_string(&c, "SUBJECT", evil), MAILPROTO_OK);
    assert_int_equal(mailproto_imap_criteria_header(&c, "X-A", evil), MAILPROTO_OK);
    assert_int_equal(mailproto_imap_search(h, 1, &c, 0, NULL), MAILPROTO_AGAIN);
    const char *const kv[] = {"name", evil};
    assert_int_equal(mailproto_imap_id(h, kv, 1), MAILPROTO_AGAIN);
}

static void test_injection_everywhere(void **state)
{
    (void)state;
    script s = base_plain();
    s.act = check_injection;
    /* the six refused commands that got as far as a tag used ABCD1..6 */
    SET_STEPS(s, PREAUTH_ALL, "DO:inj",
              "C:ABCD7 RENAME \"x&AA0ACg-X LOGOUT\" b\r\n"
              "ABCD8 UID COPY 1:2 \"x&AA0ACg-X LOGOUT\"\r\n"
              "ABCD9 UID SEARCH SUBJECT {11+}\r\nx\r\nX LOGOUT HEADER X-A {11+}\r\nx\r\nX LOGOUT\r\n"
              "ABCD10 ID (\"name\" {11+}\r\nx\r\nX LOGOUT)\r\n",
              "S:ABCD7 OK\r\nABCD8 OK\r\nABCD9 OK\r\nABCD10 OK\r\n");
    s.expect_log = "READY;DONE 1 OK;DONE 2 OK;DONE 3 OK;DONE 4 OK;";
    script_run_all(&s);
}

/* mailproto_imap_auth_mechs: only what the server offered over TLS;
 * mailproto_imap_login: AGAIN until the session is ready, then OK. */
static void check_mechs(mailproto_imap *h, const char *name, void *ctx)
{
    (void)ctx;
    if (!strcmp(name, "pre")) {
        assert_int_equal(mailproto_imap_login(h), MAILPROTO_AGAIN);
        assert_int_equal(mailproto_imap_is_secure(h), 0);
    } else if (!strcmp(name, "tls")) {
        assert_int_equal(mailproto_imap_auth_mechs(h), 0); /* the plaintext AUTH=PLAIN is gone */
        assert_int_equal(mailproto_imap_login(h), MAILPROTO_AGAIN);
    } else if (!strcmp(name, "ready")) {
        assert_int_equal(mailproto_imap_auth_mechs(h),
                         MAILPROTO_AUTH_BIT(MAILPROTO_AUTH_SCRAM_SHA256) | MAILPROTO_AUTH_BIT(MAILPROTO_AUTH_XOAUTH2));
        assert_int_equal(mailproto_imap_caps(h) & MAILPROTO_IMAP_CAP_LOGINDISABLED, 0);
        assert_int_equal(mailproto_imap_is_secure(h), 1);
        assert_int_equal(mailproto_imap_login(h), MAILPROTO_OK);
    }
}

static void test_auth_mechs_and_login(void **state)
{
    (void)state;
    script s;
    memset(&s, 0, sizeof s);
    s.act = check_mechs;
    SET_STEPS(s, "S:* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN LOGINDISABLED] hi\r\n", "DO:pre",
              "C:ABCD1 STARTTLS\r\n", "S:ABCD1 OK go\r\n", "TLS", "DO:tls", "C:ABCD2 CAPABILITY\r\n",
              "S:* CAPABILITY IMAP4rev1 AUTH=SCRAM-SHA-256 AUTH=XOAUTH2\r\nABCD2 OK\r\n", "DO:ready");
    s.expect_log = "STARTTLS;READY;";
    script_run_all(&s);
}

/* A tagged reply for a command that already completed, and a continuation
 * request when no command waits for one: both end the session. */
static void test_stale_tag_and_stray_continuation(void **state)
{
    (void)state;
    script s = base_plain();
    SET_STEPS(s, PREAUTH_ALL, "DO:noop", "C:ABCD1 NOOP\r\n", "S:ABCD1 OK\r\nABCD1 OK again\r\n");
    s.expect_log = "READY;DONE 1 OK;ERR MAILPROTO_E_PROTOCOL;";
    run_script(&s);
    SET_STEPS(s, PREAUTH_ALL, "DO:noop", "C:ABCD1 NOOP\r\n", "S:+ send more\r\n");
    s.expect_log = "READY;ERR MAILPROTO_E_PROTOCOL;";
    run_script(&s);
}

/* A server that accepts the connection and never greets: the inactivity
 * timeout (default 60 s) ends the session; so does a silent STARTTLS reply. */
static void check_alive(mailproto_imap *h, const char *name, void *ctx)
{
    (void)ctx;
    /* login() reports the session: AGAIN while connecting, else the fatal status */
    assert_int_equal(mailproto_imap_login(h), !strcmp(name, "alive") ? MAILPROTO_AGAIN : MAILPROTO_E_TIMEOUT);
}

static void test_silent_greeting(void **state)
{
    (void)state;
    script s = base_plain();
    s.act = check_alive;
    SET_STEPS(s, "TIME:59999", "DO:alive", "TIME:1", "DO:dead");
    s.expect_log = "ERR MAILPROTO_E_TIMEOUT;";
    script_run_all(&s);
    memset(&s, 0, sizeof s);
    s.act = check_alive;
    s.cfg.inactivity_timeout_ms = 1000;
    SET_STEPS(s, "S:* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n", "C:ABCD1 STARTTLS\r\n", "TIME:999", "DO:alive",
              "TIME:1", "DO:dead");
    s.expect_log = "ERR MAILPROTO_E_TIMEOUT;";
    script_run_all(&s);
}

/* MAILPROTO_SEC_DEFAULT: port 993 means implicit TLS (the handshake comes
 * before any byte), any other port STARTTLS required. */
static void test_default_security_by_port(void **state)
{
    (void)state;
    script s;
    memset(&s, 0, sizeof s);
    s.cfg.port = 993;
    SET_STEPS(s, "TLS", "S:* PREAUTH [CAPABILITY IMAP4rev1] hi\r\n", "DO:noop", "C:ABCD1 NOOP\r\n", "S:ABCD1 OK\r\n");
    s.expect_log = "STARTTLS;READY;DONE 1 OK;";
    run_script(&s);
    memset(&s, 0, sizeof s);
    s.cfg.port = 1143;
    SET_STEPS(s, "S:* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n");
    s.expect_log = "ERR MAILPROTO_E_TLS_REQUIRED;";
    run_script(&s);
}

/* OAUTHBEARER (RFC 7628) with SASL-IR: accepted; refused with the JSON
 * error challenge, answered with %x01, then E_AUTH.  No token in the trace. */
static void test_oauthbearer(void **state)
{
    (void)state;
    script s;
    memset(&s, 0, sizeof s);
    s.cfg.security = MAILPROTO_SEC_TLS;
    s.cfg.username = "u";
    s.cfg.oauth_token = "tok3n";
    SET_STEPS(s, "TLS", "S:* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=OAUTHBEARER] hi\r\n",
              "C:ABCD1 AUTHENTICATE OAUTHBEARER bixhPXUsAXBvcnQ9OTkzAWF1dGg9QmVhcmVyIHRvazNuAQE=\r\n",
              "S:ABCD1 OK [CAPABILITY IMAP4rev1] ok\r\n");
    s.expect_log = "STARTTLS;READY;";
    run_script(&s);
    assert_null(strstr(s.trace.buf, "tok3n"));
    assert_null(strstr(s.trace.buf, "bixhPXUs"));
    assert_true(s.trace.secrets >= 1); /* the trace ran, with the response redacted */

    memset(&s, 0, sizeof s);
    s.cfg.security = MAILPROTO_SEC_TLS;
    s.cfg.username = "u";
    s.cfg.oauth_token = "tok3n";
    SET_STEPS(s, "TLS", "S:* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=OAUTHBEARER] hi\r\n",
              "C:ABCD1 AUTHENTICATE OAUTHBEARER bixhPXUsAXBvcnQ9OTkzAWF1dGg9QmVhcmVyIHRvazNuAQE=\r\n",
              "S:+ eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=\r\n", "C:AQ==\r\n",
              "S:ABCD1 NO [AUTHENTICATIONFAILED] bad token\r\n");
    s.expect_log = "STARTTLS;ERR MAILPROTO_E_AUTH;";
    run_script(&s);
    assert_null(strstr(s.trace.buf, "tok3n"));
    assert_null(strstr(s.trace.buf, "bixhPXUs"));
}

/* A complete SCRAM exchange over IMAP (values computed independently with
 * Python's hashlib for nonce AAEC..., salt "saltsalt", 4096 rounds):
 * SCRAM-SHA-1 accepted; SCRAM-SHA-256 with a wrong server signature: the
 * client cancels ("*") and fails with E_AUTH. */
static void test_scram_full(void **state)
{
    (void)state;
    script s;
    memset(&s, 0, sizeof s);
    s.cfg.security = MAILPROTO_SEC_TLS;
    s.cfg.username = "alice";
    s.cfg.password = "pw";
    s.cfg.auth_mech = MAILPROTO_AUTH_SCRAM_SHA1;
    SET_STEPS(s, "TLS", "S:* OK [CAPABILITY IMAP4rev1 AUTH=SCRAM-SHA-1] hi\r\n", "C:ABCD1 AUTHENTICATE SCRAM-SHA-1\r\n",
              "S:+ \r\n", "C:biwsbj1hbGljZSxyPUFBRUNBd1FGQmdjSUNRb0xEQTBPRHhBUg==\r\n",
              "S:+ cj1BQUVDQXdRRkJnY0lDUW9MREEwT0R4QVJzcnZub25jZSxzPWMyRnNkSE5oYkhRPSxpPTQwOTY=\r\n",
              "C:Yz1iaXdzLHI9QUFFQ0F3UUZCZ2NJQ1FvTERBME9EeEFSc3J2bm9uY2UscD0wSmg1WkhMWENoa2pkWTZpM3FjRjkwUmZ4dWM9\r\n",
              "S:+ dj1Rekg3QUsyRHBpZTRIdXhkeWZVVnlLeE9XQ1k9\r\n", "C:\r\n",
              "S:ABCD1 OK [CAPABILITY IMAP4rev1 IDLE] in\r\n");
    s.expect_log = "STARTTLS;READY;";
    s.whole_only = 1; /* 4096 PBKDF2 rounds per run */
    run_script(&s);
    assert_null(strstr(s.trace.buf, "Yz1iaXdz"));

    memset(&s, 0, sizeof s);
    s.cfg.security = MAILPROTO_SEC_TLS;
    s.cfg.username = "alice";
    s.cfg.password = "pw";
    s.whole_only = 1;
    SET_STEPS(s, "TLS", "S:* OK [CAPABILITY IMAP4rev1 AUTH=SCRAM-SHA-256] hi\r\n",
              "C:ABCD1 AUTHENTICATE SCRAM-SHA-256\r\n", "S:+ \r\n",
              "C:biwsbj1hbGljZSxyPUFBRUNBd1FGQmdjSUNRb0xEQTBPRHhBUg==\r\n",
              "S:+ cj1BQUVDQXdRRkJnY0lDUW9MREEwT0R4QVJzcnZub25jZSxzPWMyRnNkSE5oYkhRPSxpPTQwOTY=\r\n",
              "C:Yz1iaXdzLHI9QUFFQ0F3UUZCZ2NJQ1FvTERBME9EeEFSc3J2bm9uY2UscD1aK1FrSXdvb0JZa2hYLzBMWVJSdU81REdjOXF4anZRbWN2QVpNVENOQ3FNPQ==\r\n",
              "S:+ dj1Rekg3QUsyRHBpZTRIdXhkeWZVVnlLeE9XQ1k9\r\n", "C:*\r\n", "S:ABCD1 BAD cancelled\r\n");
    s.expect_log = "STARTTLS;ERR MAILPROTO_E_AUTH;";
    run_script(&s);

    /* OK without the server's final message: the server never proved it
     * knows the password, so the client does not accept the session */
    SET_STEPS(s, "TLS", "S:* OK [CAPABILITY IMAP4rev1 AUTH=SCRAM-SHA-256] hi\r\n",
              "C:ABCD1 AUTHENTICATE SCRAM-SHA-256\r\n", "S:+ \r\n",
              "C:biwsbj1hbGljZSxyPUFBRUNBd1FGQmdjSUNRb0xEQTBPRHhBUg==\r\n",
              "S:+ cj1BQUVDQXdRRkJnY0lDUW9MREEwT0R4QVJzcnZub25jZSxzPWMyRnNkSE5oYkhRPSxpPTQwOTY=\r\n",
              "C:Yz1iaXdzLHI9QUFFQ0F3UUZCZ2NJQ1FvTERBME9EeEFSc3J2bm9uY2UscD1aK1FrSXdvb0JZa2hYLzBMWVJSdU81REdjOXF4anZRbWN2QVpNVENOQ3FNPQ==\r\n",
              "S:ABCD1 OK in\r\n");
    s.expect_log = "STARTTLS;ERR MAILPROTO_E_AUTH;";
    run_script(&s);
}

/* Server text handed out (ALERT, completion text, BYE) carries no control
 * characters: no terminal escapes from a hostile server. */
static void test_server_text_controls(void **state)
{
    (void)state;
    script s = base_plain();
    SET_STEPS(s, PREAUTH_ALL, "S:* OK [ALERT] a\x1b[2Jb\tc\x7f\r\n", "DO:noop", "C:ABCD1 NOOP\r\n",
              "S:ABCD1 NO x\x1b]0;y\x07z\r\n", "S:* BYE q\x1b[31mr\r\n", "EOF");
    s.expect_log = "READY;ALERT a[2Jb c;DONE 1 NO;BYE;CLOSED q[31mr;ERR MAILPROTO_E_CLOSED;";
    run_script(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_starttls_auth_caps_refresh),
        cmocka_unit_test(test_starttls_injection),
        cmocka_unit_test(test_starttls_no_plaintext_after_go_ahead),
        cmocka_unit_test(test_starttls_refused),
        cmocka_unit_test(test_no_starttls_offered),
        cmocka_unit_test(test_capability_fails_tls_required),
        cmocka_unit_test(test_preauth_tls_required),
        cmocka_unit_test(test_preauth_implicit_tls),
        cmocka_unit_test(test_default_security_by_port),
        cmocka_unit_test(test_logindisabled),
        cmocka_unit_test(test_login_and_logindisabled_fallback),
        cmocka_unit_test(test_auth_failure),
        cmocka_unit_test(test_plaintext_auth_refused),
        cmocka_unit_test(test_xoauth2_and_cram),
        cmocka_unit_test(test_oauth_refresh),
        cmocka_unit_test(test_oauthbearer),
        cmocka_unit_test(test_scram_full),
        cmocka_unit_test(test_no_sasl_downgrade),
        cmocka_unit_test(test_absurd_counts),
        cmocka_unit_test(test_unknown_tag),
        cmocka_unit_test(test_tag_not_yet_sent),
        cmocka_unit_test(test_stale_tag_and_stray_continuation),
        cmocka_unit_test(test_referral_not_followed),
        cmocka_unit_test(test_server_text_controls),
        cmocka_unit_test(test_mailbox_state),
        cmocka_unit_test(test_expunge_beyond_exists),
        cmocka_unit_test(test_idle_refresh),
        cmocka_unit_test(test_idle_inactivity),
        cmocka_unit_test(test_command_while_idle),
        cmocka_unit_test(test_idle_fetch_idle),
        cmocka_unit_test(test_queued_before_ready),
        cmocka_unit_test(test_bye_during_idle),
        cmocka_unit_test(test_command_timeout),
        cmocka_unit_test(test_silent_greeting),
        cmocka_unit_test(test_fifty_fetches),
        cmocka_unit_test(test_simple_commands),
        cmocka_unit_test(test_list_status_search),
        cmocka_unit_test(test_select_fetch_store),
        cmocka_unit_test(test_append),
        cmocka_unit_test(test_move_fallback),
        cmocka_unit_test(test_memory),
        cmocka_unit_test(test_invalid_arguments),
        cmocka_unit_test(test_injection_everywhere),
        cmocka_unit_test(test_auth_mechs_and_login),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
