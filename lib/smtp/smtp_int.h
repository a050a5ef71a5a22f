/*
 * SMTP internals: reply parser, body encoder, sans-I/O engine.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MAILPROTO_SMTP_INT_H
#define MAILPROTO_SMTP_INT_H

#include <mailproto/smtp.h>

#include "../core/internal.h"
#include "../sasl/sasl.h"

/* ------------------------------------------------------------------ */
/* smtp_reply.c: one line at a time                                     */
/* ------------------------------------------------------------------ */

#define MAILPROTO__SMTP_TEXT_MAX 512

typedef struct mailproto__smtp_reply {
    /* limits */
    size_t max_line, max_bytes, max_lines;
    int enhanced_on;    /* parse "x.y.z " after the code */
    /* the reply being assembled */
    int code;
    size_t lines;
    size_t bytes;
    int enh_cls, enh_subj, enh_det;
    char enhanced[16];
    /* this line's text (after code, separator and enhanced code) */
    const char *line_text;
    size_t line_len;
    /* the first lines' text, joined by spaces, sanitized, bounded */
    char text[MAILPROTO__SMTP_TEXT_MAX];
    size_t text_len;
    int complete;       /* the last line ended the reply: the next line starts anew */
} mailproto__smtp_reply;

/* Start a new reply. */
void mailproto__smtp_reply_reset(mailproto__smtp_reply *r);

/* Feed one line (without CRLF).  Returns 0 when more lines follow, 1 when
 * the reply is complete, MAILPROTO_E_PROTOCOL (malformed, or a
 * continuation with another code) or MAILPROTO_E_LIMIT (line, bytes or
 * lines over the limits). */
int mailproto__smtp_reply_line(mailproto__smtp_reply *r, const char *line, size_t len);

/* What EHLO told us. */
typedef struct mailproto__smtp_caps {
    unsigned mask;      /* MAILPROTO_SMTP_CAP_* */
    uint64_t size;      /* SIZE n (0 when absent or unlimited) */
    unsigned auth;      /* mask of MAILPROTO_AUTH_BIT */
} mailproto__smtp_caps;

/* Read one EHLO reply line after the first (keyword [params]). */
void mailproto__smtp_caps_line(mailproto__smtp_caps *c, const char *p, size_t len);

/* ------------------------------------------------------------------ */
/* smtp_data.c: body encoder                                            */
/* ------------------------------------------------------------------ */

typedef struct mailproto__smtp_enc {
    int bol;        /* at the beginning of a line */
    int skip_lf;    /* the last byte was CR (already written as CRLF) */
    int stuff;      /* dot-stuffing (DATA); 0 for BDAT */
    int canon;      /* canonicalize line endings (0: BINARYMIME, byte-exact) */
    int allow8;     /* 8-bit bytes allowed */
    int bad8;       /* an 8-bit byte was met while not allowed */
} mailproto__smtp_enc;

void mailproto__smtp_enc_init(mailproto__smtp_enc *e, int stuff, int canon, int allow8);

/* Encode n bytes from in to out; out holds at least 2n bytes, and may
 * overlap in as long as out + n <= in.  Returns the bytes written; stops
 * early with e->bad8 set at a disallowed 8-bit byte. */
size_t mailproto__smtp_enc_run(mailproto__smtp_enc *e, const unsigned char *in, size_t n,
                               unsigned char *out);

/* Finish: CRLF when the last line is open (canon), then ".\r\n" when
 * stuffing.  out holds 5 bytes.  Returns the bytes written. */
size_t mailproto__smtp_enc_end(mailproto__smtp_enc *e, unsigned char *out);

/* ------------------------------------------------------------------ */
/* smtp_engine.c                                                        */
/* ------------------------------------------------------------------ */

/* Engine wants (also the drive loop's MAILPROTO__DRIVE_WANT_*). */
#define MAILPROTO__SMTP_WANT_READ 1
#define MAILPROTO__SMTP_WANT_WRITE 2
#define MAILPROTO__SMTP_WANT_TLS 4

typedef struct mailproto__smtp_engine {
    /* settings (resolved defaults) */
    mailproto_smtp_config cfg;
    mailproto__trace trace;
    mailproto__err *err;

    /* buffers, owned by the client handle */
    unsigned char *in;
    size_t in_cap, in_len, in_off;
    unsigned char *out;
    size_t out_cap, out_len, out_off;
    unsigned char *sasl_work;
    size_t sasl_work_cap;
    mailproto_smtp_rcpt *rcpt;
    size_t rcpt_cap;

    int state;
    int dead;           /* sticky fatal status (0: alive) */
    int secure;
    int want_tls;       /* waiting for the caller/drive to upgrade */
    int tls_reported;   /* EV_STARTTLS given (engine mode) */
    int eof;            /* peer closed */
    int ready_once;
    int implicit_tls;
    int tls_event;      /* engine mode: report EV_STARTTLS to the caller */
    size_t pending;     /* replies owed (FIFO of commands written) */
    int sent_pending;   /* EV_SENT follows the event just returned */
    int source_again;   /* the body source said AGAIN */
    mailproto__smtp_caps caps;
    mailproto__smtp_reply reply;

    /* AUTH */
    mailproto__sasl sasl;
    mailproto__sasl_cred cred;
    int auth_mech;
    int auth_err;       /* SASL error to report once the reply to "*" came */
    int auth_retried;

    /* the message in flight */
    const mailproto_envelope *env;
    mailproto_source *body;
    mailproto_smtp_result res;
    size_t n_cmds;      /* [RSET +] MAIL + RCPTs (+ DATA when pipelined) */
    int pre_rset;       /* this envelope starts with RSET (a message came before) */
    int need_rset;      /* a transaction completed since the last RSET */
    size_t cmd_sent;    /* commands of the envelope written */
    size_t cmd_replied; /* replies received */
    int pipeline;       /* write the envelope without waiting */
    int pipeline_data;  /* DATA in the same flight */
    int use_bdat;
    int utf8;           /* SMTPUTF8 used for this message */
    int body_param;     /* MAILPROTO_BODY_* actually announced */
    mailproto__smtp_enc enc;
    int body_eof;       /* the source ended */
    int end_queued;     /* end of data (".\r\n" or BDAT LAST) is in out */
    size_t end_mark;    /* out_len right after the end of data */
    int bdat_last;
    size_t bdat_inflight; /* BDAT chunk replies owed (pipelined chunks) */
    uint64_t body_done; /* source bytes read */
    size_t final_left;  /* replies still expected after the data */
    size_t lmtp_idx;    /* next accepted recipient for an LMTP reply */
    int msg_fail;       /* status to report when the message ends */
    int rset_after;     /* RSET then report msg_fail */

    /* events */
    mailproto_smtp_event ev;
    int ev_pending;

    /* time */
    uint64_t now;
    uint64_t wait_start;    /* reply wait started */
    uint64_t last_rx;
    uint64_t last_tx;
    int arm_wait, arm_rx, arm_tx;
    int timeout_kind;       /* which phase timeout runs */
} mailproto__smtp_engine;

/* Set up an engine over buffers the client allocated.  cfg has its
 * defaults resolved.  Never fails. */
void mailproto__smtp_engine_init(mailproto__smtp_engine *e, const mailproto_smtp_config *cfg,
                                 mailproto__err *err, unsigned char *in, size_t in_cap,
                                 unsigned char *out, size_t out_cap, unsigned char *work,
                                 size_t work_cap, mailproto_smtp_rcpt *rcpt, size_t rcpt_cap);

/* Begin: expect the greeting (or ask for TLS first when implicit). */
int mailproto__smtp_engine_start(mailproto__smtp_engine *e);
int mailproto__smtp_engine_submit(mailproto__smtp_engine *e, const mailproto_envelope *env,
                                  mailproto_source *body);
int mailproto__smtp_engine_quit(mailproto__smtp_engine *e);
int mailproto__smtp_engine_next(mailproto__smtp_engine *e, uint64_t now,
                                const mailproto_smtp_event **ev);
int mailproto__smtp_engine_want(const mailproto__smtp_engine *e);
void mailproto__smtp_engine_input(mailproto__smtp_engine *e, unsigned char **p, size_t *cap);
void mailproto__smtp_engine_input_done(mailproto__smtp_engine *e, size_t n);
void mailproto__smtp_engine_output(mailproto__smtp_engine *e, const unsigned char **p,
                                   size_t *len);
void mailproto__smtp_engine_output_done(mailproto__smtp_engine *e, size_t n);
void mailproto__smtp_engine_tls_done(mailproto__smtp_engine *e);
/* The transport failed (or closed): maps to NOT_SENT / OUTCOME_UNKNOWN
 * during a message.  Returns the status now sticky. */
int mailproto__smtp_engine_fail(mailproto__smtp_engine *e, int status);
/* Milliseconds from now to the next deadline, or -1. */
int64_t mailproto__smtp_engine_deadline(const mailproto__smtp_engine *e, uint64_t now);
/* Nonzero when idle with an open session (QUIT may be sent). */
int mailproto__smtp_engine_idle(const mailproto__smtp_engine *e);

/* Fill in the defaults of a config (zero fields). */
void mailproto__smtp_config_defaults(mailproto_smtp_config *c);

/* Check and format a path "<addr>" into out (IDNA A-label for a
 * non-ASCII domain unless utf8).  *needs_utf8 is set when the address has
 * non-ASCII characters.  Returns the length, or MAILPROTO_E_INVALID,
 * MAILPROTO_E_UNSUPPORTED (non-ASCII local part without utf8; no IDNA in
 * this build), MAILPROTO_E_LIMIT (out too small). */
int mailproto__smtp_path(const char *addr, int is_from, int utf8, char *out, size_t cap,
                         int *needs_utf8);

#endif /* MAILPROTO_SMTP_INT_H */
