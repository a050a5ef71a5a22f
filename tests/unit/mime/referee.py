#!/usr/bin/env python3
"""The independent referee: messages built by libmailproto (mime_cases) are
parsed with Python's email package (policy=default) and must give back the
builder's inputs; the raw bytes must obey what the parser forgives: CRLF
only, no line over 998 octets, header lines folded at 78, base64 and
quoted-printable lines of at most 76, encoded-words of at most 75 octets
that each decode to whole UTF-8 characters, lines holding them at most 76,
and no '=' padding on a B word that another word follows."""
import base64
import email
import email.policy
import json
import os
import re
import subprocess
import sys
import tempfile
from email.parser import BytesParser

WORD = re.compile(rb'=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=')
errors = []


def err(case, msg):
    errors.append(f'{case}: {msg}')


def gen_bytes(seed, n):
    s = seed
    out = bytearray(n)
    for i in range(n):
        s ^= (s << 13) & 0xFFFFFFFF
        s ^= s >> 17
        s ^= (s << 5) & 0xFFFFFFFF
        out[i] = s >> 24
    return bytes(out)


def decode_word(m):
    cs, enc, text = m.group(1), m.group(2).lower(), m.group(3)
    if enc == b'b':
        raw = base64.b64decode(text + b'=' * (-len(text) % 4))
    else:
        raw = re.sub(rb'=([0-9A-Fa-f]{2})', lambda x: bytes([int(x.group(1), 16)]), text.replace(b'_', b' '))
    return cs, raw


def check_header_block(case, block):
    """block: the raw header lines of one part (bytes, CRLF separated)."""
    lines = block.split(b'\r\n')
    fields = []
    for line in lines:
        if len(line) > 78 and not case.endswith('utf8'):
            err(case, f'header line of {len(line)} > 78: {line[:60]!r}')
        words = list(WORD.finditer(line))
        if words and len(line) > 76:
            err(case, f'line holding encoded-words is {len(line)} > 76: {line[:60]!r}')
        for w in words:
            if len(w.group(0)) > 75:
                err(case, f'encoded-word of {len(w.group(0))} > 75 octets')
            cs, raw = decode_word(w)
            if cs.lower() in (b'utf-8', b'utf8'):
                try:
                    raw.decode('utf-8')
                except UnicodeDecodeError:
                    err(case, f'encoded-word does not hold whole characters: {w.group(0)!r}')
        if line[:1] in (b' ', b'\t') and fields:
            fields[-1] += line
        else:
            fields.append(line)
    for f in fields:
        words = list(WORD.finditer(f))
        for w in words[:-1]:
            if w.group(2) in b'bB' and w.group(3).endswith(b'='):
                err(case, f'padded B word followed by another word: {w.group(0)!r}')


def check_raw(case, raw, msg):
    # CRLF only
    if re.search(rb'(?<!\r)\n', raw) or re.search(rb'\r(?!\n)', raw):
        err(case, 'bare LF or lone CR in the output')
    for line in raw.split(b'\r\n'):
        if len(line) > 998:
            err(case, f'line of {len(line)} octets > 998')
    # header blocks: the top one, and one after each delimiter line
    top = raw.split(b'\r\n\r\n', 1)[0]
    check_header_block(case, top)
    for m in re.finditer(rb'\r\n--[^\r\n]+\r\n((?:[^\r\n]+\r\n)+)\r\n', raw):
        check_header_block(case, m.group(1).rstrip(b'\r\n'))
    # transfer-encoded bodies: lines <= 76
    for part in msg.walk():
        if part.is_multipart() or part.get_content_type() == 'message/rfc822':
            continue
        cte = (part.get('Content-Transfer-Encoding') or '').lower()
        if cte in ('base64', 'quoted-printable'):
            payload = part.get_payload(decode=False)
            for line in payload.splitlines():
                if len(line) > 76:
                    err(case, f'{cte} line of {len(line)} > 76')
        if part.defects:
            err(case, f'defects in {part.get_content_type()}: {part.defects}')
    if msg.defects:
        err(case, f'message defects: {msg.defects}')
    if re.search(rb'^Bcc:', top, re.M | re.I):
        err(case, 'Bcc was written')


def norm_text(t):
    return t.replace('\r\n', '\n').replace('\r', '\n')


def check_case(d, c):
    case = c['file']
    raw = open(os.path.join(d, c['file']), 'rb').read()
    msg = BytesParser(policy=email.policy.default).parsebytes(raw)
    check_raw(case, raw, msg)
    if c['subject'] is not None and str(msg['subject']) != c['subject']:
        err(case, f'subject {str(msg["subject"])!r} != {c["subject"]!r}')
    for key in ('from', 'to', 'cc'):
        want = [tuple(a) for a in c[key]]
        got = []
        if msg[key] is not None:
            got = [(a.display_name, a.addr_spec) for a in msg[key].addresses]
        if got != want:
            err(case, f'{key}: {got} != {want}')
    parts = list(msg.walk())
    types = [p.get_content_type() for p in parts]
    want_types = [p['type'] for p in c['parts']]
    if types != want_types:
        err(case, f'part types {types} != {want_types}')
        return
    for p, w in zip(parts, c['parts']):
        if p.get_filename() != w['filename']:
            err(case, f'filename {p.get_filename()!r} != {w["filename"]!r}')
        cid = p['content-id']
        if (cid.strip('<>') if cid else None) != w['cid']:
            err(case, f'content-id {cid!r} != {w["cid"]!r}')
        if 'text' in w:
            got = p.get_content()
            if norm_text(got) != norm_text(w['text']):
                err(case, f'text differs: {got[:80]!r} vs {w["text"][:80]!r}')
        elif 'hex' in w:
            if p.get_payload(decode=True) != bytes.fromhex(w['hex']):
                err(case, 'decoded bytes differ')
        elif 'gen' in w:
            data = p.get_payload(decode=True)
            if len(data) != w['gen'][1] or data != gen_bytes(*w['gen']):
                err(case, f'generated attachment differs ({len(data)} bytes)')


def selftest():
    """The checks must be able to fail: each broken message is caught."""
    long_word = b'=?UTF-8?B?' + base64.b64encode('\u00e9'.encode() * 40) + b'?='
    split_char = b'=?UTF-8?B?' + base64.b64encode('\u00e9'.encode()[:1]) + b'?='
    padded = b'=?UTF-8?B?' + base64.b64encode(b'ab') + b'?= =?UTF-8?Q?c?='
    broken = {
        'bare LF': b'Subject: x\r\n\r\nbody\nmore\r\n',
        'long line': b'Subject: x\r\n\r\n' + b'x' * 1000 + b'\r\n',
        'long header': b'Subject: ' + b'y' * 90 + b'\r\n\r\nbody\r\n',
        'long word': b'Subject: ' + long_word + b'\r\n\r\nbody\r\n',
        'split char': b'Subject: ' + split_char + b'\r\n\r\nbody\r\n',
        'padding': b'Subject: ' + padded + b'\r\n\r\nbody\r\n',
        'bcc': b'Bcc: a@b.example\r\n\r\nbody\r\n',
        'base64 line': b'Content-Transfer-Encoding: base64\r\n\r\n' + b'QUJD' * 20 + b'\r\n',
    }
    for what, raw in broken.items():
        before = len(errors)
        msg = BytesParser(policy=email.policy.default).parsebytes(raw)
        check_raw('selftest', raw, msg)
        if len(errors) == before:
            print(f'FAIL referee self-test: {what} not caught')
            sys.exit(1)
        del errors[before:]


def main():
    selftest()
    gen = sys.argv[1]
    extra = sys.argv[2:]
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([gen, d] + extra, check=True, timeout=120)
        cases = json.load(open(os.path.join(d, 'manifest.json')))
        for c in cases:
            check_case(d, c)
        if os.environ.get('MIME_REFEREE_KEEP'):
            subprocess.run(['cp', '-r', d, os.environ['MIME_REFEREE_KEEP']])
    for e in errors:
        print('FAIL', e)
    print(f'{len(cases)} messages checked by Python {sys.version.split()[0]} email.parser, '
          f'{len(errors)} problems')
    sys.exit(1 if errors else 0)


main()
