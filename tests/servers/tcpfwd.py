#!/usr/bin/env python3
"""Byte-for-byte TCP forwarder for the test server stack (standard library only).

usage: tcpfwd.py PIDFILE LISTEN_HOST:PORT[,LISTEN_HOST:PORT...]=TARGET_HOST:PORT ...

Why it exists: Dovecot 2.3 treats a connection whose remote address equals its
local address as "secured" and then allows plaintext authentication without TLS.
Every loopback client connects from 127.0.0.1 to 127.0.0.1 (or ::1 to ::1), so
the STARTTLS ports would accept LOGIN/USER+PASS in the clear.  Dovecot's
plaintext listeners therefore sit on 127.0.0.2, reached only through this
forwarder, which connects from 127.0.0.1: the addresses differ, and Dovecot
applies disable_plaintext_auth / ssl = required as it would for a remote client.

The forwarder copies bytes unchanged in both directions, passes half-closes on,
and exits on SIGTERM.  It writes its PID to PIDFILE once every listener is bound.
"""
import os
import signal
import socket
import sys
import threading
import time

CHUNK = 65536


def parse_hostport(s):
    host, _, port = s.rpartition(':')
    return host.strip('[]'), int(port)


def pump(src, dst, done):
    try:
        while True:
            data = src.recv(CHUNK)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    done()


def handle(client, target):
    try:
        upstream = socket.create_connection(target, timeout=10)
        upstream.settimeout(None)
    except OSError:
        client.close()
        return
    for s in (client, upstream):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    lock = threading.Lock()
    remaining = [2]

    def done():
        with lock:
            remaining[0] -= 1
            last = remaining[0] == 0
        if last:
            client.close()
            upstream.close()

    threading.Thread(target=pump, args=(client, upstream, done), daemon=True).start()
    threading.Thread(target=pump, args=(upstream, client, done), daemon=True).start()


def serve(listener, target):
    while True:
        try:
            client, _ = listener.accept()
        except OSError:
            time.sleep(0.05)      # e.g. out of file descriptors: do not spin
            continue
        handle(client, target)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    pidfile = sys.argv[1]
    listeners = []
    for spec in sys.argv[2:]:
        left, _, right = spec.partition('=')
        target = parse_hostport(right)
        for hp in left.split(','):
            host, port = parse_hostport(hp)
            fam = socket.AF_INET6 if ':' in host else socket.AF_INET
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if fam == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind((host, port))
            s.listen(128)
            listeners.append((s, target))
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGINT, lambda *_: os._exit(0))
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    for s, target in listeners:
        threading.Thread(target=serve, args=(s, target), daemon=True).start()
    tmp = pidfile + '.tmp'
    with open(tmp, 'w') as f:
        f.write('%d\n' % os.getpid())
    os.rename(tmp, pidfile)
    threading.Event().wait()


if __name__ == '__main__':
    main()
