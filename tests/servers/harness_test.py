#!/usr/bin/env python3
"""Tests of the server-stack harness itself (start, stop, with-servers).

Standard library only; run as root (exit 77, a skip, otherwise).  Every stack
goes into a private base directory (MAILPROTO_SERVERS_TMPDIR), so the checks
"nothing left behind" see only what these tests started:
  1. with-servers exports the env, returns CMD's exit status, and a nested
     with-servers reuses the running stack instead of starting another;
     afterwards the directory is gone and no process refers to it;
  2. a stack that cannot start (start-up deadline 0) makes with-servers exit 1,
     not 77, and leaves nothing behind;
  3. a stack whose with-servers was SIGKILLed is stopped by the next start,
     and SIGTERM to with-servers while CMD runs stops CMD and the stack (143);
  4. stop is idempotent and refuses a directory that start did not make.
"""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
WITH = os.path.join(HERE, 'with-servers')
STOP = os.path.join(HERE, 'stop')
PY = sys.executable
failures = []


class Abort(BaseException):
    """Time is up or we were told to stop: unwind, stopping every stack (the finally blocks)."""


def abort(signum, _frame):
    raise Abort('signal %d' % signum)


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def inner():
    """Runs as CMD inside with-servers (case 1)."""
    d = os.environ['MAILPROTO_SERVERS_DIR']
    for k in ('SMTP_PORT', 'IMAPS_PORT', 'CA_FILE', 'USER3', 'PASS3', 'DOVECOT_PID'):
        expect(os.environ.get(k), '%s not exported' % k)
    expect(os.environ['PASS3'] == 'pässwörd-✓', 'PASS3 is %r' % os.environ['PASS3'])
    with open(sys.argv[2], 'w') as f:
        f.write(' '.join(os.environ[k] for k in ('SMTP_PORT', 'SMTPS_PORT', 'IMAP_PORT', 'IMAPS_PORT',
                                                 'POP3_PORT', 'POP3S_PORT')))
    # nested: reuses this stack (same directory), and the stack survives it
    r = run([WITH, PY, '-c', 'import os, sys; sys.exit(0 if os.environ["MAILPROTO_SERVERS_DIR"] == %r else 5)' % d],
                       timeout=60)
    expect(r.returncode == 0, 'nested with-servers returned %d' % r.returncode)
    expect(os.path.exists(os.path.join(d, 'env')), 'nested with-servers removed the outer stack')
    socket.create_connection(('127.0.0.1', int(os.environ['IMAPS_PORT'])), timeout=5).close()
    sys.exit(7)


def run(cmd, timeout, **kw):
    """subprocess.run, but an interrupted child gets SIGTERM first, so that
    with-servers can stop its stack (subprocess.run would SIGKILL it)."""
    p = subprocess.Popen(cmd, **kw)
    try:
        out, err = p.communicate(timeout=timeout)
    except BaseException:
        p.terminate()
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        raise
    return subprocess.CompletedProcess(cmd, p.returncode, out, err)


def referring(base):
    """PIDs of processes whose command line or environment mentions base."""
    me, found = os.getpid(), []
    needle = base.encode()
    for d in os.listdir('/proc'):
        if not d.isdigit() or int(d) == me:
            continue
        for what in ('cmdline', 'environ'):
            try:
                with open('/proc/%s/%s' % (d, what), 'rb') as f:
                    if needle in f.read():
                        found.append(int(d))
                        break
            except OSError:
                pass
    return found


def descendants(root):
    kids = {}
    for d in os.listdir('/proc'):
        if d.isdigit():
            try:
                with open('/proc/%s/stat' % d) as f:
                    kids.setdefault(int(f.read().rsplit(')', 1)[1].split()[1]), []).append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    out, todo = [], list(kids.get(root, []))
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def nothing_left(base):
    deadline = time.monotonic() + 5
    while referring(base) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = referring(base)
    expect(not left, 'processes still refer to %s: %s' % (base, left))
    expect(not os.listdir(base), '%s is not empty: %s' % (base, os.listdir(base)))


def case(name):
    def run(fn):
        base = tempfile.mkdtemp(prefix='mpt.', dir='/tmp')
        os.chmod(base, 0o755)
        env = dict(os.environ, MAILPROTO_SERVERS_TMPDIR=base, MAILPROTO_SERVERS_SHOW_LOGS='')
        env.pop('MAILPROTO_SERVERS_DIR', None)
        t0 = time.monotonic()
        try:
            fn(base, env)
        except Exception as e:  # noqa: BLE001
            failures.append(name)
            print('FAIL %s: %s: %s' % (name, type(e).__name__, e), flush=True)
        else:
            print('ok   %s (%.1f s)' % (name, time.monotonic() - t0), flush=True)
        finally:
            for d in os.listdir(base):        # never leave a stack behind, even on failure
                run([STOP, os.path.join(base, d)], timeout=60)
            try:
                os.rmdir(base)
            except OSError:
                pass
        return fn
    return run


def main():
    if len(sys.argv) > 1 and sys.argv[1] == '--inner':
        inner()
    if os.geteuid() != 0:
        print('harness_test: not root: skipped')
        return 77
    signal.signal(signal.SIGALRM, abort)
    signal.signal(signal.SIGTERM, abort)
    signal.alarm(170)

    @case('with-servers: env exported, CMD status returned, nested run reuses the stack, nothing left')
    def _(base, env):
        portfile = os.path.join(base, 'ports')
        r = run([WITH, PY, __file__, '--inner', portfile], env=env, timeout=90)
        expect(r.returncode == 7, 'with-servers returned %d, CMD returned 7' % r.returncode)
        ports = [int(p) for p in open(portfile).read().split()]
        os.unlink(portfile)
        expect(len(ports) == 6 and all(20000 <= p < 65000 for p in ports), 'ports %r' % ports)
        nothing_left(base)

    @case('with-servers: a stack that cannot start is a failure (exit 1, not 77), nothing left')
    def _(base, env):
        env = dict(env, MAILPROTO_SERVERS_START_TIMEOUT='0')
        r = run([WITH, 'true'], env=env, timeout=90, stderr=subprocess.DEVNULL)
        expect(r.returncode == 1, 'with-servers returned %d' % r.returncode)
        nothing_left(base)

    def wait_up(p, base, known=()):
        deadline = time.monotonic() + 45
        while True:
            new = [d for d in os.listdir(base) if d not in known and os.path.exists(os.path.join(base, d, 'env'))]
            if new:
                return new[0]
            expect(time.monotonic() < deadline and p.poll() is None, 'the stack did not come up')
            time.sleep(0.2)

    @case('start stops a stack whose with-servers got SIGKILL; SIGTERM stops CMD and stack (143); nothing left')
    def _(base, env):
        p = subprocess.Popen([WITH, 'sleep', '120'], env=env)
        orphan = wait_up(p, base)
        ours = [p.pid] + descendants(p.pid)       # with-servers, timeout, sleep
        for pid in ours:
            os.kill(pid, signal.SIGKILL)
        p.wait(timeout=10)
        expect(os.path.exists(os.path.join(base, orphan)), 'SIGKILL should leave the stack running')
        p = subprocess.Popen([WITH, 'sleep', '120'], env=env, stderr=subprocess.PIPE, text=True)
        wait_up(p, base, known=(orphan,))
        expect(not os.path.exists(os.path.join(base, orphan)), 'the orphaned stack is still there')
        time.sleep(0.5)
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=30)
        expect(p.returncode == 143, 'with-servers returned %d' % p.returncode)
        expect('orphaned' in err, 'start did not report the orphan: %s' % err)
        nothing_left(base)

    @case('stop: idempotent; refuses a directory start did not make')
    def _(base, env):
        r = run([STOP, os.path.join(base, 'mailproto-srv.gone')], timeout=10)
        expect(r.returncode == 0, 'stop of a missing directory returned %d' % r.returncode)
        foreign = os.path.join(base, 'mailproto-srv.foreign')
        os.mkdir(foreign)
        r = run([STOP, foreign], timeout=10, stderr=subprocess.DEVNULL)
        expect(r.returncode == 1 and os.path.isdir(foreign), 'stop touched a foreign directory')
        os.rmdir(foreign)

    if failures:
        print('%d case(s) failed' % len(failures))
        return 1
    print('all cases passed')
    return 0


if __name__ == '__main__':
    sys.exit(main())
