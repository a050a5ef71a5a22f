#!/usr/bin/env python3
"""Loopback TLS peers for the transport tests.

  peer.py gen DIR              make a CA, server certificates (good, wrong
                               name, expired, not yet valid, untrusted root,
                               self-signed x2), a client certificate and pins
  peer.py serve DIR SECONDS    listen on 127.0.0.1, port 0, one listener per
                               scenario; print "NAME PORT" lines then "ready";
                               exit on its own after SECONDS

Scenarios (after a TLS handshake the peer writes "SNI <name>\\r\\n" and then
echoes what it receives):
  good wrongname expired notyet untrusted self self2   implicit TLS
  clientauth   implicit TLS, a client certificate signed by the CA required;
               writes "CLIENT <CN>\\r\\n" first
  starttls     "220 ready", waits for "STARTTLS", "220 go ahead", then TLS
  tls11        implicit TLS, but only TLS 1.0 and 1.1 (below our minimum)
  inject       as starttls, but "220 go ahead\\r\\nINJECTED\\r\\n" in one
               segment; then counts the bytes the client sends until it
               closes and prints "inject-received N" on stdout
"""
import hashlib
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
import warnings

CA_CNF = """[ca]
default_ca = myca
[myca]
dir = {d}
database = {d}/index-{n}.txt
new_certs_dir = {d}/newcerts
serial = {d}/serial-{n}
default_md = sha256
policy = pol
copy_extensions = copy
unique_subject = no
email_in_dn = no
[pol]
commonName = supplied
"""


def run(*args):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def key(d, name):
    run('openssl', 'genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256',
        '-out', f'{d}/{name}.key')


def make_ca(d, name, cn):
    key(d, name)
    run('openssl', 'req', '-x509', '-new', '-key', f'{d}/{name}.key', '-subj', f'/CN={cn}',
        '-days', '3650', '-out', f'{d}/{name}.pem')
    with open(f'{d}/{name}.cnf', 'w') as f:
        f.write(CA_CNF.format(d=d, n=name))
    open(f'{d}/index-{name}.txt', 'w').close()
    with open(f'{d}/serial-{name}', 'w') as f:
        f.write('1000\n')


def issue(d, ca, name, cn, sans=None, start=None, end=None):
    key(d, name)
    req = ['openssl', 'req', '-new', '-key', f'{d}/{name}.key', '-subj', f'/CN={cn}',
           '-out', f'{d}/{name}.csr']
    if sans:
        req += ['-addext', 'subjectAltName=' + sans]
    run(*req)
    cmd = ['openssl', 'ca', '-batch', '-notext', '-config', f'{d}/{ca}.cnf', '-cert', f'{d}/{ca}.pem',
           '-keyfile', f'{d}/{ca}.key', '-in', f'{d}/{name}.csr', '-out', f'{d}/{name}.pem']
    if start:
        cmd += ['-startdate', start, '-enddate', end]
    else:
        cmd += ['-days', '3650']
    run(*cmd)


def self_signed(d, name):
    key(d, name)
    run('openssl', 'req', '-x509', '-new', '-key', f'{d}/{name}.key', '-subj', '/CN=localhost',
        '-addext', 'subjectAltName=DNS:localhost', '-days', '3650', '-out', f'{d}/{name}.pem')


def pins(d, name):
    der = ssl.PEM_cert_to_DER_cert(open(f'{d}/{name}.pem').read())
    with open(f'{d}/{name}.pin', 'w') as f:
        f.write('sha256:' + hashlib.sha256(der).hexdigest())
    spki = subprocess.run(['openssl', 'pkey', '-in', f'{d}/{name}.key', '-pubout', '-outform', 'DER'],
                          check=True, capture_output=True).stdout
    with open(f'{d}/{name}.spki', 'w') as f:
        f.write('sha256:' + hashlib.sha256(spki).hexdigest())


def gen(d):
    os.makedirs(f'{d}/newcerts', exist_ok=True)
    make_ca(d, 'ca', 'mailproto test root')
    make_ca(d, 'ca2', 'mailproto untrusted root')
    san = 'DNS:localhost,IP:127.0.0.1'
    issue(d, 'ca', 'good', 'localhost', san)
    issue(d, 'ca', 'wrongname', 'wrong.example', 'DNS:wrong.example')
    issue(d, 'ca', 'expired', 'localhost', san, '20200101000000Z', '20200201000000Z')
    issue(d, 'ca', 'notyet', 'localhost', san, '20900101000000Z', '20910101000000Z')
    issue(d, 'ca2', 'untrusted', 'localhost', san)
    issue(d, 'ca', 'client', 'mailproto client')
    # traditional encrypted PEM: Mbed TLS 2.28 cannot read PKCS#8 with AES
    run('openssl', 'pkey', '-in', f'{d}/client.key', '-traditional', '-aes256', '-passout', 'pass:s3cret',
        '-out', f'{d}/client-enc.key')
    self_signed(d, 'self')
    self_signed(d, 'self2')
    for n in ('good', 'self', 'self2'):
        pins(d, n)
    os.makedirs(f'{d}/cadir', exist_ok=True)
    with open(f'{d}/cadir/root.pem', 'w') as f:
        f.write(open(f'{d}/ca.pem').read())


def server_ctx(d, name, clientauth=False, old=False):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2  # what Mbed TLS 2.28 speaks
    if old:  # TLS 1.0/1.1 only: below our minimum
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            ctx.set_ciphers('DEFAULT:@SECLEVEL=0')
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    ctx.load_cert_chain(f'{d}/{name}.pem', f'{d}/{name}.key')
    if clientauth:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(f'{d}/ca.pem')

    def sni(sock, server_name, _ctx):
        sock.mp_sni = server_name
    ctx.sni_callback = sni
    return ctx


out_lock = threading.Lock()


def say(line):
    with out_lock:
        sys.stdout.write(line + '\n')
        sys.stdout.flush()


def echo(s):
    while True:
        b = s.recv(65536)
        if not b:
            break
        s.sendall(b)


def after_tls(s, clientauth=False):
    if clientauth:
        cn = dict(x[0] for x in s.getpeercert()['subject']).get('commonName', '-')
        s.sendall(f'CLIENT {cn}\r\n'.encode())
    s.sendall(f'SNI {getattr(s, "mp_sni", None) or "-"}\r\n'.encode())
    echo(s)


def read_line(c):
    b = b''
    while not b.endswith(b'\n'):
        x = c.recv(1)
        if not x:
            break
        b += x
    return b


def handle(scenario, ctx, c):
    try:
        c.settimeout(20)
        if scenario in ('starttls', 'inject'):
            c.sendall(b'220 ready\r\n')
            if read_line(c) != b'STARTTLS\r\n':
                return
            if scenario == 'inject':
                c.sendall(b'220 go ahead\r\nINJECTED\r\n')
                n = 0
                try:
                    while True:
                        b = c.recv(4096)
                        if not b:
                            break
                        n += len(b)
                except OSError:
                    pass  # closing with our bytes unread makes the client send RST
                say(f'inject-received {n}')
                return
            c.sendall(b'220 go ahead\r\n')
        s = ctx.wrap_socket(c, server_side=True)
        after_tls(s, scenario == 'clientauth')
        s.close()
    except (OSError, ssl.SSLError, ValueError) as e:
        if os.environ.get('MAILPROTO_PEER_DEBUG'):
            sys.stderr.write(f'peer {scenario}: {e!r}\n')
    finally:
        try:
            c.close()
        except OSError:
            pass


def listener(scenario, ctx, ls):
    while True:
        c, _ = ls.accept()
        threading.Thread(target=handle, args=(scenario, ctx, c), daemon=True).start()


def serve(d, seconds):
    certs = {'good': 'good', 'wrongname': 'wrongname', 'expired': 'expired', 'notyet': 'notyet',
             'untrusted': 'untrusted', 'self': 'self', 'self2': 'self2', 'clientauth': 'good',
             'starttls': 'good', 'inject': 'good', 'tls11': 'good'}
    for scenario, cert in certs.items():
        ctx = server_ctx(d, cert, scenario == 'clientauth', scenario == 'tls11')
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.bind(('127.0.0.1', 0))
        ls.listen(16)
        say(f'{scenario} {ls.getsockname()[1]}')
        threading.Thread(target=listener, args=(scenario, ctx, ls), daemon=True).start()
    say('ready')
    time.sleep(seconds)
    os._exit(0)


if __name__ == '__main__':
    if sys.argv[1] == 'gen':
        gen(sys.argv[2])
    elif sys.argv[1] == 'serve':
        serve(sys.argv[2], float(sys.argv[3]))
    else:
        sys.exit('usage: peer.py gen DIR | serve DIR SECONDS')
