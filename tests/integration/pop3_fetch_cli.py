#!/usr/bin/env python3
"""mailproto-fetch's POP3 commands against the local Dovecot (through
tests/servers/with-servers): list, fetch by UIDL and by number, fetch-new
into a maildir (twice: the second run finds nothing new), fetch-new --delete,
delete, and the usage errors.  Standard library only; exit 0 when all pass.
argv[1] is the mailproto-fetch-pop3 program."""
import os
import smtplib
import ssl
import subprocess
import sys
import tempfile
import time
import uuid

E = os.environ
PROG = sys.argv[1]
for k in ('SMTP_PORT', 'POP3_PORT', 'POP3S_PORT', 'CA_FILE', 'USER1', 'PASS1', 'USER3', 'PASS3'):
    if not E.get(k):
        print('pop3_fetch_cli: %s not set' % k)
        sys.exit(77)
HOST = 'localhost'
BASE = [PROG, '--user', E['USER3'], '--cafile', E['CA_FILE'], '--timeout', '15']
ENV = dict(E, MAILPROTO_PASSWORD=E['PASS3'])  # carol's password is UTF-8


def run(server, *args, expect=0):
    p = subprocess.run(BASE + ['--server', server] + list(args), env=ENV, capture_output=True,
                       timeout=60)
    if p.returncode != expect:
        sys.exit('pop3_fetch_cli: %s %s exited %d, expected %d: %s' %
                 (server, ' '.join(args), p.returncode, expect, p.stderr.decode(errors='replace')))
    return p.stdout.decode('utf-8', 'replace'), p.stderr.decode('utf-8', 'replace')


def send(mid):
    ctx = ssl.create_default_context(cafile=E['CA_FILE'])
    msg = ('From: %s\r\nTo: %s\r\nSubject: cli\r\nMessage-ID: %s\r\n'
           'Date: Mon, 30 Nov 2026 01:00:00 +0000\r\n\r\nhello\r\n.dot\r\n'
           % (E['USER1'], E['USER3'], mid))
    with smtplib.SMTP(HOST, int(E['SMTP_PORT']), timeout=15) as s:
        s.starttls(context=ctx)
        s.login(E['USER1'], E['PASS1'])
        s.sendmail(E['USER1'], [E['USER3']], msg.encode())
    return msg


def send_multipart(mid, payload):
    from email.mime.application import MIMEApplication
    from email.mime.multipart import MIMEMultipart
    from email.mime.text import MIMEText
    m = MIMEMultipart()
    m['From'], m['To'], m['Subject'], m['Message-ID'] = E['USER1'], E['USER3'], 'parts', mid
    m.attach(MIMEText('the text part\n', 'plain', 'utf-8'))
    a = MIMEApplication(payload, 'octet-stream')
    a.add_header('Content-Disposition', 'attachment', filename='../report.bin')
    m.attach(a)
    ctx = ssl.create_default_context(cafile=E['CA_FILE'])
    with smtplib.SMTP(HOST, int(E['SMTP_PORT']), timeout=15) as s:
        s.starttls(context=ctx)
        s.login(E['USER1'], E['PASS1'])
        s.sendmail(E['USER1'], [E['USER3']], m.as_bytes())


def run_bytes(server, *args):
    p = subprocess.run(BASE + ['--server', server] + list(args), env=ENV, capture_output=True,
                       timeout=60)
    if p.returncode != 0:
        sys.exit('pop3_fetch_cli: %s failed: %s' % (' '.join(args), p.stderr.decode(errors='replace')))
    return p.stdout


def wait_for(server, mid):
    """The UIDL of the message with this Message-ID, once delivered."""
    for _ in range(100):
        out, _ = run(server, 'list')
        for line in out.splitlines():
            num, size, uid = line.split(' ')
            body, _ = run(server, 'fetch', num, '--raw')
            if mid in body:
                return uid, num
        time.sleep(0.2)
    sys.exit('pop3_fetch_cli: %s never arrived' % mid)


STLS = 'pop3://%s:%s' % (HOST, E['POP3_PORT'])
TLS = 'pop3s://%s:%s' % (HOST, E['POP3S_PORT'])

# usage errors
run(STLS, expect=2)
run('pop3+plain://%s:%s' % (HOST, E['POP3_PORT']), 'list', expect=2)
run(STLS, '--password', 'x', 'list', expect=2)
run(STLS, 'bogus', expect=2)

mid1 = '<cli1-%s@mailproto.test>' % uuid.uuid4().hex
msg1 = send(mid1)
uid1, num1 = wait_for(STLS, mid1)
body, _ = run(TLS, 'fetch', uid1)
assert body.replace('\r\n', '\n').endswith(msg1.replace('\r\n', '\n')), body
print('ok list + fetch by number and by UIDL over STLS and implicit TLS')

payload = bytes(range(256)) * 40
mid3 = '<cli3-%s@mailproto.test>' % uuid.uuid4().hex
send_multipart(mid3, payload)
uid3, _ = wait_for(STLS, mid3)
assert run_bytes(TLS, 'fetch', uid3, '--part', '2') == payload
assert run_bytes(TLS, 'fetch', uid3, '--part', '1') == b'the text part\n'
run(TLS, 'fetch', uid3, '--part', '3', expect=1)
with tempfile.TemporaryDirectory() as sd:
    out, _ = run(TLS, 'fetch', uid3, '--save', sd)
    assert out.strip() == os.path.join(sd, 'report.bin'), out
    assert open(os.path.join(sd, 'report.bin'), 'rb').read() == payload
    assert os.listdir(sd) == ['report.bin']  # "../" did not escape DIR
run(TLS, 'delete', uid3)
print('ok fetch --part N and --save DIR (decoded through the MIME reader)')

with tempfile.TemporaryDirectory() as md:
    out, err = run(TLS, 'fetch-new', md)
    names = [l.split(' ')[2] for l in out.splitlines()]
    files = [open(os.path.join(md, n), 'rb').read() for n in names]
    assert any(mid1.encode() in f for f in files), (out, err)
    assert all(n.startswith('new/') for n in names)
    out2, _ = run(TLS, 'fetch-new', md)
    assert out2 == '', out2  # nothing new the second time
    print('ok fetch-new: %d message(s) into the maildir, none the second time' % len(names))

    mid2 = '<cli2-%s@mailproto.test>' % uuid.uuid4().hex
    send(mid2)
    uid2, _ = wait_for(STLS, mid2)
    out, _ = run(STLS, 'fetch-new', md, '--delete')
    assert uid2 in out, out
    listing, _ = run(STLS, 'list')
    assert uid2 not in listing, listing
    print('ok fetch-new --delete: fetched and deleted')

run(STLS, 'delete', uid1)
listing, _ = run(TLS, 'list')
assert uid1 not in listing, listing
run(TLS, 'fetch', 'uidl:' + uid1, expect=1)
print('ok delete by UIDL (committed by QUIT)')
