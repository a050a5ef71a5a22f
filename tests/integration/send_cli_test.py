#!/usr/bin/env python3
"""mailproto-send run as a program against the local stack (tests/servers/).

Usage: send_cli_test.py PATH/TO/mailproto-send   (run through with-servers)

Checks the documented command line and exit codes (DESIGN.md section 17):
0 sent (a composed MIME message with text, HTML, attachments and a
non-ASCII subject over STARTTLS, and a --raw message over implicit TLS; both
read back from the maildir and checked with Python's email package, which
is independent of the library), 1 failure with one line
"mailproto-send: reason" on stderr that carries the server's reply (wrong
password, untrusted certificate, --require-all), 2 usage, 3 partial success
(one line per recipient on stdout).  Exit 77 without the stack.
"""
import email
import email.policy
import glob
import os
import random
import re
import subprocess
import sys
import tempfile
import time

failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print(f"FAIL: {what}", file=sys.stderr)
    return cond


def run(args, password=None, stdin=None, timeout=60):
    env = dict(os.environ)
    env.pop('MAILPROTO_PASSWORD', None)
    if password is not None:
        env['MAILPROTO_PASSWORD'] = password
    p = subprocess.run([SEND] + args, env=env, input=stdin, capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode('utf-8', 'replace'), p.stderr.decode('utf-8', 'replace')


def find_delivered(user, msgid, timeout=30.0):
    local = user.split('@')[0]
    root = os.path.join(E['MAILDIR_ROOT'], E['DOMAIN'], local, 'Maildir')
    end = time.monotonic() + timeout
    while True:
        for path in glob.glob(os.path.join(root, 'new', '*')) + glob.glob(os.path.join(root, 'cur', '*')):
            with open(path, 'rb') as f:
                head = f.read(65536).split(b'\n\n', 1)[0]
            if re.search(rb'^Message-ID:\s*' + re.escape(msgid.encode()) + rb'\s*$', head, re.M | re.I):
                with open(path, 'rb') as f:
                    return f.read()
        if time.monotonic() >= end:
            return None
        time.sleep(0.1)


def new_id(tag):
    return f"<cli-{tag}.{os.getpid()}.{random.getrandbits(48):x}@{E['DOMAIN']}>"


def common(url_kind='smtp', user=None):
    port = E['SMTP_PORT'] if url_kind == 'smtp' else E['SMTPS_PORT']
    args = ['--server', f"{url_kind}://{E['HOST']}:{port}", '--cafile', E['CA_FILE'], '--timeout', '30']
    if user:
        args += ['--user', user]
    return args


def main():
    global SEND, E
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    if 'SMTP_PORT' not in os.environ:
        print("no server stack (run through tests/servers/with-servers): skipped", file=sys.stderr)
        return 77
    SEND = sys.argv[1]
    E = os.environ
    u1, p1, u2, unknown = E['USER1'], E['PASS1'], E['USER2'], E['UNKNOWN_USER']
    tmp = tempfile.mkdtemp(prefix='mailproto-cli.')
    rnd = random.Random(8)

    # --help and usage errors: exit 2 (0 for --help), nothing sent
    rc, out, err = run(['--help'])
    check(rc == 0 and '--attach' in out and '--html' in out, f"--help: {rc}")
    usage_cases = [
        ('no --from', common(user=u1) + ['--to', u2, '--subject', 'x']),
        ('no recipient', common(user=u1) + ['--from', u1, '--subject', 'x']),
        ('unknown option', common(user=u1) + ['--from', u1, '--to', u2, '--frobnicate', 'x']),
        ('password on the command line', common(user=u1) + ['--from', u1, '--to', u2, '--password', p1]),
        ('bad URL', ['--server', 'http://localhost', '--from', u1, '--to', u2, '--subject', 'x']),
        ('plain URL without --allow-plaintext', ['--server', 'smtp+plain://localhost:1', '--from', u1,
                                                 '--to', u2, '--subject', 'x']),
        ('--raw with --subject', common(user=u1) + ['--from', u1, '--to', u2, '--raw', '/dev/null',
                                                    '--subject', 'x']),
        ('--attach with cid', common(user=u1) + ['--from', u1, '--to', u2, '--attach', '/dev/null;cid=a']),
        ('--inline without cid', common(user=u1) + ['--from', u1, '--to', u2, '--inline', '/dev/null']),
        ('--header without colon', common(user=u1) + ['--from', u1, '--to', u2, '--header', 'X-Nothing']),
        ('bad --dsn-notify', common(user=u1) + ['--from', u1, '--to', u2, '--subject', 'x',
                                                '--dsn-notify', 'sometimes']),
        ('--user without a password', common(user=u1) + ['--from', u1, '--to', u2, '--subject', 'x']),
    ]
    for what, args in usage_cases:
        rc, out, err = run(args, password=p1 if what != '--user without a password' else None)
        check(rc == 2, f"usage ({what}): exit {rc}, stderr {err!r}")
        check(err.startswith('mailproto-send: '), f"usage ({what}): stderr {err!r}")
        check(out == '', f"usage ({what}): stdout {out!r}")

    # exit 0: a composed message over STARTTLS
    text = "Hallo Bob,\n\nanbei der Bericht.\nGr\u00fc\u00dfe\n"
    html = "<p>Hallo <b>Bob</b>,</p><p>anbei der Bericht. <img src=\"cid:logo@x\"></p>\n"
    att = bytes(rnd.getrandbits(8) for _ in range(300_000))
    logo = b'\x89PNG\r\n\x1a\n' + bytes(rnd.getrandbits(8) for _ in range(2000))
    csv = b"a,b\r\n1,2\r\n"
    latin1 = b"Gr\xfc\xdfe aus M\xfcnchen\r\n"
    paths = {}
    for name, data in (('body.txt', text.encode()), ('body.html', html.encode()),
                       ('data.bin', att), ('logo.png', logo), ('table.csv', csv),
                       ('latin1.txt', latin1)):
        paths[name] = os.path.join(tmp, name)
        with open(paths[name], 'wb') as f:
            f.write(data)
    subject = "Bericht \u2713 f\u00fcr M\u00e4rz \u2014 \u65e5\u672c"
    msgid = new_id('compose')
    rc, out, err = run(common(user=u1) + [
        '--from', u1, '--to', u2, '--cc', u1, '--subject', subject, '--text', paths['body.txt'],
        '--html', paths['body.html'], '--attach', paths['data.bin'] + ';name=Gr\u00f6\u00dfe Daten.bin',
        '--attach', paths['table.csv'] + ';type=application/octet-stream',
        '--inline', paths['logo.png'] + ';cid=logo@x', '--attach', paths['latin1.txt'] + ';charset=iso-8859-1', '--header', 'Message-ID: ' + msgid,
        '--header', 'X-Mailproto-Test: cli', '--dsn-notify', 'failure,delay', '--dsn-ret', 'hdrs',
        '--progress'], password=p1)
    check(rc == 0, f"compose: exit {rc}, stderr {err!r}")
    lines = out.splitlines()
    check(len(lines) == 2 and all(re.fullmatch(r'\S+@\S+ accepted 250 2\.\d+\.\d+', l) for l in lines)
          and lines[0].startswith(u2 + ' ') and lines[1].startswith(u1 + ' '),
          f"compose: stdout {out!r}")
    check('sent ' in err and 'bytes' in err, f"--progress: stderr {err!r}")
    raw = find_delivered(u2, msgid)
    if check(raw is not None, f"compose: {msgid} not delivered"):
        # Dovecot stores LF line ends; the message went out in CRLF
        m = email.message_from_bytes(raw.replace(b'\n', b'\r\n'), policy=email.policy.default)
        check(str(m['Subject']) == subject, f"compose: subject {m['Subject']!r}")
        check(m['X-Mailproto-Test'] == 'cli', "compose: custom header")
        check(m.get_content_type() == 'multipart/mixed', f"compose: top {m.get_content_type()}")
        body = m.get_body(preferencelist=('plain',))
        check(body is not None and body.get_content().replace('\r\n', '\n') == text,
              "compose: text part")
        hbody = m.get_body(preferencelist=('html',))
        check(hbody is not None and hbody.get_content().replace('\r\n', '\n') == html,
              "compose: HTML part")
        parts = {p.get_filename(): p for p in m.walk() if p.get_filename()}
        check(set(parts) == {'Gr\u00f6\u00dfe Daten.bin', 'table.csv', 'logo.png', 'latin1.txt'},
              f"compose: attachment names {sorted(parts)}")
        if 'Gr\u00f6\u00dfe Daten.bin' in parts:
            p = parts['Gr\u00f6\u00dfe Daten.bin']
            check(p.get_payload(decode=True) == att and p.get_content_type() == 'application/octet-stream',
                  "compose: attachment bytes")
        if 'table.csv' in parts:
            check(parts['table.csv'].get_payload(decode=True) == csv, "compose: csv bytes")
        if 'latin1.txt' in parts:
            p = parts['latin1.txt']
            check(p.get_content_type() == 'text/plain' and p.get_content_charset() == 'iso-8859-1'
                  and p.get_payload(decode=True) == latin1, "compose: Latin-1 text attachment")
        if 'logo.png' in parts:
            p = parts['logo.png']
            check(p.get_payload(decode=True) == logo and p['Content-ID'] == '<logo@x>'
                  and p.get_content_type() == 'image/png', "compose: inline part")
        related = [p for p in m.walk() if p.get_content_type() == 'multipart/related']
        check(len(related) == 1, "compose: HTML and its inline image in multipart/related")

    # exit 0: --raw from stdin over implicit TLS
    msgid = new_id('raw')
    raw_msg = (f"From: {u1}\r\nTo: {u2}\r\nSubject: raw\r\nMessage-ID: {msgid}\r\n"
               "Date: Mon, 30 Nov 2026 00:00:00 +0000\r\n\r\n"
               ".a line with a leading dot\r\nlast line\r\n").encode()
    rc, out, err = run(common('smtps', u1) + ['--from', u1, '--to', u2, '--raw', '-'], password=p1,
                       stdin=raw_msg)
    check(rc == 0 and re.fullmatch(re.escape(u2) + r' accepted 250 2\.\d+\.\d+\n', out),
          f"raw: exit {rc}, stdout {out!r}, stderr {err!r}")
    got = find_delivered(u2, msgid)
    if check(got is not None, "raw: not delivered"):
        check(got.replace(b'\n', b'\r\n').endswith(raw_msg), "raw: delivered bytes differ")

    # exit 3: one known and one unknown recipient
    pid = new_id('partial')
    rc, out, err = run(common(user=u1) + ['--from', u1, '--to', u2, '--to', unknown, '--subject',
                                          'partial', '--header', 'Message-ID: ' + pid,
                                          '--trace'],
                       password=p1)
    lines = out.splitlines()
    check(rc == 3, f"partial: exit {rc}, stderr {err!r}")
    # --trace: the protocol on stderr, SIZE= from the MIME builder's measure, no password
    size = re.search(r'^C: MAIL FROM:<' + re.escape(u1) + r'> SIZE=(\d+)', err, re.M)
    check(size is not None and int(size.group(1)) > 200, f"--trace: no MAIL FROM with SIZE= in {err[:2000]!r}")
    check(p1 not in err and '<redacted>' in err, "--trace: the credential is not redacted")
    got = find_delivered(u2, pid)
    if check(got is not None, "partial: not delivered to the known recipient") and size:
        # SIZE= is the exact size: the delivered message (CRLF) less the servers' trace headers
        crlf = got.replace(b'\n', b'\r\n')
        start = 0
        while re.match(rb'(Return-Path|Delivered-To|Received):|[ \t]', crlf[start:start + 20], re.I):
            start = crlf.index(b'\r\n', start) + 2
        check(len(crlf) - start == int(size.group(1)),
              f"SIZE={size.group(1)} but the message has {len(crlf) - start} bytes")
    check(len(lines) == 2 and re.fullmatch(re.escape(u2) + r' accepted 250 2\.1\.5', lines[0]) is not None
          and re.match(re.escape(unknown) + r' refused 550 5\.1\.1 \S', lines[1]) is not None,
          f"partial: stdout {out!r}")

    # exit 1: --require-all with an unknown recipient (nothing delivered)
    msgid = new_id('require-all')
    rc, out, err = run(common(user=u1) + ['--from', u1, '--to', u2, '--to', unknown, '--require-all',
                                          '--subject', 'all or nothing', '--header', 'Message-ID: ' + msgid],
                       password=p1)
    check(rc == 1 and err.startswith('mailproto-send: ') and err.count('\n') == 1,
          f"require-all: exit {rc}, stderr {err!r}")
    check(re.search(re.escape(unknown) + r' refused 550 5\.1\.1', out) is not None,
          f"require-all: stdout {out!r}")

    # exit 1: wrong password, the server's reply in the one stderr line
    rc, out, err = run(common(user=u1) + ['--from', u1, '--to', u2, '--subject', 'x'], password='wrong')
    check(rc == 1 and re.fullmatch(r'mailproto-send: .*535 5\.7\.8.*\n', err) is not None,
          f"bad password: exit {rc}, stderr {err!r}")
    check(out == '', f"bad password: stdout {out!r}")
    # the password file works the same way (and the right one succeeds)
    pw = os.path.join(tmp, 'pw')
    with open(pw, 'w') as f:
        f.write(E['PASS3'] + '\n')
    rc, out, err = run(common('smtps', E['USER3']) + ['--password-file', pw, '--from', E['USER3'],
                                                      '--to', E['USER3'], '--subject', 'from carol',
                                                      '--auth', 'SCRAM-SHA-256'])
    check(rc == 0, f"non-ASCII password from --password-file: exit {rc}, stderr {err!r}")

    # exit 1: certificate not trusted (no --cafile), nothing sent
    rc, out, err = run(['--server', f"smtp://{E['HOST']}:{E['SMTP_PORT']}", '--user', u1, '--from', u1,
                        '--to', u2, '--subject', 'x'], password=p1)
    check(rc == 1 and re.fullmatch(r'mailproto-send: .*\n', err) is not None
          and ('certif' in err.lower() or 'CERT' in err), f"untrusted: exit {rc}, stderr {err!r}")
    check(out == '', f"untrusted: stdout {out!r}")

    # exit 1: a file to attach that does not exist
    rc, out, err = run(common(user=u1) + ['--from', u1, '--to', u2, '--attach', os.path.join(tmp, 'nope')],
                       password=p1)
    check(rc == 1 and err.startswith('mailproto-send: '), f"missing attachment: exit {rc}, stderr {err!r}")

    # exit 1: a text attachment that is not UTF-8 and not labelled
    rc, out, err = run(common(user=u1) + ['--from', u1, '--to', u2, '--attach', paths['latin1.txt']],
                       password=p1)
    check(rc == 1 and err.startswith('mailproto-send: ') and out == '',
          f"unlabelled Latin-1 attachment: exit {rc}, stderr {err!r}")

    for f in os.listdir(tmp):
        os.unlink(os.path.join(tmp, f))
    os.rmdir(tmp)
    print(f"send-cli: {'FAILED' if failures else 'passed'} ({failures} failed checks)")
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
