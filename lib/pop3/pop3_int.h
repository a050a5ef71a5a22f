/*
 * POP3 internals: the sans-I/O engine.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MAILPROTO_POP3_INT_H
#define MAILPROTO_POP3_INT_H

#include <mailproto/pop3.h>

#include "../core/internal.h"
#include "../sasl/sasl.h"

#define MAILPROTO__POP3_QUEUE 64     /* hard cap of pipeline_depth */
#define MAILPROTO__POP3_TS_MAX 256   /* APOP timestamp, brackets included */
#define MAILPROTO__POP3_TEXT_MAX 512 /* reply text kept for events */
#define MAILPROTO__POP3_UID_MAX 70   /* RFC 1939 7: 1 to 70 characters */

/* Engine wants (the drive loop's MAILPROTO__DRIVE_WANT_* values). */
#define MAILPROTO__POP3_WANT_READ 1
#define MAILPROTO__POP3_WANT_WRITE 2
#define MAILPROTO__POP3_WANT_TLS 4

typedef struct mailproto__pop3_cmd {
    int cmd;
    uint32_t msg;
    uint32_t lines;
    mailproto_sink sink;
} mailproto__pop3_cmd;

typedef struct mailproto__pop3_engine {
    mailproto_pop3_config cfg;  /* defaults resolved */
    mailproto__trace trace;
    mailproto__err *err;

    unsigned char *in;
    size_t in_cap, in_len, in_off;
    unsigned char *out;
    size_t out_cap, out_len, out_off;
    unsigned char *sasl_work;
    size_t sasl_work_cap;

    int state;
    int dead;               /* sticky fatal status */
    int secure;
    int want_tls;
    int tls_reported;
    int tls_event;          /* engine mode: report EV_STARTTLS */
    int implicit_tls;
    int eof;
    int logged_in;
    int outcome;            /* MAILPROTO_POP3_OUTCOME_* */

    /* what the server told us */
    mailproto_pop3_capa_info capa;
    size_t capa_lines;
    char ts[MAILPROTO__POP3_TS_MAX]; /* APOP timestamp, "" when none or malformed */
    int ts_bad;             /* the greeting had a malformed timestamp */

    /* the reply being read */
    int ml;                 /* 0 status line, 1 listing lines, 2 message data */
    int dstate;             /* dot-unstuffing state of message data */
    uint32_t list_n;        /* entries in the current listing */
    uint32_t list_last;     /* last message number in it */
    uint64_t data_bytes;    /* bytes given to the sink */
    uint64_t data_total;    /* progress total: RETR's "+OK n octets", else unknown */
    int data_fail;          /* the sink failed: drop the rest */
    char text[MAILPROTO__POP3_TEXT_MAX];
    size_t text_len;
    char resp_code[48];
    int temporary;

    /* commands: a ring, [q_head, q_head + q_len); the first q_sent went out */
    mailproto__pop3_cmd q[MAILPROTO__POP3_QUEUE];
    size_t q_head, q_len, q_sent;
    size_t depth;           /* commands allowed in flight */
    int quit_queued;
    size_t quit_mark;       /* bytes of output up to the end of QUIT still unsent */
    int quit_sent;          /* every byte of QUIT was handed to the transport */
    size_t pending;         /* replies owed for session commands (not the queue) */

    /* AUTH */
    mailproto__sasl sasl;
    mailproto__sasl_cred cred;
    int auth_mech;
    int auth_err;
    int auth_retried;

    /* events */
    mailproto_pop3_event ev;
    int ev_done_pending;    /* a DONE follows the ENTRY just returned */

    /* time */
    uint64_t now;
    uint64_t wait_start, last_rx, last_tx;
    int arm_wait, arm_rx, arm_tx;
} mailproto__pop3_engine;

void mailproto__pop3_config_defaults(mailproto_pop3_config *c);

/* Set up an engine over buffers the client allocated.  Never fails. */
void mailproto__pop3_engine_init(mailproto__pop3_engine *e, const mailproto_pop3_config *cfg,
                                 mailproto__err *err, unsigned char *in, size_t in_cap,
                                 unsigned char *out, size_t out_cap, unsigned char *work,
                                 size_t work_cap);

int mailproto__pop3_engine_start(mailproto__pop3_engine *e);
int mailproto__pop3_engine_submit(mailproto__pop3_engine *e, int cmd, uint32_t msg,
                                  uint32_t lines, const mailproto_sink *sink);
int mailproto__pop3_engine_quit(mailproto__pop3_engine *e);
int mailproto__pop3_engine_next(mailproto__pop3_engine *e, uint64_t now,
                                const mailproto_pop3_event **ev);
int mailproto__pop3_engine_want(const mailproto__pop3_engine *e);
void mailproto__pop3_engine_input(mailproto__pop3_engine *e, unsigned char **p, size_t *cap);
void mailproto__pop3_engine_input_done(mailproto__pop3_engine *e, size_t n);
void mailproto__pop3_engine_output(mailproto__pop3_engine *e, const unsigned char **p,
                                   size_t *len);
void mailproto__pop3_engine_output_done(mailproto__pop3_engine *e, size_t n);
void mailproto__pop3_engine_tls_done(mailproto__pop3_engine *e);
/* The transport failed or closed: returns the status now sticky (QUIT
 * maps to NOT_SENT / OUTCOME_UNKNOWN). */
int mailproto__pop3_engine_fail(mailproto__pop3_engine *e, int status);
int64_t mailproto__pop3_engine_deadline(const mailproto__pop3_engine *e, uint64_t now);
/* Nonzero when logged in, alive, with nothing queued. */
int mailproto__pop3_engine_idle(const mailproto__pop3_engine *e);

/* Nonzero in the TRANSACTION state (commands may be queued). */
int mailproto__pop3_engine_in_transaction(const mailproto__pop3_engine *e);

/* Parsers shared with the fuzz target and tests. */

/* A status line: 1 for +OK, 0 for -ERR, -1 for anything else.  *text is
 * what follows; an extended code "[X/Y]" at the start of an -ERR or +OK
 * text goes to code (NUL terminated, "" when none) and *temporary. */
int mailproto__pop3_status(const char *line, size_t len, const char **text, size_t *text_len,
                           char *code, size_t code_cap, int *temporary);

/* "n size" of LIST / "n uid" of UIDL (after the +OK for a single message,
 * or a listing line).  Returns 0 or MAILPROTO_E_PROTOCOL. */
int mailproto__pop3_parse_list(const char *p, size_t len, uint32_t *msg, uint64_t *size);
int mailproto__pop3_parse_uidl(const char *p, size_t len, uint32_t *msg, const char **uid,
                               size_t *uid_len);
/* The size a RETR +OK announces ("120 octets", RFC 1939 7), or
 * MAILPROTO_SIZE_UNKNOWN.  Only a progress hint: never used to size
 * anything. */
uint64_t mailproto__pop3_octets_hint(const char *p, size_t len);
/* "count size" of STAT. */
int mailproto__pop3_parse_stat(const char *p, size_t len, uint32_t *count, uint64_t *size);

/* One CAPA line into c. */
void mailproto__pop3_capa_line(mailproto_pop3_capa_info *c, const char *p, size_t len);

/* The APOP timestamp in a greeting text: copied with its brackets to ts
 * (cap bytes incl. NUL).  Returns 1 found and well formed, 0 none, -1
 * malformed. */
int mailproto__pop3_timestamp(const char *text, size_t len, char *ts, size_t cap);

#endif /* MAILPROTO_POP3_INT_H */
