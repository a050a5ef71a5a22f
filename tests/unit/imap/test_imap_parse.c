/*
 * IMAP response parser: RFC 3501 / RFC 9051 examples and server transcripts
 * (Dovecot, Cyrus, Courier, Gmail- and Exchange-style), each parsed whole
 * and split at every byte; the rendered events (PARTIAL pieces joined) must
 * be identical.  Plus typed checks of what the events say.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imap_dump.h"

/* ---- transcripts ---- */

static const char rfc3501[] =
    "* OK IMAP4rev1 Service Ready\r\n"
    "* CAPABILITY IMAP4rev1 STARTTLS AUTH=GSSAPI LOGINDISABLED\r\n"
    "abcd OK CAPABILITY completed\r\n"
    "* 172 EXISTS\r\n"
    "* 1 RECENT\r\n"
    "* OK [UNSEEN 12] Message 12 is first unseen\r\n"
    "* OK [UIDVALIDITY 3857529045] UIDs valid\r\n"
    "* OK [UIDNEXT 4392] Predicted next UID\r\n"
    "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
    "* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n"
    "A142 OK [READ-WRITE] SELECT completed\r\n"
    "* LIST (\\Noselect) \"/\" ~/Mail/foo\r\n"
    "* LIST () \".\" #news.comp.mail.misc\r\n"
    "* LIST (\\Noselect) NIL \"\"\r\n"
    "* LSUB () \".\" #news.comp.mail.mime\r\n"
    "* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)\r\n"
    "* SEARCH 2 84 882\r\n"
    "* SEARCH\r\n"
    "* 3 EXPUNGE\r\n"
    "* 14 FETCH (FLAGS (\\Seen \\Deleted))\r\n"
    "* 12 FETCH (FLAGS (\\Seen) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" "
    "RFC822.SIZE 4286 ENVELOPE (\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" "
    "\"IMAP4rev1 WG mtg summary and minutes\" "
    "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
    "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
    "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
    "((NIL NIL \"imap\" \"cac.washington.edu\")) "
    "((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")"
    "(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) NIL NIL "
    "\"<B27397-0100000@cac.washington.edu>\") "
    "BODY (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92))\r\n"
    "* 12 FETCH (BODY[HEADER] {342}\r\n"
    "Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\r\n"
    "From: Terry Gray <gray@cac.washington.edu>\r\n"
    "Subject: IMAP4rev1 WG mtg summary and minutes\r\n"
    "To: imap@cac.washington.edu\r\n"
    "cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>\r\n"
    "Message-Id: <B27397-0100000@cac.washington.edu>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n"
    "\r\n"
    ")\r\n"
    "* 23 FETCH (FLAGS (\\Seen) UID 4827313)\r\n"
    "A003 OK [APPENDUID 38505 3955] APPEND completed\r\n"
    "+ Ready for literal data\r\n"
    "* BYE IMAP4rev1 Server logging out\r\n"
    "A023 OK LOGOUT completed\r\n"
    "A044 BAD No such command as \"BLURDYBLOOP\"\r\n"
    "* NO Disk is 98% full, please delete unnecessary data\r\n"
    "A004 NO [TRYCREATE] No such mailbox\r\n"
    "* OK [ALERT] System shutdown in 10 minutes\r\n"
    "* PREAUTH IMAP4rev1 server logged in as Smith\r\n";

static const char rfc9051[] =
    "* OK [CAPABILITY IMAP4rev2 STARTTLS AUTH=GSSAPI] Server ready\r\n"
    "* ENABLED CONDSTORE QRESYNC\r\n"
    "* ESEARCH (TAG \"A282\") MIN 2 COUNT 3\r\n"
    "* ESEARCH (TAG \"A283\") UID ALL 2,10:11\r\n"
    "* ESEARCH (TAG \"A284\") UID MIN 7 MAX 3800 MODSEQ 917162500\r\n"
    "* LIST () \"/\" \"Foo\" (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n"
    "* LIST (\\Subscribed \\NonExistent) \"/\" \"Fruit/Peach\" (\"OLDNAME\" (\"Fruit/Apricot\"))\r\n"
    "* LIST (\\Marked \\NoInferiors) \"/\" \"inbox\" (\"SPECIAL-USE\" (\\Sent) \"X-FOO\" 12)\r\n"
    "* NAMESPACE ((\"\" \"/\")) ((\"~\" \"/\")) ((\"#shared/\" \"/\")(\"#public/\" \"/\")(\"#ftp/\" \"/\")(\"#news.\" \".\"))\r\n"
    "* STATUS INBOX (MESSAGES 17 UIDNEXT 4392 UIDVALIDITY 3857529045 UNSEEN 0 DELETED 2 SIZE 123456789012 "
    "HIGHESTMODSEQ 9223372036854775807)\r\n"
    "* OK [HIGHESTMODSEQ 715194045007] Highest\r\n"
    "* OK [NOMODSEQ] Sorry, this mailbox format doesn't support modsequences\r\n"
    "* 1 FETCH (UID 4 MODSEQ (12121231000))\r\n"
    "* VANISHED (EARLIER) 41,43:116,118,120:211,214:540\r\n"
    "* VANISHED 405,407,410,425\r\n"
    "A202 OK [MODIFIED 7,9] Conditional STORE failed\r\n"
    "A003 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n"
    "A004 OK [UIDNOTSTICKY] Mailbox created without persistent UIDs\r\n"
    "* OK [CLOSED] Previous mailbox closed\r\n"
    "* 5 FETCH (BINARY[1] ~{5}\r\nab\0de BINARY.SIZE[2] 1024)\r\n"
    "* 6 FETCH (BODY[]<0> {4}\r\nabcd)\r\n"
    "* SORT 2 3 6\r\n"
    "* THREAD (2)(3 6 (4 23)(44 7 96))\r\n"
    "* ID (\"name\" \"Cyrus\" \"version\" \"1.5\" \"os\" \"sunos\" \"os-version\" \"5.5\")\r\n"
    "* QUOTAROOT comp.mail.mime \"\"\r\n"
    "* QUOTA \"\" (STORAGE 10 512)\r\n"
    "* METADATA \"INBOX\" (/private/comment \"My own comment\" /shared/x NIL)\r\n"
    "* METADATA \"\" /shared/comment /private/comment\r\n"
    "A1 NO [AUTHENTICATIONFAILED] Authentication failed\r\n"
    "+ \r\n"
    "+\r\n"
    "+ dGVzdA==\r\n";

static const char dovecot[] =
    "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] "
    "Dovecot (Debian) ready.\r\n"
    "a1 OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY THREAD=REFERENCES "
    "THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS "
    "LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS "
    "BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SIZE SAVEDATE LITERAL+ NOTIFY SPECIAL-USE] "
    "Logged in\r\n"
    "* LIST (\\HasNoChildren) \"/\" INBOX\r\n"
    "* LIST (\\HasNoChildren \\Sent) \"/\" Sent\r\n"
    "* LIST (\\HasNoChildren) \"/\" \"&AMQA5ADk-\"\r\n"
    "a2 OK List completed (0.001 + 0.000 secs).\r\n"
    "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
    "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted.\r\n"
    "* 3 EXISTS\r\n"
    "* 0 RECENT\r\n"
    "* OK [UIDVALIDITY 1700000000] UIDs valid\r\n"
    "* OK [UIDNEXT 4] Predicted next UID\r\n"
    "* OK [HIGHESTMODSEQ 7] Highest\r\n"
    "a3 OK [READ-WRITE] Select completed (0.002 + 0.000 + 0.001 secs).\r\n"
    "* 1 FETCH (UID 1 FLAGS (\\Seen) INTERNALDATE \" 1-Jan-2026 10:00:00 +0000\" RFC822.SIZE 512 "
    "BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"quoted-printable\" 120 4 NIL NIL NIL NIL)"
    "(\"application\" \"pdf\" (\"name\" \"a b.pdf\") NIL NIL \"base64\" 4400 NIL (\"attachment\" (\"filename\" "
    "\"a b.pdf\")) NIL NIL) \"mixed\" (\"boundary\" \"xyz\") NIL NIL NIL))\r\n"
    "* 2 FETCH (UID 2 BODY[HEADER.FIELDS (FROM SUBJECT)] {47}\r\n"
    "From: a@example.org\r\nSubject: =?utf-8?q?h?=\r\n\r\n FLAGS ())\r\n"
    "a4 OK Fetch completed (0.001 + 0.000 secs).\r\n"
    "+ idling\r\n"
    "* 4 EXISTS\r\n"
    "a5 OK Idle completed (0.001 + 5.333 + 5.332 secs).\r\n"
    "* BYE Logging out\r\n"
    "a6 OK Logout completed (0.001 + 0.000 secs).\r\n";

static const char cyrus[] =
    "* OK [CAPABILITY IMAP4rev1 LITERAL+ ID ENABLE STARTTLS AUTH=PLAIN SASL-IR] mail.example.com Cyrus IMAP "
    "3.6.1 server ready\r\n"
    "* 2 FETCH (UID 20 RFC822.SIZE 3000 ENVELOPE (\"Mon, 7 Feb 1994 21:52:25 -0800\" {8}\r\nq\"uoted\\ "
    "((NIL NIL \"undisclosed\" NIL)(NIL NIL NIL NIL)) NIL NIL ((\"A\" NIL \"a\" \"x.org\")) NIL NIL NIL \"<id@x>\"))\r\n"
    "* 3 FETCH (BODYSTRUCTURE (\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 900 (NIL \"inner\" NIL NIL NIL NIL NIL "
    "NIL NIL NIL) (\"text\" \"plain\" NIL NIL NIL \"7bit\" 10 1) 20 NIL NIL NIL NIL))\r\n"
    "A5 OK [COPYUID 1 1:3 10:12] Completed\r\n"
    "* QUOTA INBOX (STORAGE 1234 10000 MESSAGE 10 1000)\r\n";

static const char courier[] =
    "* OK [CAPABILITY IMAP4rev1 UIDPLUS CHILDREN NAMESPACE THREAD=ORDEREDSUBJECT THREAD=REFERENCES SORT QUOTA "
    "IDLE ACL ACL2=UNION STARTTLS] Courier-IMAP ready. Copyright 1998-2018 Double Precision, Inc.  See COPYING "
    "for distribution information.\r\n"
    "* NAMESPACE ((\"INBOX.\" \".\")) NIL ((\"#shared.\" \".\")(\"shared.\" \".\"))\r\n"
    "* LIST (\\Unmarked \\HasChildren) \".\" \"INBOX\"\r\n"
    "* LIST (\\HasNoChildren) \".\" \"INBOX.Sent\"\r\n"
    "* 1 FETCH (FLAGS (\\Recent) UID 5 BODY[] {12}\r\nHello world!)\r\n"
    "* 1 FETCH (RFC822.HEADER {2}\r\n\r\n RFC822.TEXT NIL)\r\n"
    "A001 OK LOGIN Ok.\r\n";

static const char gmail[] =
    "* OK Gimap ready for requests from 192.0.2.1 q1mb1234\r\n"
    "* CAPABILITY IMAP4rev1 UNSELECT IDLE NAMESPACE QUOTA ID XLIST CHILDREN X-GM-EXT-1 UIDPLUS COMPRESS=DEFLATE "
    "ENABLE MOVE CONDSTORE ESEARCH UTF8=ACCEPT LIST-EXTENDED LIST-STATUS LITERAL- SPECIAL-USE APPENDLIMIT=35651584\r\n"
    "* LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\n"
    "* LIST (\\All \\HasNoChildren) \"/\" \"[Gmail]/All Mail\"\r\n"
    "* LIST (\\HasNoChildren \\Trash) \"/\" \"[Gmail]/Trash\"\r\n"
    "* 1 FETCH (X-GM-THRID 1278455344230334865 X-GM-MSGID 1278455344230334865 X-GM-LABELS (\\Inbox \"a b\") "
    "UID 9 FLAGS ($NotPhishing \\Seen))\r\n"
    "* ID (\"name\" \"GImap\" \"vendor\" \"Google, Inc.\" \"support-url\" NIL)\r\n"
    "* 2 FETCH (UID 10 ENVELOPE (\"Tue, 01 Jan 2026 00:00:00 +0000\" \"Re: \\\"quoted\\\" \\\\ back\" "
    "((\"Team\" NIL \"team\" \"example.com\")) NIL NIL ((NIL NIL \"Friends\" NIL)(\"B\" NIL \"b\" \"e.org\")"
    "(NIL NIL NIL NIL)) NIL NIL NIL \"<x@y>\"))\r\n"
    "A7 OK [READ-ONLY] Success\r\n"
    "A8 NO [UNAVAILABLE] Temporary System Error\r\n";

static const char exchange[] =
    "* OK The Microsoft Exchange IMAP4 service is ready. [TQBXADIAUABSADAAMQBDAEEAMAAwADIANgA=]\r\n"
    "* CAPABILITY IMAP4 IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2 SASL-IR UIDPLUS MOVE ID UNSELECT CHILDREN IDLE NAMESPACE "
    "LITERAL+\r\n"
    "* 1 FETCH (UID 11 FLAGS (\\Seen) BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
    "\"quoted-printable\" 10 1 NIL NIL NIL NIL)(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL "
    "\"quoted-printable\" 20 1 NIL NIL NIL NIL) \"alternative\" (\"boundary\" \"_000_\") NIL \"en-US\"))\r\n"
    "A2 OK [READ-WRITE] SELECT completed.\r\n"
    "* 3 FETCH (UID 12 BODY[1]<0> {3}\r\nabc)\r\n"
    "A3 BAD Command Argument Error. 11\r\n";

static const struct {
    const char *name;
    const char *data;
    size_t len;
} transcripts[] = {
    {"rfc3501", rfc3501, sizeof rfc3501 - 1}, {"rfc9051", rfc9051, sizeof rfc9051 - 1},
    {"dovecot", dovecot, sizeof dovecot - 1}, {"cyrus", cyrus, sizeof cyrus - 1},
    {"courier", courier, sizeof courier - 1}, {"gmail", gmail, sizeof gmail - 1},
    {"exchange", exchange, sizeof exchange - 1},
};

/* whole vs every split point (two pieces) vs byte by byte */
static void check_splits(const char *data, size_t len)
{
    int rc;
    char *whole = dump_parse(data, len, 0, NULL, 1, &rc);
    assert_int_equal(rc, MAILPROTO_E_CLOSED);
    /* no unparsed response in valid transcripts */
    assert_null(strstr(whole, "\n41 "));
    assert_false(strncmp(whole, "41 ", 3) == 0);
    char *bytewise = dump_parse(data, len, 1, NULL, 1, &rc);
    assert_string_equal(whole, bytewise);
    free(bytewise);
    for (size_t k = 1; k < len; k++) {
        /* two pieces: the first k bytes, then the rest */
        mailproto_imap_parser *p;
        dumpbuf d = {0};
        assert_int_equal(mailproto_imap_parser_new(&p, NULL, NULL), MAILPROTO_OK);
        mailproto_imap_parser_set_authenticated(p, 1);
        size_t off = 0;
        for (;;) {
            const mailproto_imap_event *e;
            rc = mailproto_imap_parser_next(p, &e);
            if (rc == MAILPROTO_EVENT) {
                db_event(&d, e);
                continue;
            }
            if (rc != MAILPROTO_AGAIN)
                break;
            if (off == len) {
                mailproto_imap_parser_eof(p);
                continue;
            }
            size_t lim = off < k ? k : len;
            size_t used;
            mailproto_imap_parser_feed(p, data + off, lim - off, &used);
            off += used;
        }
        if (d.in_partial)
            db_put(&d, "|\n", 2);
        if (d.last_type == MAILPROTO_IMAP_EV_LITERAL_CHUNK)
            db_put(&d, "\n", 1);
        db_printf(&d, "RC %d %s\n", rc, "");
        mailproto_imap_parser_free(p);
        if (strcmp(d.s, whole) != 0) {
            fprintf(stderr, "split at %zu differs\n", k);
            assert_string_equal(d.s, whole);
        }
        free(d.s);
    }
    free(whole);
}

static void test_transcripts_split(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof transcripts / sizeof transcripts[0]; i++) {
        fprintf(stderr, "transcript %s (%zu bytes)\n", transcripts[i].name, transcripts[i].len);
        check_splits(transcripts[i].data, transcripts[i].len);
    }
}

/* ---- typed checks ---- */

typedef struct collected {
    mailproto_imap_event ev[512];
    char text[512][256];
    char name[512][64];
    size_t n;
} collected;

static int collect(const char *data, size_t len, collected *c)
{
    mailproto_imap_parser *p;
    assert_int_equal(mailproto_imap_parser_new(&p, NULL, NULL), MAILPROTO_OK);
    mailproto_imap_parser_set_authenticated(p, 1);
    size_t used;
    int rc;
    c->n = 0;
    size_t off = 0;
    for (;;) {
        const mailproto_imap_event *e;
        rc = mailproto_imap_parser_next(p, &e);
        if (rc == MAILPROTO_EVENT) {
            assert_true(c->n < 512);
            c->ev[c->n] = *e;
            size_t k = e->data.len < 255 ? e->data.len : 255;
            if (k)
                memcpy(c->text[c->n], e->data.ptr, k);
            c->text[c->n][k] = '\0';
            c->ev[c->n].data.ptr = c->text[c->n];
            k = e->name.len < 63 ? e->name.len : 63;
            if (k)
                memcpy(c->name[c->n], e->name.ptr, k);
            c->name[c->n][k] = '\0';
            c->ev[c->n].name.ptr = c->name[c->n];
            c->ev[c->n].path = NULL;
            c->n++;
            continue;
        }
        if (rc != MAILPROTO_AGAIN)
            break;
        if (off == len) {
            mailproto_imap_parser_eof(p);
            continue;
        }
        mailproto_imap_parser_feed(p, data + off, len - off, &used);
        off += used;
    }
    mailproto_imap_parser_free(p);
    return rc;
}

static const mailproto_imap_event *find(const collected *c, int type, int item, size_t from)
{
    for (size_t i = from; i < c->n; i++)
        if (c->ev[i].type == type && (item < 0 || c->ev[i].item == item))
            return &c->ev[i];
    return NULL;
}

static void test_typed_status(void **state)
{
    (void)state;
    collected *c = calloc(1, sizeof *c);
    const char in[] = "A003 OK [APPENDUID 38505 3955] APPEND completed\r\n"
                      "* OK [UIDVALIDITY 3857529045] UIDs valid\r\n"
                      "* 172 EXISTS\r\n"
                      "A004 NO [TRYCREATE] No such mailbox\r\n"
                      "* OK [XUNKNOWN-CODE a b c] text\r\n"
                      "* OK [REFERRAL imap://a.example/] referred\r\n";
    assert_int_equal(collect(in, sizeof in - 1, c), MAILPROTO_E_CLOSED);
    const mailproto_imap_event *e = &c->ev[0];
    assert_int_equal(e->type, MAILPROTO_IMAP_EV_STATUS);
    assert_int_equal(e->status, MAILPROTO_IMAP_OK);
    assert_int_equal(e->tag.len, 4);
    e = find(c, MAILPROTO_IMAP_EV_CODE, MAILPROTO_IMAP_CODE_APPENDUID, 0);
    assert_non_null(e);
    assert_int_equal(e->number, 38505);
    e = find(c, MAILPROTO_IMAP_EV_RANGE, MAILPROTO_IMAP_CODE_APPENDUID, 0);
    assert_non_null(e);
    assert_int_equal(e->number, 3955);
    assert_int_equal(e->number2, 3955);
    e = find(c, MAILPROTO_IMAP_EV_TEXT, -1, 0);
    assert_string_equal(e->data.ptr, "APPEND completed");
    e = find(c, MAILPROTO_IMAP_EV_CODE, MAILPROTO_IMAP_CODE_UIDVALIDITY, 0);
    assert_int_equal(e->number, 3857529045u);
    e = find(c, MAILPROTO_IMAP_EV_EXISTS, -1, 0);
    assert_int_equal(e->number, 172);
    e = find(c, MAILPROTO_IMAP_EV_CODE, MAILPROTO_IMAP_CODE_TRYCREATE, 0);
    assert_non_null(e);
    assert_int_equal(e->status, MAILPROTO_IMAP_NO);
    e = find(c, MAILPROTO_IMAP_EV_CODE, MAILPROTO_IMAP_CODE_OTHER, 0);
    assert_string_equal(e->data.ptr, "a b c");
    e = find(c, MAILPROTO_IMAP_EV_CODE, MAILPROTO_IMAP_CODE_REFERRAL, 0);
    assert_string_equal(e->data.ptr, "imap://a.example/");
    assert_null(find(c, MAILPROTO_IMAP_EV_CODE, MAILPROTO_IMAP_CODE_OTHER, (size_t)(e - c->ev)));
    free(c);
}

static void test_typed_fetch(void **state)
{
    (void)state;
    collected *c = calloc(1, sizeof *c);
    const char in[] = "* 12 FETCH (UID 4294967295 FLAGS (\\Seen $Junk) RFC822.SIZE 18446744073709551615 "
                      "MODSEQ (9223372036854775807) BODY[1.2.MIME]<100> {3}\r\nxyz "
                      "BINARY.SIZE[3] 77 XUNKNOWN (a (b {2}\r\n()) c) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\")\r\n";
    assert_int_equal(collect(in, sizeof in - 1, c), MAILPROTO_E_CLOSED);
    assert_int_equal(c->ev[0].type, MAILPROTO_IMAP_EV_FETCH);
    assert_int_equal(c->ev[0].seq, 12);
    const mailproto_imap_event *e = find(c, MAILPROTO_IMAP_EV_NUMBER, MAILPROTO_IMAP_ITEM_UID, 0);
    assert_int_equal(e->number, 4294967295u);
    e = find(c, MAILPROTO_IMAP_EV_NUMBER, MAILPROTO_IMAP_ITEM_RFC822_SIZE, 0);
    assert_true(e->number == UINT64_MAX);
    e = find(c, MAILPROTO_IMAP_EV_NUMBER, MAILPROTO_IMAP_ITEM_MODSEQ, 0);
    assert_true(e->number == (uint64_t)INT64_MAX);
    e = find(c, MAILPROTO_IMAP_EV_FLAG, MAILPROTO_IMAP_ITEM_FLAGS, 0);
    assert_string_equal(e->data.ptr, "\\Seen");
    e = find(c, MAILPROTO_IMAP_EV_LITERAL_BEGIN, MAILPROTO_IMAP_ITEM_BODY_SECTION, 0);
    assert_int_equal(e->number, 3);
    assert_true(e->flags & MAILPROTO_IMAP_EVF_ORIGIN);
    assert_int_equal(e->number2, 100);
    e = find(c, MAILPROTO_IMAP_EV_LITERAL_CHUNK, -1, 0);
    assert_string_equal(e->data.ptr, "xyz");
    e = find(c, MAILPROTO_IMAP_EV_NUMBER, MAILPROTO_IMAP_ITEM_BINARY_SIZE, 0);
    assert_int_equal(e->number, 77);
    e = find(c, MAILPROTO_IMAP_EV_STRING, MAILPROTO_IMAP_ITEM_INTERNALDATE, 0);
    int64_t utc;
    int tz;
    assert_int_equal(mailproto_imap_parse_datetime(e->data.ptr, strlen(e->data.ptr), &utc, &tz), MAILPROTO_OK);
    assert_int_equal(utc, 837596665); /* 1996-07-17 09:44:25 UTC */
    assert_int_equal(tz, -420);
    assert_int_equal(c->ev[c->n - 1].type, MAILPROTO_IMAP_EV_END);
    /* the unknown item produced no events */
    for (size_t i = 0; i < c->n; i++)
        assert_false(c->ev[i].type == MAILPROTO_IMAP_EV_ATOM);
    free(c);
}

/* Every response code is typed: item = its CODE_*, name = the atom, and
 * the numbers and arguments the header promises. */
static void test_typed_codes(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        int code;
        uint64_t number;   /* (uint64_t)-1: not checked */
        int arg_type;      /* first argument event with item == code, 0: none */
        uint64_t a1, a2;   /* its number/number2 for ranges */
        const char *data;  /* expected data of the code event, NULL: not checked */
    } v[] = {
        {"* OK [ALERT] System shutdown in 10 minutes\r\n", MAILPROTO_IMAP_CODE_ALERT, (uint64_t)-1, 0, 0, 0, NULL},
        {"* OK [CAPABILITY IMAP4rev1 IDLE] ready\r\n", MAILPROTO_IMAP_CODE_CAPABILITY, (uint64_t)-1,
         MAILPROTO_IMAP_EV_ATOM, 0, 0, NULL},
        {"* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n", MAILPROTO_IMAP_CODE_PERMANENTFLAGS,
         (uint64_t)-1, MAILPROTO_IMAP_EV_FLAG, 0, 0, NULL},
        {"* OK [UIDVALIDITY 3857529045] UIDs valid\r\n", MAILPROTO_IMAP_CODE_UIDVALIDITY, 3857529045u, 0, 0, 0,
         NULL},
        {"* OK [UIDNEXT 4392] Predicted next UID\r\n", MAILPROTO_IMAP_CODE_UIDNEXT, 4392, 0, 0, 0, NULL},
        {"* OK [UNSEEN 12] Message 12 is first unseen\r\n", MAILPROTO_IMAP_CODE_UNSEEN, 12, 0, 0, 0, NULL},
        {"* OK [HIGHESTMODSEQ 9223372036854775807] Highest\r\n", MAILPROTO_IMAP_CODE_HIGHESTMODSEQ,
         9223372036854775807ull, 0, 0, 0, NULL},
        {"* OK [NOMODSEQ] Sorry, this mailbox format doesn't support modsequences\r\n",
         MAILPROTO_IMAP_CODE_NOMODSEQ, (uint64_t)-1, 0, 0, 0, NULL},
        {"A142 OK [READ-ONLY] EXAMINE completed\r\n", MAILPROTO_IMAP_CODE_READ_ONLY, (uint64_t)-1, 0, 0, 0, NULL},
        {"A142 OK [READ-WRITE] SELECT completed\r\n", MAILPROTO_IMAP_CODE_READ_WRITE, (uint64_t)-1, 0, 0, 0, NULL},
        {"A003 NO [TRYCREATE] Mailbox doesn't exist\r\n", MAILPROTO_IMAP_CODE_TRYCREATE, (uint64_t)-1, 0, 0, 0, NULL},
        {"A003 OK [APPENDUID 38505 3955] APPEND completed\r\n", MAILPROTO_IMAP_CODE_APPENDUID, 38505,
         MAILPROTO_IMAP_EV_RANGE, 3955, 3955, NULL},
        {"A004 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n", MAILPROTO_IMAP_CODE_COPYUID, 38505,
         MAILPROTO_IMAP_EV_RANGE, 304, 304, NULL},
        {"A004 OK [UIDNOTSTICKY] Non-persistent UIDs\r\n", MAILPROTO_IMAP_CODE_UIDNOTSTICKY, (uint64_t)-1, 0, 0, 0,
         NULL},
        {"* OK [CLOSED] Previous mailbox closed\r\n", MAILPROTO_IMAP_CODE_CLOSED, (uint64_t)-1, 0, 0, 0, NULL},
        {"d105 OK [MODIFIED 7,9] Conditional STORE failed\r\n", MAILPROTO_IMAP_CODE_MODIFIED, (uint64_t)-1,
         MAILPROTO_IMAP_EV_RANGE, 7, 7, NULL},
        {"A1 BAD [PARSE] Bad syntax\r\n", MAILPROTO_IMAP_CODE_PARSE, (uint64_t)-1, 0, 0, 0, NULL},
        {"A1 NO [REFERRAL imap://user;AUTH=*@srv/] Remote\r\n", MAILPROTO_IMAP_CODE_REFERRAL, (uint64_t)-1, 0, 0,
         0, "imap://user;AUTH=*@srv/"},
        {"A1 NO [AUTHENTICATIONFAILED] Bad creds\r\n", MAILPROTO_IMAP_CODE_AUTHENTICATIONFAILED, (uint64_t)-1, 0,
         0, 0, NULL},
        {"A1 NO [UNAVAILABLE] Try later\r\n", MAILPROTO_IMAP_CODE_UNAVAILABLE, (uint64_t)-1, 0, 0, 0, NULL},
        {"* OK [X-GM-SOMETHING a b c] hi\r\n", MAILPROTO_IMAP_CODE_OTHER, (uint64_t)-1, 0, 0, 0, "a b c"},
    };
    collected *c = calloc(1, sizeof *c);
    for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
        assert_int_equal(collect(v[k].line, strlen(v[k].line), c), MAILPROTO_E_CLOSED);
        const mailproto_imap_event *e = find(c, MAILPROTO_IMAP_EV_CODE, -1, 0);
        if (!e || e->item != v[k].code)
            fail_msg("%s: code %d", v[k].line, e ? e->item : -1);
        assert_null(find(c, MAILPROTO_IMAP_EV_UNPARSED, -1, 0));
        const char *lb = strchr(v[k].line, '[') + 1;
        size_t nl = strcspn(lb, " ]");
        assert_int_equal(e->name.len, nl);
        assert_memory_equal(e->name.ptr, lb, nl);
        if (v[k].number != (uint64_t)-1)
            assert_int_equal(e->number, v[k].number);
        if (v[k].data)
            assert_string_equal(e->data.ptr, v[k].data);
        if (v[k].arg_type) {
            const mailproto_imap_event *a = find(c, v[k].arg_type, v[k].code, (size_t)(e - c->ev) + 1);
            if (!a)
                fail_msg("%s: no argument event", v[k].line);
            if (v[k].arg_type == MAILPROTO_IMAP_EV_RANGE) {
                assert_int_equal(a->number, v[k].a1);
                assert_int_equal(a->number2, v[k].a2);
            }
        }
        /* the text after the code is still there */
        assert_non_null(find(c, MAILPROTO_IMAP_EV_TEXT, -1, 0));
    }
    /* COPYUID: source set then the destination set marked EVF_SECOND */
    const char cu[] = "A004 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n";
    assert_int_equal(collect(cu, sizeof cu - 1, c), MAILPROTO_E_CLOSED);
    uint64_t want[3][3] = {{304, 304, 0}, {319, 320, 0}, {3956, 3958, 1}};
    size_t at = 0;
    for (int j = 0; j < 3; j++) {
        const mailproto_imap_event *a = find(c, MAILPROTO_IMAP_EV_RANGE, MAILPROTO_IMAP_CODE_COPYUID, at);
        assert_non_null(a);
        assert_int_equal(a->number, want[j][0]);
        assert_int_equal(a->number2, want[j][1]);
        assert_int_equal((a->flags & MAILPROTO_IMAP_EVF_SECOND) != 0, (int)want[j][2]);
        at = (size_t)(a - c->ev) + 1;
    }
    free(c);
}

static void test_typed_more(void **state)
{
    (void)state;
    collected *c = calloc(1, sizeof *c);
    static const char in[] = "* THREAD (2)(3 6 (4 23))\r\n"
                             "* ESEARCH (TAG \"A283\") UID ALL 2,10:11,5:*\r\n"
                             "* VANISHED (EARLIER) 41,43:116\r\n"
                             "* 5 FETCH (BINARY[1] ~{3}\r\nab\0 MODSEQ (7))\r\n"
                             "+ dGVzdA==\r\n"
                             "* LIST (\\Marked) NIL \"x\" (\"CHILDINFO\" (\"SUBSCRIBED\") \"X-FOO\" (a 12))\r\n"
                             "* STATUS {3}\r\na b (UIDVALIDITY 7 HIGHESTMODSEQ 9223372036854775807 X-NEW 5)\r\n"
                             "* CAPABILITY IMAP4rev1 LITERAL+\r\n";
    assert_int_equal(collect(in, sizeof in - 1, c), MAILPROTO_E_CLOSED);
    size_t i = 0;
    /* THREAD: open [0], 2 at [0.0], close, open [1], 3 [1.0], 6 [1.1], open [1.2] ... */
    static const int thread_types[] = {MAILPROTO_IMAP_EV_THREAD, MAILPROTO_IMAP_EV_OPEN, MAILPROTO_IMAP_EV_NUMBER,
                                       MAILPROTO_IMAP_EV_CLOSE, MAILPROTO_IMAP_EV_OPEN, MAILPROTO_IMAP_EV_NUMBER,
                                       MAILPROTO_IMAP_EV_NUMBER, MAILPROTO_IMAP_EV_OPEN, MAILPROTO_IMAP_EV_NUMBER,
                                       MAILPROTO_IMAP_EV_NUMBER, MAILPROTO_IMAP_EV_CLOSE, MAILPROTO_IMAP_EV_CLOSE,
                                       MAILPROTO_IMAP_EV_END};
    static const unsigned thread_depth[] = {0, 1, 2, 1, 1, 2, 2, 2, 3, 3, 2, 1, 0};
    for (size_t k = 0; k < sizeof thread_types / sizeof thread_types[0]; k++, i++) {
        assert_int_equal(c->ev[i].type, thread_types[k]);
        assert_int_equal(c->ev[i].path_len, thread_depth[k]);
    }
    assert_int_equal(c->ev[2].number, 2);
    assert_int_equal(c->ev[9].number, 23);
    /* ESEARCH */
    assert_int_equal(c->ev[i].type, MAILPROTO_IMAP_EV_ESEARCH);
    assert_int_equal(c->ev[i + 1].item, MAILPROTO_IMAP_ITEM_TAG);
    assert_string_equal(c->ev[i + 1].data.ptr, "A283");
    assert_int_equal(c->ev[i + 2].item, MAILPROTO_IMAP_ITEM_UID);
    assert_int_equal(c->ev[i + 3].type, MAILPROTO_IMAP_EV_RANGE);
    assert_int_equal(c->ev[i + 3].item, MAILPROTO_IMAP_ITEM_ALL);
    assert_int_equal(c->ev[i + 4].number, 10);
    assert_int_equal(c->ev[i + 4].number2, 11);
    assert_int_equal(c->ev[i + 5].number, 5);
    assert_true(c->ev[i + 5].flags & MAILPROTO_IMAP_EVF_STAR2);
    assert_false(c->ev[i + 5].flags & MAILPROTO_IMAP_EVF_STAR1);
    assert_int_equal(c->ev[i + 6].type, MAILPROTO_IMAP_EV_END);
    i += 7;
    /* VANISHED (EARLIER) */
    assert_int_equal(c->ev[i].type, MAILPROTO_IMAP_EV_VANISHED);
    assert_true(c->ev[i].flags & MAILPROTO_IMAP_EVF_EARLIER);
    assert_int_equal(c->ev[i + 2].number, 43);
    assert_int_equal(c->ev[i + 2].number2, 116);
    i += 4;
    /* literal8 with a NUL, then MODSEQ */
    assert_int_equal(c->ev[i].type, MAILPROTO_IMAP_EV_FETCH);
    assert_int_equal(c->ev[i + 1].type, MAILPROTO_IMAP_EV_LITERAL_BEGIN);
    assert_int_equal(c->ev[i + 1].item, MAILPROTO_IMAP_ITEM_BINARY);
    assert_true(c->ev[i + 1].flags & MAILPROTO_IMAP_EVF_LITERAL8);
    assert_int_equal(c->ev[i + 2].data.len, 3);
    assert_memory_equal(c->text[i + 2], "ab\0", 3);
    assert_int_equal(c->ev[i + 3].type, MAILPROTO_IMAP_EV_LITERAL_END);
    assert_int_equal(c->ev[i + 4].item, MAILPROTO_IMAP_ITEM_MODSEQ);
    assert_int_equal(c->ev[i + 4].number, 7);
    i += 6;
    /* continuation with base64 */
    assert_int_equal(c->ev[i].type, MAILPROTO_IMAP_EV_CONTINUE);
    assert_string_equal(c->ev[i + 1].data.ptr, "dGVzdA==");
    i += 3;
    /* LIST with NIL delimiter, CHILDINFO and an unknown extension */
    assert_int_equal(c->ev[i].type, MAILPROTO_IMAP_EV_LIST);
    const mailproto_imap_event *e = find(c, MAILPROTO_IMAP_EV_STRING, MAILPROTO_IMAP_ITEM_DELIM, i);
    assert_true(e->flags & MAILPROTO_IMAP_EVF_NIL);
    e = find(c, MAILPROTO_IMAP_EV_STRING, MAILPROTO_IMAP_ITEM_CHILDINFO, i);
    assert_string_equal(e->data.ptr, "SUBSCRIBED");
    e = find(c, MAILPROTO_IMAP_EV_ATOM, MAILPROTO_IMAP_ITEM_LIST_EXT, i);
    assert_string_equal(e->data.ptr, "X-FOO");
    e = find(c, MAILPROTO_IMAP_EV_NUMBER, MAILPROTO_IMAP_ITEM_LIST_EXT, i);
    assert_int_equal(e->number, 12);
    /* STATUS with a literal mailbox name */
    e = find(c, MAILPROTO_IMAP_EV_MBSTATUS, -1, i);
    i = (size_t)(e - c->ev);
    assert_string_equal(c->ev[i + 1].data.ptr, "a b");
    assert_true(c->ev[i + 1].flags & MAILPROTO_IMAP_EVF_LITERAL);
    assert_int_equal(c->ev[i + 2].item, MAILPROTO_IMAP_ITEM_UIDVALIDITY);
    assert_true(c->ev[i + 3].number == (uint64_t)INT64_MAX);
    assert_int_equal(c->ev[i + 4].item, MAILPROTO_IMAP_ITEM_OTHER);
    assert_int_equal(c->ev[i + 4].name.len, 5);
    /* CAPABILITY */
    e = find(c, MAILPROTO_IMAP_EV_CAPABILITY, -1, i);
    i = (size_t)(e - c->ev);
    assert_string_equal(c->ev[i + 2].data.ptr, "LITERAL+");
    assert_int_equal(c->ev[c->n - 1].type, MAILPROTO_IMAP_EV_END);
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transcripts_split),
        cmocka_unit_test(test_typed_status),
        cmocka_unit_test(test_typed_fetch),
        cmocka_unit_test(test_typed_codes),
        cmocka_unit_test(test_typed_more),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
