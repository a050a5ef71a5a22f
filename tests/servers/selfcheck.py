#!/usr/bin/env python3
"""Self-check of the local server stack (run through tests/servers/with-servers).

Standard library only.  Checks that the stack is what the integration tests
expect: submission with STARTTLS + AUTH and with implicit TLS (the extensions
advertised, AUTH only after TLS, unknown recipients refused with 5.1.1), IMAP
and POP3 with STARTTLS/STLS and implicit TLS, the certificate verified against
CA_FILE only, plaintext authentication refused before TLS, the non-ASCII
password, the SASL mechanisms, many connections per user, a message sent
through Postfix arriving in IMAP and POP3, and nothing listening outside
loopback.  Prints one line per check; exit status 0 when all pass.
"""
import base64
import hashlib
import hmac
import imaplib
import os
import poplib
import re
import signal
import smtplib
import socket
import ssl
import sys
import time
import uuid

TIMEOUT = 15            # every socket operation
DELIVERY_WAIT = 20      # seconds for a message to reach the mailbox
TOTAL = 75              # the whole self-check (it takes 5-25 s)

E = os.environ
HOST = 'localhost'
failures = []
CHECKS = []


def env(key):
    v = E.get(key)
    if not v:
        sys.exit('selfcheck: %s is not set; run me through tests/servers/with-servers' % key)
    return v


SMTP_PORT, SMTPS_PORT = int(env('SMTP_PORT')), int(env('SMTPS_PORT'))
IMAP_PORT, IMAPS_PORT = int(env('IMAP_PORT')), int(env('IMAPS_PORT'))
POP3_PORT, POP3S_PORT = int(env('POP3_PORT')), int(env('POP3S_PORT'))
CA_FILE, DOMAIN = env('CA_FILE'), env('DOMAIN')
USER1, PASS1 = env('USER1'), env('PASS1')
USER2, PASS2 = env('USER2'), env('PASS2')
USER3, PASS3 = env('USER3'), env('PASS3')
UNKNOWN = env('UNKNOWN_USER')
EAI_USER, PASS4, EAI_ADDRESS = env('EAI_USER'), env('PASS4'), env('EAI_ADDRESS')


def check(name):
    """Decorator: register a check; main() runs them in order."""
    def register(fn):
        CHECKS.append((name, fn))
        return fn
    return register


def run(name, fn):
    t0 = time.monotonic()
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - every failure is reported
        failures.append(name)
        print('FAIL %s: %s: %s' % (name, type(e).__name__, e), flush=True)
    else:
        print('ok   %s (%.2f s)' % (name, time.monotonic() - t0), flush=True)


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def ctx():
    c = ssl.create_default_context(cafile=CA_FILE)
    expect(c.verify_mode == ssl.CERT_REQUIRED and c.check_hostname, 'context does not verify')
    return c


def b64(b):
    return base64.b64encode(b).decode('ascii')


def sasl_plain(user, password):
    return ('\0%s\0%s' % (user, password)).encode('utf-8')


# ---- SASL mechanisms, client side (for imaplib.authenticate) ----------------------

class Scram:
    """SCRAM-SHA-1 / SCRAM-SHA-256 client (RFC 5802, RFC 7677), no channel binding."""

    def __init__(self, hashname, user, password):
        self.h, self.user, self.password = hashname, user, password.encode('utf-8')
        self.nonce = b64(os.urandom(18))
        self.step = 0
        self.server_signature = None

    def __call__(self, challenge):
        self.step += 1
        if self.step == 1:
            self.bare = 'n=%s,r=%s' % (self.user.replace('=', '=3D').replace(',', '=2C'), self.nonce)
            return ('n,,' + self.bare).encode('utf-8')
        if self.step == 2:
            server_first = challenge.decode('utf-8')
            attrs = dict(kv.split('=', 1) for kv in server_first.split(','))
            expect(attrs['r'].startswith(self.nonce), 'server nonce does not extend ours')
            salt, iters = base64.b64decode(attrs['s']), int(attrs['i'])
            salted = hashlib.pbkdf2_hmac(self.h, self.password, salt, iters)
            client_key = hmac.new(salted, b'Client Key', self.h).digest()
            stored = hashlib.new(self.h, client_key).digest()
            without_proof = 'c=biws,r=' + attrs['r']
            auth_msg = ','.join((self.bare, server_first, without_proof)).encode('utf-8')
            sig = hmac.new(stored, auth_msg, self.h).digest()
            proof = bytes(a ^ b for a, b in zip(client_key, sig))
            server_key = hmac.new(salted, b'Server Key', self.h).digest()
            self.server_signature = b64(hmac.new(server_key, auth_msg, self.h).digest())
            return (without_proof + ',p=' + b64(proof)).encode('utf-8')
        expect(challenge.decode('utf-8') == 'v=' + self.server_signature, 'server signature mismatch')
        self.verified = True
        return b''


def cram_md5(user, password):
    def respond(challenge):
        digest = hmac.new(password.encode('utf-8'), challenge, 'md5').hexdigest()
        return ('%s %s' % (user, digest)).encode('utf-8')
    return respond


# ---- listening sockets: all on loopback --------------------------------------------

def server_pids():
    roots = {int(E[k]) for k in ('DOVECOT_PID', 'POSTFIX_PID', 'FWD_PID') if E.get(k)}
    children = {}
    for d in os.listdir('/proc'):
        if d.isdigit():
            try:
                with open('/proc/%s/stat' % d) as f:
                    ppid = int(f.read().rsplit(')', 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d))
    pids, todo = set(), list(roots)
    while todo:
        p = todo.pop()
        if p not in pids:
            pids.add(p)
            todo.extend(children.get(p, []))
    return roots, pids


def listening_sockets():
    """inode -> (address, port) of every TCP socket in LISTEN state."""
    out = {}
    for path, v6 in (('/proc/net/tcp', False), ('/proc/net/tcp6', True)):
        try:
            lines = open(path).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if f[3] != '0A':
                continue
            hexaddr, hexport = f[1].split(':')
            raw = bytes.fromhex(hexaddr)
            if v6:
                raw = b''.join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
                addr = socket.inet_ntop(socket.AF_INET6, raw)
            else:
                addr = socket.inet_ntop(socket.AF_INET, raw[::-1])
            out[int(f[9])] = (addr, int(hexport, 16))
    return out


@check('servers listen on loopback only, on every announced port')
def _():
    roots, pids = server_pids()
    expect(len(roots) == 3, 'DOVECOT_PID, POSTFIX_PID and FWD_PID must all be set')
    for r in roots:
        expect(os.path.exists('/proc/%d' % r), 'server process %d is gone' % r)
    listen = listening_sockets()
    found = set()
    for pid in pids:
        try:
            fds = os.listdir('/proc/%d/fd' % pid)
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink('/proc/%d/fd/%s' % (pid, fd))
            except OSError:
                continue
            if target.startswith('socket:['):
                inode = int(target[8:-1])
                if inode in listen:
                    addr, port = listen[inode]
                    loop = addr == '::1' or addr.startswith('127.') or addr.startswith('::ffff:127.')
                    expect(loop, 'pid %d listens on %s port %d' % (pid, addr, port))
                    found.add((addr, port))
    ports = {SMTP_PORT, SMTPS_PORT, IMAP_PORT, IMAPS_PORT, POP3_PORT, POP3S_PORT}
    for p in ports:
        expect(('127.0.0.1', p) in found, 'nothing of ours listens on 127.0.0.1 port %d' % p)
        if E.get('HOST6'):
            expect(('::1', p) in found, 'nothing of ours listens on ::1 port %d' % p)


@check('every port greets on 127.0.0.1 and ::1 (plain ports in clear, the others after TLS)')
def _():
    addrs = ['127.0.0.1'] + (['::1'] if E.get('HOST6') else [])
    ports = ((SMTP_PORT, False, b'220 '), (SMTPS_PORT, True, b'220 '), (IMAP_PORT, False, b'* OK'),
             (IMAPS_PORT, True, b'* OK'), (POP3_PORT, False, b'+OK'), (POP3S_PORT, True, b'+OK'))
    for addr in addrs:
        for port, tls, greeting in ports:
            with socket.create_connection((addr, port), timeout=TIMEOUT) as raw:
                s = ctx().wrap_socket(raw, server_hostname=HOST) if tls else raw
                got = s.recv(200)
                expect(got.startswith(greeting), '%s port %d greeted %r' % (addr, port, got))


# ---- TLS -----------------------------------------------------------------------------

@check('certificate: verified with CA_FILE for localhost, 127.0.0.1 and ::1; refused without it')
def _():
    targets = [('localhost', '127.0.0.1'), ('127.0.0.1', '127.0.0.1')]
    if E.get('HOST6'):
        targets.append(('::1', '::1'))
    for name, addr in targets:
        with socket.create_connection((addr, IMAPS_PORT), timeout=TIMEOUT) as raw:
            with ctx().wrap_socket(raw, server_hostname=name) as s:
                expect(s.version() in ('TLSv1.2', 'TLSv1.3'), 'TLS version %s' % s.version())
                s.recv(100)
    c = ssl.create_default_context()      # system trust store only: must fail
    c.load_default_certs()
    try:
        with socket.create_connection(('127.0.0.1', IMAPS_PORT), timeout=TIMEOUT) as raw:
            c.wrap_socket(raw, server_hostname=HOST)
    except ssl.SSLCertVerificationError:
        pass
    else:
        raise AssertionError('the server certificate verified without CA_FILE')
    c = ctx()                              # wrong name: must fail
    try:
        with socket.create_connection(('127.0.0.1', IMAPS_PORT), timeout=TIMEOUT) as raw:
            c.wrap_socket(raw, server_hostname='mail.example.org')
    except ssl.SSLCertVerificationError:
        pass
    else:
        raise AssertionError('the server certificate verified for mail.example.org')


# ---- SMTP ----------------------------------------------------------------------------

REQUIRED_SMTP = ('size', 'pipelining', '8bitmime', 'smtputf8', 'enhancedstatuscodes', 'dsn', 'chunking')
TAG = uuid.uuid4().hex
MSGID = {}


def message(to, tag, subject):
    mid = '<%s.%s@selfcheck.%s>' % (tag, TAG, DOMAIN)
    MSGID[tag] = mid
    body = ('Line one of %s\r\n..a line starting with a dot\r\n' % tag) + ('x' * 70 + '\r\n') * 50
    msg = ('From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: %s\r\nDate: %s\r\n'
           'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n%s'
           % (USER1, to, subject, mid, time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime()), body))
    return msg.encode('ascii'), body


@check('SMTP submission before STARTTLS: STARTTLS offered, AUTH not, MAIL refused')
def _():
    with smtplib.SMTP(HOST, SMTP_PORT, timeout=TIMEOUT) as s:
        code, _ = s.ehlo('selfcheck.test')
        expect(code == 250, 'EHLO %d' % code)
        expect(s.has_extn('starttls'), 'no STARTTLS')
        expect(not s.has_extn('auth'), 'AUTH offered before TLS')
        code, resp = s.docmd('AUTH', 'PLAIN ' + b64(sasl_plain(USER1, PASS1)))
        expect(code >= 500, 'AUTH before TLS answered %d %r' % (code, resp))
        code, resp = s.mail(USER1)
        expect(code == 530 and resp.startswith(b'5.7.0'), 'MAIL before TLS answered %d %r' % (code, resp))


@check('SMTP submission STARTTLS: extensions, AUTH required, wrong password 535, send, unknown rcpt 5.1.1')
def _():
    with smtplib.SMTP(HOST, SMTP_PORT, timeout=TIMEOUT) as s:
        s.starttls(context=ctx())
        s.ehlo('selfcheck.test')
        for ext in REQUIRED_SMTP:
            expect(s.has_extn(ext), 'EHLO after TLS lacks %s' % ext.upper())
        expect(int(s.esmtp_features['size']) >= 20 * 1024 * 1024, 'SIZE below 20 MiB')
        mechs = s.esmtp_features.get('auth', '').split()
        for m in ('PLAIN', 'LOGIN'):
            expect(m in mechs, 'AUTH lacks %s: %s' % (m, mechs))
        code, resp = s.mail(USER1)
        expect(code == 250, 'MAIL %d' % code)
        code, resp = s.rcpt(USER2)
        expect(code // 100 == 5, 'RCPT without AUTH answered %d %r' % (code, resp))
        s.rset()
        code, resp = s.docmd('AUTH', 'PLAIN ' + b64(sasl_plain(USER1, 'wrong-' + PASS1)))
        expect(code == 535 and resp.startswith(b'5.7.8'), 'wrong password answered %d %r' % (code, resp))
        code, resp = s.docmd('AUTH', 'PLAIN ' + b64(sasl_plain(USER1, PASS1)))
        expect(code == 235, 'AUTH PLAIN answered %d %r' % (code, resp))
        msg, _ = message(USER1, 'starttls', 'selfcheck over STARTTLS')
        refused = s.sendmail(USER1, [USER1, UNKNOWN], msg)
        expect(list(refused) == [UNKNOWN], 'refused %r' % refused)
        code, resp = refused[UNKNOWN]
        expect(code == 550 and resp.startswith(b'5.1.1'), 'unknown recipient answered %d %r' % (code, resp))
        code, resp = s.mail(USER1)
        expect(code == 250, 'MAIL %d' % code)
        code, resp = s.rcpt('someone@example.org')
        expect(code // 100 == 5, 'a recipient outside %s was accepted: %d %r' % (DOMAIN, code, resp))
        s.rset()


@check('SMTP implicit TLS: AUTH (CRAM-MD5, as smtplib prefers), send to two users')
def _():
    with smtplib.SMTP_SSL(HOST, SMTPS_PORT, timeout=TIMEOUT, context=ctx()) as s:
        s.ehlo('selfcheck.test')
        for ext in REQUIRED_SMTP:
            expect(s.has_extn(ext), 'EHLO lacks %s' % ext.upper())
        expect(not s.has_extn('starttls'), 'STARTTLS offered inside TLS')
        s.login(USER2, PASS2)
        msg, _ = message(USER2, 'implicit', 'selfcheck over implicit TLS')
        expect(s.sendmail(USER2, [USER2, USER3], msg) == {}, 'a recipient was refused')


@check('SMTP: the non-ASCII password authenticates (AUTH PLAIN, UTF-8)')
def _():
    with smtplib.SMTP_SSL(HOST, SMTPS_PORT, timeout=TIMEOUT, context=ctx()) as s:
        s.ehlo('selfcheck.test')
        code, resp = s.docmd('AUTH', 'PLAIN ' + b64(sasl_plain(USER3, PASS3)))
        expect(code == 235, 'answered %d %r' % (code, resp))


@check('SMTP SASL through Postfix: SCRAM-SHA-256 (non-ASCII password), SCRAM-SHA-1, XOAUTH2, OAUTHBEARER')
def _():
    def login(mech, auth):
        with smtplib.SMTP_SSL(HOST, SMTPS_PORT, timeout=TIMEOUT, context=ctx()) as s:
            s.ehlo('selfcheck.test')
            code, resp = s.auth(mech, auth, initial_response_ok=True)
            expect(code == 235, '%s answered %d %r' % (mech, code, resp))

    def smtp_style(fn):
        # smtplib calls authobject() for the initial response and wants text
        return lambda challenge=None: fn(challenge if challenge is not None else b'').decode('ascii')
    for h, mech, user, pw in (('sha256', 'SCRAM-SHA-256', USER3, PASS3), ('sha1', 'SCRAM-SHA-1', USER2, PASS2)):
        sc = Scram(h, user, pw)
        login(mech, smtp_style(sc))
        expect(getattr(sc, 'verified', False), '%s: server signature not checked' % mech)
    login('XOAUTH2', lambda c=None: 'user=%s\x01auth=Bearer %s\x01\x01' % (USER1, PASS1))
    login('OAUTHBEARER', lambda c=None: 'n,a=%s,\x01auth=Bearer %s\x01\x01' % (USER1, PASS1))


BIG = None


@check('SMTP: a 6 MiB message (implicit TLS) and a message sent with BDAT (CHUNKING)')
def _():
    global BIG
    line = base64.b64encode(os.urandom(57)).decode('ascii') + '\r\n'     # 76 + CRLF
    BIG = line * (6 * 1024 * 1024 // len(line))
    mid = '<big.%s@selfcheck.%s>' % (TAG, DOMAIN)
    MSGID['big'] = mid
    msg = ('From: <%s>\r\nTo: <%s>\r\nSubject: big\r\nMessage-ID: %s\r\nMIME-Version: 1.0\r\n'
           'Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n%s'
           % (USER2, USER2, mid, BIG)).encode('ascii')
    with smtplib.SMTP_SSL(HOST, SMTPS_PORT, timeout=TIMEOUT, context=ctx()) as s:
        s.login(USER2, PASS2)
        expect(s.sendmail(USER2, [USER2], msg) == {}, 'refused')
        bdat, _ = message(USER2, 'bdat', 'sent with BDAT')
        code, resp = s.mail(USER2)
        expect(code == 250, 'MAIL %d' % code)
        code, resp = s.rcpt(USER2)
        expect(code == 250, 'RCPT %d' % code)
        half = len(bdat) // 2
        for i, (chunk, last) in enumerate(((bdat[:half], ''), (bdat[half:], ' LAST'))):
            s.send(b'BDAT %d%s\r\n' % (len(chunk), last.encode()) + chunk)
            code, resp = s.getreply()
            expect(code == 250, 'BDAT chunk %d answered %d %r' % (i, code, resp))


EAI_BODY = 'Grüße, ✓ — a UTF-8 body\r\n'


@check('SMTPUTF8: a UTF-8 sender, recipient (EAI_ADDRESS) and Subject accepted')
def _():
    mid = '<eai.%s@selfcheck.%s>' % (TAG, DOMAIN)
    MSGID['eai'] = mid
    sender = 'jörg@' + DOMAIN
    msg = ('From: Jörg <%s>\r\nTo: <%s>\r\nSubject: Grüße ✓\r\nMessage-ID: %s\r\nMIME-Version: 1.0\r\n'
           'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n%s'
           % (sender, EAI_ADDRESS, mid, EAI_BODY)).encode('utf-8')
    with smtplib.SMTP_SSL(HOST, SMTPS_PORT, timeout=TIMEOUT, context=ctx()) as s:
        s.login(USER1, PASS1)
        refused = s.sendmail(sender, [EAI_ADDRESS], msg, mail_options=['SMTPUTF8', 'BODY=8BITMIME'])
        expect(refused == {}, 'refused %r' % refused)


# ---- IMAP ----------------------------------------------------------------------------

def wait_for(m, mid):
    deadline = time.monotonic() + DELIVERY_WAIT
    while True:
        m.select('INBOX')
        typ, data = m.uid('SEARCH', 'HEADER', 'Message-ID', mid)
        expect(typ == 'OK', 'SEARCH %s' % typ)
        uids = data[0].split()
        if uids:
            return uids
        if time.monotonic() > deadline:
            raise AssertionError('%s did not arrive within %d s' % (mid, DELIVERY_WAIT))
        time.sleep(0.2)


def fetch_body(m, uid):
    typ, data = m.uid('FETCH', uid, '(BODY.PEEK[TEXT])')
    expect(typ == 'OK', 'FETCH %s' % typ)
    return data[0][1]


@check('IMAP before STARTTLS: LOGINDISABLED, LOGIN refused, AUTHENTICATE refused')
def _():
    m = imaplib.IMAP4(HOST, IMAP_PORT, timeout=TIMEOUT)
    try:
        expect('STARTTLS' in m.capabilities, 'no STARTTLS: %s' % (m.capabilities,))
        expect('LOGINDISABLED' in m.capabilities, 'no LOGINDISABLED: %s' % (m.capabilities,))
        try:
            m.login(USER1, PASS1)
        except imaplib.IMAP4.error:
            pass
        else:
            raise AssertionError('LOGIN succeeded without TLS')
        try:
            m.authenticate('PLAIN', lambda _: sasl_plain(USER1, PASS1))
        except imaplib.IMAP4.error:
            pass
        else:
            raise AssertionError('AUTHENTICATE PLAIN succeeded without TLS')
    finally:
        m.shutdown()


@check('IMAP STARTTLS: wrong password AUTHENTICATIONFAILED, LOGIN, the message arrived once, byte for byte')
def _():
    m = imaplib.IMAP4(HOST, IMAP_PORT, timeout=TIMEOUT)
    m.starttls(ssl_context=ctx())
    expect('AUTH=PLAIN' in m.capabilities and 'LOGINDISABLED' not in m.capabilities,
           'capabilities after STARTTLS: %s' % (m.capabilities,))
    try:
        m.login(USER1, 'wrong-' + PASS1)
    except imaplib.IMAP4.error as e:
        expect('AUTHENTICATIONFAILED' in str(e), 'wrong password: %s' % e)
    else:
        raise AssertionError('a wrong password logged in')
    m.login(USER1, PASS1)
    uids = wait_for(m, MSGID['starttls'])
    expect(len(uids) == 1, 'delivered %d times' % len(uids))
    _, body = message(USER1, 'starttls', 'x')
    expect(fetch_body(m, uids[0]) == body.encode('ascii'), 'body differs from what was sent')
    m.logout()


@check('IMAP implicit TLS: AUTHENTICATE PLAIN with the non-ASCII password; message for USER3 arrived')
def _():
    m = imaplib.IMAP4_SSL(HOST, IMAPS_PORT, ssl_context=ctx(), timeout=TIMEOUT)
    typ, _ = m.authenticate('PLAIN', lambda _: sasl_plain(USER3, PASS3))
    expect(typ == 'OK', typ)
    uids = wait_for(m, MSGID['implicit'])
    _, body = message(USER2, 'implicit', 'x')
    expect(fetch_body(m, uids[0]) == body.encode('ascii'), 'body differs from what was sent')
    m.logout()


@check('IMAP SASL: SCRAM-SHA-256 and SCRAM-SHA-1 (server signature verified), CRAM-MD5, XOAUTH2, OAUTHBEARER')
def _():
    def login(mech, auth):
        m = imaplib.IMAP4_SSL(HOST, IMAPS_PORT, ssl_context=ctx(), timeout=TIMEOUT)
        try:
            typ, data = m.authenticate(mech, auth)
            expect(typ == 'OK', '%s: %s %r' % (mech, typ, data))
        finally:
            m.logout()
    for h, mech in (('sha256', 'SCRAM-SHA-256'), ('sha1', 'SCRAM-SHA-1')):
        for user, pw in ((USER3, PASS3), (USER2, PASS2)):
            sc = Scram(h, user, pw)
            login(mech, sc)
            expect(getattr(sc, 'verified', False), '%s: server final message not checked' % mech)
    login('CRAM-MD5', cram_md5(USER2, PASS2))
    login('XOAUTH2', lambda _: ('user=%s\x01auth=Bearer %s\x01\x01' % (USER1, PASS1)).encode())
    login('OAUTHBEARER', lambda _: ('n,a=%s,\x01auth=Bearer %s\x01\x01' % (USER1, PASS1)).encode())


@check('IMAP: 30 connections of one user at once, half STARTTLS (through the forwarder), half implicit TLS')
def _():
    conns = []
    try:
        for i in range(30):
            if i % 2:
                m = imaplib.IMAP4_SSL(HOST, IMAPS_PORT, ssl_context=ctx(), timeout=TIMEOUT)
            else:
                m = imaplib.IMAP4(HOST, IMAP_PORT, timeout=TIMEOUT)
                m.starttls(ssl_context=ctx())
            conns.append(m)
            m.login(USER1, PASS1)
            typ, _ = m.select('INBOX')
            expect(typ == 'OK', 'SELECT %s on connection %d' % (typ, len(conns)))
        for m in conns:                     # all still usable
            typ, _ = m.noop()
            expect(typ == 'OK', 'NOOP %s' % typ)
    finally:
        for m in conns:
            try:
                m.logout()
            except Exception:  # noqa: BLE001
                pass


@check('SMTP: 50 messages over one connection, all delivered')
def _():
    subject = 'batch %s' % TAG
    with smtplib.SMTP_SSL(HOST, SMTPS_PORT, timeout=TIMEOUT, context=ctx()) as s:
        s.login(USER2, PASS2)
        for i in range(50):
            msg, _ = message(USER2, 'batch%d' % i, subject)
            expect(s.sendmail(USER2, [USER2], msg) == {}, 'message %d refused' % i)
    m = imaplib.IMAP4_SSL(HOST, IMAPS_PORT, ssl_context=ctx(), timeout=TIMEOUT)
    m.login(USER2, PASS2)
    deadline = time.monotonic() + DELIVERY_WAIT
    while True:
        m.select('INBOX')
        typ, data = m.uid('SEARCH', 'SUBJECT', '"%s"' % subject)
        n = len(data[0].split())
        if n == 50:
            break
        expect(n < 50, '%d copies delivered' % n)
        expect(time.monotonic() < deadline, 'only %d of 50 arrived within %d s' % (n, DELIVERY_WAIT))
        time.sleep(0.2)
    m.logout()


@check('IMAP: the 6 MiB message and the BDAT message arrived byte for byte')
def _():
    m = imaplib.IMAP4_SSL(HOST, IMAPS_PORT, ssl_context=ctx(), timeout=TIMEOUT)
    m.login(USER2, PASS2)
    uid = wait_for(m, MSGID['big'])[0]
    expect(fetch_body(m, uid) == BIG.encode('ascii'), '6 MiB body differs')
    uid = wait_for(m, MSGID['bdat'])[0]
    _, body = message(USER2, 'bdat', 'x')
    expect(fetch_body(m, uid) == body.encode('ascii'), 'BDAT body differs')
    m.logout()


@check('SMTPUTF8: the message reached EAI_USER (dovecot-lda), UTF-8 header and body intact')
def _():
    m = imaplib.IMAP4_SSL(HOST, IMAPS_PORT, ssl_context=ctx(), timeout=TIMEOUT)
    m.login(EAI_USER, PASS4)
    uid = wait_for(m, MSGID['eai'])[0]
    expect(fetch_body(m, uid) == EAI_BODY.encode('utf-8'), 'body differs')
    typ, data = m.uid('FETCH', uid, '(BODY.PEEK[HEADER.FIELDS (SUBJECT)])')
    expect('Grüße ✓'.encode('utf-8') in data[0][1], 'Subject: %r' % data[0][1])
    m.logout()


@check('IMAP IDLE: a message delivered through Postfix is announced within 15 s')
def _():
    m = imaplib.IMAP4_SSL(HOST, IMAPS_PORT, ssl_context=ctx(), timeout=TIMEOUT)
    m.login(USER1, PASS1)
    typ, data = m.select('INBOX')
    before = int(data[0])
    tag = m._new_tag()
    m.send(tag + b' IDLE\r\n')
    expect(m.readline().startswith(b'+'), 'no continuation for IDLE')
    msg, _ = message(USER1, 'idle', 'selfcheck IDLE')
    with smtplib.SMTP_SSL(HOST, SMTPS_PORT, timeout=TIMEOUT, context=ctx()) as s:
        s.login(USER1, PASS1)
        s.sendmail(USER1, [USER1], msg)
    deadline = time.monotonic() + 15
    seen = None
    while seen is None and time.monotonic() < deadline:
        line = m.readline()
        expect(line, 'connection closed during IDLE')
        parts = line.split()
        if len(parts) == 3 and parts[0] == b'*' and parts[2].upper() == b'EXISTS' and int(parts[1]) > before:
            seen = int(parts[1])
    expect(seen is not None, 'no EXISTS within 15 s')
    m.send(b'DONE\r\n')
    while True:
        line = m.readline()
        expect(line, 'connection closed after DONE')
        if line.startswith(tag):
            expect(line.split()[1] == b'OK', 'IDLE ended with %r' % line)
            break
    m.logout()


# ---- POP3 ----------------------------------------------------------------------------

def pop3_find(p, mid):
    count, _ = p.stat()
    for i in range(1, count + 1):
        _, lines, _ = p.top(i, 0)
        if any(l.lower().startswith(b'message-id:') and mid.encode() in l for l in lines):
            return i
    return None


@check('POP3 before STLS: STLS offered, USER/PASS and AUTH refused')
def _():
    p = poplib.POP3(HOST, POP3_PORT, timeout=TIMEOUT)
    try:
        capa = p.capa()
        expect('STLS' in capa, 'no STLS: %s' % capa)
        expect(not capa.get('SASL'), 'SASL mechanisms offered before TLS: %s' % capa.get('SASL'))
        try:
            p.user(USER1)
            p.pass_(PASS1)
        except poplib.error_proto:
            pass
        else:
            raise AssertionError('USER/PASS succeeded without TLS')
    finally:
        p.close()


@check('POP3 STLS: USER/PASS, the STARTTLS message listed and retrieved byte for byte')
def _():
    p = poplib.POP3(HOST, POP3_PORT, timeout=TIMEOUT)
    try:
        p.stls(context=ctx())
        capa = p.capa()
        for c in ('TOP', 'UIDL', 'USER', 'SASL', 'PIPELINING', 'RESP-CODES', 'AUTH-RESP-CODE'):
            expect(c in capa, 'CAPA after STLS lacks %s' % c)
        p.user(USER1)
        p.pass_(PASS1)
        i = pop3_find(p, MSGID['starttls'])
        expect(i is not None, 'message not listed')
        _, lines, _ = p.retr(i)
        raw = b'\r\n'.join(lines) + b'\r\n'
        _, body = message(USER1, 'starttls', 'x')
        expect(raw.split(b'\r\n\r\n', 1)[1] == body.encode('ascii'), 'body differs from what was sent')
        uidl = p.uidl(i)
        expect(uidl.startswith(b'+OK'), 'UIDL %r' % uidl)
    finally:
        p.quit()


@check('POP3 implicit TLS: the non-ASCII password (USER/PASS and AUTH PLAIN), message listed')
def _():
    p = poplib.POP3_SSL(HOST, POP3S_PORT, timeout=TIMEOUT, context=ctx())
    try:
        p.user(USER3)
        p.pass_(PASS3)
        expect(pop3_find(p, MSGID['implicit']) is not None, 'message not listed')
    finally:
        p.quit()
    p = poplib.POP3_SSL(HOST, POP3S_PORT, timeout=TIMEOUT, context=ctx())
    try:
        resp = p._shortcmd('AUTH PLAIN ' + b64(sasl_plain(USER3, PASS3)))
        expect(resp.startswith(b'+OK'), repr(resp))
    finally:
        p.quit()
    p = poplib.POP3_SSL(HOST, POP3S_PORT, timeout=TIMEOUT, context=ctx())
    try:
        p.user(USER2)
        p.pass_('wrong-' + PASS2)
    except poplib.error_proto as e:
        expect(b'[AUTH]' in e.args[0], 'wrong password: %r' % (e.args,))
    else:
        raise AssertionError('a wrong password logged in')
    finally:
        p.close()


@check('POP3 APOP: greeting timestamp; APOP after STLS and over implicit TLS (non-ASCII password)')
def _():
    p = poplib.POP3(HOST, POP3_PORT, timeout=TIMEOUT)
    try:
        expect(re.search(rb'<[^<>@]+@[^<>]+>', p.getwelcome()), 'no APOP timestamp: %r' % p.getwelcome())
        try:
            p.apop(USER1, PASS1)
        except poplib.error_proto:
            pass
        else:
            raise AssertionError('APOP succeeded without TLS')
    finally:
        p.close()
    p = poplib.POP3(HOST, POP3_PORT, timeout=TIMEOUT)
    try:
        p.stls(context=ctx())
        expect(p.apop(USER1, PASS1).startswith(b'+OK'), 'APOP after STLS')
    finally:
        p.quit()
    p = poplib.POP3_SSL(HOST, POP3S_PORT, timeout=TIMEOUT, context=ctx())
    try:
        expect(p.apop(USER3, PASS3).startswith(b'+OK'), 'APOP with the non-ASCII password')
    finally:
        p.quit()


@check('POP3: DELE then QUIT removes the message (STLS and implicit TLS); RSET keeps it')
def _():
    def session(stls):
        if stls:
            p = poplib.POP3(HOST, POP3_PORT, timeout=TIMEOUT)
            p.stls(context=ctx())
        else:
            p = poplib.POP3_SSL(HOST, POP3S_PORT, timeout=TIMEOUT, context=ctx())
        p.user(USER1)
        p.pass_(PASS1)
        return p
    for stls, tag in ((True, 'starttls'), (False, 'idle')):
        p = session(stls)
        i = pop3_find(p, MSGID[tag])
        expect(i is not None, '%s message not listed' % tag)
        p.dele(i)
        p.rset()
        p.quit()
        p = session(stls)
        i = pop3_find(p, MSGID[tag])
        expect(i is not None, 'RSET did not keep the %s message' % tag)
        p.dele(i)
        expect(p.quit().startswith(b'+OK'), 'QUIT')
        p = session(stls)
        expect(pop3_find(p, MSGID[tag]) is None, 'the %s message is still there after DELE + QUIT' % tag)
        p.quit()


def main():
    signal.signal(signal.SIGALRM, lambda *_: (print('FAIL: self-check took over %d s' % TOTAL), os._exit(1)))
    signal.alarm(TOTAL)
    socket.setdefaulttimeout(TIMEOUT)
    for name, fn in CHECKS:
        run(name, fn)
    if failures:
        print('%d check(s) failed: %s' % (len(failures), ', '.join(failures)))
        return 1
    print('all checks passed')
    return 0


if __name__ == '__main__':
    sys.exit(main())
