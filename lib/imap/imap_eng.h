/*
 * The IMAP client engine (sans-I/O) shared by imap_engine.c and
 * imap_client.c.  Never installed.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MAILPROTO_IMAP_ENG_H
#define MAILPROTO_IMAP_ENG_H

#include <mailproto/imap.h>

#include "../core/internal.h"
#include "../sasl/sasl.h"

#define MAILPROTO__IMAP_WANT_READ 1
#define MAILPROTO__IMAP_WANT_WRITE 2
#define MAILPROTO__IMAP_WANT_TLS 4

/* command kinds */
enum {
    K_OTHER = 0,
    K_CAPABILITY,
    K_STARTTLS,
    K_LOGIN,
    K_AUTHENTICATE,
    K_SELECT,
    K_EXAMINE,
    K_LIST,
    K_LSUB,
    K_STATUS,
    K_SEARCH,
    K_SORT,
    K_FETCH,
    K_APPEND,
    K_COPY,
    K_MOVE,
    K_STORE,
    K_EXPUNGE,
    K_CLOSE,
    K_UNSELECT,
    K_IDLE,
    K_LOGOUT,
    K_ENABLE
};

/* record states */
enum { Q_FREE = 0, Q_QUEUED, Q_WRITING, Q_SENT, Q_DONE };

#define IMAP_TAG_MAX 32
#define IMAP_NAME_BUF 1024

typedef struct imap_qcmd {
    unsigned id;
    int kind;
    int internal;           /* connection phase: written before user commands */
    int state;
    char tag[IMAP_TAG_MAX];
    size_t tag_len;
    size_t start, len;      /* bytes in the stage buffer */
    size_t sent;            /* of len */
    unsigned nfrags, frag;  /* fragments; the one being written */
    struct {
        uint32_t off, len;
        uint64_t ext;
        int wait;
    } f[MAILPROTO_IMAP_CMD_MAX_FRAGS];
    uint64_t ext_left;      /* caller bytes (APPEND) still to send after frag */
    int ext_active;
    int ext_started;
    int sink_err;
    int cont_wait;          /* waiting for "+" before the current fragment */
    int silent;             /* do not report EV_COMPLETED (internal, IDLE refresh) */
    uint64_t started;
    /* collectors */
    mailproto_imap_uidset *set;
    mailproto_imap_status_items *status;
    mailproto_imap_list_fn list_fn;
    void *list_ctx;
    int list_stop;
    const mailproto_sink *sink;
    mailproto_source *src;
    /* MOVE fallback: COPY, STORE, [UID] EXPUNGE as one chain with one id;
     * the later ones are held until the previous one said OK */
    int chain;
    int held;
} imap_qcmd;

typedef struct mailproto__imap_engine {
    mailproto_imap_config cfg;
    mailproto__trace trace;
    mailproto__err *err;
    mailproto_imap_parser *p;

    /* stage: queued command bytes */
    unsigned char *stage;
    size_t stage_cap, stage_len;
    /* side bytes: DONE, SASL responses, "*" */
    unsigned char *side;
    size_t side_cap, side_len, side_off;
    int side_secret;
    /* APPEND chunk */
    unsigned char *xbuf;
    size_t xbuf_cap, xbuf_len, xbuf_off;
    int src_again;
    /* SASL */
    unsigned char *sasl_work;
    size_t sasl_work_cap;
    char *chal;
    size_t chal_cap, chal_len;
    int chal_over;

    /* queue */
    imap_qcmd *q;
    size_t q_cap, q_head, q_count;
    unsigned next_id;
    unsigned last_id;
    mailproto_imap_cmd enc; /* the command being encoded */
    size_t secret_from;     /* trace: bytes of it from here on are secret (0: none) */
    int cur;                /* record being written, -1 none */
    mailproto_imap_tagger tagger;

    /* state */
    int started;
    int state;              /* S_* in imap_engine.c */
    int dead;
    int secure;
    int implicit_tls;
    int want_tls;
    int tls_event;          /* engine mode: report EV_STARTTLS */
    int tls_reported;
    int eof;
    int authed;
    int ready_reported;
    int bye;
    int closed_reported;
    int logout_sent;
    unsigned caps;
    unsigned auth_mask;
    int caps_known;
    int utf8_enabled;
    int qresync_enabled;
    mailproto_imap_mailbox mbx;
    mailproto_imap_mailbox pending_mbx; /* learned during SELECT */
    mailproto_imap_result res;
    mailproto_imap_result cur_res;
    mailproto_imap_result chain_res;    /* COPYUID of a MOVE fallback's COPY */

    /* AUTH */
    mailproto__sasl sasl;
    mailproto__sasl_cred cred;
    int auth_mech;
    int auth_err;
    int auth_retried;   /* the OAuth token was refreshed once */

    /* IDLE */
    int idle_idx;           /* record of the running IDLE, -1 */
    int idling;             /* "+" received */
    int idle_done_req;      /* the user asked for DONE */
    int idle_refresh;       /* DONE sent to refresh */
    int done_sent;
    uint64_t idle_since;
    int idle_user_id;

    /* response being read */
    int in_resp;            /* inside a response */
    int resp_type;
    int resp_tagged;
    int resp_pass;          /* hand this response's events to the caller */
    int resp_idx;           /* record a tagged response belongs to, -1 */
    int resp_status;
    int resp_code;
    char resp_code_name[48];
    int resp_alert;
    int cap_resp;           /* collecting capabilities (response or code) */
    unsigned new_caps, new_auth;
    char text[MAILPROTO__ERR_TEXT_MAX];
    size_t text_len;
    int lit_sink;           /* current body literal goes to a sink */
    /* list entry being assembled */
    mailproto_imap_list_entry le;
    char le_raw[IMAP_NAME_BUF];
    size_t le_raw_len;
    char le_name[IMAP_NAME_BUF];
    int le_over;
    int le_in_attrs;
    int fetch_flags;        /* collecting FLAGS inside a FETCH */
    uint64_t van_count;     /* VANISHED: UIDs in this response */
    int lit_rec;            /* record whose sink takes the current literal, -1 */
    int rx_flag;            /* bytes arrived since the last next() */
    int pending_err;        /* reported once by next() (authentication failure) */
    int cap_in_tagged;
    char bye_text[256];
    size_t bye_len;      /* the response carried a CAPABILITY code */

    /* events */
    mailproto_imap_event ev;
    int ev_pending;         /* ev holds a client event to return */
    int ev_closed_pending;

    /* time */
    uint64_t now;
    uint64_t last_rx;
    int rx_armed;
    /* blocking wait() */
    int wait_active;
    uint64_t wait_until;
    int wait_expired;
} mailproto__imap_engine;

/* Defaults into a config (zero fields). */
void mailproto__imap_config_defaults(mailproto_imap_config *c);

/* Set up over buffers the client allocated; p is the parser. */
void mailproto__imap_engine_init(mailproto__imap_engine *e, const mailproto_imap_config *cfg,
                                 mailproto__err *err, mailproto_imap_parser *p, unsigned char *stage,
                                 size_t stage_cap, unsigned char *side, size_t side_cap,
                                 unsigned char *xbuf, size_t xbuf_cap, unsigned char *work,
                                 size_t work_cap, char *chal, size_t chal_cap, imap_qcmd *q,
                                 size_t q_cap);
int mailproto__imap_engine_start(mailproto__imap_engine *e);
int mailproto__imap_engine_next(mailproto__imap_engine *e, uint64_t now,
                                const mailproto_imap_event **ev);
int mailproto__imap_engine_want(const mailproto__imap_engine *e);
void mailproto__imap_engine_input(mailproto__imap_engine *e, unsigned char **p, size_t *cap);
void mailproto__imap_engine_input_done(mailproto__imap_engine *e, size_t n);
void mailproto__imap_engine_output(mailproto__imap_engine *e, const unsigned char **p, size_t *len);
void mailproto__imap_engine_output_done(mailproto__imap_engine *e, size_t n);
void mailproto__imap_engine_tls_done(mailproto__imap_engine *e);
int mailproto__imap_engine_fail(mailproto__imap_engine *e, int status);
int64_t mailproto__imap_engine_deadline(const mailproto__imap_engine *e, uint64_t now);

/* Commands.  Each returns the new record's index (>= 0) or an error. */
typedef struct imap_args {
    int kind;
    const char *name;       /* command name (atoms) */
} imap_args;

/* Begin encoding a user command into the stage: returns the encoder
 * (NULL and *rc on error).  Finish with mailproto__imap_cmd_commit. */
mailproto_imap_cmd *mailproto__imap_cmd_open(mailproto__imap_engine *e, int kind, const char *name,
                                             int *rc);
/* Finish the command opened last: queue it.  Returns the index or an error. */
int mailproto__imap_cmd_commit(mailproto__imap_engine *e, mailproto_imap_cmd *c, int kind, int internal);
/* The record of id (NULL when done/unknown). */
imap_qcmd *mailproto__imap_find(mailproto__imap_engine *e, unsigned id);
/* Ask for DONE (IDLE). */
int mailproto__imap_engine_idle_done(mailproto__imap_engine *e);
/* Nonzero when the session is ready for commands. */
int mailproto__imap_engine_ready(const mailproto__imap_engine *e);
/* Commands still queued or in flight. */
size_t mailproto__imap_engine_busy(const mailproto__imap_engine *e);

#endif /* MAILPROTO_IMAP_ENG_H */
